//! The wasmtime adapter (cargo feature `wasmtime`, on by default): links the engine-agnostic
//! host functions into a [`wasmtime::Linker`] under `wasi_snapshot_preview1`
//! ([`add_to_linker`], over any store data that holds a [`WasiCtx`]), and runs a command module
//! ([`run`]).
//!
//! A function import that nothing defines is a link error naming it, as in wasmtime; with
//! [`RunOptions::stub_unknown_imports`] such imports are instead defined as functions that return
//! `NOSYS` (52) without trapping ([`define_unresolved_as_nosys`]).

use std::path::Path;

use wasmtime::{
    Caller, Config, Engine, Extern, ExternType, Linker, Module, Store, Trap, Val, ValType,
};

use crate::abi::Errno;
use crate::ctx::WasiCtx;
use crate::host::{self, ProcExit};
use crate::poll;

/// The import module name of WASI preview1.
/// The wasmtime crate this adapter is built on, re-exported so embedders use the same version.
pub use wasmtime;

/// The import module name of WASI preview1.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// Every preview1 function, by import name: this host implements all 46.
pub const IMPLEMENTED: &[&str] = &[
    "args_get",
    "args_sizes_get",
    "environ_get",
    "environ_sizes_get",
    "clock_res_get",
    "clock_time_get",
    "fd_advise",
    "fd_allocate",
    "fd_close",
    "fd_datasync",
    "fd_fdstat_get",
    "fd_fdstat_set_flags",
    "fd_fdstat_set_rights",
    "fd_filestat_get",
    "fd_filestat_set_size",
    "fd_filestat_set_times",
    "fd_pread",
    "fd_prestat_get",
    "fd_prestat_dir_name",
    "fd_pwrite",
    "fd_read",
    "fd_readdir",
    "fd_renumber",
    "fd_seek",
    "fd_sync",
    "fd_tell",
    "fd_write",
    "path_create_directory",
    "path_filestat_get",
    "path_filestat_set_times",
    "path_link",
    "path_open",
    "path_readlink",
    "path_remove_directory",
    "path_rename",
    "path_symlink",
    "path_unlink_file",
    "poll_oneoff",
    "proc_exit",
    "proc_raise",
    "sched_yield",
    "random_get",
    "sock_accept",
    "sock_recv",
    "sock_send",
    "sock_shutdown",
];

/// Runs `f` with the guest's memory (the calling instance's export `memory`) and context. A
/// module without a memory export cannot pass pointers: that is a trap, not an errno.
fn with_memory<T: 'static>(
    caller: &mut Caller<'_, T>,
    get: impl Fn(&mut T) -> &mut WasiCtx,
    f: impl FnOnce(&mut WasiCtx, &mut [u8]) -> Errno,
) -> wasmtime::Result<i32> {
    // The instance's memory, resolved once after instantiation by `run` (a name lookup per host
    // call cost a quarter of a poll(NULL, 0, 0)); otherwise by name.
    let memory = match get(caller.data_mut()).memory {
        Some(m) => m,
        None => match caller.get_export("memory") {
            Some(Extern::Memory(m)) => m,
            _ => wasmtime::bail!("the module does not export a memory named `memory`"),
        },
    };
    let (mem, data) = memory.data_and_store_mut(caller);
    let ctx = get(data);
    let r = f(ctx, mem);
    // A termination request ends the run at the host call that notices it.
    if let Some(signal) = ctx.interrupted() {
        return Err(wasmtime::Error::new(Signaled(signal)));
    }
    Ok(i32::from(r.raw()))
}

/// The run was ended by a termination signal (SIGINT, SIGTERM), raised on the context's
/// [`Interrupt`](crate::Interrupt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("terminated by signal {0}")]
pub struct Signaled(pub i32);

/// A guest `i32` as the pointer/size `u32` it encodes.
fn u(x: i32) -> u32 {
    x as u32
}

/// A guest `i32` carrying a `u8`/`u16` ABI value; out-of-range is INVAL (as wiggle does).
fn small<T: TryFrom<u32>>(x: i32) -> Result<T, Errno> {
    T::try_from(x as u32).map_err(|_| Errno::INVAL)
}

