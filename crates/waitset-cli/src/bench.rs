//! `waitset bench` (cargo feature `bench`): the benchmark harness of `waitset-bench`, with
//! this very binary as the host of the guest workloads.
//!
//! Exit status: 0 for a complete run; 1 when the selection is wrong (nothing runs) or the run
//! is incomplete (nothing is written: the last complete results in OUT stay); 130 (128 +
//! SIGINT) when Ctrl-C stopped it (the workloads that finished are in OUT/interrupted/).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

/// Exit status after Ctrl-C: 128 + SIGINT, as `waitset run`.
const STATUS_INTERRUPTED: u8 = 130;

/// Arguments of `waitset bench`.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
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
    /// A directory of guest modules for workloads 7 and 8 (default: the copies built into
    /// this binary).
    #[arg(long, value_name = "DIR")]
    guests: Option<PathBuf>,
    /// A directory of peer runner scripts for workload 7 (default: the copies built into
    /// this binary).
    #[arg(long, value_name = "DIR")]
    peers: Option<PathBuf>,
}

/// `waitset bench`: measure (or re-render a saved run), print the table, write the files, and
/// fail if any workload or engine produced no figure (nothing about time is asserted).
pub(crate) fn bench(args: BenchArgs) -> ExitCode {
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
        Err(e @ waitset_bench::Error::Interrupted) => {
            eprintln!("waitset bench: {e}");
            return ExitCode::from(STATUS_INTERRUPTED);
        }
        Err(e) => {
            eprintln!("waitset bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = report.print_table(&mut std::io::stdout().lock()) {
        eprintln!("waitset bench: {e}");
        return ExitCode::FAILURE;
    }
    // The library accepts a workload that could not run for want of a `waitset` binary; this
    // binary always has one, so such a workload here is a failure: checked before anything is
    // written, so that the last complete results stay.
    let skipped = report.skipped_workloads();
    if !skipped.is_empty() && args.from.is_none() && report.interrupted.is_none() {
        eprintln!(
            "waitset bench: incomplete run: workload(s) {} did not run under waitset; \
             nothing written",
            skipped.join(", ")
        );
        return ExitCode::FAILURE;
    }
    // A report that does not validate is not written (the error says so); an interrupted one
    // goes to OUT/interrupted/.
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
    if report.interrupted.is_some() {
        return ExitCode::from(STATUS_INTERRUPTED);
    }
    match report.validate() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("waitset bench: incomplete run: {e}");
            ExitCode::FAILURE
        }
    }
}
