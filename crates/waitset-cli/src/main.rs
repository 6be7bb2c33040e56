//! `waitset`: run WASI preview1 programs on the waitset host.
//!
//! ```text
//! waitset run [--dir HOST_DIR[::GUEST_PATH]]... [--listen HOST:PORT]... [--env K=V]...
//!             [--inherit-env] [--stub-unknown-imports] [--log FILTER] [--poll-seed N]
//!             MODULE [ARGS...]
//! ```
//!
//! Everything after MODULE belongs to the guest. Exit status of `run`:
//! - the guest's `proc_exit` code, or 0 when `_start` returns; a code above 255 (which no exit
//!   status can hold) is 255, never its low 8 bits;
//! - 134 when the guest traps (128 + SIGABRT, as a native `abort()` and the wasmtime CLI); the
//!   trap message and the wasm backtrace go to stderr;
//! - 130 / 143 when SIGINT / SIGTERM ends the run (128 + the signal), even while the guest is
//!   blocked in `poll_oneoff` or a read, or computing;
//! - 2 when the module cannot be run at all (missing file, not a WebAssembly module, invalid
//!   wasm/wat, an import nothing defines, no `_start`), a `--dir` cannot be opened, a `--listen`
//!   address cannot be bound, or the command line is wrong: one line on stderr.

use std::ffi::OsString;
use std::net::{TcpListener, ToSocketAddrs};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[cfg(feature = "bench")]
mod bench;
use waitset_wasi::wasmtime_host::{self, Outcome};
use waitset_wasi::{Interrupt, WasiCtx};

/// Exit status for a module that cannot be run (and for usage errors, as clap uses).
const STATUS_CANNOT_RUN: u8 = 2;
/// Exit status for a trap: 128 + SIGABRT.
const STATUS_TRAP: u8 = 134;
/// Backlog of each `--listen` socket: enough for hundreds of clients connecting at once.
const LISTEN_BACKLOG: i32 = 1024;

/// Command line of the `waitset` binary.
#[derive(Debug, Parser)]
#[command(
    name = "waitset",
    version,
    about = "One event-wait engine, four faces."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run a WASI preview1 command module (.wasm or .wat).
    Run(RunArgs),
    /// Benchmark the engine side by side with raw epoll, mio, polling, async-io and poll(2):
    /// print a table, write bench.json and SVG charts.
    #[cfg(feature = "bench")]
    Bench(bench::BenchArgs),
    /// Benchmarks: not in this build (the `bench` feature, on in the repository's workspace;
    /// `cargo install waitset-cli --features bench`).
    #[cfg(not(feature = "bench"))]
    Bench(NoBench),
}

/// `waitset bench` in a build without the `bench` feature: whatever the arguments, say so.
#[cfg(not(feature = "bench"))]
#[derive(Debug, Args)]
struct NoBench {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    args: Vec<OsString>,
}

/// Arguments of `waitset run`. As with `wasmtime run`, options come before MODULE and
/// everything after MODULE belongs to the guest (`prog.wasm --help` is the guest's `--help`).
#[derive(Debug, Args)]
struct RunArgs {
    /// Preopen the host directory HOST_DIR for the guest, as GUEST_PATH (default: HOST_DIR
    /// itself), like wasmtime's `--dir`. Repeatable; directories take fds 3, 4, ... in order.
    #[arg(long = "dir", value_name = "HOST_DIR[::GUEST_PATH]")]
    dirs: Vec<String>,

    /// Preopen a TCP listener on HOST:PORT for the guest (the fds after the directories). The
    /// bound address and the guest fd are printed on stderr.
    #[arg(long = "listen", value_name = "HOST:PORT")]
    listen: Vec<String>,

    /// Set an environment variable for the guest (repeatable; overrides --inherit-env).
    #[arg(long = "env", value_name = "K=V", value_parser = parse_env)]
    env: Vec<(String, String)>,

    /// Pass the host's whole environment to the guest (by default it gets only --env).
    #[arg(long = "inherit-env")]
    inherit_env: bool,

