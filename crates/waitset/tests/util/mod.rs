//! Helpers shared by the behaviour tests: every test runs on every backend, with real objects.
#![allow(dead_code)]

use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use waitset::{BackendKind, Deadline, Error, Source, WaitResult, WaitSet};

/// A descriptor source, registered by number.
///
/// Every test keeps its descriptors open for as long as the set that watches them: the set is
/// declared before the descriptors, so it is dropped after them only at the very end of the
/// test, when no number can be reused by another entry of the same set.
pub fn fd_source<'a>(fd: &'a impl AsFd) -> Source<'a> {
    // SAFETY: see above; the tests that close a descriptor while it is registered do so on
    // purpose, to check that the engine never confuses its number with a later file.
    unsafe { Source::fd(fd) }
}

/// The backends a test runs on: the one named by `WAITSET_BACKEND`, or all of them.
pub fn backends() -> Vec<BackendKind> {
    match BackendKind::from_env() {
        Some(k) => vec![k],
        None => {
            let mut v = vec![BackendKind::Poll];
            if cfg!(target_os = "linux") {
                v.insert(0, BackendKind::Epoll);
            }
            v
        }
    }
}

/// Run `f` once per backend, naming the backend if it panics.
pub fn each_backend(mut f: impl FnMut(BackendKind)) {
    for k in backends() {
        eprintln!("backend: {}", k.name());
        f(k);
    }
}

/// A set on backend `k`.
pub fn set(k: BackendKind) -> WaitSet {
    WaitSet::builder().backend(k).build().expect("create set")
}

/// A non-blocking pipe (read end, write end).
pub fn pipe() -> (OwnedFd, OwnedFd) {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK)
        .expect("pipe")
}

/// A connected non-blocking UNIX socketpair.
pub fn socketpair() -> (OwnedFd, OwnedFd) {
    use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};
    socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )
    .expect("socketpair")
}

/// Wait with a generous timeout and return the results (panics on error).
pub fn wait_some(set: &WaitSet, cap: usize) -> Vec<WaitResult> {
    let mut out = vec![WaitResult::default(); cap];
    let n = set
        .wait(Deadline::after(Duration::from_secs(10)), &mut out)
        .expect("wait");
    out.truncate(n);
    out
}

/// Wait without blocking; an empty vector on TimedOut.
pub fn poll_now(set: &WaitSet, cap: usize) -> Vec<WaitResult> {
    let mut out = vec![WaitResult::default(); cap];
    match set.wait(Deadline::now(), &mut out) {
        Ok(n) => {
            out.truncate(n);
            out
        }
        Err(Error::TimedOut) => Vec::new(),
        Err(e) => panic!("wait: {e}"),
    }
}

/// Assert nothing is reported within `ms` milliseconds.
pub fn expect_timeout(set: &WaitSet, ms: u64) {
    let mut out = [WaitResult::default(); 4];
    match set.wait(Deadline::after(Duration::from_millis(ms)), &mut out) {
        Err(Error::TimedOut) => {}
        other => panic!("expected TimedOut, got {other:?} with {:?}", &out),
    }
}

/// Cookies of `results`, sorted.
pub fn cookies(results: &[WaitResult]) -> Vec<u64> {
    let mut v: Vec<u64> = results.iter().map(|r| r.cookie).collect();
    v.sort_unstable();
    v
}

/// Write bytes, panicking on failure.
pub fn write(fd: &OwnedFd, b: &[u8]) {
    rustix::io::write(fd, b).expect("write");
}

/// Read and discard everything available.
pub fn drain(fd: &OwnedFd) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = rustix::io::read(fd, &mut buf) {
        if n == 0 {
            break;
        }
    }
}

// Added for the issue-7 regression, stress and model tests.
pub mod spin;
pub mod src;
pub mod watchdog;
