//! Smoke test of the harness: every workload runs in a tiny configuration, every engine
//! produces a figure, and the JSON and SVG outputs are written and well-formed. Nothing is
//! asserted about time. Workloads 7 and 8 need the `waitset` binary and are skipped here; the
//! CLI's tests/bench_tiny.rs runs them.

use std::collections::BTreeSet;

use waitset_bench::{BenchConfig, Report};

/// The engines each workload must report, at every parameter value of the tiny sizes.
const EXPECTED: &[(&str, &[&str])] = &[
    (
        "1a",
        &[
            "waitset [epoll]",
            "raw epoll",
            "mio",
            "polling [oneshot]",
            "waitset [uring]",
            "waitset [uring, edge]",
            "raw io_uring",
            "waitset [poll]",
        ],
    ),
    (
        "1b",
        &[
            "waitset [epoll]",
            "raw epoll",
            "mio",
            "polling [oneshot]",
            "waitset [uring]",
            "waitset [uring, edge]",
            "raw io_uring",
            "waitset [poll]",
        ],
    ),
    (
        "1c",
        &[
            "waitset [epoll, oneshot]",
            "waitset [uring, oneshot]",
            "polling [oneshot]",
            "raw epoll",
        ],
    ),
    (
        "2",
        &[
            "waitset [epoll]",
            "raw epoll",
            "mio",
            "polling [oneshot]",
            "waitset [uring]",
            "raw io_uring",
            "waitset [poll]",
        ],
    ),
    (
        "3",
        &[
            "waitset [epoll]",
            "raw epoll",
            "polling [oneshot]",
            "polling [level]",
            "waitset [poll]",
            "waitset [uring]",
        ],
    ),
    (
        "4",
        &[
            "waitset Event",
            "mio Waker",
            "polling notify",
            "waitset Event [edge]",
            "waitset Event [uring]",
            "waitset Event [uring, edge]",
        ],
    ),
    ("5a", &["waitset Timer", "std BinaryHeap", "async-io Timer"]),
    ("5b", &["waitset Timer", "std BinaryHeap", "async-io Timer"]),
    (
        "6",
        &[
            "libc::poll",
            "waitset::poll",
            "PollSet [poll]",
            "PollSet [epoll]",
        ],
    ),
    ("9a", &["waitset [epoll]", "waitset [poll]"]),
    ("9b", &["waitset [epoll]", "waitset [poll]"]),
    ("9c", &["waitset [epoll]", "waitset [poll]", "raw epoll"]),
];

