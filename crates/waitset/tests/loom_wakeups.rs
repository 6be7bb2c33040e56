//! Loom models of the wake-up accounting (`set::delivery::WakeLedger` with the wake channel):
//! the real `WaitSet` code on the model backend (`sys::model`), whose blocking wait sleeps until
//! the channel is readable, so a lost wake-up is a deadlock loom reports.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p waitset --release --test loom_wakeups`.
#![cfg(loom)]

use loom::thread;
use waitset::{Deadline, Delivery, Event, Signals, Source, WaitResult, WaitSet};

mod loom_util;
use loom_util::{kind, model};

fn set(d: Delivery) -> WaitSet {
    WaitSet::builder()
        .backend(kind())
        .delivery(d)
        .build()
        .unwrap()
}

/// Broadcast: a signal raised while two threads block (or are about to) wakes both, and each
/// reports the entry.
#[test]
fn broadcast_signal_wakes_every_blocked_waiter() {
    model(|| {
        let s = set(Delivery::Broadcast);
        let ev = Event::new();
        s.add(1, Source::from(&ev), Signals::USER_0).unwrap();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let s = s.clone();
                thread::spawn(move || {
                    let mut out = [WaitResult::default(); 1];
                    let n = s.wait(Deadline::INFINITE, &mut out).unwrap();
                    assert_eq!((n, out[0].cookie), (1, 1));
                })
            })
            .collect();
        ev.signal(Signals::empty(), Signals::USER_0).unwrap();
        for w in waiters {
            w.join().unwrap();
        }
    });
}

/// Broadcast with three waiters: on epoll the edges are chained (each waiter that takes one
/// posts the next while someone is still asleep), so the third waiter is woken too.
#[test]
fn broadcast_chain_wakes_the_third_waiter() {
    model(|| {
        let s = set(Delivery::Broadcast);
        let ev = Event::new();
        s.add(1, Source::from(&ev), Signals::USER_0).unwrap();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let s = s.clone();
                thread::spawn(move || {
                    let mut out = [WaitResult::default(); 1];
                    assert_eq!(s.wait(Deadline::INFINITE, &mut out).unwrap(), 1);
                })
            })
            .collect();
        ev.signal(Signals::empty(), Signals::USER_0).unwrap();
        for w in waiters {
            w.join().unwrap();
        }
    });
}

/// Exclusive: two readinesses and two blocked waiters: each waiter is woken and gets one
/// result, and no result goes to both (each waiter handles what it got by clearing it).
#[test]
fn exclusive_each_readiness_wakes_one_waiter_and_none_is_lost() {
    model(|| {
        let s = set(Delivery::Exclusive);
        let evs = [Event::new(), Event::new()];
        for (i, ev) in evs.iter().enumerate() {
            s.add(i as u64, Source::from(ev), Signals::USER_0).unwrap();
        }
        let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let (s, evs, got) = (s.clone(), evs.clone(), got.clone());
                thread::spawn(move || {
                    let mut out = [WaitResult::default(); 1];
                    let n = s.wait(Deadline::INFINITE, &mut out).unwrap();
                    assert_eq!(n, 1);
                    let c = out[0].cookie;
                    // Handled: clear it before the thread exits (which releases it).
                    evs[c as usize]
                        .signal(Signals::USER_0, Signals::empty())
                        .unwrap();
                    got.lock().unwrap().push(c);
                })
            })
            .collect();
        for ev in &evs {
            ev.signal(Signals::empty(), Signals::USER_0).unwrap();
        }
        for w in waiters {
            w.join().unwrap();
        }
        let mut got = got.lock().unwrap().clone();
        got.sort_unstable();
        assert_eq!(got, [0, 1]);
    });
}

/// Closing the set wakes a blocked waiter with `Canceled`.
#[test]
fn close_wakes_a_blocked_waiter() {
    model(|| {
        let s = set(Delivery::Broadcast);
        let w = {
            let s = s.clone();
            thread::spawn(move || s.wait(Deadline::INFINITE, &mut [WaitResult::default()]))
        };
        s.close();
        assert!(matches!(w.join().unwrap(), Err(waitset::Error::Canceled)));
    });
}
