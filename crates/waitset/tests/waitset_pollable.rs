//! `WaitSet::pollable`: the set's own descriptor is readable exactly when a wait with
//! `Deadline::now()` would report something — including readiness that lives in user space
//! (Events, Timers, always-ready files, canceled handles) — so an outer event loop can watch it.

mod util;

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use util::*;
use waitset::{
    BackendKind, Deadline, Error, Event, Handle, PollFd, PollFlags, Pollable, Signals, Source,
    Status, Timer, WaitResult, WaitSet,
};

/// Whether the set's descriptor is readable within `ms` milliseconds.
fn readable_within(p: &Pollable, ms: i32) -> bool {
    let mut fds = [PollFd::new(&p.as_fd(), PollFlags::IN)];
    waitset::poll(&mut fds, ms).unwrap() == 1
}

fn pollable_set() -> (WaitSet, Pollable) {
    let s = WaitSet::builder()
        .backend(BackendKind::Epoll)
        .build()
        .unwrap();
    let p = s.pollable().unwrap();
    (s, p)
}

#[test]
fn pollable_fd_is_readable_when_an_event_is_asserted_and_not_after_it_is_handled() {
    let (s, p) = pollable_set();
    let ev = Event::new();
    s.add(1, Source::from(&ev), Signals::USER_0).unwrap();
    assert!(!readable_within(&p, 0));
    ev.signal(Signals::empty(), Signals::USER_0).unwrap();
    assert!(
        readable_within(&p, 0),
        "user-space readiness must show on the fd"
    );
    let mut out = [WaitResult::default(); 4];
    assert_eq!(p.try_wait(&mut out).unwrap(), 1);
    assert!(
        readable_within(&p, 0),
        "level: still asserted, still readable"
    );
    ev.signal(Signals::USER_0, Signals::empty()).unwrap();
    // At most one spurious wake-up: the next wait finds nothing and clears the flag.
    assert_eq!(p.try_wait(&mut out).unwrap(), 0);
    assert!(!readable_within(&p, 0));
}

#[test]
fn pollable_fd_is_readable_when_a_timer_is_due() {
    let (s, p) = pollable_set();
    let t = Timer::new();
    s.add(1, Source::from(&t), Signals::TIMER).unwrap();
    let due = Deadline::after(Duration::from_millis(30));
    t.set(due, Duration::ZERO);
    assert!(!readable_within(&p, 0));
    let start = Instant::now();
    assert!(
        readable_within(&p, 5_000),
        "the timer never made the fd readable"
    );
    assert!(due <= Deadline::now(), "readable before the deadline");
    assert!(start.elapsed() < Duration::from_secs(4));
    let mut out = [WaitResult::default(); 1];
    assert_eq!(p.try_wait(&mut out).unwrap(), 1);
    assert_eq!(out[0].observed, Signals::TIMER);
    t.cancel();
    let _ = p.try_wait(&mut out);
    assert!(
        !readable_within(&p, 50),
        "a canceled timer leaves nothing to report"
    );
}

#[test]
fn pollable_fd_follows_descriptor_readiness() {
    let (s, p) = pollable_set();
    let (r, w) = pipe();
    s.add(1, fd_source(&r), Signals::READABLE).unwrap();
    assert!(!readable_within(&p, 0));
    write(&w, b"x");
    assert!(readable_within(&p, 0));
    drain(&r);
    let _ = p.try_wait(&mut [WaitResult::default(); 1]);
    assert!(!readable_within(&p, 0));
}

#[test]
fn pollable_fd_reports_a_closed_handle() {
    let (s, p) = pollable_set();
    let (r, _w) = pipe();
    let h = Handle::new(r);
    s.add(7, Source::from(&h), Signals::READABLE).unwrap();
    h.close().unwrap();
    assert!(readable_within(&p, 0));
    let mut out = [WaitResult::default(); 1];
    assert_eq!(p.try_wait(&mut out).unwrap(), 1);
    assert_eq!((out[0].cookie, out[0].status), (7, Status::Canceled));
    assert!(!readable_within(&p, 0));
}

#[test]
fn pollable_wakes_an_outer_poll_from_another_thread() {
    let (s, p) = pollable_set();
    let ev = Event::new();
    s.add(1, Source::from(&ev), Signals::USER_2).unwrap();
    let raiser = {
        let ev = ev.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            ev.signal(Signals::empty(), Signals::USER_2).unwrap();
        })
    };
    assert!(readable_within(&p, 10_000));
    raiser.join().unwrap();
}

#[test]
fn a_backend_without_one_descriptor_says_so() {
    let s = WaitSet::builder()
        .backend(BackendKind::Poll)
        .build()
        .unwrap();
    assert!(!s.backend().capabilities().pollable);
    assert!(matches!(s.pollable(), Err(Error::NotSupported(_))));
    assert!(BackendKind::Epoll.capabilities().pollable);
}

#[test]
fn closing_the_set_makes_its_fd_readable_for_good() {
    let (s, p) = pollable_set();
    let ev = Event::new();
    s.add(1, Source::from(&ev), Signals::USER_0).unwrap();
    // A thread blocked in the set when it is closed ends its round after the close; that round
    // must not clear what the close raised.
    let blocked = {
        let s = s.clone();
        std::thread::spawn(move || s.wait(Deadline::INFINITE, &mut [WaitResult::default(); 1]))
    };
    std::thread::sleep(Duration::from_millis(50)); // most likely blocked by now (not asserted)
    assert!(!readable_within(&p, 0));
    s.close();
    assert!(matches!(blocked.join().unwrap(), Err(Error::Canceled)));
    assert!(
        readable_within(&p, 0),
        "an outer loop must hear of the close"
    );
    let mut out = [WaitResult::default(); 1];
    assert!(matches!(p.try_wait(&mut out), Err(Error::Canceled)));
    assert!(readable_within(&p, 0), "and keep hearing of it");
    // A Pollable made after the close is readable at once.
    assert!(readable_within(&s.pollable().unwrap(), 0));
}