/// Links one preview1 function: `link!(linker, get, "name", |ctx, mem, a: i32, ...| errno)`.
macro_rules! link {
    ($linker:ident, $get:ident, $name:literal, |$ctx:ident, $mem:ident $(, $arg:ident : $ty:ty)*| $body:expr) => {
        $linker.func_wrap(
            MODULE,
            $name,
            move |mut c: Caller<'_, T>, $($arg: $ty),*| -> wasmtime::Result<i32> {
                with_memory(&mut c, $get, |$ctx, $mem| $body)
            },
        )?;
    };
}

/// Adds every preview1 function to `linker`, for any store data `T` that holds a [`WasiCtx`]:
/// `get` projects it (`|t| &mut t.wasi`). The embedder's own imports go into the same linker.
///
/// ```
/// use waitset_wasi::wasmtime_host::{self, wasmtime};
/// use waitset_wasi::WasiCtx;
/// use wasmtime::{Engine, Linker, Module, Store};
///
/// // The embedder's store data: its own state next to the guest's WASI context.
/// struct Host {
///     wasi: WasiCtx,
///     calls: u32,
/// }
///
/// let engine = Engine::default();
/// let mut linker: Linker<Host> = Linker::new(&engine);
/// wasmtime_host::add_to_linker(&mut linker, |h: &mut Host| &mut h.wasi).unwrap();
/// // An import of the embedder's own, beside preview1.
/// linker
///     .func_wrap("host", "count", |mut c: wasmtime::Caller<'_, Host>| {
///         c.data_mut().calls += 1;
///     })
///     .unwrap();
/// let module = Module::new(
///     &engine,
///     r#"(module
///         (import "host" "count" (func $count))
///         (import "wasi_snapshot_preview1" "fd_write"
///             (func $fd_write (param i32 i32 i32 i32) (result i32)))
///         (memory (export "memory") 1)
///         (data (i32.const 16) "hi\n")
///         (func (export "_start")
///             (i32.store (i32.const 0) (i32.const 16))
///             (i32.store (i32.const 4) (i32.const 3))
///             (call $count)
///             (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#,
/// )
/// .unwrap();
/// let wasi = WasiCtx::builder().inherit_stdio().build().unwrap();
/// let mut store = Store::new(&engine, Host { wasi, calls: 0 });
/// let instance = linker.instantiate(&mut store, &module).unwrap();
/// let start = instance.get_typed_func::<(), ()>(&mut store, "_start").unwrap();
/// start.call(&mut store, ()).unwrap();
/// assert_eq!(store.data().calls, 1);
/// ```
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get: impl Fn(&mut T) -> &mut WasiCtx + Copy + Send + Sync + 'static,
) -> wasmtime::Result<()> {
    use crate::fs;
    link!(linker, get, "args_get", |ctx, mem, a: i32, b: i32| {
        host::args_get(ctx, mem, u(a), u(b))
    });
    link!(linker, get, "args_sizes_get", |ctx, mem, a: i32, b: i32| {
        host::args_sizes_get(ctx, mem, u(a), u(b))
    });
    link!(linker, get, "environ_get", |ctx, mem, a: i32, b: i32| {
        host::environ_get(ctx, mem, u(a), u(b))
    });
    link!(
        linker,
        get,
        "environ_sizes_get",
        |ctx, mem, a: i32, b: i32| { host::environ_sizes_get(ctx, mem, u(a), u(b)) }
    );
    link!(linker, get, "clock_res_get", |ctx, mem, id: i32, p: i32| {
        host::clock_res_get(ctx, mem, u(id), u(p))
    });
    link!(
        linker,
        get,
        "clock_time_get",
        |ctx, mem, id: i32, precision: i64, p: i32| {
            host::clock_time_get(ctx, mem, u(id), precision as u64, u(p))
        }
    );
    link!(
        linker,
        get,
        "fd_advise",
        |ctx, mem, fd: i32, off: i64, len: i64, adv: i32| {
            match small::<u8>(adv) {
                Ok(adv) => fs::fd_advise(ctx, mem, u(fd), off as u64, len as u64, adv),
                Err(e) => e,
            }
        }
    );
    link!(
        linker,
        get,
        "fd_allocate",
        |ctx, mem, fd: i32, off: i64, len: i64| {
            fs::fd_allocate(ctx, mem, u(fd), off as u64, len as u64)
        }
    );
    link!(linker, get, "fd_close", |ctx, mem, fd: i32| host::fd_close(
        ctx,
        mem,
        u(fd)
    ));
    link!(linker, get, "fd_datasync", |ctx, mem, fd: i32| {
        fs::fd_datasync(ctx, mem, u(fd))
    });
    link!(linker, get, "fd_fdstat_get", |ctx, mem, fd: i32, p: i32| {
        host::fd_fdstat_get(ctx, mem, u(fd), u(p))
    });
    link!(
        linker,
        get,
        "fd_fdstat_set_flags",
        |ctx, mem, fd: i32, flags: i32| {
            match small::<u16>(flags) {
                Ok(flags) => host::fd_fdstat_set_flags(ctx, mem, u(fd), flags),
                Err(e) => e,
            }
        }
    );
    link!(
        linker,
        get,
        "fd_fdstat_set_rights",
        |ctx, mem, fd: i32, base: i64, inh: i64| {
            host::fd_fdstat_set_rights(ctx, mem, u(fd), base as u64, inh as u64)
        }
    );
    link!(
        linker,
        get,
        "fd_filestat_get",
        |ctx, mem, fd: i32, p: i32| { host::fd_filestat_get(ctx, mem, u(fd), u(p)) }
    );
    link!(
        linker,
        get,
        "fd_filestat_set_size",
        |ctx, mem, fd: i32, size: i64| { fs::fd_filestat_set_size(ctx, mem, u(fd), size as u64) }
    );
    link!(
        linker,
        get,
        "fd_filestat_set_times",
        |ctx, mem, fd: i32, a: i64, m: i64, fl: i32| {
            match small::<u16>(fl) {
                Ok(fl) => fs::fd_filestat_set_times(ctx, mem, u(fd), a as u64, m as u64, fl),
                Err(e) => e,
            }
        }
    );
    link!(
        linker,
        get,
        "fd_pread",
        |ctx, mem, fd: i32, iovs: i32, len: i32, off: i64, p: i32| {
            fs::fd_pread(ctx, mem, u(fd), u(iovs), u(len), off as u64, u(p))
        }
    );
    link!(
        linker,
        get,
        "fd_prestat_get",
        |ctx, mem, fd: i32, p: i32| { host::fd_prestat_get(ctx, mem, u(fd), u(p)) }
    );
    link!(
        linker,
        get,
        "fd_prestat_dir_name",
        |ctx, mem, fd: i32, p: i32, len: i32| {
            host::fd_prestat_dir_name(ctx, mem, u(fd), u(p), u(len))
        }
    );
    link!(
        linker,
        get,
        "fd_pwrite",
        |ctx, mem, fd: i32, iovs: i32, len: i32, off: i64, p: i32| {
            fs::fd_pwrite(ctx, mem, u(fd), u(iovs), u(len), off as u64, u(p))
        }
    );
    link!(
        linker,
        get,
        "fd_read",
        |ctx, mem, fd: i32, iovs: i32, len: i32, p: i32| {
            host::fd_read(ctx, mem, u(fd), u(iovs), u(len), u(p))
        }
    );
    link!(
        linker,
        get,
        "fd_readdir",
        |ctx, mem, fd: i32, buf: i32, len: i32, cookie: i64, p: i32| {
            fs::fd_readdir(ctx, mem, u(fd), u(buf), u(len), cookie as u64, u(p))
        }
    );
    link!(linker, get, "fd_renumber", |ctx, mem, fd: i32, to: i32| {
        host::fd_renumber(ctx, mem, u(fd), u(to))
    });
    link!(
        linker,
        get,
        "fd_seek",
        |ctx, mem, fd: i32, off: i64, whence: i32, p: i32| {
            match small::<u8>(whence) {
                Ok(whence) => host::fd_seek(ctx, mem, u(fd), off, whence, u(p)),
                Err(e) => e,
            }
        }
    );
    link!(linker, get, "fd_sync", |ctx, mem, fd: i32| fs::fd_sync(
        ctx,
        mem,
        u(fd)
    ));
    link!(linker, get, "fd_tell", |ctx, mem, fd: i32, p: i32| {
        host::fd_tell(ctx, mem, u(fd), u(p))
    });
    link!(
        linker,
        get,
        "fd_write",
        |ctx, mem, fd: i32, iovs: i32, len: i32, p: i32| {
            host::fd_write(ctx, mem, u(fd), u(iovs), u(len), u(p))
        }
    );
    link!(
        linker,
        get,
        "path_create_directory",
        |ctx, mem, fd: i32, p: i32, len: i32| {
            fs::path_create_directory(ctx, mem, u(fd), u(p), u(len))
        }
    );
    link!(
        linker,
        get,
        "path_filestat_get",
        |ctx, mem, fd: i32, fl: i32, p: i32, len: i32, buf: i32| {
            fs::path_filestat_get(ctx, mem, u(fd), u(fl), u(p), u(len), u(buf))
        }
    );
    link!(
        linker,
        get,
        "path_filestat_set_times",
        |ctx, mem, fd: i32, fl: i32, p: i32, len: i32, a: i64, m: i64, fst: i32| {
            match small::<u16>(fst) {
                Ok(fst) => fs::path_filestat_set_times(
                    ctx,
                    mem,
                    u(fd),
                    u(fl),
                    u(p),
                    u(len),
                    a as u64,
                    m as u64,
                    fst,
                ),
                Err(e) => e,
            }
        }
    );
    link!(
        linker,
        get,
        "path_link",
        |ctx, mem, ofd: i32, ofl: i32, op: i32, olen: i32, nfd: i32, np: i32, nlen: i32| {
            fs::path_link(
                ctx,
                mem,
                u(ofd),
                u(ofl),
                u(op),
                u(olen),
                u(nfd),
                u(np),
                u(nlen),
            )
        }
    );
    link!(
        linker,
        get,
        "path_open",
        |ctx,
         mem,
         fd: i32,
         dfl: i32,
         p: i32,
         len: i32,
         ofl: i32,
         base: i64,
         inh: i64,
         fdfl: i32,
         out: i32| {
            match (small::<u16>(ofl), small::<u16>(fdfl)) {
                (Ok(ofl), Ok(fdfl)) => fs::path_open(
                    ctx,
                    mem,
                    u(fd),
                    u(dfl),
                    u(p),
                    u(len),
                    ofl,
                    base as u64,
                    inh as u64,
                    fdfl,
                    u(out),
                ),
                _ => Errno::INVAL,
            }
        }
    );
    link!(
        linker,
        get,
        "path_readlink",
        |ctx, mem, fd: i32, p: i32, len: i32, buf: i32, blen: i32, used: i32| {
            fs::path_readlink(ctx, mem, u(fd), u(p), u(len), u(buf), u(blen), u(used))
        }
    );
    link!(
        linker,
        get,
        "path_remove_directory",
        |ctx, mem, fd: i32, p: i32, len: i32| {
            fs::path_remove_directory(ctx, mem, u(fd), u(p), u(len))
        }
    );
    link!(
        linker,
        get,
        "path_rename",
        |ctx, mem, fd: i32, op: i32, olen: i32, nfd: i32, np: i32, nlen: i32| {
            fs::path_rename(ctx, mem, u(fd), u(op), u(olen), u(nfd), u(np), u(nlen))
        }
    );
    link!(
        linker,
        get,
        "path_symlink",
        |ctx, mem, op: i32, olen: i32, fd: i32, np: i32, nlen: i32| {
            fs::path_symlink(ctx, mem, u(op), u(olen), u(fd), u(np), u(nlen))
        }
    );
    link!(
        linker,
        get,
        "path_unlink_file",
        |ctx, mem, fd: i32, p: i32, len: i32| {
            fs::path_unlink_file(ctx, mem, u(fd), u(p), u(len))
        }
    );
    link!(
        linker,
        get,
        "poll_oneoff",
        |ctx, mem, in_: i32, out: i32, n: i32, nev: i32| {
            poll::poll_oneoff(ctx, mem, u(in_), u(out), u(n), u(nev))
        }
    );
    linker.func_wrap(
        MODULE,
        "proc_exit",
        move |mut c: Caller<'_, T>, code: i32| -> wasmtime::Result<()> {
            let exit = host::proc_exit(get(c.data_mut()), u(code));
            Err(wasmtime::Error::new(exit))
        },
    )?;
    link!(
        linker,
        get,
        "proc_raise",
        |ctx, mem, sig: i32| match small::<u8>(sig) {
            Ok(sig) => host::proc_raise(ctx, mem, sig),
            Err(e) => e,
        }
    );
    linker.func_wrap(MODULE, "sched_yield", move |mut c: Caller<'_, T>| {
        Ok(i32::from(host::sched_yield(get(c.data_mut())).raw()))
    })?;
    link!(linker, get, "random_get", |ctx, mem, p: i32, len: i32| {
        host::random_get(ctx, mem, u(p), u(len))
    });
    link!(
        linker,
        get,
        "sock_accept",
        |ctx, mem, fd: i32, flags: i32, ro_fd: i32| {
            match small::<u16>(flags) {
                Ok(flags) => host::sock_accept(ctx, mem, u(fd), flags, u(ro_fd)),
                Err(e) => e,
            }
        }
    );
    link!(
        linker,
        get,
        "sock_recv",
        |ctx, mem, fd: i32, ri: i32, ri_len: i32, ri_flags: i32, ro_len: i32, ro_flags: i32| {
            match small::<u16>(ri_flags) {
                Ok(flags) => host::sock_recv(
                    ctx,
                    mem,
                    u(fd),
                    u(ri),
                    u(ri_len),
                    flags,
                    u(ro_len),
                    u(ro_flags),
                ),
                Err(e) => e,
            }
        }
    );
    link!(
        linker,
        get,
        "sock_send",
        |ctx, mem, fd: i32, si: i32, si_len: i32, si_flags: i32, so_len: i32| {
            match small::<u16>(si_flags) {
                Ok(flags) => host::sock_send(ctx, mem, u(fd), u(si), u(si_len), flags, u(so_len)),
                Err(e) => e,
            }
        }
    );
    link!(
        linker,
        get,
        "sock_shutdown",
        |ctx, mem, fd: i32, how: i32| match small::<u8>(how) {
            Ok(how) => host::sock_shutdown(ctx, mem, u(fd), how),
            Err(e) => e,
        }
    );
    Ok(())
}

