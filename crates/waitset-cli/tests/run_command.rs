//! `waitset run`: arguments, environment, exit statuses, and the one-line errors.

mod common;

use std::process::Stdio;

use common::{guest, run, waitset};

#[test]
fn arguments_and_environment_reach_the_guest() {
    let out = run(
        waitset()
            .args(["run", "--env", "A=1", "--env", "B=x=y", "--env", "EMPTY="])
            .arg(guest("args.wasm"))
            .args(["hello", "-v", "--flag", "two words"]),
        Stdio::null(),
    );
    assert_eq!(out.code(), Some(0), "stderr: {}", out.stderr);
    let argv0 = guest("args.wasm");
    assert_eq!(
        out.stdout,
        format!(
            "argc: 5\nargv[0]: {}\nargv[1]: hello\nargv[2]: -v\nargv[3]: --flag\n\
             argv[4]: two words\nenv: A=1\nenv: B=x=y\nenv: EMPTY=\n",
            argv0.display()
        )
    );
}

#[test]
fn the_host_environment_is_not_passed_through() {
    let out = run(
        waitset()
            .env("WAITSET_SECRET", "leak")
            .arg("run")
            .arg(guest("args.wasm")),
        Stdio::null(),
    );
    assert_eq!(out.code(), Some(0));
    assert!(!out.stdout.contains("WAITSET_SECRET"), "{}", out.stdout);
    assert!(!out.stdout.contains("env: "), "{}", out.stdout);
}

#[test]
fn exit_status_is_the_guest_exit_code() {
    for (code, status) in [("0", 0), ("3", 3), ("255", 255)] {
        let out = run(
            waitset()
                .arg("run")
                .arg(guest("args.wasm"))
                .args(["--exit", code]),
            Stdio::null(),
        );
        assert_eq!(out.code(), Some(status), "exit {code}: {}", out.stderr);
    }
}

