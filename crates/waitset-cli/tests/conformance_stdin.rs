//! The conformance guest through the real binary, once per kind of stdin. The whole output is
//! compared: most lines are the same for every kind; fdstat_0, isatty_stdin, poll_stdin and
//! raw_stdin_read say what the host made of stdin.

mod common;

use std::io::Write;
use std::process::Stdio;

use common::{assert_lines_eq, guest, pipe, pty, run, waitset};

/// The output for stdin of `kind`; stdout and stderr are always pipes here.
fn expected(fdstat_0: &str, isatty: &str, poll_stdin: &str, raw_stdin_read: &str) -> String {
    let lines: &[(&str, &str)] = &[
        ("fdstat_0", fdstat_0),
        ("fdstat_1", "errno=0 filetype=0 read=0 write=1 poll=1 seek=0"),
        ("fdstat_2", "errno=0 filetype=0 read=0 write=1 poll=1 seek=0"),
        ("prestat_3", "errno=8"),
        ("isatty_stdin", isatty),
        ("poll_nfds0_timeout", "ret=0 not_early=1"),
        ("poll_nfds0_infinite", "ret=-1 errno=ENOTSUP"),
        ("poll_negative_fd", "ret=0 revents=0"),
        ("poll_bad_fd", "ret=1 revents=POLLNVAL"),
        ("poll_stdout_pollout", "ret=1 revents=POLLOUT"),
        ("poll_stdout_pollin", "ret=1 revents=POLLERR"),
        ("poll_stdin", poll_stdin),
        ("poll_mixed", "ret=2 revents=POLLNVAL,POLLOUT,0"),
        ("select_timeout", "ret=0 not_early=1"),
        ("select_stdout_writable", "ret=1 isset=1"),
        ("select_bad_fd", "ret=-1 errno=EBADF"),
        ("select_bad_timeval", "ret=-1 errno=EINVAL"),
        ("nanosleep", "ret=0 not_early=1"),
        ("nanosleep_bad_nsec", "ret=-1 errno=EINVAL"),
        ("sleep", "ret=0 not_early=1"),
        ("usleep", "ret=0 not_early=1"),
        ("clock_nanosleep_abs_past", "ret=0"),
        ("clock_nanosleep_cputime", "ret=ENOTSUP"),
        ("raw_nsubscriptions_0", "errno=28 nevents_untouched=1"),
        ("raw_abstime_past_monotonic", "errno=0 nevents=1 [ud=1 type=0 error=0]"),
        ("raw_abstime_past_realtime", "errno=0 nevents=1 [ud=1 type=0 error=0]"),
        (
            "raw_two_clocks_expired",
            "errno=0 nevents=2 [ud=1 type=0 error=0] [ud=2 type=0 error=0]",
        ),
        ("raw_process_cputime_clock", "errno=0 nevents=1 [ud=1 type=0 error=58]"),
        ("raw_thread_cputime_clock", "errno=0 nevents=1 [ud=1 type=0 error=58]"),
        ("raw_unknown_clock", "errno=0 nevents=1 [ud=1 type=0 error=28]"),
        ("raw_unknown_clock_flag", "errno=0 nevents=1 [ud=1 type=0 error=28]"),
        ("raw_fd_not_in_table", "errno=0 nevents=1 [ud=1 type=1 error=8]"),
        ("raw_fd_read_on_stdout", "errno=0 nevents=1 [ud=1 type=1 error=76]"),
        ("raw_fd_write_on_stdin", "errno=0 nevents=1 [ud=1 type=2 error=76]"),
        ("raw_stdout_writable", "errno=0 nevents=1 [ud=1 type=2 error=0]"),
        (
            "raw_timeout0_with_ready_fd",
            "errno=0 nevents=2 [ud=1 type=2 error=0] [ud=2 type=0 error=0]",
        ),
        ("raw_stdin_read", raw_stdin_read),
        ("raw_clock_not_early", "errno=0 nevents=1 not_early=1"),
        ("raw_clock_precision_not_early", "errno=0 nevents=1 not_early=1"),
        (
            "raw_event_bytes",
            "errno=0 nevents=1 bytes=efcdab8967452301000000000000000000000000000000000000000000000000",
        ),
        ("raw_in_out_overlap", "errno=0 nevents=2 userdata=7,9"),
        ("raw_invalid_tag", "errno=28 nevents_untouched=1"),
        ("raw_invalid_tag_events_untouched", "1"),
        ("done", "ok"),
    ];
    lines.iter().map(|(k, v)| format!("{k}: {v}\n")).collect()
}