/// Defines every function import of `module` that `linker` cannot resolve as a trap-free
/// function returning NOSYS: integer results are 52 (`ENOSYS`), other results their zero/null
/// value. Non-function imports are left alone (they fail at instantiation with a clear error).
pub fn define_unresolved_as_nosys<T>(
    linker: &mut Linker<T>,
    store: &mut Store<T>,
    module: &Module,
) -> wasmtime::Result<()> {
    for import in module.imports() {
        let ExternType::Func(ty) = import.ty() else {
            continue;
        };
        if linker.get_by_import(&mut *store, &import).is_some() {
            continue;
        }
        let results: Vec<Val> = ty
            .results()
            .map(|t| match t {
                ValType::I32 => Some(Val::I32(i32::from(Errno::NOSYS.raw()))),
                ValType::I64 => Some(Val::I64(i64::from(Errno::NOSYS.raw()))),
                other => Val::default_for_ty(&other),
            })
            .collect::<Option<_>>()
            .ok_or_else(|| {
                wasmtime::format_err!(
                    "import `{}::{}` returns a type with no default value",
                    import.module(),
                    import.name()
                )
            })?;
        tracing::debug!(
            module = import.module(),
            name = import.name(),
            "import defined as NOSYS"
        );
        linker.func_new(
            import.module(),
            import.name(),
            ty,
            move |_caller, _args, out| {
                for (slot, v) in out.iter_mut().zip(results.iter()) {
                    *slot = *v;
                }
                Ok(())
            },
        )?;
    }
    Ok(())
}

