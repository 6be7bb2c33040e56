//! The figures of one run: what was measured, the statistics, the goals of the issue, and the
//! three ways to show them (a text table, JSON, SVG charts).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Error;

/// Everything one run measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// The machine the figures were taken on.
    pub machine: Machine,
    /// The harness that took them: version, commit, compiler.
    #[serde(default)]
    pub build: Build,
    /// When the run started (UTC, RFC 3339); empty in reports written before it was recorded.
    #[serde(default)]
    pub timestamp: String,
    /// The workload that Ctrl-C cut short, when the run was interrupted: the report holds the
    /// workloads that finished before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    /// Whether the run used the `--quick` sizes.
    pub quick: bool,
    /// Whether the run used the smoke-test sizes (figures meaningless).
    pub tiny: bool,
    /// Samples taken per engine and parameter (interleaved rounds).
    pub reps: usize,
    /// The workloads, in run order.
    pub workloads: Vec<Workload>,
}

/// The machine: CPU, cores, kernel.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Machine {
    /// `model name` from /proc/cpuinfo.
    pub cpu: String,
    /// Cores available to this process.
    pub cores: usize,
    /// `uname -srvm`.
    pub kernel: String,
    /// The soft `RLIMIT_NOFILE` in force during the run.
    pub nofile: u64,
}

impl Machine {
    /// Describe the machine this process runs on.
    pub fn detect(nofile: u64) -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let u = rustix::system::uname();
        let kernel = format!(
            "{} {} {} {}",
            u.sysname().to_string_lossy(),
            u.release().to_string_lossy(),
            u.version().to_string_lossy(),
            u.machine().to_string_lossy()
        );
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel,
            nofile,
        }
    }
}

/// The harness that took the figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Build {
    /// The version of `waitset-bench` (the workspace's version).
    pub version: String,
    /// The commit the harness was built from (`-dirty` for a package made from a tree with
    /// changes; `unknown` without git or package information).
    pub commit: String,
    /// `rustc -V` of the compiler that built it.
    pub rustc: String,
}

impl Build {
    /// This harness.
    ///
    /// ```
    /// let b = waitset_bench::Build::this();
    /// assert!(b.rustc.starts_with("rustc "));
    /// assert!(!b.version.is_empty() && !b.commit.is_empty());
    /// ```
    pub fn this() -> Build {
        Build {
            version: env!("CARGO_PKG_VERSION").into(),
            commit: env!("WAITSET_BENCH_COMMIT").into(),
            rustc: env!("WAITSET_BENCH_RUSTC").into(),
        }
    }
}

/// The current time, UTC, RFC 3339 to the second.
pub(crate) fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

/// `secs` after the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (the civil-from-days algorithm of
/// Howard Hinnant's date library).
fn rfc3339(secs: u64) -> String {
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// One workload: a unit, a parameter, and a list of (engine, parameter value, samples).
///
/// Workloads that need other hosts (the WASI guests of issue parts 7 and 8) fit the same shape:
/// a name, a unit and entries; a host that cannot run here is listed in
/// [`skipped`](Self::skipped) instead.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Workload {
    /// Short id, used by `--filter` and for file names (`1a`, `2`, `5b`, ...).
    pub id: String,
    /// What is measured.
    pub title: String,
    /// The unit of every sample (`ns/event`, `ns/wait`, ...).
    pub unit: String,
    /// What the parameter `n` of the entries means.
    pub param: String,
    /// The engine every ratio is taken against (`ratio = engine median / reference median`).
    pub reference: String,
    /// Whether the workload scales a parameter and gets a chart of cost against it.
    pub scaling: bool,
    /// The measured entries, grouped by parameter in run order.
    pub entries: Vec<Entry>,
    /// Method notes and caveats.
    pub notes: Vec<String>,
    /// Engines that did not run, and why (a peer that is not installed; for workloads 7 and 8,
    /// the `waitset` binary itself when the harness was not given one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
}

/// An engine that did not run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Skipped {
    /// The engine.
    pub engine: String,
    /// Why it did not run.
    pub reason: String,
}

