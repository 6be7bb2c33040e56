//! The wasmtime adapter in-process: linking (a link error for an unknown import, NOSYS stubs on
//! request), proc_exit, traps, and the guests of guests/ with stdout captured through a pipe.

use std::io::Read;
use std::path::PathBuf;

use waitset_wasi::wasmtime_host::{self, LoadError, Outcome};
use waitset_wasi::WasiCtx;

fn guest(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../guests")
        .join(name)
}

/// Runs `module` with stdout on a pipe; returns the outcome and what the guest wrote.
fn run_captured(module: &str, args: &[&str]) -> (Outcome, String) {
    run_captured_with(module, args, &wasmtime_host::RunOptions::default()).unwrap()
}

/// [`run_captured`] with options; a module that cannot run is the error.
fn run_captured_with(
    module: &str,
    args: &[&str],
    opts: &wasmtime_host::RunOptions,
) -> Result<(Outcome, String), LoadError> {
    let engine = wasmtime_host::engine().unwrap();
    let module = wasmtime_host::load_module(&engine, &guest(module)).unwrap();
    let (r, w) = rustix::pipe::pipe().unwrap();
    let ctx = WasiCtx::builder()
        .arg("guest")
        .args(args)
        .stdio_fd(1, w)
        .poll_seed(0)
        .build()
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::fs::File::from(r).read_to_string(&mut s).unwrap();
        s
    });
    let outcome = wasmtime_host::run_with(&engine, &module, ctx, opts)?;
    Ok((outcome, reader.join().unwrap()))
}

#[test]
fn an_unknown_import_is_a_link_error_naming_it() {
    let err = run_captured_with("nosys.wat", &[], &Default::default()).unwrap_err();
    let LoadError::Instantiate(e) = &err else {
        panic!("expected a link error, got {err:?}")
    };
    assert!(format!("{e:#}").contains("env::mystery_i64"), "{e:#}");
}

#[test]
fn stubbed_unknown_imports_return_nosys_and_proc_exit_ends_the_run() {
    let opts = wasmtime_host::RunOptions {
        stub_unknown_imports: true,
    };
    let (outcome, out) = run_captured_with("nosys.wat", &[], &opts).unwrap();
    assert!(matches!(outcome, Outcome::Exited(7)), "{outcome:?}");
    assert_eq!(
        out,
        "fd_tell: 70\npath_open: 8\nenv_mystery_i64: 52\nenv_mystery_void: 1\n"
    );
}

#[test]
fn a_trap_is_an_outcome_with_a_wasm_backtrace() {
    let (outcome, out) = run_captured("trap.wat", &[]);
    assert_eq!(out, "before the trap\n");
    let Outcome::Trapped(e) = outcome else {
        panic!("expected a trap, got {outcome:?}")
    };
    let bt = e
        .downcast_ref::<wasmtime_host::wasmtime::WasmBacktrace>()
        .expect("a wasm backtrace");
    let text = bt.to_string();
    assert!(text.contains("deepest_function"), "{text}");
    assert!(text.contains("middle_function"), "{text}");
}

#[test]
fn c_guest_returning_from_main_exits_with_its_status() {
    let (outcome, out) = run_captured("args.wasm", &["--exit", "5", "x"]);
    assert!(matches!(outcome, Outcome::Exited(5)), "{outcome:?}");
    assert!(
        out.starts_with("argc: 4\nargv[0]: guest\nargv[1]: --exit\n"),
        "{out}"
    );
}

#[test]
fn poll_edge_cases_through_wasmtime() {
    let (outcome, out) = run_captured("poll_edge.wat", &[]);
    assert!(matches!(outcome, Outcome::Exited(0)), "{outcome:?}");
    assert!(out.contains("\nnsubscriptions_2_pow_28: 21\n"), "{out}");
    assert!(out.contains("\ninvalid_tag_nothing_written: 1\n"), "{out}");
}

#[test]
fn load_errors() {
    let engine = wasmtime_host::engine().unwrap();
    let missing = wasmtime_host::load_module(&engine, &guest("does-not-exist.wasm"));
    assert!(matches!(missing, Err(LoadError::Module { .. })));
    let not_wasm = wasmtime_host::load_module(&engine, &guest("build.sh"));
    assert!(matches!(not_wasm, Err(LoadError::Module { .. })));

    // A memory import cannot be faked: instantiation fails with a clear error.
    let m = wasmtime_host::wasmtime::Module::new(
        &engine,
        r#"(module (import "env" "mem" (memory 1)) (func (export "_start")))"#,
    )
    .unwrap();
    let ctx = WasiCtx::builder().build().unwrap();
    assert!(matches!(
        wasmtime_host::run(&engine, &m, ctx),
        Err(LoadError::Instantiate(_))
    ));

    // A reactor (no _start) is not a command.
    let m =
        wasmtime_host::wasmtime::Module::new(&engine, r#"(module (func (export "f")))"#).unwrap();
    let ctx = WasiCtx::builder().build().unwrap();
    assert!(matches!(
        wasmtime_host::run(&engine, &m, ctx),
        Err(LoadError::NoStart(_))
    ));
}

#[test]
fn a_module_without_memory_traps_on_a_pointer_call() {
    let engine = wasmtime_host::engine().unwrap();
    let m = wasmtime_host::wasmtime::Module::new(
        &engine,
        r#"(module
             (import "wasi_snapshot_preview1" "fd_write"
               (func $w (param i32 i32 i32 i32) (result i32)))
             (func (export "_start")
               (drop (call $w (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0)))))"#,
    )
    .unwrap();
    let ctx = WasiCtx::builder().build().unwrap();
    let outcome = wasmtime_host::run(&engine, &m, ctx).unwrap();
    let Outcome::Trapped(e) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(format!("{e:#}").contains("memory"), "{e:#}");
}

#[test]
fn a_start_function_that_exits_is_an_outcome() {
    let engine = wasmtime_host::engine().unwrap();
    let m = wasmtime_host::wasmtime::Module::new(
        &engine,
        r#"(module
             (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
             (memory (export "memory") 1)
             (func $init (call $exit (i32.const 9)))
             (start $init)
             (func (export "_start")))"#,
    )
    .unwrap();
    let ctx = WasiCtx::builder().build().unwrap();
    assert!(matches!(
        wasmtime_host::run(&engine, &m, ctx),
        Ok(Outcome::Exited(9))
    ));
}