/// How a run ended.
#[derive(Debug)]
pub enum Outcome {
    /// The guest called `proc_exit(code)`, or `_start` returned (code 0).
    Exited(u32),
    /// A termination signal ended the run (the CLI exits with 128 + the signal).
    Signaled(i32),
    /// The guest trapped (or a host function failed fatally). The error's `Debug` form carries
    /// the trap message and the wasm backtrace.
    Trapped(wasmtime::Error),
}

/// Why a module could not be run at all (the CLI's status 2).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The module file could not be read, or is not valid wasm / wat.
    #[error("cannot load module {path}: {source:#}")]
    Module {
        /// The path given.
        path: String,
        /// The underlying error.
        source: wasmtime::Error,
    },
    /// Linking or instantiation failed (an import that cannot be satisfied, ...).
    #[error("cannot instantiate module: {0:#}")]
    Instantiate(wasmtime::Error),
    /// The module exports no `_start: [] -> []` (it is not a WASI command).
    #[error("module has no `_start` function of type [] -> [] (not a WASI command): {0:#}")]
    NoStart(wasmtime::Error),
    /// The engine could not be created.
    #[error("cannot create the wasm engine: {0}")]
    Engine(wasmtime::Error),
}

/// The engine configuration the host uses: Cranelift, wasm backtraces on.
pub fn engine() -> Result<Engine, LoadError> {
    // Cranelift, wasm backtraces captured on traps, and epoch interruption so a termination
    // request can stop a guest that never calls the host.
    let mut config = Config::new();
    config.epoch_interruption(true);
    Engine::new(&config).map_err(LoadError::Engine)
}

