//! Issue 7, defect 10 (the re-arm and claim-release paths). Its own test binary with a single
//! test: it closes fds without removing their entries and reuses their numbers on purpose.
//!
//! Rule (epoll): after an fd was closed without removing its entry and its number reused by an
//! unrelated file, no path other than `add` registers that number again: releasing an
//! exclusive claim and re-arming by `modify` never silently start watching the new file under
//! the old cookie (the `ENOENT → add` fallback belongs to `add` alone). The old cookie may be
//! reported as anything but `Satisfied` with the new file's readiness.
//!
//! Run on epoll only: the poll backend keeps watching the number itself (poll(2) has no
//! registration that a close could remove), see REGRESSIONS.md.

mod util;

use std::os::fd::{AsRawFd, OwnedFd};

use util::src::{fd_source, pipe_at};
use util::*;
use waitset::{BackendKind, Delivery, Signals, Status, Trigger, WaitResult, WaitSet};

fn satisfied_old(got: &[WaitResult]) -> Vec<WaitResult> {
    got.iter()
        .filter(|r| r.cookie == 1 && r.status == Status::Satisfied)
        .copied()
        .collect()
}

/// Fails on main f98a603 (epoll), in all three paths: the new pipe's data is reported as
/// `Satisfied READABLE` under cookie 1, the entry of the closed pipe ("claim release: old
/// cookie reported the new file: [...]").
#[test]
fn rearm_and_claim_release_never_watch_a_reused_fd_number_under_the_old_cookie() {
    let mut failures = Vec::new();
    for k in backends() {
        if k != BackendKind::Epoll {
            continue;
        }
        for path in [
            "claim release",
            "modify of a fired oneshot",
            "modify of a level entry",
        ] {
            let (delivery, trigger) = match path {
                "claim release" => (Delivery::Exclusive, Trigger::Level),
                "modify of a fired oneshot" => (Delivery::Broadcast, Trigger::Oneshot),
                _ => (Delivery::Broadcast, Trigger::Level),
            };
            let s = WaitSet::builder()
                .backend(k)
                .delivery(delivery)
                .build()
                .unwrap();
            let (old_r, old_w) = pipe();
            let n = old_r.as_raw_fd();
            s.add_with(1, fd_source(&old_r), Signals::READABLE, trigger)
                .unwrap();
            write(&old_w, b"x");
            // Exclusive: this thread now holds cookie 1; oneshot: it is disarmed.
            let got = poll_now(&s, 4);
            assert_eq!(got.len(), 1, "{path}: {got:?}");
            drop::<OwnedFd>(old_r); // the contract violation: closed without remove
            drop(old_w);
            let (new_r, new_w) = pipe_at(n);
            write(&new_w, b"y");
            match path {
                "claim release" => {} // the next wait releases this thread's claim
                "modify of a fired oneshot" => {
                    let _ = s.modify(1, Signals::READABLE);
                }
                _ => {
                    let _ = s.modify(1, Signals::READABLE | Signals::PEER_CLOSED);
                }
            }
            let mut bad = Vec::new();
            for _ in 0..3 {
                bad.extend(satisfied_old(&poll_now(&s, 4)));
            }
            if !bad.is_empty() {
                failures.push(format!("{path}: old cookie reported the new file: {bad:?}"));
            }
            let _ = s.remove(1);
            drop((new_r, new_w));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
