//! Smoke test of `waitset bench` as CI runs it, on the real binary: every workload runs in the
//! tiny configuration, including 7 (poll_oneoff from a real guest, under this binary's
//! `waitset run` and whichever peers are installed) and 8 (the wasm echo server), which the
//! library's own smoke test cannot run for want of a `waitset` binary. Nothing about time is
//! asserted.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Stdio;

use common::{run, waitset};
use waitset_bench::Report;

const WAITSET: &str = "waitset run";
const PEERS: &[&str] = &["wasmtime-py", "node:wasi"];

fn out_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("waitset-{name}-{}", std::process::id()))
}

#[test]
fn tiny_bench_runs_every_workload_with_figures_for_7_and_8_under_waitset() {
    let out = out_dir("bench-tiny");
    let o = run(
        waitset()
            .args(["bench", "--tiny", "--reps", "1", "--out"])
            .arg(&out),
        Stdio::null(),
    );
    assert_eq!(o.code(), Some(0), "stderr:\n{}", o.stderr);

    let report = Report::read_json(&out.join("bench.json")).unwrap();
    report.validate().unwrap();
    assert!(report.tiny);
    let ids: Vec<&str> = report.workloads.iter().map(|w| w.id.as_str()).collect();
    let want: Vec<&str> = waitset_bench::workloads()
        .iter()
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(ids, want, "every workload ran, in order");
    assert!(report.skipped_workloads().is_empty());

    for (id, params) in [("7", &[0, 64, 1024][..]), ("8a", &[100]), ("8b", &[50, 99])] {
        let w = report.workload(id).unwrap();
        assert_eq!(w.reference, WAITSET, "[{id}]");
        assert!(
            w.skipped.iter().all(|s| s.engine != WAITSET),
            "[{id}] waitset skipped: {:?}",
            w.skipped
        );
        assert_eq!(w.params(), params, "[{id}]");
        for &n in params {
            let e = w
                .entry(WAITSET, n)
                .unwrap_or_else(|| panic!("[{id}] no waitset figure at {n}"));
            assert_eq!(e.samples.len(), 1, "[{id}] {n}");
            assert!(
                e.samples.iter().all(|s| s.is_finite() && *s > 0.0),
                "[{id}] {n}: {:?}",
                e.samples
            );
        }
        assert!(
            o.stdout.contains(&format!("[{id}]")),
            "the table shows {id}"
        );
    }

    // Workload 7: every peer either ran at every N or is listed as skipped with a reason.
    let w = report.workload("7").unwrap();
    for peer in PEERS {
        let at: BTreeSet<u64> = w
            .entries
            .iter()
            .filter(|e| e.engine == *peer)
            .map(|e| e.n)
            .collect();
        let skipped = w.skipped.iter().find(|s| s.engine == *peer);
        match skipped {
            Some(s) => {
                assert!(at.is_empty(), "{peer} both ran and was skipped");
                assert!(!s.reason.is_empty());
                assert!(
                    o.stdout.contains(&format!("skipped: {peer}: ")),
                    "the table says {peer} was skipped"
                );
            }
            None => assert_eq!(at, BTreeSet::from([0, 64, 1024]), "{peer}"),
        }
        if let Some(e) = w.entries.iter().find(|e| e.engine == *peer) {
            assert!(e.ratio.is_some(), "{peer} has a ratio to waitset");
        }
    }
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_missing_waitset_figure_fails_the_run() {
    // Selecting only a peer leaves workload 7 without its reference: an incomplete run, whether
    // node is installed here (peer figures, no waitset figure) or not (no figure at all).
    let out = out_dir("bench-noref");
    let o = run(
        waitset()
            .args([
                "bench",
                "--tiny",
                "--reps",
                "1",
                "--filter",
                "7",
                "--engines",
                "node",
                "--out",
            ])
            .arg(&out),
        Stdio::null(),
    );
    assert_eq!(o.code(), Some(1), "stderr:\n{}", o.stderr);
    assert!(o.stderr.contains("incomplete run"), "stderr:\n{}", o.stderr);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_missing_guest_fails_the_run() {
    let out = out_dir("bench-noguest");
    let empty = out_dir("bench-empty-guests");
    std::fs::create_dir_all(&empty).unwrap();
    let o = run(
        waitset()
            .args(["bench", "--tiny", "--reps", "1", "--filter", "8a", "--out"])
            .arg(&out)
            .arg("--guests")
            .arg(&empty),
        Stdio::null(),
    );
    assert_eq!(o.code(), Some(1), "stderr:\n{}", o.stderr);
    assert!(
        o.stderr.contains("echo_server.wasm not found"),
        "stderr:\n{}",
        o.stderr
    );
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_dir_all(&empty);
}