/// One engine at one parameter value.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    /// The engine.
    pub engine: String,
    /// The parameter value.
    pub n: u64,
    /// One figure per repetition, in the workload's unit.
    pub samples: Vec<f64>,
    /// The median of the samples.
    pub median: f64,
    /// The smallest sample.
    pub min: f64,
    /// This engine's median over the reference engine's median at the same `n`
    /// (> 1: the reference is faster). `None` when the reference has no figure at this `n`.
    pub ratio: Option<f64>,
}

impl Entry {
    /// An entry with its statistics computed (ratio unset).
    pub fn new(engine: impl Into<String>, n: u64, samples: Vec<f64>) -> Entry {
        Entry {
            engine: engine.into(),
            n,
            median: median(&samples),
            min: samples.iter().copied().fold(f64::INFINITY, f64::min),
            samples,
            ratio: None,
        }
    }
}

/// The median (mean of the middle two for an even count); NaN when empty.
pub fn median(samples: &[f64]) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

impl Workload {
    /// A workload with no entries yet.
    pub fn new(id: &str, title: &str, unit: &str, param: &str, reference: &str) -> Workload {
        Workload {
            id: id.into(),
            title: title.into(),
            unit: unit.into(),
            param: param.into(),
            reference: reference.into(),
            scaling: false,
            entries: Vec::new(),
            notes: Vec::new(),
            skipped: Vec::new(),
        }
    }

    /// Record that `engine` did not run, and why.
    pub fn skip(&mut self, engine: &str, reason: impl Into<String>) {
        self.skipped.push(Skipped {
            engine: engine.into(),
            reason: reason.into(),
        });
    }

    /// Whether the reference engine was skipped, so the workload has no figures at all (workloads
    /// 7 and 8 when the harness has no `waitset` binary).
    pub fn reference_skipped(&self) -> bool {
        self.skipped.iter().any(|s| s.engine == self.reference)
    }

    /// Fill in every entry's ratio to the reference engine.
    pub fn compute_ratios(&mut self) {
        let refs: Vec<(u64, f64)> = self
            .entries
            .iter()
            .filter(|e| e.engine == self.reference)
            .map(|e| (e.n, e.median))
            .collect();
        for e in &mut self.entries {
            e.ratio = refs
                .iter()
                .find(|(n, _)| *n == e.n)
                .map(|(_, m)| e.median / m);
        }
    }

    /// The engines, in first-appearance order.
    pub fn engines(&self) -> Vec<&str> {
        let mut v: Vec<&str> = Vec::new();
        for e in &self.entries {
            if !v.contains(&e.engine.as_str()) {
                v.push(&e.engine);
            }
        }
        v
    }

    /// The parameter values, in first-appearance order.
    pub fn params(&self) -> Vec<u64> {
        let mut v = Vec::new();
        for e in &self.entries {
            if !v.contains(&e.n) {
                v.push(e.n);
            }
        }
        v
    }

    /// The entry of `engine` at `n`.
    pub fn entry(&self, engine: &str, n: u64) -> Option<&Entry> {
        self.entries.iter().find(|e| e.engine == engine && e.n == n)
    }
}

/// One goal of the issue, evaluated on a report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Goal {
    /// The goal as the issue states it.
    pub goal: String,
    /// What was measured against it.
    pub measured: String,
    /// Whether it is met in this run.
    pub met: bool,
}

impl Report {
    /// The workload with this id.
    pub fn workload(&self, id: &str) -> Option<&Workload> {
        self.workloads.iter().find(|w| w.id == id)
    }

