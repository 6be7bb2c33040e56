//! SIGINT / SIGTERM end a run with status 130 / 143: a guest blocked in poll_oneoff wakes, and a
//! guest spinning in wasm code is stopped by epoch interruption.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use common::{guest, pipe, wait_deadline, waitset};

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
