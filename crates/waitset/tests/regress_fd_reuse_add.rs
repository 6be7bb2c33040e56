//! Issue 7, defect 10 (the `add` path). Its own test binary with a single test: it closes fds
//! without removing their entries and reuses their numbers on purpose, which would disturb other
//! tests running in parallel threads of one process.
//!
//! Rule: after a contract violation (an fd closed without removing its entry, its number then
//! reused by a new file), a later `add` of the new file under that number watches the new file,
//! on every backend, whatever the old file was (pipe, socket or regular file).

mod util;

use std::os::fd::{AsRawFd, OwnedFd};

use util::src::{fd_source, pipe_at, regular_file};
use util::*;
use waitset::{Signals, Status};

/// Fails on main f98a603 on epoll when the old file was a regular file: the number's
/// registration is still marked "always ready" (regular files never enter epoll), so the new
/// pipe's entry is reported READABLE while the pipe is empty ("epoll/regular file: new entry
/// reported while its pipe is empty: [...]"). Passes for an old pipe or socket, and on the poll
/// backend.
#[test]
fn reused_fd_number_after_close_without_remove_is_not_confused() {
    let mut failures = Vec::new();
    each_backend(|k| {
        for old_kind in ["regular file", "pipe", "socket"] {
            let what = format!("{}/{old_kind}", k.name());
            let s = set(k);
            let old: OwnedFd = match old_kind {
                "regular file" => regular_file(),
                "pipe" => pipe().0,
                _ => socketpair().0,
            };
            let n = old.as_raw_fd();
            s.add(1, fd_source(&old), Signals::READABLE).unwrap();
            let _ = poll_now(&s, 8); // let the set see the old file once
            drop(old); // the contract violation: closed without remove
            let (r, w) = pipe_at(n);
            s.add(2, fd_source(&r), Signals::READABLE).unwrap();
            let two = |got: &[waitset::WaitResult]| -> Vec<waitset::WaitResult> {
                got.iter().filter(|r| r.cookie == 2).copied().collect()
            };
            let got = poll_now(&s, 8);
            if !two(&got).is_empty() {
                failures.push(format!(
                    "{what}: new entry reported while its pipe is empty: {got:?}"
                ));
                continue;
            }
            write(&w, b"x");
            let got = poll_now(&s, 8);
            match two(&got).as_slice() {
                [r] if r.status == Status::Satisfied && r.observed.contains(Signals::READABLE) => {}
                other => {
                    failures.push(format!(
                        "{what}: new entry after a write: {other:?} (all: {got:?})"
                    ));
                    continue;
                }
            }
            drain(&r);
            let _ = poll_now(&s, 8); // a report fetched before the drain may be one wait old
            let got = poll_now(&s, 8);
            if !two(&got).is_empty() {
                failures.push(format!(
                    "{what}: new entry reported after its pipe was drained: {got:?}"
                ));
            }
            // Leave the set before the new pipe closes (keep to the contract from here on).
            let _ = s.remove(1);
            s.remove(2).unwrap();
        }
    });
    assert!(failures.is_empty(), "{failures:#?}");
}
