//! Loom models of exclusive holds: an entry handed to a thread is held until that thread waits
//! again, exits, or the entry is modified — and nothing is lost meanwhile.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p waitset --release --test loom_holds`.
#![cfg(loom)]

use loom::thread;
use waitset::{Deadline, Delivery, Event, Signals, Source, Trigger, WaitResult, WaitSet};

mod loom_util;
use loom_util::{kind, model};

fn exclusive() -> WaitSet {
    WaitSet::builder()
        .backend(kind())
        .delivery(Delivery::Exclusive)
        .build()
        .unwrap()
}

/// Defect 2: a thread that takes a result and exits releases it; a waiter blocked (or about
/// to block) on the set then gets the still-asserted entry instead of waiting forever.
#[test]
fn a_hold_is_released_when_the_holder_thread_exits() {
    model(|| {
        let s = exclusive();
        let ev = Event::new();
        s.add(1, Source::from(&ev), Signals::USER_0).unwrap();
        ev.signal(Signals::empty(), Signals::USER_0).unwrap();
        let taker = {
            let s = s.clone();
            thread::spawn(move || {
                let _ = s.wait(Deadline::now(), &mut [WaitResult::default(); 1]);
            })
        };
        let mut out = [WaitResult::default(); 1];
        assert_eq!(s.wait(Deadline::INFINITE, &mut out).unwrap(), 1);
        assert_eq!(out[0].cookie, 1);
        taker.join().unwrap();
    });
}

/// Defect 2, second half: `modify` releases a hold, and wakes a blocked waiter.
#[test]
fn modify_releases_a_hold_to_a_blocked_waiter() {
    model(|| {
        let s = exclusive();
        let ev = Event::new();
        s.add(1, Source::from(&ev), Signals::USER_0).unwrap();
        ev.signal(Signals::empty(), Signals::USER_0).unwrap();
        let mut out = [WaitResult::default(); 1];
        assert_eq!(s.wait(Deadline::now(), &mut out).unwrap(), 1); // held by this thread
        let waiter = {
            let s = s.clone();
            thread::spawn(move || {
                let mut out = [WaitResult::default(); 1];
                assert_eq!(s.wait(Deadline::INFINITE, &mut out).unwrap(), 1);
            })
        };
        s.modify(1, Signals::USER_0).unwrap();
        waiter.join().unwrap();
    });
}

/// Defect 3: an edge that rises while the entry is held is reported after the release, to
/// whichever waiter comes next.
#[test]
fn an_edge_rising_while_held_is_not_lost() {
    model(|| {
        let s = exclusive();
        let ev = Event::new();
        s.add_with(1, Source::from(&ev), Signals::USER_0, Trigger::Edge)
            .unwrap();
        ev.signal(Signals::empty(), Signals::USER_0).unwrap();
        let mut out = [WaitResult::default(); 1];
        assert_eq!(s.wait(Deadline::now(), &mut out).unwrap(), 1); // rise 1, held
        let raiser = {
            let ev = ev.clone();
            thread::spawn(move || ev.signal(Signals::USER_0, Signals::USER_0).unwrap_or(()))
        };
        // A second rise: clear, then raise again, while this thread holds the entry.
        ev.signal(Signals::USER_0, Signals::empty()).unwrap();
        raiser.join().unwrap();
        ev.signal(Signals::empty(), Signals::USER_0).unwrap();
        // This wait releases the hold; the rise that happened meanwhile is reported.
        assert_eq!(s.wait(Deadline::INFINITE, &mut out).unwrap(), 1);
    });
}