#[test]
fn every_workload_and_engine_produces_a_figure() {
    let out = std::env::temp_dir().join(format!("waitset-bench-smoke-{}", std::process::id()));
    let cfg = BenchConfig {
        tiny: true,
        reps: 2,
        out_dir: out.clone(),
        ..Default::default()
    };
    let mut lines = Vec::new();
    let report =
        waitset_bench::run_with_progress(&cfg, &mut |l| lines.push(l.to_string())).unwrap();
    assert!(!lines.is_empty(), "progress is reported");

    report.validate().unwrap();
    let ids: Vec<&str> = report.workloads.iter().map(|w| w.id.as_str()).collect();
    let want: Vec<&str> = waitset_bench::workloads()
        .iter()
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(ids, want, "every workload ran, in order");

    for (id, engines) in EXPECTED {
        // The table `--engines` is checked against says the same.
        let listed: BTreeSet<&str> = waitset_bench::engines_of(id).iter().copied().collect();
        assert_eq!(
            listed,
            engines.iter().copied().collect(),
            "engines_of({id})"
        );
        let w = report.workload(id).unwrap();
        let params = w.params();
        assert!(!params.is_empty(), "{id}: no parameter");
        for n in params {
            let got: BTreeSet<&str> = w
                .entries
                .iter()
                .filter(|e| e.n == n)
                .map(|e| e.engine.as_str())
                .collect();
            let want: BTreeSet<&str> = engines.iter().copied().collect();
            assert_eq!(got, want, "{id} at {n}");
        }
        for e in &w.entries {
            assert_eq!(
                e.samples.len(),
                2,
                "{id} {}: one sample per repetition",
                e.engine
            );
            assert!(
                e.samples.iter().all(|s| s.is_finite() && *s > 0.0),
                "{id} {}: {:?}",
                e.engine,
                e.samples
            );
            assert!(e.min <= e.median);
            assert!(e.ratio.is_some(), "{id} {}: no ratio", e.engine);
        }
        let reference = w.entries.iter().find(|e| e.engine == w.reference).unwrap();
        assert_eq!(reference.ratio, Some(1.0));
    }

    // Workloads 7 and 8 need the `waitset` binary, which the library does not have: they are
    // reported as skipped, with the reason (the CLI test bench_tiny.rs runs them).
    assert_eq!(report.skipped_workloads(), ["7", "8a", "8b"]);
    for id in ["7", "8a", "8b"] {
        let w = report.workload(id).unwrap();
        assert!(w.entries.is_empty(), "{id}");
        let s = w
            .skipped
            .iter()
            .find(|s| s.engine == "waitset run")
            .unwrap();
        assert!(s.reason.contains("waitset_exe"), "{id}: {}", s.reason);
    }

    let table = report.table();
    assert!(table.contains("skipped: waitset run: no waitset binary"));
    for (id, _) in waitset_bench::workloads() {
        assert!(table.contains(&format!("[{id}]")), "table shows {id}");
    }
    assert!(!report.goals().is_empty());

    let files = report.write_all(&out).unwrap();
    let json = std::fs::read_to_string(out.join("bench.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        v["workloads"].as_array().unwrap().len(),
        waitset_bench::workloads().len()
    );
    assert!(v["goals"].as_array().is_some_and(|g| !g.is_empty()));
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back.workloads.len(), report.workloads.len());

    let svgs: Vec<_> = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "svg"))
        .collect();
    // A chart for every workload with figures (all but 7 and 8, which need the binary).
    let charted: Vec<String> = report
        .workloads
        .iter()
        .filter(|w| !w.entries.is_empty())
        .map(|w| format!("workload-{}.svg", w.id))
        .collect();
    assert_eq!(charted.len(), report.workloads.len() - 3);
    let names: Vec<String> = svgs
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, charted);
    for f in svgs {
        let svg = std::fs::read_to_string(f).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{f:?}"
        );
        assert!(
            svg.contains("<polyline") || svg.contains("<path") || svg.contains("<rect"),
            "{f:?} has lines or bars"
        );
        let id = f
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .replace("workload-", "");
        let w = report.workload(&id).unwrap();
        for engine in w.engines() {
            let shown = engine
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            assert!(svg.contains(&shown), "{f:?} names {engine}");
        }
    }
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_filter_that_selects_nothing_is_an_error() {
    let cfg = BenchConfig {
        tiny: true,
        filter: Some("no-such-workload".into()),
        ..Default::default()
    };
    assert!(waitset_bench::run_with_progress(&cfg, &mut |_| {}).is_err());
}

#[test]
fn a_filtered_run_has_only_the_selected_workloads() {
    let cfg = BenchConfig {
        tiny: true,
        reps: 1,
        filter: Some("5b,6".into()),
        ..Default::default()
    };
    let report = waitset_bench::run_with_progress(&cfg, &mut |_| {}).unwrap();
    report.validate().unwrap();
    let ids: Vec<&str> = report.workloads.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(ids, ["5b", "6"]);
}

#[test]
fn unknown_engines_are_refused_before_anything_runs() {
    for (engines, bad) in [("nope", "nope"), ("mio, nope", "nope"), ("node", "node")] {
        let cfg = BenchConfig {
            tiny: true,
            // Workload 7 has node:wasi; 1a has not.
            filter: Some("1a".into()),
            engines: Some(engines.into()),
            ..Default::default()
        };
        let mut ran = false;
        let e = waitset_bench::run_with_progress(&cfg, &mut |_| ran = true)
            .unwrap_err()
            .to_string();
        assert!(!ran, "{engines}: nothing runs");
        assert!(e.contains(&format!("{bad:?}")), "{engines}: {e}");
        assert!(
            e.contains("raw epoll"),
            "{engines}: the error lists the engines: {e}"
        );
    }
    for engines in ["", " , "] {
        let cfg = BenchConfig {
            engines: Some(engines.into()),
            ..Default::default()
        };
        assert!(cfg.check_selection().is_err(), "{engines:?}");
    }
    let ok = BenchConfig {
        filter: Some("7,1a".into()),
        engines: Some("node,raw epoll".into()),
        ..Default::default()
    };
    ok.check_selection().unwrap();
}
