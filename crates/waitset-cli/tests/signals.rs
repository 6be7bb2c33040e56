//! SIGINT / SIGTERM end a run with status 130 / 143: a guest blocked in poll_oneoff — or in
//! fd_read / fd_write on inherited stdio — wakes, and a guest spinning in wasm code is stopped by
//! epoch interruption. (A run that ignored the signal is killed after the common deadline and
//! fails the test; no duration is asserted.)

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use common::{guest, pipe, pty, wait_deadline, waitset};

/// Spawn `waitset run <guest>` with stdin an open, empty pipe; wait until it prints a line.
fn start(name: &str) -> (Child, std::os::fd::OwnedFd) {
    let (r, w) = pipe();
    let mut child = waitset()
        .arg("run")
        .arg(guest(name))
        .stdin(Stdio::from(r))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(!line.is_empty(), "the guest printed nothing");
    // Keep draining so the guest never blocks on a full stdout pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    (child, w)
}

fn signal(child: &Child, sig: i32) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::from_named_raw(sig).unwrap())
        .unwrap();
}

#[test]
fn sigint_wakes_a_guest_blocked_in_poll_oneoff_status_130() {
    let (mut child, _stdin) = start("demo.wasm");
    signal(&child, 2);
    assert_eq!(wait_deadline(&mut child).code(), Some(130));
}

#[test]
fn sigterm_wakes_a_guest_blocked_in_poll_oneoff_status_143() {
    let (mut child, _stdin) = start("demo.wasm");
    signal(&child, 15);
    assert_eq!(wait_deadline(&mut child).code(), Some(143));
}

#[test]
fn sigterm_stops_a_guest_spinning_in_wasm_status_143() {
    let (mut child, _stdin) = start("spin.wat");
    signal(&child, 15);
    assert_eq!(wait_deadline(&mut child).code(), Some(143));
}

/// Spawn `waitset run block_io.wasm MODE` with `stdin` and `stdout`; return once the guest said
/// "blocking" on stderr (it is about to enter the call that blocks), plus a moment for it to
/// get there.
fn start_blocked(mode: &str, stdin: Stdio, stdout: Stdio) -> Child {
    let mut child = waitset()
        .arg("run")
        .arg(guest("block_io.wasm"))
        .arg(mode)
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert_eq!(line, "blocking\n");
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    std::thread::sleep(std::time::Duration::from_millis(300));
    child
}

#[test]
fn sigint_ends_a_guest_blocked_in_fd_read_on_a_pipe_status_130() {
    let (r, _w) = pipe();
    let mut child = start_blocked("read", Stdio::from(r), Stdio::null());
    signal(&child, 2);
    assert_eq!(wait_deadline(&mut child).code(), Some(130));
}

#[test]
fn sigint_ends_a_guest_blocked_in_fd_read_on_a_pty_status_130() {
    let (_master, slave) = pty();
    let mut child = start_blocked("read", Stdio::from(slave), Stdio::null());
    signal(&child, 2);
    assert_eq!(wait_deadline(&mut child).code(), Some(130));
}

#[test]
fn sigterm_ends_a_guest_blocked_in_fd_write_on_a_full_pipe_status_143() {
    let (_r, w) = pipe();
    let mut child = start_blocked("write", Stdio::null(), Stdio::from(w));
    signal(&child, 15);
    assert_eq!(wait_deadline(&mut child).code(), Some(143));
}

#[test]
fn sigint_ends_a_guest_blocked_in_fd_write_on_a_full_pipe_status_130() {
    let (_r, w) = pipe();
    let mut child = start_blocked("write", Stdio::null(), Stdio::from(w));
    signal(&child, 2);
    assert_eq!(wait_deadline(&mut child).code(), Some(130));
}
