//! Timers: kept in each set's own timer wheel, one kernel timeout per wait.

mod util;

use std::time::{Duration, Instant};

use util::*;
use waitset::{Deadline, Signals, Source, Status, Timer, Trigger, WaitResult};

#[test]
fn timer_fires_at_its_deadline_never_before() {
    each_backend(|k| {
        let s = set(k);
        let t = Timer::new();
        s.add(1, Source::from(&t), Signals::TIMER).unwrap();
        let t0 = Instant::now();
        t.set(Deadline::after(Duration::from_millis(40)), Duration::ZERO);
        let out = wait_some(&s, 4);
        assert!(
            t0.elapsed() >= Duration::from_millis(40),
            "early: {:?}",
            t0.elapsed()
        );
        assert_eq!(
            (out[0].cookie, out[0].status, out[0].observed),
            (1, Status::Satisfied, Signals::TIMER)
        );
        assert!(t.fired());
    });
}

#[test]
fn many_timers_fire_in_deadline_order() {
    each_backend(|k| {
        let s = set(k);
        let timers: Vec<Timer> = (0..200).map(|_| Timer::new()).collect();
        let base = Deadline::after(Duration::from_millis(20)).as_monotonic_nanos();
        for (i, t) in timers.iter().enumerate() {
            // Deadlines in a scrambled order, 100 µs apart.
            let slot = (i * 37) % 200;
            s.add_with(
                slot as u64,
                Source::from(t),
                Signals::TIMER,
                Trigger::Oneshot,
            )
            .unwrap();
            t.set(
                Deadline::from_monotonic_nanos(base + slot as u64 * 100_000),
                Duration::ZERO,
            );
        }
        let mut fired = Vec::new();
        while fired.len() < 200 {
            for r in wait_some(&s, 16) {
                fired.push(r.cookie);
            }
        }
        // Waits return in deadline order; within one wait results follow the queue order, which
        // is the firing order.
        let mut sorted = fired.clone();
        sorted.sort_unstable();
        assert_eq!(fired, sorted);
    });
}

#[test]
fn reset_and_cancel_move_or_disarm_the_timer() {
    each_backend(|k| {
        let s = set(k);
        let t = Timer::new();
        s.add(1, Source::from(&t), Signals::TIMER).unwrap();
        t.set(Deadline::after(Duration::from_millis(10)), Duration::ZERO);
        t.cancel();
        expect_timeout(&s, 60);
        t.set(Deadline::after(Duration::from_secs(3600)), Duration::ZERO);
        t.set(Deadline::after(Duration::from_millis(5)), Duration::ZERO);
        assert_eq!(cookies(&wait_some(&s, 4)), vec![1]);
        // Level-triggered: stays asserted until set again.
        assert_eq!(cookies(&poll_now(&s, 4)), vec![1]);
        t.set(Deadline::after(Duration::from_secs(3600)), Duration::ZERO);
        assert!(poll_now(&s, 4).is_empty());
    });
}

#[test]
fn a_timer_set_from_another_thread_wakes_the_waiter_earlier() {
    each_backend(|k| {
        let s = set(k);
        let t = Timer::new();
        s.add(1, Source::from(&t), Signals::TIMER).unwrap();
        t.set(Deadline::after(Duration::from_secs(3600)), Duration::ZERO);
        let s2 = s.clone();
        let h = std::thread::spawn(move || {
            let t0 = Instant::now();
            (wait_some(&s2, 2), t0.elapsed())
        });
        std::thread::sleep(Duration::from_millis(30));
        t.set(Deadline::after(Duration::from_millis(10)), Duration::ZERO);
        let (out, took) = h.join().unwrap();
        assert_eq!(cookies(&out), vec![1]);
        assert!(took < Duration::from_secs(60));
    });
}

#[test]
fn slack_lets_a_timer_fire_late_but_never_early() {
    each_backend(|k| {
        let s = set(k);
        let t = Timer::new();
        s.add(1, Source::from(&t), Signals::TIMER).unwrap();
        let t0 = Instant::now();
        t.set(
            Deadline::after(Duration::from_millis(20)),
            Duration::from_millis(30),
        );
        let mut out = [WaitResult::default(); 1];
        s.wait(Deadline::INFINITE, &mut out).unwrap();
        assert!(t0.elapsed() >= Duration::from_millis(20));
    });
}

#[test]
fn timer_past_deadline_fires_at_once() {
    each_backend(|k| {
        let s = set(k);
        let t = Timer::new();
        t.set(Deadline::from_monotonic_nanos(1), Duration::ZERO);
        s.add(1, Source::from(&t), Signals::TIMER).unwrap();
        assert_eq!(cookies(&poll_now(&s, 4)), vec![1]);
    });
}

#[test]
fn one_timer_watched_by_two_sets() {
    each_backend(|k| {
        let (a, b) = (set(k), set(k));
        let t = Timer::new();
        a.add(1, Source::from(&t), Signals::TIMER).unwrap();
        b.add(2, Source::from(&t), Signals::TIMER).unwrap();
        t.set(Deadline::after(Duration::from_millis(5)), Duration::ZERO);
        assert_eq!(cookies(&wait_some(&a, 2)), vec![1]);
        assert_eq!(cookies(&wait_some(&b, 2)), vec![2]);
        a.remove(1).unwrap();
        assert_eq!(cookies(&wait_some(&b, 2)), vec![2]);
    });
}
