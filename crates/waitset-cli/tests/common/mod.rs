//! Helpers shared by the CLI tests: run the real `waitset` binary with a chosen stdin, capture
//! its output, and never hang (a run past its deadline is killed and the test fails).

#![allow(dead_code)]

pub mod echo;

use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long any single run may take before the test fails (generous: 2 loaded cores).
pub const DEADLINE: Duration = Duration::from_secs(120);

/// A `waitset` command.
pub fn waitset() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_waitset"));
    c.env("RUST_BACKTRACE", "1"); // traps must still print only the wasm backtrace
    c
}

/// The path of a file in guests/.
pub fn guest(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../guests")
        .join(name)
}

/// What a finished run produced.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// Spawns `cmd` with `stdin`, stdout and stderr piped.
pub fn spawn(cmd: &mut Command, stdin: Stdio) -> Child {
    cmd.stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn waitset")
}

/// Waits for `child` (killing it and failing after [`DEADLINE`]) and collects its output.
pub fn finish(mut child: Child) -> Output {
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = Vec::new();
        out.read_to_end(&mut s).unwrap();
        String::from_utf8_lossy(&s).into_owned()
    });
    let t_err = std::thread::spawn(move || {
        let mut s = Vec::new();
        err.read_to_end(&mut s).unwrap();
        String::from_utf8_lossy(&s).into_owned()
    });
    let status = wait_deadline(&mut child);
    Output {
        status,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
}

/// Waits for `child`, killing it and panicking after [`DEADLINE`].
pub fn wait_deadline(child: &mut Child) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("waitset did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `cmd` to completion with `stdin`.
pub fn run(cmd: &mut Command, stdin: Stdio) -> Output {
    finish(spawn(cmd, stdin))
}

/// A pipe whose ends are close-on-exec (so no child inherits a stray write end).
pub fn pipe() -> (OwnedFd, OwnedFd) {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("pipe")
}

/// A pseudo-terminal: (master, slave). Keep the master open while the slave is in use.
pub fn pty() -> (OwnedFd, OwnedFd) {
    use rustix::fs::{Mode, OFlags};
    use rustix::pty::OpenptFlags;
    let master =
        rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
            .expect("openpt");
    rustix::pty::grantpt(&master).expect("grantpt");
    rustix::pty::unlockpt(&master).expect("unlockpt");
    let name = rustix::pty::ptsname(&master, Vec::new()).expect("ptsname");
    let slave = rustix::fs::open(
        name.as_c_str(),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .expect("open pty slave");
    (master, slave)
}

/// Compares two texts line by line, failing with the first difference and both texts.
pub fn assert_lines_eq(actual: &str, expected: &str) {
    if actual == expected {
        return;
    }
    let a: Vec<&str> = actual.lines().collect();
    let e: Vec<&str> = expected.lines().collect();
    for i in 0..a.len().max(e.len()) {
        let (x, y) = (a.get(i), e.get(i));
        if x != y {
            panic!(
                "line {}:\n  actual:   {:?}\n  expected: {:?}\n--- actual ---\n{actual}--- expected ---\n{expected}",
                i + 1,
                x,
                y
            );
        }
    }
    panic!("texts differ only in trailing newlines:\n{actual:?}\n{expected:?}");
}
