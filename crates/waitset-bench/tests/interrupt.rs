//! Ctrl-C during a run (its own test binary: SIGINT is process-wide). The progress callback
//! raises a real SIGINT when a workload starts; the run stops after the sample in progress,
//! keeps the workloads that finished, and the report is written beside the complete results.

use waitset_bench::{BenchConfig, Error};

fn sigint_disposition() -> libc::sighandler_t {
    // SAFETY: a null new action only reads the current one into `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(libc::SIGINT, std::ptr::null(), &mut old), 0);
        old.sa_sigaction
    }
}

fn raise_sigint() {
    // SAFETY: raising a signal the run catches; the handler only stores to an atomic.
    assert_eq!(unsafe { libc::raise(libc::SIGINT) }, 0);
}

/// Start from the default disposition: a test binary started in the background by a
/// non-interactive shell (`cmd &`, nohup) inherits SIGINT ignored.
fn default_sigint() {
    // SAFETY: resets SIGINT to its default action; no handler is installed.
    assert_ne!(
        unsafe { libc::signal(libc::SIGINT, libc::SIG_DFL) },
        libc::SIG_ERR
    );
}

#[test]
fn ctrl_c_keeps_what_was_measured_and_never_touches_complete_results() {
    default_sigint();
    assert_eq!(sigint_disposition(), libc::SIG_DFL);
    let out = std::env::temp_dir().join(format!("waitset-bench-ctrlc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let cfg = BenchConfig {
        tiny: true,
        reps: 1,
        filter: Some("5a,5b,6,9a".into()),
        ..Default::default()
    };

    // A complete run first: the results an interrupted run must leave alone.
    let complete = waitset_bench::run_with_progress(&cfg, &mut |_| {}).unwrap();
    complete.write_all(&out).unwrap();
    let saved = std::fs::read(out.join("bench.json")).unwrap();

    // Ctrl-C as workload 6 starts (once: the handler resets itself, and a second SIGINT
    // would end this process, as it should end `waitset bench`).
    let mut lines: Vec<String> = Vec::new();
    let report = waitset_bench::run_with_progress(&cfg, &mut |l| {
        if l.starts_with("[6] ") && lines.iter().all(|p| !p.starts_with("[6] ")) {
            raise_sigint();
        }
        lines.push(l.to_string());
    })
    .unwrap();
    assert_eq!(
        sigint_disposition(),
        libc::SIG_DFL,
        "restored after the run"
    );
    let ids: Vec<&str> = report.workloads.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(
        ids,
        ["5a", "5b"],
        "the workloads before the interrupted one"
    );
    assert_eq!(report.interrupted.as_deref(), Some("6"));
    assert!(
        lines.iter().any(|l| l.contains("[6] interrupted")),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("[9a]")),
        "nothing ran after it"
    );
    assert!(
        report.validate().is_err(),
        "an interrupted run is not a complete one"
    );
    for w in &report.workloads {
        assert!(!w.entries.is_empty(), "[{}] kept its figures", w.id);
    }

    let files = report.write_all(&out).unwrap();
    assert!(
        files.iter().all(|f| f.starts_with(out.join("interrupted"))),
        "{files:?}"
    );
    assert!(files.contains(&out.join("interrupted").join("workload-5b.svg")));
    assert_eq!(std::fs::read(out.join("bench.json")).unwrap(), saved);

    // Ctrl-C before any workload finished: nothing to keep.
    let mut raised = false;
    let e = waitset_bench::run_with_progress(&cfg, &mut |l| {
        if l.starts_with("[5a] ") && !raised {
            raised = true;
            raise_sigint();
        }
    })
    .unwrap_err();
    assert!(matches!(e, Error::Interrupted), "{e}");
    assert_eq!(sigint_disposition(), libc::SIG_DFL);
    std::fs::remove_dir_all(&out).unwrap();
}
