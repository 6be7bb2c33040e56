//! Issue 7, defect 7. Its own test binary with a single test: it plays with fd numbers (the
//! lowest free number must stay the closed fd's), which other tests running in parallel threads
//! of one process would disturb.
//!
//! Rule: `poll()` / `ppoll()` on every backend report `POLLNVAL` for a closed fd and never fail
//! the whole call; they need no fd of their own, so a closed number that happens to be the lowest
//! free one is just a closed fd.

mod util;

use std::os::fd::{AsFd, AsRawFd, RawFd};

use util::*;
use waitset::{PollFd, PollFlags, PollOptions};

/// The lowest free fd number right now: dup hands out the lowest, and closing it frees it again.
fn lowest_free(any_open: &impl AsFd) -> RawFd {
    let d = rustix::io::dup(any_open).unwrap();
    let n = d.as_raw_fd();
    drop(d);
    n
}

/// Fails on main f98a603 on epoll: on a thread that has not polled yet, the per-thread epoll
/// instance is created inside the call and gets the lowest free number, which is the caller's
/// closed fd; adding that number to itself fails and the whole call returns
/// `Err(InvalidArgument)` (EINVAL) instead of `Ok(2)` with `NVAL`. Passes on the poll backend.
#[test]
fn poll_reports_nval_for_closed_fd_on_every_backend() {
    let mut failures = Vec::new();
    each_backend(|k| {
        for use_ppoll in [false, true] {
            let opts = PollOptions::new().backend(k);
            let (r, w) = pipe();
            write(&w, b"x");
            let closed = lowest_free(&w);
            // A fresh thread: no per-thread state from earlier calls.
            let got = std::thread::spawn(move || {
                let mut fds = [
                    PollFd::from_raw(closed, PollFlags::IN),
                    PollFd::new(&r, PollFlags::IN),
                ];
                let n = if use_ppoll {
                    opts.ppoll(&mut fds, Some(std::time::Duration::ZERO), None)
                } else {
                    opts.poll(&mut fds, 0)
                };
                n.map(|n| (n, fds[0].revents(), fds[1].revents()))
                    .map_err(|e| e.to_string())
            })
            .join()
            .unwrap();
            let want = (2, PollFlags::NVAL, PollFlags::IN);
            let name = if use_ppoll { "ppoll" } else { "poll" };
            if got != Ok(want) {
                failures.push(format!(
                    "{}/{name}: closed fd {closed} gave {got:?}, want Ok({want:?})",
                    k.name()
                ));
            }
        }
    });
    assert!(failures.is_empty(), "{failures:#?}");
}
