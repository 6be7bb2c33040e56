//! # waitset-bench
//!
//! Side-by-side benchmarks of the waitset engine against the kernel's floor (raw epoll, poll(2))
//! and its peers (mio, polling, async-io, a `BinaryHeap`), in one process, on loopback only.
//!
//! Engines are interleaved within each workload and parameter (A B C A B C ...), so drift on a
//! noisy machine spreads over every engine instead of biasing one; each engine gets `reps`
//! samples (plus one discarded warm-up round) and the report keeps the median and the minimum.
//!
//! | id | workload | unit |
//! |---|---|---|
//! | 1a, 1b | libevent "pipes" chain over N socketpairs, 1 or 100 active | ns/event |
//! | 1c | the chain with 1 active, one-shot entries re-armed after every event | ns/event |
//! | 2 | N idle socketpairs + 1 active pair ping-ponged | ns/wait |
//! | 3 | 1,000 level-triggered fds all ready, results buffer 1,024 | ns/result |
//! | 4 | cross-thread wake round trip | ns/round trip |
//! | 5a | timer insert + cancel | ns/timer |
//! | 5b | timers expiring in order | CPU ns/timer |
//! | 6 | `poll()` / `PollSet` vs `poll(2)`: 64 idle pipes + 1 ready, timeout 0 | ns/call |
//! | 7 | `poll_oneoff` from a real guest under `waitset run`, wasmtime-py, `node:wasi` | µs/call |
//! | 8a, 8b | the wasm echo server under `waitset run`, 100 concurrent clients | requests/s, µs |
//!
//! Workloads 7 and 8 run guests in child processes and need the `waitset` binary
//! ([`BenchConfig::waitset_exe`], which `waitset bench` sets to itself); without it they are
//! reported as skipped. The guests and the peers' runner scripts are built into the harness
//! (an installed binary needs no source tree); [`BenchConfig::guests_dir`] and
//! [`BenchConfig::peers_dir`] can point elsewhere. The peers of workload 7 run when installed (`python3` can import
//! `wasmtime`; a `node` with `node:wasi` is on `PATH`) and are reported as skipped otherwise:
//! [`Report::validate`] accepts a skipped peer but not a missing waitset figure.
//!
//! A run checks its selection first (`--engines` names that match no engine are an error, and
//! nothing runs). Ctrl-C during a run stops it after the sample in progress: the report keeps
//! the workloads that finished and names the one that was cut short, and
//! [`Report::write_all`] puts it in `interrupted/` beside the last complete results, which a
//! failed or interrupted run never replaces. Every report records the harness's version, the
//! commit and compiler it was built with, and when it ran.
//!
//! ```no_run
//! let cfg = waitset_bench::BenchConfig { quick: true, ..Default::default() };
//! let report = waitset_bench::run(&cfg).unwrap();
//! report.print_table(&mut std::io::stdout()).unwrap();
//! report.write_all(&cfg.out_dir).unwrap();
//! ```

#![warn(missing_docs)]

mod assets;
mod engines;
mod fds;
mod harness;
mod hosts;
mod interrupt;
mod plot;
mod report;
mod workloads;

use std::path::PathBuf;

pub use crate::report::{median, Build, Entry, Goal, Machine, Report, Skipped, Workload};

/// A failure that stopped the run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The waitset engine returned an error.
    #[error("waitset: {0}")]
    Engine(#[from] waitset::Error),
    /// Serializing the report failed.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Drawing a chart failed.
    #[error("plot: {0}")]
    Plot(String),
    /// A workload could not be set up (or checked its own results and found them wrong), or
    /// the selection or the report is not valid.
    #[error("{0}")]
    Setup(String),
    /// Ctrl-C stopped the run before any workload finished.
    #[error("interrupted (Ctrl-C) before any workload finished: nothing measured")]
    Interrupted,
}

