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

    /// Check that the run produced a figure everywhere: every workload has entries, every
    /// entry has samples that are finite and positive, and every parameter has its reference
    /// engine. A peer listed in [`Workload::skipped`] (not installed here) is fine; a workload
    /// whose reference engine was skipped (7 and 8 without a `waitset` binary, see
    /// [`Report::skipped_workloads`]) is too, as the library cannot run them on its own: the
    /// CLI, which always can, rejects those. This is what a CI smoke run asserts; it says
    /// nothing about time.
    pub fn validate(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
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

    /// Evaluate the goals on the workloads present in this report (ratios of medians
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

    /// Write the report as pretty JSON (with the goals) to `path`, creating its directory.
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
        std::fs::write(path, json + "\n")?;
        Ok(())
    }

    /// Draw one SVG chart per scaling workload into `dir` (cost against the parameter, log-log,
    /// one line per engine); returns the files written.
    pub fn write_svg(&self, dir: &Path) -> Result<Vec<PathBuf>, Error> {
        std::fs::create_dir_all(dir)?;
        let mut out = Vec::new();
        for wl in self.workloads.iter().filter(|w| w.scaling) {
            let path = dir.join(format!("workload-{}.svg", wl.id));
            crate::plot::chart(wl, &path)?;
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
    pub fn write_all(&self, dir: &Path) -> Result<Vec<PathBuf>, Error> {
        let json = dir.join("bench.json");
        self.write_json(&json)?;
        let mut files = vec![json];
        files.extend(self.write_svg(dir)?);
        Ok(files)
    }
}

/// A figure with a sensible number of digits.
fn fmt_num(v: f64) -> String {
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
}
