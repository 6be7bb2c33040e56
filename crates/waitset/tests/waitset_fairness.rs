//! Fairness: with more ready entries than the results buffer holds, every ready entry is
//! reported within ceil(ready / capacity) consecutive waits.

mod util;

use std::collections::HashSet;

use util::*;
use waitset::{Event, Signals, Source};

fn check_rounds(s: &waitset::WaitSet, ready: usize, cap: usize) {
    let rounds = ready.div_ceil(cap);
    // Several windows in a row, starting anywhere: each window must cover everything.
    for start in 0..3 {
        let mut seen = HashSet::new();
        for _ in 0..rounds {
            for r in wait_some(s, cap) {
                seen.insert(r.cookie);
            }
        }
        assert_eq!(
            seen.len(),
            ready,
            "window {start}: saw {} of {ready} in {rounds} waits of {cap}",
            seen.len()
        );
    }
}

#[test]
fn every_ready_fd_is_reported_within_ceil_ready_over_capacity_waits() {
    each_backend(|k| {
        let s = set(k);
        let mut keep = Vec::new();
        for i in 0..50u64 {
            let (r, w) = pipe();
            write(&w, b"x");
            s.add(i, fd_source(&r), Signals::READABLE).unwrap();
            keep.push((r, w));
        }
        for cap in [1, 3, 7, 16, 49] {
            check_rounds(&s, 50, cap);
        }
    });
}

#[test]
fn every_ready_event_is_reported_within_ceil_ready_over_capacity_waits() {
    each_backend(|k| {
        let s = set(k);
        let evs: Vec<Event> = (0..40).map(|_| Event::new()).collect();
        for (i, ev) in evs.iter().enumerate() {
            s.add(i as u64, Source::from(ev), Signals::USER_0).unwrap();
            ev.signal(Signals::empty(), Signals::USER_0).unwrap();
        }
        for cap in [1, 6, 13, 39] {
            check_rounds(&s, 40, cap);
        }
    });
}

#[test]
fn mixed_fds_and_events_are_all_reported_without_starvation() {
    each_backend(|k| {
        let s = set(k);
        let mut keep = Vec::new();
        for i in 0..20u64 {
            let (r, w) = pipe();
            write(&w, b"x");
            s.add(i, fd_source(&r), Signals::READABLE).unwrap();
            keep.push((r, w));
        }
        let evs: Vec<Event> = (0..20).map(|_| Event::new()).collect();
        for (i, ev) in evs.iter().enumerate() {
            s.add(100 + i as u64, Source::from(ev), Signals::USER_0)
                .unwrap();
            ev.signal(Signals::empty(), Signals::USER_0).unwrap();
        }
        // Warm-up: the first waits pull fd readiness from the kernel into the ready queue.
        for _ in 0..4 {
            wait_some(&s, 5);
        }
        check_rounds(&s, 40, 5);
    });
}
