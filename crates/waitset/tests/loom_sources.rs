//! Loom models of the source side: observer lists, close and drop (the seams where the first
//! round's deadlock and orphaning race were found).
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p waitset --release --test loom_sources`.
#![cfg(loom)]

use loom::thread;
use waitset::{Deadline, Error, Event, Handle, Signals, Source, Status, WaitResult, WaitSet};

mod loom_util;
use loom_util::{kind, model};

/// Defect 1 of the engine issue: `Handle::close` racing the drop of a set's last clone must
/// never deadlock (the set's last reference is never dropped under a source's lock).
#[test]
fn handle_close_racing_the_last_set_drop_never_deadlocks() {
    model(|| {
        let (r, _w) = rustix::pipe::pipe().unwrap();
        let h = std::sync::Arc::new(Handle::new(r));
        let s = WaitSet::builder().backend(kind()).build().unwrap();
        s.add(1, Source::from(&*h), Signals::READABLE).unwrap();
        let closer = {
            let h = h.clone();
            thread::spawn(move || h.close().unwrap())
        };
        let dropper = thread::spawn(move || drop(s));
        closer.join().unwrap();
        dropper.join().unwrap();
    });
}

/// Defect 5: the last two clones of an Event dropped at once freeze it exactly once: the entry
/// is reported Unsatisfiable once, then nothing.
#[test]
fn concurrent_drop_of_the_last_two_event_clones_freezes_it_once() {
    model(|| {
        let s = WaitSet::builder().backend(kind()).build().unwrap();
        let a = Event::new();
        let b = a.clone();
        s.add(1, Source::from(&a), Signals::USER_0).unwrap();
        let ta = thread::spawn(move || drop(a));
        let tb = thread::spawn(move || drop(b));
        ta.join().unwrap();
        tb.join().unwrap();
        let mut out = [WaitResult::default(); 2];
        assert_eq!(s.wait(Deadline::now(), &mut out).unwrap(), 1);
        assert_eq!(out[0].status, Status::Unsatisfiable);
        assert!(matches!(
            s.wait(Deadline::now(), &mut out),
            Err(Error::TimedOut)
        ));
    });
}

/// A signal racing the removal of its entry and the drop of the set: no deadlock, no report
/// for a removed cookie.
#[test]
fn signal_racing_remove_and_set_drop() {
    model(|| {
        let s = WaitSet::builder().backend(kind()).build().unwrap();
        let ev = Event::new();
        s.add(1, Source::from(&ev), Signals::USER_0).unwrap();
        let signaller = {
            let ev = ev.clone();
            thread::spawn(move || ev.signal(Signals::empty(), Signals::USER_0).unwrap())
        };
        let s2 = s.clone();
        let remover = thread::spawn(move || {
            s2.remove(1).unwrap();
            let r = s2.wait(Deadline::now(), &mut [WaitResult::default(); 1]);
            assert!(matches!(r, Err(Error::TimedOut)), "{r:?}");
        });
        drop(s);
        signaller.join().unwrap();
        remover.join().unwrap();
    });
}