/// A `proc_exit` code that no exit status can hold is 255 with a note on stderr — never its
/// low 8 bits, which would make `proc_exit(256)` a success.
#[test]
fn exit_codes_above_255_are_status_255_never_their_low_bits() {
    for code in ["256", "300", "512"] {
        let out = run(
            waitset()
                .arg("run")
                .arg(guest("args.wasm"))
                .args(["--exit", code]),
            Stdio::null(),
        );
        assert_eq!(out.code(), Some(255), "exit {code}: {}", out.stderr);
        assert!(
            out.stderr
                .contains(&format!("guest exited with code {code}")),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn returning_from_start_is_status_0() {
    let out = run(
        waitset().arg("run").arg(guest("poll_edge.wat")),
        Stdio::null(),
    );
    assert_eq!(out.code(), Some(0));
}

/// Status 2 and exactly one line on stderr, starting with "waitset: ".
fn assert_cannot_run(out: &common::Output, needle: &str) {
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(out.stderr.starts_with("waitset: "), "{:?}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{:?}", out.stderr);
    assert!(out.stderr.ends_with('\n'));
    assert!(
        out.stderr.contains(needle),
        "{:?} lacks {needle:?}",
        out.stderr
    );
}

#[test]
fn a_missing_module_is_status_2() {
    let out = run(
        waitset().args(["run", "/nonexistent/module.wasm"]),
        Stdio::null(),
    );
    assert_cannot_run(&out, "/nonexistent/module.wasm");
}

#[test]
fn an_invalid_module_is_status_2() {
    let dir = std::env::temp_dir();
    let cases: [(&str, &[u8]); 3] = [
        ("text.wasm", b"this is not wasm\nat all\n"),
        ("truncated.wasm", b"\0asm\x01\0\0\0\x01\x05"),
        ("bad.wat", b"(module (func (export \"_start\") (i32.add)))"),
    ];
    for (name, bytes) in cases {
        let path = dir.join(format!("waitset-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        let out = run(waitset().arg("run").arg(&path), Stdio::null());
        std::fs::remove_file(&path).unwrap();
        assert_cannot_run(&out, "cannot load module");
    }
}

#[test]
fn a_module_that_is_not_a_command_is_status_2() {
    let path = std::env::temp_dir().join(format!("waitset-{}-reactor.wat", std::process::id()));
    std::fs::write(
        &path,
        "(module (memory (export \"memory\") 1) (func (export \"f\")))",
    )
    .unwrap();
    let out = run(waitset().arg("run").arg(&path), Stdio::null());
    std::fs::remove_file(&path).unwrap();
    assert_cannot_run(&out, "_start");
}

#[test]
fn an_unbindable_listen_address_is_status_2() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(
        waitset()
            .args(["run", "--listen", &addr])
            .arg(guest("args.wasm")),
        Stdio::null(),
    );
    assert_cannot_run(&out, &addr);
}

#[test]
fn usage_errors_are_status_2() {
    for args in [
        vec!["run"],
        vec!["run", "--env", "NOEQUALS", "x.wasm"],
        vec!["run", "--poll-seed", "minus", "x.wasm"],
        vec!["frobnicate"],
    ] {
        let out = run(waitset().args(&args), Stdio::null());
        assert_eq!(out.code(), Some(2), "{args:?}: {out:?}");
    }
}

#[test]
fn port_0_prints_the_chosen_address() {
    let out = run(
        waitset()
            .args(["run", "--listen", "127.0.0.1:0", "--listen", "127.0.0.1:0"])
            .arg(guest("args.wasm")),
        Stdio::null(),
    );
    assert_eq!(out.code(), Some(0));
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    assert!(lines[0].starts_with("waitset: fd 3 listening on 127.0.0.1:"));
    assert!(lines[1].starts_with("waitset: fd 4 listening on 127.0.0.1:"));
}

/// As with `wasmtime run`: everything after MODULE is the guest's, even words that look like
/// waitset's own options.
#[test]
fn everything_after_module_belongs_to_the_guest() {
    let out = run(
        waitset()
            .arg("run")
            .arg(guest("args.wasm"))
            .args(["--help", "--env", "X=Y", "--dir", "/"]),
        Stdio::null(),
    );
    assert_eq!(out.code(), Some(0), "stderr: {}", out.stderr);
    assert!(
        out.stdout.contains("argc: 6\n".to_string().as_str()),
        "{}",
        out.stdout
    );
    for (i, a) in ["--help", "--env", "X=Y", "--dir", "/"].iter().enumerate() {
        assert!(
            out.stdout.contains(&format!("argv[{}]: {a}\n", i + 1)),
            "{}",
            out.stdout
        );
    }
    assert!(!out.stdout.contains("env: X=Y"), "{}", out.stdout);
}

#[test]
fn inherit_env_passes_the_host_environment_and_env_overrides_it() {
    let out = run(
        waitset()
            .env("WAITSET_INHERITED", "from-host")
            .env("WAITSET_OVERRIDDEN", "from-host")
            .args([
                "run",
                "--inherit-env",
                "--env",
                "WAITSET_OVERRIDDEN=from-flag",
            ])
            .arg(guest("args.wasm")),
        Stdio::null(),
    );
    assert_eq!(out.code(), Some(0), "stderr: {}", out.stderr);
    assert!(
        out.stdout.contains("env: WAITSET_INHERITED=from-host\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("env: WAITSET_OVERRIDDEN=from-flag\n"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("WAITSET_OVERRIDDEN=from-host"),
        "{}",
        out.stdout
    );
}

/// A file that is neither wasm nor WAT is "not a WebAssembly module", not a WAT parse error.
#[test]
fn a_file_that_is_neither_wasm_nor_wat_is_not_a_webassembly_module() {
    let out = run(waitset().arg("run").arg(guest("build.sh")), Stdio::null());
    assert_cannot_run(&out, "not a WebAssembly module");
    assert!(!out.stderr.contains("expected"), "{}", out.stderr);
}

/// `--log` (RUST_LOG syntax) shows the host's tracing: the poll_oneoff span of every call with
/// timeout_ms, fd_guards and seen.
#[test]
fn log_shows_the_poll_oneoff_span_with_its_fields() {
    for how in ["flag", "env"] {
        let mut cmd = waitset();
        cmd.arg("run");
        if how == "flag" {
            cmd.args(["--log", "waitset_wasi=trace"]);
        } else {
            cmd.env("RUST_LOG", "waitset_wasi=trace");
        }
        let out = run(cmd.arg(guest("clock_precision.wasm")), Stdio::null());
        assert_eq!(out.code(), Some(0), "{how}: {}", out.stderr);
        let span = out
            .stderr
            .lines()
            .find(|l| l.contains("poll_oneoff"))
            .unwrap_or_else(|| panic!("{how}: no poll_oneoff span in {:?}", out.stderr));
        for field in ["timeout_ms=20", "fd_guards=0", "seen=1"] {
            assert!(span.contains(field), "{how}: {span}");
        }
    }
    // Without either, nothing is logged.
    let out = run(
        waitset().arg("run").arg(guest("clock_precision.wasm")),
        Stdio::null(),
    );
    assert_eq!(out.stderr, "");
}

/// Every `--listen` prints its bound address and its guest fd, which comes after the `--dir`
/// preopens (wasi-libc's preopen scan stops at the first fd that is not a directory).
#[test]
fn listen_prints_every_bound_address_and_guest_fd_after_the_dirs() {
    let dir = std::env::temp_dir();
    let dir = format!("{}::/tmp", dir.display());
    let out = run(
        waitset()
            .args([
                "run",
                "--dir",
                &dir,
                "--listen",
                "127.0.0.1:0",
                "--listen",
                "[::1]:0",
            ])
            .arg(guest("args.wasm")),
        Stdio::null(),
    );
    if out.code() == Some(2) && out.stderr.contains("[::1]") {
        return; // no IPv6 loopback on this machine
    }
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    assert!(
        lines[0].starts_with("waitset: fd 4 listening on 127.0.0.1:"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("waitset: fd 5 listening on [::1]:"),
        "{}",
        lines[1]
    );
}