impl From<rustix::io::Errno> for Error {
    fn from(e: rustix::io::Errno) -> Error {
        Error::Io(e.into())
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// Smaller sizes, fewer events and 3 repetitions: every workload and every engine still
    /// runs, in well under a minute in release mode on two cores.
    pub quick: bool,
    /// Where the caller (the CLI) writes `bench.json` and the charts, see [`Report::write_all`].
    /// [`run`] itself writes nothing.
    pub out_dir: PathBuf,
    /// Run only the workloads selected by this comma-separated list: a token selects the
    /// workloads whose id starts with it (`1` selects `1a` and `1b`, `5b` only `5b`) or, when it
    /// has three characters or more, whose title contains it (`pipes`, `timer`, `wake`).
    pub filter: Option<String>,
    /// Samples per engine and parameter; 0 picks the default (7, or 3 with `quick`).
    pub reps: usize,
    /// Run only the engines whose name contains one of these comma-separated substrings
    /// (`waitset`, `raw epoll`, `mio`, ...): for profiling one engine. Ratios need the
    /// reference engine to be selected too.
    pub engines: Option<String>,
    /// Smoke-test sizes: every workload and engine runs for a few milliseconds. The figures
    /// mean nothing; this is for tests of the harness itself.
    pub tiny: bool,
    /// The `waitset` binary that runs the guests of workloads 7 and 8 (`waitset run`); `None`
    /// skips those workloads (the CLI sets it to itself).
    pub waitset_exe: Option<PathBuf>,
    /// A directory of guest modules (`poll_bench.wasm`, `echo_server.wasm`) to use instead of
    /// the copies built into the harness. Empty (the default): the built-in copies, written to
    /// a private temporary directory for the run.
    pub guests_dir: PathBuf,
    /// A directory of peer runner scripts (`run_wasmtime.py`, `run_node.mjs`) to use instead
    /// of the built-in copies. Empty (the default): the built-in copies.
    pub peers_dir: PathBuf,
    /// Catch Ctrl-C (SIGINT) during the run, stop after the sample in progress and return what
    /// was measured (the default). A second Ctrl-C ends the process as usual.
    pub catch_ctrl_c: bool,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            quick: false,
            out_dir: PathBuf::from("target/bench"),
            filter: None,
            reps: 0,
            engines: None,
            tiny: false,
            waitset_exe: None,
            guests_dir: PathBuf::new(),
            peers_dir: PathBuf::new(),
            catch_ctrl_c: true,
        }
    }
}

impl BenchConfig {
    /// The repetitions that will actually be taken.
    pub fn effective_reps(&self) -> usize {
        match (self.reps, self.quick || self.tiny) {
            (0, true) => 3,
            (0, false) => 7,
            (n, _) => n,
        }
    }

    /// Whether the workload `id` with `title` is selected by [`filter`](Self::filter).
    pub fn selects(&self, id: &str, title: &str) -> bool {
        let Some(f) = self.filter.as_deref() else {
            return true;
        };
        let title = title.to_lowercase();
        f.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .any(|t| {
                let t = t.to_lowercase();
                id.starts_with(&t) || (t.len() >= 3 && title.contains(&t))
            })
    }

    /// Check the selection before anything runs: the filter selects a workload, and every name
    /// in [`engines`](Self::engines) matches an engine of a selected workload.
    ///
    /// ```
    /// use waitset_bench::BenchConfig;
    /// let cfg = |filter: &str, engines: &str| BenchConfig {
    ///     filter: Some(filter.into()),
    ///     engines: Some(engines.into()),
    ///     ..Default::default()
    /// };
    /// cfg("1a", "mio,raw epoll").check_selection().unwrap();
    /// let e = cfg("1a", "nope").check_selection().unwrap_err();
    /// assert!(e.to_string().contains("\"nope\""));
    /// // node:wasi is an engine of workload 7 only.
    /// assert!(cfg("1a", "node").check_selection().is_err());
    /// cfg("7", "node").check_selection().unwrap();
    /// ```
    pub fn check_selection(&self) -> Result<(), Error> {
        let selected: Vec<&str> = workloads::LIST
            .iter()
            .filter(|(id, title)| self.selects(id, title))
            .map(|(id, _)| *id)
            .collect();
        if selected.is_empty() {
            return Err(Error::Setup(format!(
                "the filter {:?} selects no workload",
                self.filter.as_deref().unwrap_or("")
            )));
        }
        let Some(sel) = self.engines.as_deref() else {
            return Ok(());
        };
        let known: Vec<&str> = selected
            .iter()
            .flat_map(|id| workloads::engines(id).iter().copied())
            .fold(Vec::new(), |mut v, e| {
                if !v.contains(&e) {
                    v.push(e);
                }
                v
            });
        let names: Vec<&str> = sel
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if names.is_empty() {
            return Err(Error::Setup(format!("--engines {sel:?} names no engine")));
        }
        let unknown: Vec<&str> = names
            .into_iter()
            .filter(|n| !known.iter().any(|e| e.contains(n)))
            .collect();
        if !unknown.is_empty() {
            return Err(Error::Setup(format!(
                "no engine of the selected workloads matches {}; they are: {}",
                unknown
                    .iter()
                    .map(|n| format!("{n:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                known.join(", ")
            )));
        }
        Ok(())
    }
}

/// The engines workload `id` reports, by name (what `--engines` selects among; a peer of
/// workload 7 appears only where it is installed).
///
/// ```
/// assert_eq!(waitset_bench::engines_of("5a"), ["waitset Timer", "std BinaryHeap", "async-io Timer"]);
/// assert!(waitset_bench::engines_of("no such workload").is_empty());
/// ```
pub fn engines_of(id: &str) -> &'static [&'static str] {
    workloads::engines(id)
}

/// The workloads this harness knows, as `(id, title)`, in run order.
pub fn workloads() -> &'static [(&'static str, &'static str)] {
    workloads::LIST
}

