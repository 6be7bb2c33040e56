//! The one door through which the regression, stress and model tests register raw fds and build
//! `PollSet`s.
//!
//! The rewrite changes both APIs: `Source::fd` becomes an `unsafe fn` (contract: remove the entry
//! before closing the fd) and `PollSet` becomes `PollSet<'fd>`, borrowing its fds. Every new test
//! goes through these helpers, so porting them is an edit here and nowhere else.

use std::os::fd::{AsFd, RawFd};

use waitset::{PollFlags, PollOptions, PollSet, Source};

/// A WaitSet source for a raw fd. Callers keep the fd open until its entry is removed (except
/// where a test breaks that contract on purpose, and says so).
pub fn fd_source<'a>(fd: &'a impl AsFd) -> Source<'a> {
    // SAFETY: the callers keep the fd open until its entry is removed, or break the contract on
    // purpose to check that the engine never confuses a closed or reused number (and say so).
    unsafe { Source::fd(fd) }
}

/// A `PollSet` served with `options`.
pub fn pollset<'fd>(options: PollOptions) -> PollSet<'fd> {
    PollSet::with_options(options)
}

/// Append `fd` watched for `events`.
pub fn pollset_push<'fd>(set: &mut PollSet<'fd>, fd: &'fd impl AsFd, events: PollFlags) {
    set.push(fd, events).expect("pollset push");
}

/// Append a raw fd number. A number that is not open cannot join a set (`BadHandle`), since the
/// set keeps its interest in the kernel: returns the error.
pub fn pollset_push_raw(
    set: &mut PollSet<'_>,
    fd: RawFd,
    events: PollFlags,
) -> waitset::Result<()> {
    // SAFETY: the callers keep `fd` open while it is in the set (or pass a closed number, which
    // is refused here and never enters the set).
    unsafe { set.push_raw(fd, events) }
}

/// A new pipe whose read end has fd number `n` (which must be free): the read end is dup3'ed
/// onto `n`. For the tests that reuse a number after a close without remove.
pub fn pipe_at(n: RawFd) -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::{AsRawFd, FromRawFd};
    let (r, w) = super::pipe();
    if r.as_raw_fd() == n {
        return (r, w);
    }
    // SAFETY: `r` is open; `n` is a free number the caller gives up, which dup3 makes a new fd
    // on the same pipe; the OwnedFd built from it is its only owner.
    let got = unsafe { libc::dup3(r.as_raw_fd(), n, libc::O_CLOEXEC) };
    assert_eq!(got, n, "dup3 onto {n}: {}", std::io::Error::last_os_error());
    // SAFETY: dup3 just opened `n`, and nothing else owns it.
    (unsafe { std::os::fd::OwnedFd::from_raw_fd(n) }, w)
}

/// A regular file opened read-only, already unlinked (always ready; epoll refuses it).
pub fn regular_file() -> std::os::fd::OwnedFd {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "waitset-test-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, b"data").unwrap();
    let f = std::fs::File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    f.into()
}
