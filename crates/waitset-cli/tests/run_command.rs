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
