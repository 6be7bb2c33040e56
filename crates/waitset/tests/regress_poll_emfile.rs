//! Issue 7, defect 9. Its own test binary with a single test: it lowers RLIMIT_NOFILE and fills
//! the fd table, which would break any test running beside it in the same process.
//!
//! Rule: `poll()` / `ppoll()` need no fd of their own, on every backend: with the fd table full
//! they answer exactly as poll(2) does.

mod util;

use std::os::fd::OwnedFd;

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use util::*;
use waitset::{PollFd, PollFlags, PollOptions};

/// Fails on main f98a603 on epoll: on a thread that has not polled yet, the call must create its
/// per-thread epoll instance and fails with `EMFILE` ("epoll/poll: Err(Io(... Too many open files
/// ...))"). Passes on the poll backend.
#[test]
fn poll_needs_no_fd_of_its_own_when_fd_table_is_full() {
    let (r, w) = pipe();
    write(&w, b"x");
    let old = getrlimit(Resource::Nofile);
    let limit = 256u64.min(old.current.unwrap_or(u64::MAX));
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(limit),
            maximum: old.maximum,
        },
    )
    .unwrap();
    // Fill the table.
    let mut filler: Vec<OwnedFd> = Vec::new();
    loop {
        match rustix::io::dup(&r) {
            Ok(fd) => filler.push(fd),
            Err(rustix::io::Errno::MFILE) => break,
            Err(e) => panic!("dup: {e}"),
        }
    }
    let mut failures = Vec::new();
    for k in backends() {
        for use_ppoll in [false, true] {
            let opts = PollOptions::new().backend(k);
            let r = &r;
            // A fresh thread: no per-thread state from earlier calls.
            let got = std::thread::scope(|sc| {
                sc.spawn(move || {
                    let mut fds = [PollFd::new(r, PollFlags::IN)];
                    let n = if use_ppoll {
                        opts.ppoll(&mut fds, Some(std::time::Duration::ZERO), None)
                    } else {
                        opts.poll(&mut fds, 0)
                    };
                    n.map(|n| (n, fds[0].revents()))
                        .map_err(|e| format!("{e:?}"))
                })
                .join()
                .unwrap()
            });
            let name = if use_ppoll { "ppoll" } else { "poll" };
            if got != Ok((1, PollFlags::IN)) {
                failures.push(format!("{}/{name}: {got:?}", k.name()));
            }
        }
    }
    drop(filler);
    setrlimit(Resource::Nofile, old).unwrap();
    assert!(failures.is_empty(), "{failures:#?}");
}
