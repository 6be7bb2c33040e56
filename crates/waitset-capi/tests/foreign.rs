//! The C ABI as its users see it: the C programs in tests/c and the example of docs/C-API.md,
//! compiled with gcc against include/waitset.h and linked with the library this build made (the
//! shared and the static one), and a Python ctypes script; each runs as a child process.
//!
//! Without gcc or python3 these tests say so and pass, unless `CI` or `WAITSET_REQUIRE_FOREIGN`
//! is set: then a missing tool is a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn repo_dir() -> PathBuf {
    crate_dir().join("../..")
}

/// Where cargo put the libwaitset_capi.{so,a} built with this test: its own `deps/` directory
/// (the copies in the profile directory above are only refreshed by `cargo build`).
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().expect("target/<profile>/deps/<test>");
    for lib in ["libwaitset_capi.so", "libwaitset_capi.a"] {
        assert!(
            dir.join(lib).exists(),
            "{} is missing: cargo builds it with the tests (`cargo test -p waitset-capi`)",
            dir.join(lib).display()
        );
    }
    dir.to_path_buf()
}

fn out_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("waitset-capi");
    std::fs::create_dir_all(&d).expect("create the output directory");
    d
}

fn required() -> bool {
    std::env::var_os("CI").is_some() || std::env::var_os("WAITSET_REQUIRE_FOREIGN").is_some()
}

/// The tool's path, or `None` (after saying so) when it is missing and not required.
fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            !required(),
            "{name} is required (CI or WAITSET_REQUIRE_FOREIGN) but not found"
        );
        eprintln!("SKIPPED: {name} not found; install it to run the C ABI tests");
    }
    found
}

#[derive(Clone, Copy, Debug)]
enum Link {
    Shared,
    Static,
}

/// Compile `src` (a path under the crate) into an executable linked `link`.
fn compile(src: &str, link: Link, extra: &[&str]) -> Option<PathBuf> {
    let gcc = tool("gcc")?;
    let lib = lib_dir();
    let name = Path::new(src)
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let exe = out_dir().join(format!("{name}-{link:?}").to_lowercase());
    let mut cmd = Command::new(gcc);
    cmd.args([
        "-std=gnu11",
        "-O1",
        "-g",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-pthread",
    ])
    .args(extra)
    .arg("-I")
    .arg(repo_dir().join("include"))
    .arg("-I")
    .arg(crate_dir().join("tests/c"))
    .arg(crate_dir().join(src))
    .arg("-o")
    .arg(&exe);
    match link {
        Link::Shared => {
            cmd.arg("-L").arg(&lib).arg("-lwaitset_capi");
            // An RPATH (not RUNPATH) and no LD_LIBRARY_PATH in `run`: cargo's library path for
            // tests also names the profile directory, whose copy may be stale.
            cmd.arg("-Wl,--disable-new-dtags")
                .arg(format!("-Wl,-rpath,{}", lib.display()));
        }
        Link::Static => {
            // The native libraries rustc names with --print native-static-libs.
            cmd.arg(lib.join("libwaitset_capi.a"));
            cmd.args([
                "-lgcc_s",
                "-lutil",
                "-lrt",
                "-lpthread",
                "-lm",
                "-ldl",
                "-lc",
            ]);
        }
    }
    let out = cmd.output().expect("run gcc");
    assert!(
        out.status.success(),
        "gcc failed for {src} ({link:?}):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(exe)
}

/// Run a program with a watchdog; it must exit 0. Returns its standard output.
fn run(mut cmd: Command, what: &str) -> String {
    let mut child = cmd
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"));
    let limit = Duration::from_secs(120);
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect output");
            panic!(
                "{what} hung for {limit:?}; stdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("collect output");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout
}

/// Compile and run one C test program, linked both ways.
fn c_test(src: &str) {
    for link in [Link::Shared, Link::Static] {
        let Some(exe) = compile(src, link, &[]) else {
            return;
        };
        let mut cmd = Command::new(&exe);
        cmd.env_remove("WAITSET_CAPI_MAX_HANDLES");
        let out = run(cmd, &format!("{src} ({link:?})"));
        assert!(
            out.contains(" passed, 0 failed"),
            "no summary from {src}: {out}"
        );
    }
}

#[test]
fn c_magenta_every_error_code() {
    c_test("tests/c/magenta_errors.c");
}

#[test]
fn c_magenta_threads() {
    c_test("tests/c/magenta_threads.c");
}

#[test]
fn c_posix_poll_ppoll() {
    c_test("tests/c/posix.c");
}

#[test]
fn c_syspoll() {
    c_test("tests/c/syspoll.c");
}

/// The example in docs/C-API.md is examples/quickstart.c, verbatim, and it builds and runs.
#[test]
fn c_api_doc_example() {
    let doc = std::fs::read_to_string(repo_dir().join("docs/C-API.md")).expect("docs/C-API.md");
    let example =
        std::fs::read_to_string(crate_dir().join("examples/quickstart.c")).expect("quickstart.c");
    let block = doc
        .split("```c\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a ```c block in docs/C-API.md");
    assert_eq!(
        block, example,
        "the first C block of docs/C-API.md must be crates/waitset-capi/examples/quickstart.c"
    );
    for link in [Link::Shared, Link::Static] {
        let strict = ["-std=c11", "-pedantic"];
        let Some(exe) = compile("examples/quickstart.c", link, &strict) else {
            return;
        };
        let out = run(Command::new(exe), "quickstart");
        for cookie in 1..=3 {
            assert!(out.contains(&format!("cookie {cookie}: WS_OK")), "{out}");
        }
        assert!(out.contains("cookie 1: WS_ERR_CANCELED"), "{out}");
    }
}

/// The header alone compiles as strict C99 and as C++ (with POSIX types, which it needs for
/// `struct pollfd` and `sigset_t`).
#[test]
fn header_compiles_as_c99_and_cpp() {
    let include = repo_dir().join("include");
    let src = out_dir().join("header_only.c");
    std::fs::write(
        &src,
        "#define _POSIX_C_SOURCE 200809L\n#include <waitset.h>\n\
         int main(void) { return ws_status_string(WS_OK) == 0; }\n",
    )
    .unwrap();
    let mut compilers = vec![("gcc", vec!["-std=c99", "-pedantic"])];
    if tool("g++").is_some() {
        compilers.push(("g++", vec!["-x", "c++", "-std=c++11", "-pedantic"]));
    }
    for (cc, flags) in compilers {
        let Some(cc) = tool(cc) else {
            return;
        };
        let out = Command::new(cc)
            .args(&flags)
            .args(["-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-I"])
            .arg(&include)
            .arg(&src)
            .output()
            .expect("run the compiler");
        assert!(
            out.status.success(),
            "{flags:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A second language through its FFI: Python's ctypes loads the shared library, reads the
/// constants from the header, and drives every status code.
#[test]
fn python_ctypes() {
    let Some(python) = tool("python3") else {
        return;
    };
    let mut cmd = Command::new(python);
    cmd.arg(crate_dir().join("tests/python/test_capi.py"))
        .arg("--lib")
        .arg(lib_dir().join("libwaitset_capi.so"))
        .arg("--header")
        .arg(repo_dir().join("include/waitset.h"));
    let out = run(cmd, "tests/python/test_capi.py");
    assert!(out.contains(" passed, 0 failed"), "{out}");
}