    /// Check that the run produced a figure everywhere: it was not interrupted, every workload
    /// has entries, every
    /// entry has samples that are finite and positive, and every parameter has its reference
    /// engine. A peer listed in [`Workload::skipped`] (not installed here) is fine; a workload
    /// whose reference engine was skipped (7 and 8 without a `waitset` binary, see
    /// [`Report::skipped_workloads`]) is too, as the library cannot run them on its own: the
    /// CLI, which always can, rejects those. This is what a CI smoke run asserts; it says
    /// nothing about time.
    pub fn validate(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        if let Some(id) = &self.interrupted {
            problems.push(format!(
                "interrupted (Ctrl-C) during [{id}]: only the workloads before it ran"
            ));
        }
        if self.workloads.is_empty() {
            problems.push("no workload ran".to_string());
        }
        for w in &self.workloads {
            if w.reference_skipped() && w.entries.is_empty() {
                continue;
            }
            if w.entries.is_empty() {
                problems.push(format!("[{}] has no figure", w.id));
            }
            for e in &w.entries {
                if e.samples.is_empty() || !e.samples.iter().all(|s| s.is_finite() && *s > 0.0) {
                    problems.push(format!("[{}] {} at {}: bad samples", w.id, e.engine, e.n));
                }
            }
            for n in w.params() {
                if w.entry(&w.reference, n).is_none() {
                    problems.push(format!("[{}] no {} figure at {n}", w.id, w.reference));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Setup(problems.join("; ")))
        }
    }

    /// The ids of the workloads that did not run at all (their reference engine was skipped).
    pub fn skipped_workloads(&self) -> Vec<&str> {
        self.workloads
            .iter()
            .filter(|w| w.reference_skipped())
            .map(|w| w.id.as_str())
            .collect()
    }

    /// Evaluate the issue's goals on the workloads present in this report (ratios of medians
    /// measured in this one run).
    pub fn goals(&self) -> Vec<Goal> {
        let mut out = Vec::new();
        for id in ["1a", "1b"] {
            let Some(w) = self.workload(id) else { continue };
            for n in w.params() {
                let (Some(ws), Some(ep)) = (
                    w.entry(&w.reference, n),
                    w.entry(crate::engines::Kind::Epoll.name(), n),
                ) else {
                    continue;
                };
                let r = ws.median / ep.median;
                // Issue 7: level-triggered WaitSet within 3% of raw epoll at 1 active.
                let want = if id == "1a" { 1.03 } else { 1.05 };
                out.push(Goal {
                    goal: format!("{id} N={n}: waitset <= {want:.2}x raw epoll per event"),
                    measured: format!("{r:.3}x ({:.0} vs {:.0} ns)", ws.median, ep.median),
                    met: r <= want,
                });
            }
        }
        // Issue 10: the io_uring backend against raw epoll and raw io_uring.
        use crate::engines::Kind;
        for id in ["1a", "1b"] {
            let Some(w) = self.workload(id) else { continue };
            for n in w.params() {
                let ep = w.entry(Kind::Epoll.name(), n);
                let ur = w.entry(Kind::Uring.name(), n);
                for k in [Kind::WaitSetUringEdge, Kind::WaitSetUring] {
                    let Some(ws) = w.entry(k.name(), n) else {
                        continue;
                    };
                    if let Some(ep) = ep {
                        let r = ws.median / ep.median;
                        let want = if id == "1a" { 0.98 } else { 1.0 };
                        out.push(Goal {
                            goal: format!("{id} N={n}: {} <= {want:.2}x raw epoll", k.name()),
                            measured: format!("{r:.3}x ({:.0} vs {:.0} ns)", ws.median, ep.median),
                            met: r <= want,
                        });
                    }
                    if let (Some(ur), "1a") = (ur, id) {
                        let r = ws.median / ur.median;
                        out.push(Goal {
                            goal: format!("{id} N={n}: {} <= 1.02x raw io_uring", k.name()),
                            measured: format!("{r:.3}x ({:.0} vs {:.0} ns)", ws.median, ur.median),
                            met: r <= 1.02,
                        });
                    }
                }
            }
        }
        if let Some(w) = self.workload("1c") {
            for n in w.params() {
                let (Some(u), Some(e)) = (
                    w.entry(Kind::WaitSetUringOneshot.name(), n),
                    w.entry(Kind::WaitSetEpollOneshot.name(), n),
                ) else {
                    continue;
                };
                let r = u.median / e.median;
                out.push(Goal {
                    goal: format!("1c N={n}: one-shot re-arms on uring cheaper than on epoll"),
                    measured: format!("{r:.3}x ({:.0} vs {:.0} ns)", u.median, e.median),
                    met: r < 1.0,
                });
            }
        }
        if let Some(w) = self.workload("1a") {
            for n in w.params() {
                let (Some(ws), Some(p)) = (
                    w.entry(&w.reference, n),
                    w.entry(crate::engines::Kind::Polling.name(), n),
                ) else {
                    continue;
                };
                let r = p.median / ws.median;
                out.push(Goal {
                    goal: format!("1a N={n}: waitset >= 1.3x faster than polling (active 1)"),
                    measured: format!("{r:.2}x"),
                    met: r >= 1.3,
                });
            }
        }
        if let Some(w) = self.workload("2") {
            let v: Vec<&Entry> = w
                .entries
                .iter()
                .filter(|e| e.engine == w.reference)
                .collect();
            if v.len() >= 2 {
                let lo = v.iter().map(|e| e.median).fold(f64::INFINITY, f64::min);
                let hi = v.iter().map(|e| e.median).fold(0.0, f64::max);
                let mid = (lo + hi) / 2.0;
                let spread = (hi - lo) / 2.0 / mid;
                let (n0, n1) = (v[0].n, v[v.len() - 1].n);
                out.push(Goal {
                    goal: format!("2: waitset flat within +-10% from {n0} to {n1} idle fds"),
                    measured: format!("{lo:.0}..{hi:.0} ns/wait: +-{:.1}%", spread * 100.0),
                    met: spread <= 0.10,
                });
            }
        }
        if let Some(w) = self.workload("4") {
            if let (Some(ws), Some(m)) = (
                w.entries.iter().find(|e| e.engine == w.reference),
                w.entries.iter().find(|e| e.engine == "mio Waker"),
            ) {
                let r = ws.median / m.median;
                out.push(Goal {
                    goal: "4: Event round trip no slower than mio's Waker".into(),
                    measured: format!("{r:.3}x ({:.0} vs {:.0} ns)", ws.median, m.median),
                    met: r <= 1.0,
                });
            }
            for name in ["waitset Event [uring]", "waitset Event [uring, edge]"] {
                if let (Some(ws), Some(m)) = (
                    w.entries.iter().find(|e| e.engine == name),
                    w.entries.iter().find(|e| e.engine == "mio Waker"),
                ) {
                    let r = ws.median / m.median;
                    out.push(Goal {
                        goal: format!("4: {name} round trip no slower than mio's Waker"),
                        measured: format!("{r:.3}x ({:.0} vs {:.0} ns)", ws.median, m.median),
                        met: r <= 1.0,
                    });
                }
            }
        }
        if let Some(w) = self.workload("5a") {
            if let Some(ws) = w
                .entries
                .iter()
                .filter(|e| e.engine == w.reference)
                .max_by_key(|e| e.n)
            {
                out.push(Goal {
                    goal: format!("5a: timer insert + cancel <= 100 ns at {} timers", ws.n),
                    measured: format!("{:.1} ns", ws.median),
                    met: ws.median <= 100.0,
                });
            }
        }
        if let Some(w) = self.workload("6") {
            for n in w.params() {
                let Some(libc) = w.entry(&w.reference, n) else {
                    continue;
                };
                if let Some(p) = w.entry("waitset::poll", n) {
                    let r = p.median / libc.median;
                    out.push(Goal {
                        goal: format!("6 N={n}: poll() <= 1.05x libc::poll"),
                        measured: format!("{r:.3}x ({:.0} vs {:.0} ns)", p.median, libc.median),
                        met: r <= 1.05,
                    });
                }
                if n > 1000 {
                    if let Some(p) = w.entry("PollSet [epoll]", n) {
                        let r = libc.median / p.median;
                        out.push(Goal {
                            goal: format!("6 N={n}: PollSet >= 10x faster than libc::poll"),
                            measured: format!("{r:.1}x ({:.0} vs {:.0} ns)", p.median, libc.median),
                            met: r >= 10.0,
                        });
                    }
                }
            }
        }
        if let Some(w) = self.workload("9a") {
            if let Some(e) = w
                .entries
                .iter()
                .filter(|e| e.engine == w.reference)
                .max_by_key(|e| e.n)
            {
                out.push(Goal {
                    goal: format!("9a: <= 30 ns per result at {} asserted events", e.n),
                    measured: format!("{:.1} ns", e.median),
                    met: e.median <= 30.0,
                });
            }
        }
        if let Some(w) = self.workload("9b") {
            if let Some(e) = w.entry(&w.reference, 30_000) {
                out.push(Goal {
                    goal: "9b: removing a queued entry <= 2 us at 30,000 queued".into(),
                    measured: format!("{:.0} ns", e.median),
                    met: e.median <= 2000.0,
                });
            }
        }
        if let Some(w) = self.workload("9c") {
            for n in w.params() {
                if let (Some(ws), Some(ep)) = (w.entry(&w.reference, n), w.entry("raw epoll", n)) {
                    let r = ws.median / ep.median;
                    out.push(Goal {
                        goal: "9c: adding an fd <= 1.15x raw epoll_ctl".into(),
                        measured: format!("{r:.3}x ({:.0} vs {:.0} ns)", ws.median, ep.median),
                        met: r <= 1.15,
                    });
                }
            }
        }
        if let Some(w) = self.workload("7") {
            for (n, want) in [(0, 10.0), (64, 5.0), (1024, 20.0)] {
                let (Some(ws), Some(wt)) = (
                    w.entry(&w.reference, n),
                    w.entry(crate::hosts::Host::WasmtimePy.name(), n),
                ) else {
                    continue;
                };
                let what = if n == 0 {
                    "poll(NULL,0,0)".to_string()
                } else {
                    format!("{n} fds")
                };
                let r = wt.median / ws.median;
                out.push(Goal {
                    goal: format!("7 {what}: poll_oneoff >= {want:.0}x faster than wasmtime"),
                    measured: format!("{r:.2}x ({:.3} vs {:.3} µs)", ws.median, wt.median),
                    met: r >= want,
                });
            }
        }
        out
    }

    /// Print the table: one row per workload / parameter / engine with median, min and ratio,
    /// then the goals.
    pub fn print_table(&self, w: &mut impl Write) -> io::Result<()> {
        writeln!(
            w,
            "machine: {} ({} cores), {}",
            self.machine.cpu, self.machine.cores, self.machine.kernel
        )?;
        let size = if self.tiny {
            "tiny"
        } else if self.quick {
            "quick"
        } else {
            "full"
        };
        writeln!(w, "sizes: {size}, {} interleaved repetitions", self.reps)?;
        if !self.build.version.is_empty() {
            writeln!(
                w,
                "harness: waitset-bench {} (commit {}), {}, run at {}",
                self.build.version, self.build.commit, self.build.rustc, self.timestamp
            )?;
        }
        if let Some(id) = &self.interrupted {
            writeln!(
                w,
                "INTERRUPTED (Ctrl-C) during [{id}]: the workloads before it are complete"
            )?;
        }
        writeln!(
            w,
            "ratio = engine median / reference median (*); > 1: the reference is faster"
        )?;
        for wl in &self.workloads {
            writeln!(w)?;
            writeln!(w, "[{}] {} ({})", wl.id, wl.title, wl.unit)?;
            writeln!(
                w,
                "  {:>7}  {:<26} {:>12} {:>12} {:>8}",
                wl.param, "engine", "median", "min", "ratio"
            )?;
            for n in wl.params() {
                for e in wl.entries.iter().filter(|e| e.n == n) {
                    let ratio = match e.ratio {
                        Some(_) if e.engine == wl.reference => "1.00*".to_string(),
                        Some(r) => format!("{r:.2}"),
                        None => "-".to_string(),
                    };
                    writeln!(
                        w,
                        "  {:>7}  {:<26} {:>12} {:>12} {:>8}",
                        e.n,
                        e.engine,
                        fmt_num(e.median),
                        fmt_num(e.min),
                        ratio
                    )?;
                }
            }
            for note in &wl.notes {
                writeln!(w, "  note: {note}")?;
            }
            for s in &wl.skipped {
                writeln!(w, "  skipped: {}: {}", s.engine, s.reason)?;
            }
        }
        let goals = self.goals();
        if !goals.is_empty() {
            writeln!(w)?;
            writeln!(w, "goals (ratios of medians in this run):")?;
            for g in goals {
                let mark = if g.met { "met   " } else { "MISSED" };
                writeln!(w, "  {mark} {}: {}", g.goal, g.measured)?;
            }
        }
        Ok(())
    }

    /// The table as a string.
    pub fn table(&self) -> String {
        let mut v = Vec::new();
        self.print_table(&mut v)
            .expect("writing to a Vec cannot fail");
        String::from_utf8_lossy(&v).into_owned()
    }

    /// Write the report as pretty JSON (with the goals) to `path`, creating its directory. The
    /// file is replaced at once (written beside it, then renamed): never left half-written.
    pub fn write_json(&self, path: &Path) -> Result<(), Error> {
        #[derive(Serialize)]
        struct WithGoals<'a> {
            #[serde(flatten)]
            report: &'a Report,
            goals: Vec<Goal>,
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let json = serde_json::to_string_pretty(&WithGoals {
            report: self,
            goals: self.goals(),
        })?;
        replace_file(path, |tmp| Ok(std::fs::write(tmp, json + "\n")?))
    }

    /// Draw one SVG chart per workload with figures into `dir`: cost against the parameter
    /// (log-log, one line per engine) for a scaling workload, a bar per engine and parameter
    /// otherwise. Returns the files written.
    pub fn write_svg(&self, dir: &Path) -> Result<Vec<PathBuf>, Error> {
        std::fs::create_dir_all(dir)?;
        let mut out = Vec::new();
        for wl in self.workloads.iter().filter(|w| !w.entries.is_empty()) {
            let path = dir.join(format!("workload-{}.svg", wl.id));
            replace_file(&path, |tmp| {
                if wl.scaling {
                    crate::plot::chart(wl, tmp)
                } else {
                    crate::plot::bars(wl, tmp)
                }
            })?;
            out.push(path);
        }
        Ok(out)
    }

    /// Read a report written by [`write_json`](Self::write_json) (its `goals` are recomputed,
    /// not read).
    pub fn read_json(path: &Path) -> Result<Report, Error> {
        Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
    }

    /// Write `bench.json` and the charts into `dir`; returns every file written.
    ///
    /// Results are never replaced by a worse run: a report that fails
    /// [`validate`](Self::validate) is not written at all (the error says why), and an
    /// interrupted one goes to `dir/interrupted/`, beside the last complete results.
    pub fn write_all(&self, dir: &Path) -> Result<Vec<PathBuf>, Error> {
        let dir = if self.interrupted.is_some() {
            dir.join("interrupted")
        } else {
            if let Err(e) = self.validate() {
                return Err(Error::Setup(format!(
                    "incomplete run: {e}; nothing written ({} keeps the last complete results)",
                    dir.join("bench.json").display()
                )));
            }
            dir.to_path_buf()
        };
        let json = dir.join("bench.json");
        self.write_json(&json)?;
        let mut files = vec![json];
        files.extend(self.write_svg(&dir)?);
        Ok(files)
    }
}

/// Produce `path` through `write` into a temporary file beside it, then rename it into place.
fn replace_file(path: &Path, write: impl FnOnce(&Path) -> Result<(), Error>) -> Result<(), Error> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    match write(&tmp) {
        Ok(()) => Ok(std::fs::rename(&tmp, path)?),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// A figure with a sensible number of digits.
pub(crate) fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_ratio() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
        let mut w = Workload::new("x", "t", "ns", "N", "a");
        w.entries.push(Entry::new("a", 1, vec![10.0, 12.0, 11.0]));
        w.entries.push(Entry::new("b", 1, vec![22.0, 20.0, 24.0]));
        w.entries.push(Entry::new("b", 2, vec![1.0]));
        w.compute_ratios();
        assert_eq!(w.entries[0].ratio, Some(1.0));
        assert_eq!(w.entries[1].ratio, Some(2.0));
        assert_eq!(w.entries[1].min, 20.0);
        assert_eq!(w.entries[2].ratio, None);
        assert_eq!(w.engines(), vec!["a", "b"]);
        assert_eq!(w.params(), vec![1, 2]);
    }