    /// Link function imports that nothing defines to stubs returning NOSYS (52) instead of
    /// failing with a link error.
    #[arg(long = "stub-unknown-imports")]
    stub_unknown_imports: bool,

    /// Log filter for the host's tracing output on stderr (`trace`, `waitset_wasi=trace`, ...:
    /// RUST_LOG syntax). Without it, RUST_LOG is used if set. `trace` shows the poll_oneoff span
    /// of every call (timeout_ms, fd_guards, seen).
    #[arg(long = "log", value_name = "FILTER")]
    log: Option<String>,

    /// Fix the poll seed (the rotation of poll_oneoff events) for reproducible runs.
    #[arg(long = "poll-seed", value_name = "N")]
    poll_seed: Option<u64>,

    /// The module to run (a .wasm binary or .wat text), then the guest's own arguments.
    #[arg(
        value_name = "MODULE [ARGS]...",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    module_and_args: Vec<OsString>,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
}

/// Splits `HOST_DIR[::GUEST_PATH]` (wasmtime's syntax).
fn parse_dir(spec: &str) -> (&str, &str) {
    spec.split_once("::").unwrap_or((spec, spec))
}

/// Binds a listening TCP socket on the first address `spec` resolves to, with
/// [`LISTEN_BACKLOG`] and `SO_REUSEADDR`.
fn bind_listener(spec: &str) -> std::io::Result<TcpListener> {
    use rustix::net::{AddressFamily, SocketType};
    let mut last_err = None;
    for addr in spec.to_socket_addrs()? {
        let family = if addr.is_ipv4() {
            AddressFamily::INET
        } else {
            AddressFamily::INET6
        };
        let attempt = (|| -> rustix::io::Result<TcpListener> {
            let sock = rustix::net::socket_with(
                family,
                SocketType::STREAM,
                rustix::net::SocketFlags::CLOEXEC,
                None,
            )?;
            rustix::net::sockopt::set_socket_reuseaddr(&sock, true)?;
            rustix::net::bind(&sock, &addr)?;
            rustix::net::listen(&sock, LISTEN_BACKLOG)?;
            Ok(TcpListener::from(sock))
        })();
        match attempt {
            Ok(l) => return Ok(l),
            Err(e) => last_err = Some(std::io::Error::from(e)),
        }
    }
    Err(last_err.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "address resolves to nothing",
        )
    }))
}

fn cannot_run(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("waitset: {msg}");
    ExitCode::from(STATUS_CANNOT_RUN)
}

