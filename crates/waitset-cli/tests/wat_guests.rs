//! The hand-written WAT guests through the real binary (`waitset run` accepts .wat directly):
//! poll_oneoff edge cases, NOSYS for unknown imports, traps.

mod common;

use std::process::Stdio;

use common::{assert_lines_eq, guest, run, waitset};

#[test]
fn poll_oneoff_pointer_and_tag_edge_cases() {
    let out = run(
        waitset().arg("run").arg(guest("poll_edge.wat")),
        Stdio::null(),
    );
    assert_eq!(out.code(), Some(0), "stderr: {}", out.stderr);
    assert_lines_eq(
        &out.stdout,
        "nsubscriptions_0: 28
in_out_of_bounds: 21
in_ends_at_memory_end: 0
out_out_of_bounds: 21
nevents_out_of_bounds: 21
nevents_oob_and_misaligned: 21
nevents_at_4g_minus_4: 21
in_misaligned: 28
out_misaligned: 28
nevents_misaligned: 28
nsubscriptions_2_pow_28: 21
nsubscriptions_u32_max: 21
in_fits_out_does_not: 21
invalid_tag: 28
invalid_tag_nothing_written: 1
overlap_same: 0
overlap_same_nevents: 2
overlap_same_userdata_sum: 11
overlap_shifted: 0
overlap_shifted_userdata_sum: 42
event_bytes_8_to_32_zero: 1
ok_nevents: 1
",
    );
}

#[test]
fn poll_edge_output_does_not_depend_on_the_seed() {
    let a = run(
        waitset()
            .args(["run", "--poll-seed", "0"])
            .arg(guest("poll_edge.wat")),
        Stdio::null(),
    );
    let b = run(
        waitset()
            .args(["run", "--poll-seed", "12345"])
            .arg(guest("poll_edge.wat")),
        Stdio::null(),
    );
    assert_eq!(a.code(), Some(0));
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn an_unknown_import_is_a_link_error_naming_it_status_2() {
    let out = run(waitset().arg("run").arg(guest("nosys.wat")), Stdio::null());
    assert_eq!(out.code(), Some(2), "stderr: {}", out.stderr);
    assert!(out.stderr.contains("env::mystery_i64"), "{}", out.stderr);
    assert_eq!(out.stdout, "");
}

#[test]
fn stub_unknown_imports_links_them_to_nosys() {
    let out = run(
        waitset()
            .arg("run")
            .arg("--stub-unknown-imports")
            .arg(guest("nosys.wat")),
        Stdio::null(),
    );
    assert_eq!(out.code(), Some(7), "stderr: {}", out.stderr);
    assert_lines_eq(
        &out.stdout,
        "fd_tell: 70\npath_open: 8\nenv_mystery_i64: 52\nenv_mystery_void: 1\n",
    );
    assert_eq!(out.stderr, "");
}

#[test]
fn a_trap_prints_the_wasm_backtrace_and_exits_134() {
    let out = run(waitset().arg("run").arg(guest("trap.wat")), Stdio::null());
    assert_eq!(out.code(), Some(134));
    assert_eq!(out.stdout, "before the trap\n");
    let err = &out.stderr;
    assert!(err.starts_with("waitset: guest trapped: "), "{err}");
    assert!(err.contains("unreachable"), "{err}");
    assert!(err.contains("wasm backtrace"), "{err}");
    let deepest = err.find("deepest_function").expect(err);
    let middle = err.find("middle_function").expect(err);
    assert!(deepest < middle, "innermost frame first: {err}");
    // Only the guest's backtrace, never the host's Rust one (RUST_BACKTRACE=1 is set).
    assert!(!err.contains("Stack backtrace"), "{err}");
    assert!(!err.contains("waitset_wasi"), "{err}");
}