    fn report(w: Workload) -> Report {
        Report {
            machine: Machine::default(),
            build: Build::this(),
            timestamp: utc_now(),
            interrupted: None,
            quick: false,
            tiny: true,
            reps: 1,
            workloads: vec![w],
        }
    }

    #[test]
    fn a_skipped_peer_is_fine_a_missing_reference_is_not() {
        let mut w = Workload::new("7", "t", "us", "fds", "waitset run");
        w.entries.push(Entry::new("waitset run", 0, vec![1.0]));
        w.skip("wasmtime-py", "not installed");
        let r = report(w.clone());
        r.validate().unwrap();
        assert!(r.skipped_workloads().is_empty());
        assert!(r.table().contains("skipped: wasmtime-py: not installed"));

        // A peer's figure without waitset's at the same N.
        w.entries.push(Entry::new("node:wasi", 64, vec![2.0]));
        assert!(report(w.clone()).validate().is_err());
        // No figure at all, nothing skipped.
        w.entries.clear();
        assert!(report(w.clone()).validate().is_err());
        // The workload could not run at all: fine for the library, listed as skipped.
        w.skip("waitset run", "no binary");
        let r = report(w);
        r.validate().unwrap();
        assert_eq!(r.skipped_workloads(), ["7"]);

        // The skipped list survives JSON, and old reports without it still read.
        let json = serde_json::to_string(&r).unwrap();
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back.workloads[0].skipped.len(), 2);
        let old = json.replace(",\"skipped\":", ",\"ignored\":");
        let back: Report = serde_json::from_str(&old).unwrap();
        assert!(back.workloads[0].skipped.is_empty());
    }

    #[test]
    fn goals_of_workload_7() {
        let mut w = Workload::new("7", "t", "us", "fds", "waitset run");
        for (n, ws, wt) in [(0, 1.0, 11.0), (64, 2.0, 9.0), (1024, 3.0, 61.0)] {
            w.entries.push(Entry::new("waitset run", n, vec![ws]));
            w.entries.push(Entry::new("wasmtime-py", n, vec![wt]));
        }
        let met: Vec<bool> = report(w).goals().iter().map(|g| g.met).collect();
        assert_eq!(met, [true, false, true]);
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(rfc3339(4_102_444_800), "2100-01-01T00:00:00Z");
        let now = utc_now();
        assert_eq!(now.len(), 20);
        assert!(now.as_str() > "2024-01-01" && now.ends_with('Z'), "{now}");
    }

    #[test]
    fn the_build_is_recorded_and_old_reports_still_read() {
        let b = Build::this();
        assert_eq!(b.version, env!("CARGO_PKG_VERSION"));
        assert!(b.rustc.starts_with("rustc "), "{}", b.rustc);
        assert!(!b.commit.is_empty());
        let mut w = Workload::new("5a", "t", "ns", "N", "a");
        w.entries.push(Entry::new("a", 1, vec![1.0]));
        let r = report(w);
        let json = serde_json::to_string(&r).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["build"]["rustc"], b.rustc.as_str());
        assert_eq!(v["timestamp"], r.timestamp.as_str());
        assert!(v.get("interrupted").is_none(), "absent unless interrupted");
        assert!(r.table().contains(&format!("commit {}", b.commit)));
        // A report from before these fields existed.
        let mut old = v.clone();
        let o = old.as_object_mut().unwrap();
        o.remove("build");
        o.remove("timestamp");
        let back: Report = serde_json::from_value(old).unwrap();
        assert_eq!(back.build, Build::default());
    }

    #[test]
    fn a_failed_run_never_replaces_results_and_an_interrupted_one_goes_beside_them() {
        let dir = std::env::temp_dir().join(format!("waitset-bench-write-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut good = Workload::new("5a", "timers", "ns", "N", "a");
        good.entries.push(Entry::new("a", 1, vec![1.0]));
        good.entries.push(Entry::new("b", 1, vec![2.0]));
        let files = report(good.clone()).write_all(&dir).unwrap();
        let saved = std::fs::read(dir.join("bench.json")).unwrap();
        assert!(files.contains(&dir.join("workload-5a.svg")), "{files:?}");

        // No figure for the reference engine: refused, and the good results stay.
        let mut bad = Workload::new("5a", "timers", "ns", "N", "a");
        bad.entries.push(Entry::new("b", 1, vec![2.0]));
        let e = report(bad).write_all(&dir).unwrap_err().to_string();
        assert!(
            e.contains("incomplete run") && e.contains("nothing written"),
            "{e}"
        );
        assert_eq!(std::fs::read(dir.join("bench.json")).unwrap(), saved);

        // Interrupted: written under interrupted/, the complete results untouched; and it
        // does not validate.
        let mut cut = report(good);
        cut.interrupted = Some("5b".into());
        let files = cut.write_all(&dir).unwrap();
        assert_eq!(files[0], dir.join("interrupted").join("bench.json"));
        assert_eq!(std::fs::read(dir.join("bench.json")).unwrap(), saved);
        let back = Report::read_json(&files[0]).unwrap();
        assert_eq!(back.interrupted.as_deref(), Some("5b"));
        assert!(back
            .validate()
            .unwrap_err()
            .to_string()
            .contains("interrupted"));
        assert!(cut.table().contains("INTERRUPTED (Ctrl-C) during [5b]"));
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "no temporary file is left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