/// Loads a module from a `.wasm` (binary) or `.wat` (text) file. A file that is neither (no
/// wasm magic, and not text that starts like a WAT module) is "not a WebAssembly module", not a
/// WAT parse error.
pub fn load_module(engine: &Engine, path: &Path) -> Result<Module, LoadError> {
    let bytes = std::fs::read(path).map_err(|e| LoadError::Module {
        path: path.display().to_string(),
        source: wasmtime::Error::new(e),
    })?;
    if !looks_like_wasm_or_wat(&bytes) {
        return Err(LoadError::Module {
            path: path.display().to_string(),
            source: wasmtime::format_err!("not a WebAssembly module (neither wasm nor WAT)"),
        });
    }
    Module::new(engine, &bytes).map_err(|e| LoadError::Module {
        path: path.display().to_string(),
        source: e,
    })
}

/// True for the wasm binary magic, or UTF-8 text whose first token (after whitespace and
/// `;;` / `(; ;)` comments) is `(module` or `(component`... or any `(`: WAT.
fn looks_like_wasm_or_wat(bytes: &[u8]) -> bool {
    if bytes.starts_with(b"\0asm") {
        return true;
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    let mut rest = text.trim_start_matches('\u{feff}');
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix(";;") {
            rest = r.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(r) = rest.strip_prefix("(;") {
            rest = r.split_once(";)").map_or("", |(_, r)| r);
        } else {
            return rest.starts_with('(');
        }
    }
}

/// Options of [`run_with`].
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Define every function import nothing else defines as a NOSYS stub (`waitset run
    /// --stub-unknown-imports`) instead of failing to link.
    pub stub_unknown_imports: bool,
}

