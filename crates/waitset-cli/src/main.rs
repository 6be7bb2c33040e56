//! `waitset`: run WASI preview1 programs on the waitset host.
//!
//! ```text
//! waitset run [--listen HOST:PORT]... [--env K=V]... [--poll-seed N] MODULE [ARGS...]
//! ```
//!
//! Exit status of `run`:
//! - the guest's `proc_exit` code, or 0 when `_start` returns. As for a native process, only the
//!   low 8 bits survive (`proc_exit(256)` is status 0);
//! - 134 when the guest traps (128 + SIGABRT, as a native `abort()` and the wasmtime CLI); the
//!   trap message and the wasm backtrace go to stderr;
//! - 130 / 143 when SIGINT / SIGTERM ends the run (128 + the signal), even while the guest is
//!   blocked in `poll_oneoff` or a read, or computing;
//! - 2 when the module cannot be run at all (missing file, invalid wasm/wat, unsatisfiable
//!   import, no `_start`), a `--listen` address cannot be bound, or the command line is wrong:
//!   one line on stderr.

use std::ffi::OsString;
use std::net::{TcpListener, ToSocketAddrs};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
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
    Bench(BenchArgs),
}

/// Arguments of `waitset bench`.
#[derive(Debug, Args)]
struct BenchArgs {
    /// Small sizes and 3 repetitions: every workload and engine still runs, in under a minute.
    #[arg(long)]
    quick: bool,
    /// Smoke-test sizes (seconds even in a debug build); figures are not meaningful.
    #[arg(long, conflicts_with = "quick")]
    tiny: bool,
    /// Where bench.json and the charts go.
    #[arg(long, value_name = "DIR", default_value = "target/bench")]
    out: PathBuf,
    /// Only these workloads (comma-separated id prefixes, e.g. `1,5b`, or title words).
    #[arg(long, value_name = "NAMES")]
    filter: Option<String>,
    /// Only these engines (comma-separated names), e.g. for profiling one of them.
    #[arg(long, value_name = "NAMES")]
    engines: Option<String>,
    /// Repetitions per engine and parameter (interleaved A B A B ...); 0 = default (7, quick 3).
    #[arg(long, default_value_t = 0)]
    reps: usize,
    /// List the workloads and exit.
    #[arg(long)]
    list: bool,
    /// Re-render the table and charts of a saved bench.json instead of measuring.
    #[arg(long, value_name = "FILE")]
    from: Option<PathBuf>,
    /// The guest modules of workloads 7 and 8 (default: the source tree's guests/).
    #[arg(long, value_name = "DIR")]
    guests: Option<PathBuf>,
    /// The peer runner scripts of workload 7 (default: the source tree's scripts/peers/).
    #[arg(long, value_name = "DIR")]
    peers: Option<PathBuf>,
}

/// Arguments of `waitset run`.
#[derive(Debug, Args)]
struct RunArgs {
    /// Preopen a TCP listener on HOST:PORT for the guest (fd 3, 4, ... in order). With port 0
    /// the chosen address is printed on stderr.
    #[arg(long = "listen", value_name = "HOST:PORT")]
    listen: Vec<String>,

    /// Set an environment variable for the guest (repeatable). The host environment is not
    /// passed through.
    #[arg(long = "env", value_name = "K=V", value_parser = parse_env)]
    env: Vec<(String, String)>,

    /// Fix the poll seed (the rotation of poll_oneoff events) for reproducible runs.
    #[arg(long = "poll-seed", value_name = "N")]
    poll_seed: Option<u64>,

    /// The module to run: a .wasm binary or .wat text.
    #[arg(value_name = "MODULE")]
    module: PathBuf,