/// Installs a tracing subscriber writing to stderr, filtered by `--log` or else `RUST_LOG`.
fn init_logging(filter: Option<&str>) -> Result<(), String> {
    use tracing_subscriber::fmt::format::FmtSpan;
    use tracing_subscriber::EnvFilter;
    let filter = match filter {
        Some(f) => EnvFilter::try_new(f).map_err(|e| format!("bad --log filter `{f}`: {e}"))?,
        None => match std::env::var("RUST_LOG") {
            Ok(f) if !f.is_empty() => {
                EnvFilter::try_new(&f).map_err(|e| format!("bad RUST_LOG `{f}`: {e}"))?
            }
            _ => return Ok(()),
        },
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .try_init()
        .map_err(|e| format!("cannot set up logging: {e}"))
}

/// The exit status for a guest's `proc_exit(code)`: 0-255 as given; a code that does not fit
/// in an exit status is 255 (with a note on stderr), never its low 8 bits, which could turn a
/// failure such as 256 into success.
fn exit_status(code: u32) -> u8 {
    match u8::try_from(code) {
        Ok(c) => c,
        Err(_) => {
            eprintln!("waitset: guest exited with code {code}, which does not fit in an exit status; exiting with 255");
            255
        }
    }
}

fn run(args: RunArgs) -> ExitCode {
    // First, before any other thread exists: SIGINT / SIGTERM are blocked everywhere and taken
    // by one thread that raises the latch. A guest blocked in a host call wakes, and one
    // spinning in wasm code traps at its next epoch check.
    let interrupt = match Interrupt::new() {
        Ok(i) => i,
        Err(e) => return cannot_run(format!("cannot set up signal handling: {e}")),
    };
    if let Err(e) = interrupt.watch_signals(&[libc::SIGINT, libc::SIGTERM]) {
        return cannot_run(format!("cannot set up signal handling: {e}"));
    }
    if let Err(e) = init_logging(args.log.as_deref()) {
        return cannot_run(e);
    }
    let engine = match wasmtime_host::engine() {
        Ok(e) => e,
        Err(e) => return cannot_run(e),
    };
    {
        let engine = engine.clone();
        interrupt.on_raise(move || engine.increment_epoch());
    }
    let mut module_and_args = args.module_and_args.iter();
    let Some(module_path) = module_and_args.next().map(PathBuf::from) else {
        return cannot_run("no MODULE given");
    };
    let module = match wasmtime_host::load_module(&engine, &module_path) {
        Ok(m) => m,
        Err(e) => return cannot_run(one_line(&e.to_string())),
    };

    let mut builder = WasiCtx::builder()
        .arg(module_path.as_os_str().as_bytes())
        .args(module_and_args.map(|a| a.as_bytes()))
        .inherit_stdio()
        .interrupt(interrupt);
    let mut env: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    if args.inherit_env {
        env.extend(
            std::env::vars_os().map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec())),
        );
    }
    for (k, v) in &args.env {
        env.retain(|(ek, _)| ek.as_slice() != k.as_bytes());
        env.push((k.as_bytes().to_vec(), v.as_bytes().to_vec()));
    }
    for (k, v) in &env {
        builder = builder.env(k, v);
    }
    for spec in &args.dirs {
        let (host, guest) = parse_dir(spec);
        builder = match builder.preopen_host_dir(host, guest) {
            Ok(b) => b,
            Err(e) => return cannot_run(format!("cannot open directory {host}: {e}")),
        };
    }
    for (i, spec) in args.listen.iter().enumerate() {
        let listener = match bind_listener(spec) {
            Ok(l) => l,
            Err(e) => return cannot_run(format!("cannot listen on {spec}: {e}")),
        };
        if let Ok(addr) = listener.local_addr() {
            eprintln!(
                "waitset: fd {} listening on {addr}",
                3 + args.dirs.len() + i
            );
        }
        builder = builder.preopen_listener(listener);
    }
    if let Some(seed) = args.poll_seed {
        builder = builder.poll_seed(seed);
    }
    let ctx = match builder.build() {
        Ok(c) => c,
        Err(e) => return cannot_run(e),
    };

    let opts = wasmtime_host::RunOptions {
        stub_unknown_imports: args.stub_unknown_imports,
    };
    match wasmtime_host::run_with(&engine, &module, ctx, &opts) {
        Ok(Outcome::Exited(code)) => ExitCode::from(exit_status(code)),
        Ok(Outcome::Signaled(sig)) => ExitCode::from(128u8.wrapping_add(sig as u8)),
        Ok(Outcome::Trapped(e)) => {
            report_trap(&e);
            ExitCode::from(STATUS_TRAP)
        }
        Err(e) => cannot_run(one_line(&e.to_string())),
    }
}

/// Prints a trap: its message, then the wasm backtrace (never the host's Rust backtrace, which
/// `{:?}` would add under `RUST_BACKTRACE=1`).
fn report_trap(e: &wasmtime_host::wasmtime::Error) {
    eprintln!("waitset: guest trapped: {}", e.root_cause());
    if let Some(bt) = e.downcast_ref::<wasmtime_host::wasmtime::WasmBacktrace>() {
        eprintln!("{bt}");
    }
}

/// Joins a multi-line error message into one line.
fn one_line(s: &str) -> String {
    s.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run(args),
        #[cfg(feature = "bench")]
        Command::Bench(args) => bench::bench(args),
        #[cfg(not(feature = "bench"))]
        Command::Bench(_) => {
            eprintln!(
                "waitset bench: this waitset was built without the `bench` feature (its peers \
                 and charts are left out of `cargo install waitset-cli`): run it from the \
                 repository (`cargo run --release -- bench`), or install it with \
                 `cargo install waitset-cli --features bench`"
            );
            ExitCode::from(STATUS_CANNOT_RUN)
        }
    }
}