/// Instantiates `module` with `ctx` and runs its `_start`, with default [`RunOptions`].
pub fn run(engine: &Engine, module: &Module, ctx: WasiCtx) -> Result<Outcome, LoadError> {
    run_with(engine, module, ctx, &RunOptions::default())
}

/// Instantiates `module` with `ctx` and runs its `_start`.
pub fn run_with(
    engine: &Engine,
    module: &Module,
    ctx: WasiCtx,
    opts: &RunOptions,
) -> Result<Outcome, LoadError> {
    let mut store = Store::new(engine, ctx);
    // A termination request interrupts compiled code through the epoch (see `engine`): the
    // latch's hook bumps it, and the next epoch check traps. Set before instantiation, since a
    // wasm start function already runs guest code.
    store.set_epoch_deadline(1);
    store.epoch_deadline_trap();
    let mut linker = Linker::new(engine);
    add_to_linker(&mut linker, |ctx: &mut WasiCtx| ctx).map_err(LoadError::Instantiate)?;
    if opts.stub_unknown_imports {
        define_unresolved_as_nosys(&mut linker, &mut store, module)
            .map_err(LoadError::Instantiate)?;
    }
    let instance = match linker.instantiate(&mut store, module) {
        Ok(i) => i,
        // A wasm start function runs guest code during instantiation: its exit or trap is the
        // outcome of the run. Anything else (an unsatisfiable import) means it never ran.
        Err(e) if e.is::<ProcExit>() || e.is::<Trap>() || e.is::<Signaled>() => {
            return Ok(outcome(e, store.data()))
        }
        Err(e) => return Err(LoadError::Instantiate(e)),
    };
    store.data_mut().memory = instance.get_memory(&mut store, "memory");
    let start = instance
        .get_typed_func::<(), ()>(&mut store, "_start")
        .map_err(LoadError::NoStart)?;
    match start.call(&mut store, ()) {
        Ok(()) => Ok(Outcome::Exited(0)),
        Err(e) => Ok(outcome(e, store.data())),
    }
}

/// Turns an error from guest execution into an outcome: `proc_exit`, or a trap.
fn outcome(e: wasmtime::Error, ctx: &WasiCtx) -> Outcome {
    if let Some(exit) = e.downcast_ref::<ProcExit>() {
        return Outcome::Exited(exit.0);
    }
    if let Some(Signaled(sig)) = e.downcast_ref::<Signaled>() {
        return Outcome::Signaled(*sig);
    }
    // An epoch trap caused by the termination latch.
    match ctx.interrupted() {
        Some(sig) => Outcome::Signaled(sig),
        None => Outcome::Trapped(e),
    }
}
