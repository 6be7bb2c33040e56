//! Defects found while writing the issue-7 tests (by the model in `model_waitset.rs`, then cut
//! down to one rule each). Not in issue 7's list; each breaks a rule of the semantics the
//! rewrite keeps (see REGRESSIONS.md, "Found beyond §1").

mod util;

use std::collections::HashSet;
use std::time::Duration;

use util::src::{fd_source, regular_file};
use util::*;
use waitset::{
    BackendKind, Deadline, Delivery, Event, Signals, Source, Status, Trigger, WaitResult, WaitSet,
};

fn exclusive(k: BackendKind) -> WaitSet {
    WaitSet::builder()
        .backend(k)
        .delivery(Delivery::Exclusive)
        .build()
        .unwrap()
}

/// Rule: an edge entry is reported once per rise; in exclusive delivery the holder's next wait
/// releases it, and with nothing risen meanwhile it is not reported again.
///
/// Fails on main f98a603 (epoll; the poll backend has no edge for fds) for the regular file: an
/// always-ready file is requeued on every release whatever its trigger, so the edge entry is
/// reported on every wait ("epoll/regular file: reported again without a rise: [...]"). The
/// socket row passes (the model also found it re-reported when a second entry shares the fd;
/// see `another_entry_on_the_same_fd_is_not_a_rise_for_an_edge_entry`).
#[test]
fn exclusive_edge_entry_is_not_reported_again_after_release_without_a_rise() {
    let mut failures = Vec::new();
    each_backend(|k| {
        if !k.capabilities().edge {
            return;
        }
        let (a, _b) = socketpair();
        let f = regular_file();
        for (what, fd, sig) in [
            ("socket", &a, Signals::WRITABLE),
            ("regular file", &f, Signals::READABLE),
        ] {
            let s = exclusive(k);
            s.add_with(1, fd_source(fd), sig, Trigger::Edge).unwrap();
            let first = poll_now(&s, 4);
            assert_eq!(first.len(), 1, "{what}: the add-time edge: {first:?}");
            let mut again = Vec::new();
            for _ in 0..3 {
                again.extend(poll_now(&s, 4));
            }
            if !again.is_empty() {
                failures.push(format!(
                    "{}/{what}: reported again without a rise: {again:?}",
                    k.name()
                ));
            }
            s.remove(1).unwrap();
        }
    });
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Rule: an entry added with no signals (disabled) can be modified to watch any signal its
/// source can assert; a regular file then reports READABLE like one added watching it.
///
/// Fails on main f98a603 (epoll): the empty mask never reaches the kernel, so the file is not
/// marked always-ready; the `modify` then registers it, epoll refuses (EPERM) and `modify`
/// returns `NotSupported("descriptor not pollable")`.
#[test]
fn regular_file_added_disabled_can_be_modified_to_watch_readable() {
    let mut failures = Vec::new();
    each_backend(|k| {
        let s = set(k);
        let f = regular_file();
        s.add(1, fd_source(&f), Signals::empty()).unwrap();
        if let Err(e) = s.modify(1, Signals::READABLE) {
            failures.push(format!("{}: modify: {e:?}", k.name()));
            return;
        }
        let got = poll_now(&s, 4);
        if got.len() != 1 || got[0].observed != Signals::READABLE {
            failures.push(format!("{}: after modify: {got:?}", k.name()));
        }
        s.remove(1).unwrap();
    });
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Rule: entries are independent even when they share an fd: adding or modifying one entry
/// is not a rise for another edge entry on the same fd.
///
/// Fails on main f98a603 (epoll): entries on one fd share one kernel registration; the add (and
/// the modify) re-state it with `EPOLL_CTL_MOD`, which re-delivers the edge to every entry on
/// it: "after adding cookie 2: cookie 1 reported again".
#[test]
fn another_entry_on_the_same_fd_is_not_a_rise_for_an_edge_entry() {
    let mut failures = Vec::new();
    each_backend(|k| {
        if !k.capabilities().edge {
            return;
        }
        let s = set(k);
        let (r, w) = pipe();
        write(&w, b"x");
        s.add_with(1, fd_source(&r), Signals::READABLE, Trigger::Edge)
            .unwrap();
        assert_eq!(cookies(&poll_now(&s, 4)), [1]);
        s.add_with(2, fd_source(&r), Signals::READABLE, Trigger::Edge)
            .unwrap();
        let got = cookies(&poll_now(&s, 4));
        if got.contains(&1) {
            failures.push(format!(
                "{}: after adding cookie 2: cookie 1 reported again: {got:?}",
                k.name()
            ));
        }
        let _ = poll_now(&s, 4);
        s.modify(2, Signals::READABLE | Signals::PEER_CLOSED)
            .unwrap();
        let got = cookies(&poll_now(&s, 4));
        if got.contains(&1) {
            failures.push(format!(
                "{}: after modifying cookie 2: cookie 1 reported again: {got:?}",
                k.name()
            ));
        }
        s.remove(1).unwrap();
        s.remove(2).unwrap();
    });
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Rule (as the model reads "the state at add time counts as a rise" for `modify`, and as
/// today's engine does for Events and for a lone fd entry): when `modify` makes an edge entry
/// watch a signal that is asserted and was not watched before, that is a rise, reported once.
///
/// Fails on main f98a603 (epoll) when another entry shares the fd and already watches that
/// signal: the fd's union interest is unchanged, nothing reaches the kernel, and the entry
/// never reports ("cookie 2 not reported after modify to READABLE | WRITABLE").
#[test]
fn modify_to_watch_an_asserted_signal_is_a_rise_for_an_edge_entry_on_a_shared_fd() {
    let mut failures = Vec::new();
    each_backend(|k| {
        if !k.capabilities().edge {
            return;
        }
        let s = set(k);
        let (a, _b) = socketpair(); // writable, nothing to read
        s.add_with(1, fd_source(&a), Signals::WRITABLE, Trigger::Edge)
            .unwrap();
        s.add_with(2, fd_source(&a), Signals::READABLE, Trigger::Edge)
            .unwrap();
        assert_eq!(cookies(&poll_now(&s, 4)), [1]);
        s.modify(2, Signals::READABLE | Signals::WRITABLE).unwrap();
        let got = poll_now(&s, 4);
        if !got.iter().any(|r| r.cookie == 2) {
            failures.push(format!(
                "{}: cookie 2 not reported after modify to READABLE | WRITABLE: {got:?}",
                k.name()
            ));
        }
        s.remove(1).unwrap();
        s.remove(2).unwrap();
    });
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Rule: fairness holds in exclusive delivery too (one thread waiting alone sees what broadcast
/// shows: its next wait releases what it holds). Two ready level fds, C=1: each is reported in
/// every window of 2 consecutive waits.
///
/// Fails on main f98a603 on the poll backend: each entry is reported twice in a row, so a
/// window of 2 waits misses one ("poll: waits [[1], [1], [2], [2], [1], [1], ...]").
#[test]
fn exclusive_fairness_bound_holds_for_level_fds() {
    let mut failures = Vec::new();
    each_backend(|k| {
        let s = exclusive(k);
        let (a, _b) = socketpair();
        let (r, w) = pipe();
        write(&w, b"x");
        s.add(1, fd_source(&a), Signals::WRITABLE).unwrap();
        s.add(2, fd_source(&r), Signals::READABLE).unwrap();
        let history: Vec<Vec<u64>> = (0..8).map(|_| cookies(&poll_now(&s, 1))).collect();
        let ok = history
            .windows(2)
            .all(|w| w.iter().flatten().copied().collect::<HashSet<_>>().len() == 2);
        if !ok {
            failures.push(format!("{}: waits {history:?}", k.name()));
        }
        s.remove(1).unwrap();
        s.remove(2).unwrap();
    });
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Rule: readiness that changes while an exclusive entry is held is not lost: an Event dropped
/// (with no watched signal asserted) while its entry is held makes the entry Unsatisfiable, and
/// that is reported after the holder releases it.
///
/// Fails on main f98a603 (both backends): the orphaning skips the claimed entry and the release
/// requeues only entries whose signals are asserted; the entry is never reported again.
#[test]
fn exclusive_event_orphaned_while_held_reports_unsatisfiable_after_release() {
    let mut failures = Vec::new();
    each_backend(|k| {
        let s = exclusive(k);
        let ev = Event::new();
        ev.signal(Signals::empty(), Signals::USER_1).unwrap();
        s.add(1, Source::from(&ev), Signals::USER_0 | Signals::USER_1)
            .unwrap();
        assert_eq!(cookies(&poll_now(&s, 4)), [1]); // held by this thread
        ev.signal(Signals::USER_1, Signals::empty()).unwrap();
        drop(ev); // frozen with nothing watched asserted
        let got: Vec<WaitResult> = (0..2).flat_map(|_| poll_now(&s, 4)).collect();
        if !got.iter().any(|r| r.status == Status::Unsatisfiable) {
            failures.push(format!(
                "{}: never reported Unsatisfiable after release: {got:?}",
                k.name()
            ));
        }
    });
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Rule: Unsatisfiable is reported once per arming whenever the watched signals can never be
/// asserted again, also for an edge entry that still had an unreported rise. An edge Event entry
/// whose rise fell again before any wait, and whose Event is then dropped, reports
/// Unsatisfiable (whether or not it first reports the old rise).
///
/// Fails on main f98a603 (both backends): the old rise is reported as Satisfied and the entry
/// is never reported again.
#[test]
fn edge_event_orphaned_after_an_unreported_rise_reports_unsatisfiable() {
    let mut failures = Vec::new();
    each_backend(|k| {
        let s = set(k);
        let ev = Event::new();
        s.add_with(1, Source::from(&ev), Signals::USER_0, Trigger::Edge)
            .unwrap();
        ev.signal(Signals::empty(), Signals::USER_0).unwrap();
        ev.signal(Signals::USER_0, Signals::empty()).unwrap();
        drop(ev);
        let got: Vec<WaitResult> = (0..3).flat_map(|_| poll_now(&s, 4)).collect();
        let unsat = got
            .iter()
            .filter(|r| r.status == Status::Unsatisfiable)
            .count();
        if unsat != 1 {
            failures.push(format!("{}: saw {got:?}", k.name()));
        }
    });
    assert!(failures.is_empty(), "{failures:#?}");
}

/// A guard that the timer side of the drop rule needs no sleeping to check: a Timer set to
/// `Deadline::now()` has fired at once, on every backend. Passes on main f98a603.
#[test]
fn timer_set_to_now_has_fired_at_once() {
    each_backend(|k| {
        let s = set(k);
        let t = waitset::Timer::new();
        s.add(1, Source::from(&t), Signals::TIMER).unwrap();
        t.set(Deadline::now(), Duration::ZERO);
        assert_eq!(cookies(&poll_now(&s, 4)), [1]);
    });
}