    /// Arguments passed to the guest after MODULE, which is its first argument.
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    args: Vec<OsString>,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
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

fn run(args: RunArgs) -> ExitCode {
    // First, before any other thread exists: SIGINT / SIGTERM are blocked everywhere and taken
    // by one thread that raises the latch. A guest blocked in poll_oneoff or a read wakes, and
    // one spinning in wasm code traps at its next epoch check.
    let interrupt = match Interrupt::new() {
        Ok(i) => i,
        Err(e) => return cannot_run(format!("cannot set up signal handling: {e}")),
    };
    if let Err(e) = interrupt.watch_signals(&[libc::SIGINT, libc::SIGTERM]) {
        return cannot_run(format!("cannot set up signal handling: {e}"));
    }
    let engine = match wasmtime_host::engine() {
        Ok(e) => e,
        Err(e) => return cannot_run(e),
    };
    {
        let engine = engine.clone();
        interrupt.on_raise(move || engine.increment_epoch());
    }
    let module = match wasmtime_host::load_module(&engine, &args.module) {
        Ok(m) => m,
        Err(e) => return cannot_run(one_line(&e.to_string())),
    };

    let mut builder = WasiCtx::builder()
        .arg(args.module.as_os_str().as_bytes())
        .args(args.args.iter().map(|a| a.as_bytes()))
        .inherit_stdio()
        .interrupt(interrupt);
    for (k, v) in &args.env {
        builder = builder.env(k, v);
    }
    for (i, spec) in args.listen.iter().enumerate() {
        let listener = match bind_listener(spec) {
            Ok(l) => l,
            Err(e) => return cannot_run(format!("cannot listen on {spec}: {e}")),
        };
        if spec.ends_with(":0") {
            if let Ok(addr) = listener.local_addr() {
                eprintln!("waitset: fd {} listening on {addr}", 3 + i);
            }
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

    match wasmtime_host::run(&engine, &module, ctx) {
        Ok(Outcome::Exited(code)) => ExitCode::from((code & 0xff) as u8),
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
        Command::Bench(args) => bench(args),
    }
}

/// `waitset bench`: measure (or re-render a saved run), print the table, write the files, and
/// fail if any workload or engine produced no figure (nothing about time is asserted).
fn bench(args: BenchArgs) -> ExitCode {
    if args.list {
        for (id, title) in waitset_bench::workloads() {
            println!("{id:>3}  {title}");
        }
        return ExitCode::SUCCESS;
    }
    let report = match &args.from {
        Some(from) => waitset_bench::Report::read_json(from),
        None => {
            let mut cfg = waitset_bench::BenchConfig {
                quick: args.quick,
                tiny: args.tiny,
                out_dir: args.out.clone(),
                filter: args.filter.clone(),
                engines: args.engines.clone(),
                reps: args.reps,
                // Workloads 7 and 8 run guests under this very binary (`waitset run`).
                waitset_exe: std::env::current_exe().ok(),
                ..Default::default()
            };
            if let Some(dir) = &args.guests {
                cfg.guests_dir = dir.clone();
            }
            if let Some(dir) = &args.peers {
                cfg.peers_dir = dir.clone();
            }
            waitset_bench::run(&cfg)
        }
    };
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("waitset bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = report.print_table(&mut std::io::stdout().lock()) {
        eprintln!("waitset bench: {e}");
        return ExitCode::FAILURE;
    }
    match report.write_all(&args.out) {
        Ok(files) => {
            for f in files {
                eprintln!("wrote {}", f.display());
            }
        }
        Err(e) => {
            eprintln!("waitset bench: {e}");
            return ExitCode::FAILURE;
        }
    }
    // The library accepts a workload that could not run for want of a `waitset` binary; this
    // binary always has one, so such a workload here is a failure.
    let skipped = report.skipped_workloads();
    if !skipped.is_empty() && args.from.is_none() {
        eprintln!(
            "waitset bench: incomplete run: workload(s) {} did not run under waitset",
            skipped.join(", ")
        );
        return ExitCode::FAILURE;
    }
    match report.validate() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("waitset bench: incomplete run: {e}");
            ExitCode::FAILURE
        }
    }
}
