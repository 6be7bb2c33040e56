//! Issue 7, defect 8. Its own test binary with a single test: it closes an fd while another
//! thread polls it, and relies on fd numbers not being reused meanwhile by other tests.
//!
//! Rule: `poll()` keeps no state between calls. An fd closed by another thread in the middle of
//! a wait leaves nothing behind that a later call on the same thread could report.

mod util;

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::mpsc;
use std::time::Duration;

use util::watchdog::Watchdog;
use util::*;
use waitset::{PollFd, PollFlags, PollOptions};

/// Fails on main f98a603 on epoll: the first call registers the pipe's read end in the
/// thread's epoll instance; another thread closes that fd number (a dup keeps the pipe alive)
/// while the call waits; the call's clean-up `EPOLL_CTL_DEL` then fails with EBADF and the
/// registration stays. The next call on the same thread watches an idle, unrelated pipe at the
/// same index and gets a false `IN` from the leftover registration ("attempt 0: first call gave
/// Ok(IN); second call reported Ok((1, IN)) for an idle pipe"), in every attempt. Passes on the
/// poll backend.
#[test]
fn poll_keeps_no_state_between_calls_when_an_fd_is_closed_mid_wait() {
    let wd = Watchdog::start(
        "poll_keeps_no_state_between_calls_when_an_fd_is_closed_mid_wait",
        120,
    );
    let mut failures = Vec::new();
    each_backend(|k| {
        let opts = PollOptions::new().backend(k);
        // Whenever the close lands (inside the kernel wait, which the sleep below makes likely,
        // or before it), the second call must find nothing: every attempt is checked.
        for attempt in 0..5u64 {
            wd.iteration(attempt);
            let (r, w) = pipe();
            let keep = rustix::io::dup(&r).unwrap(); // keeps the pipe (and any registration) alive
            let victim = r.as_raw_fd();
            let (idle_r, _idle_w) = pipe();
            let (started_tx, started_rx) = mpsc::channel();
            let poller = std::thread::spawn(move || {
                let mut fds = [PollFd::from_raw(victim, PollFlags::IN)];
                started_tx.send(()).unwrap();
                let first = opts.poll(&mut fds, 10_000).map(|_| fds[0].revents());
                // Second call, same thread, index 0: an idle pipe nobody writes to.
                let mut fds = [PollFd::new(&idle_r, PollFlags::IN)];
                let second = opts.poll(&mut fds, 0).map(|n| (n, fds[0].revents()));
                (
                    first.map_err(|e| e.to_string()),
                    second.map_err(|e| e.to_string()),
                )
            });
            started_rx.recv().unwrap();
            // Give the poller time to enter the kernel (not a timing assertion: a close that
            // comes early still has to leave the second call clean).
            std::thread::sleep(Duration::from_millis(50));
            drop::<OwnedFd>(r); // closed mid-wait by another thread
            write(&w, b"x"); // readable through the dup: ends the first wait
            wd.step("join poller");
            let (first, second) = poller.join().unwrap();
            drop(keep);
            if second != Ok((0, PollFlags::empty())) {
                failures.push(format!(
                    "{} attempt {attempt}: first call gave {first:?}; second call reported \
                     {second:?} for an idle pipe",
                    k.name()
                ));
            }
        }
    });
    assert!(failures.is_empty(), "{failures:#?}");
}