const NOT_SEEKABLE_READ: &str = "errno=0 filetype=0 read=1 write=0 poll=1 seek=0";
const CLOCK_ONLY: &str = "errno=0 nevents=1 [ud=2 type=0 error=0]";

fn stdin_event(nbytes: u64, hangup: u8) -> String {
    format!(
        "errno=0 nevents=2 [ud=1 type=1 error=0 nbytes={nbytes} hangup={hangup}] [ud=2 type=0 error=0]"
    )
}

fn conformance(stdin: Stdio) -> common::Output {
    let out = run(waitset().arg("run").arg(guest("conformance.wasm")), stdin);
    assert_eq!(out.code(), Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.stderr, "");
    out
}

#[test]
fn stdin_dev_null() {
    let out = conformance(Stdio::from(std::fs::File::open("/dev/null").unwrap()));
    assert_lines_eq(
        &out.stdout,
        &expected(
            "errno=0 filetype=2 read=1 write=0 poll=1 seek=1",
            "0",
            "ret=1 revents=POLLIN",
            &stdin_event(0, 0),
        ),
    );
}

#[test]
fn stdin_empty_pipe_writer_open() {
    let (r, w) = pipe();
    let out = conformance(Stdio::from(r));
    drop(w);
    assert_lines_eq(
        &out.stdout,
        &expected(NOT_SEEKABLE_READ, "0", "ret=0 revents=0", CLOCK_ONLY),
    );
}

#[test]
fn stdin_closed_empty_pipe() {
    let (r, w) = pipe();
    drop(w);
    let out = conformance(Stdio::from(r));
    assert_lines_eq(
        &out.stdout,
        &expected(
            NOT_SEEKABLE_READ,
            "0",
            "ret=1 revents=POLLIN|POLLHUP",
            &stdin_event(0, 1),
        ),
    );
}

#[test]
fn stdin_pipe_with_data_writer_closed() {
    let (r, w) = pipe();
    std::fs::File::from(w).write_all(b"hello\n").unwrap();
    let out = conformance(Stdio::from(r));
    assert_lines_eq(
        &out.stdout,
        &expected(
            NOT_SEEKABLE_READ,
            "0",
            "ret=1 revents=POLLIN|POLLHUP",
            &stdin_event(6, 1),
        ),
    );
}

#[test]
fn stdin_pipe_with_data_writer_open() {
    let (r, w) = pipe();
    let mut w = std::fs::File::from(w);
    w.write_all(b"0123456789").unwrap();
    let out = conformance(Stdio::from(r));
    drop(w);
    assert_lines_eq(
        &out.stdout,
        &expected(
            NOT_SEEKABLE_READ,
            "0",
            "ret=1 revents=POLLIN",
            &stdin_event(10, 0),
        ),
    );
}

#[test]
fn stdin_regular_file() {
    let path = std::env::temp_dir().join(format!("waitset-conformance-{}", std::process::id()));
    std::fs::write(&path, vec![b'x'; 1234]).unwrap();
    let f = std::fs::File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let out = conformance(Stdio::from(f));
    assert_lines_eq(
        &out.stdout,
        &expected(
            "errno=0 filetype=4 read=1 write=0 poll=1 seek=1",
            "0",
            "ret=1 revents=POLLIN",
            &stdin_event(1234, 0),
        ),
    );
}

#[test]
fn stdin_pty() {
    let (master, slave) = pty();
    let out = conformance(Stdio::from(slave));
    drop(master);
    assert_lines_eq(
        &out.stdout,
        &expected(
            "errno=0 filetype=2 read=1 write=0 poll=1 seek=0",
            "1",
            "ret=0 revents=0",
            CLOCK_ONLY,
        ),
    );
}

#[test]
fn stdin_pty_with_a_typed_line() {
    let (master, slave) = pty();
    // Canonical mode: the line is readable once its newline is typed.
    rustix::io::write(&master, b"typed\n").unwrap();
    let out = conformance(Stdio::from(slave));
    drop(master);
    assert_lines_eq(
        &out.stdout,
        &expected(
            "errno=0 filetype=2 read=1 write=0 poll=1 seek=0",
            "1",
            "ret=1 revents=POLLIN",
            &stdin_event(6, 0),
        ),
    );
}