/// Run the selected workloads with progress lines on standard error.
pub fn run(cfg: &BenchConfig) -> Result<Report, Error> {
    run_with_progress(cfg, &mut |line| eprintln!("{line}"))
}

/// Run the selected workloads, reporting progress (one line per workload and parameter) to
/// `progress`.
pub fn run_with_progress(
    cfg: &BenchConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<Report, Error> {
    cfg.check_selection()?;
    let timestamp = report::utc_now();
    let _sigint = if cfg.catch_ctrl_c {
        Some(interrupt::CatchSigint::install()?)
    } else {
        None
    };
    // The guests and runner scripts: the caller's directories, or the built-in copies.
    let unpack = |dir: &PathBuf, files| -> Result<(PathBuf, Option<assets::Unpacked>), Error> {
        if dir.as_os_str().is_empty() {
            let u = assets::Unpacked::new(files)?;
            Ok((u.path().to_path_buf(), Some(u)))
        } else {
            Ok((dir.clone(), None))
        }
    };
    let (guests, _guests_tmp) = unpack(&cfg.guests_dir, assets::GUESTS)?;
    let (peers, _peers_tmp) = unpack(&cfg.peers_dir, assets::PEERS)?;
    let nofile = fds::raise_nofile();
    let mut ctx = harness::Ctx {
        sizes: harness::Sizes::for_config(cfg),
        reps: cfg.effective_reps(),
        engines: cfg.engines.clone(),
        progress,
        hosts: hosts::Hosts {
            waitset: cfg.waitset_exe.clone(),
            guests,
            peers,
        },
        echo_runs: None,
    };
    let mut out = Vec::new();
    let mut interrupted = None;
    for &(id, title) in workloads::LIST {
        if !cfg.selects(id, title) {
            continue;
        }
        if interrupt::interrupted() {
            interrupted = Some(id.to_string());
            break;
        }
        (ctx.progress)(&format!("[{id}] {title}"));
        let started = std::time::Instant::now();
        let mut wl = match workloads::run(id, &mut ctx) {
            Ok(wl) => wl,
            // Whatever stopped the workload (the harness itself, or a child process that got
            // the same SIGINT), Ctrl-C was pressed: keep what finished.
            Err(_) if interrupt::interrupted() => {
                (ctx.progress)(&format!("[{id}] interrupted (Ctrl-C): stopping"));
                interrupted = Some(id.to_string());
                break;
            }
            Err(e) => return Err(e),
        };
        wl.compute_ratios();
        (ctx.progress)(&format!(
            "[{id}] done in {:.1} s",
            started.elapsed().as_secs_f64()
        ));
        out.push(wl);
    }
    if out.is_empty() && interrupted.is_some() {
        return Err(Error::Interrupted);
    }
    Ok(Report {
        machine: Machine::detect(nofile),
        build: Build::this(),
        timestamp,
        interrupted,
        quick: cfg.quick,
        tiny: cfg.tiny,
        reps: ctx.reps,
        workloads: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_selects_by_id_prefix_and_title() {
        let mut cfg = BenchConfig {
            filter: Some("1, timer".into()),
            ..Default::default()
        };
        assert!(cfg.selects("1a", "pipes"));
        assert!(cfg.selects("1b", "pipes"));
        assert!(cfg.selects("5a", "Timers: insert + cancel"));
        assert!(!cfg.selects("2", "idle"));
        cfg.filter = Some("5b".into());
        assert!(!cfg.selects("5a", "x"));
        assert!(cfg.selects("5b", "x"));
        cfg.filter = None;
        assert!(cfg.selects("6", "x"));
        assert_eq!(cfg.effective_reps(), 7);
        cfg.quick = true;
        assert_eq!(cfg.effective_reps(), 3);
        cfg.reps = 5;
        assert_eq!(cfg.effective_reps(), 5);
    }
}
