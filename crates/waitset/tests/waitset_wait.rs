//! WaitSet::wait: results, statuses, deadlines and trigger modes.

mod util;

use std::time::{Duration, Instant};

use util::*;
use waitset::{Deadline, Error, Event, Signals, Source, Status, Trigger, WaitResult};

#[test]
fn results_are_written_only_on_success() {
    each_backend(|k| {
        let s = set(k);
        let (r, _w) = pipe();
        s.add(1, fd_source(&r), Signals::READABLE).unwrap();
        let sentinel = WaitResult {
            cookie: 0xdead,
            status: Status::Unsatisfiable,
            observed: Signals::USER_7,
        };
        let mut out = [sentinel; 3];
        assert!(matches!(
            s.wait(Deadline::now(), &mut out),
            Err(Error::TimedOut)
        ));
        assert_eq!(out, [sentinel; 3]);
        s.close();
        assert!(matches!(
            s.wait(Deadline::now(), &mut out),
            Err(Error::Canceled)
        ));
        assert_eq!(out, [sentinel; 3]);
    });
}

#[test]
fn deadline_passing_is_timed_out() {
    each_backend(|k| {
        let s = set(k);
        let (r, _w) = pipe();
        s.add(1, fd_source(&r), Signals::READABLE).unwrap();
        let t0 = Instant::now();
        expect_timeout(&s, 30);
        assert!(
            t0.elapsed() >= Duration::from_millis(30),
            "returned early: {:?}",
            t0.elapsed()
        );
    });
}

#[test]
fn sub_millisecond_timeout_is_not_a_busy_loop() {
    each_backend(|k| {
        let s = set(k);
        let (r, _w) = pipe();
        s.add(1, fd_source(&r), Signals::READABLE).unwrap();
        // 20 waits of 500 µs: rounded up they sleep; truncated to 0 ms they would spin. A spinning
        // thread burns about as much CPU as wall time; a sleeping one almost none.
        let cpu = || {
            let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
            Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
        };
        let (t0, c0) = (Instant::now(), cpu());
        let mut out = [WaitResult::default(); 1];
        for _ in 0..20 {
            assert!(matches!(
                s.wait(Deadline::after(Duration::from_micros(500)), &mut out),
                Err(Error::TimedOut)
            ));
        }
        let (wall, used) = (t0.elapsed(), cpu() - c0);
        assert!(wall >= Duration::from_millis(10));
        assert!(used < wall / 2, "busy loop: {used:?} CPU in {wall:?}");
    });
}

#[test]
fn deadline_overflow_saturates_to_infinite() {
    assert!(Deadline::after(Duration::MAX).is_infinite());
    assert!(Deadline::after(Duration::from_secs(u64::MAX)).is_infinite());
    assert_eq!(Deadline::INFINITE.remaining(), None);
    assert_eq!(
        Deadline::from_monotonic_nanos(0).remaining(),
        Some(Duration::ZERO)
    );
}

#[test]
fn close_wakes_a_blocked_waiter_with_canceled() {
    each_backend(|k| {
        let s = set(k);
        let (r, _w) = pipe();
        s.add(1, fd_source(&r), Signals::READABLE).unwrap();
        let s2 = s.clone();
        let t = std::thread::spawn(move || {
            let mut out = [WaitResult::default(); 1];
            s2.wait(Deadline::INFINITE, &mut out)
        });
        std::thread::sleep(Duration::from_millis(50));
        s.close();
        assert!(matches!(t.join().unwrap(), Err(Error::Canceled)));
    });
}

#[test]
fn level_triggered_reports_on_every_wait() {
    each_backend(|k| {
        let s = set(k);
        let (r, w) = pipe();
        let ev = Event::new();
        s.add(1, fd_source(&r), Signals::READABLE).unwrap();
        s.add(2, Source::from(&ev), Signals::USER_2).unwrap();
        write(&w, b"x");
        ev.signal(Signals::empty(), Signals::USER_2).unwrap();
        for _ in 0..3 {
            assert_eq!(cookies(&wait_some(&s, 4)), vec![1, 2]);
        }
        drain(&r);
        ev.signal(Signals::USER_2, Signals::empty()).unwrap();
        assert!(poll_now(&s, 4).is_empty());
    });
}

#[test]
fn at_most_one_result_per_entry_per_wait() {
    each_backend(|k| {
        let s = set(k);
        let (a, b) = socketpair();
        let ev = Event::new();
        s.add(1, fd_source(&a), Signals::READABLE | Signals::WRITABLE)
            .unwrap();
        s.add(2, Source::from(&ev), Signals::USER_ALL).unwrap();
        write(&b, b"x");
        for i in 0..8 {
            ev.signal(Signals::empty(), Signals::user(i)).unwrap();
        }
        let out = wait_some(&s, 16);
        assert_eq!(cookies(&out), vec![1, 2]);
        let fd = out.iter().find(|r| r.cookie == 1).unwrap();
        assert_eq!(fd.observed, Signals::READABLE | Signals::WRITABLE);
        assert_eq!(
            out.iter().find(|r| r.cookie == 2).unwrap().observed,
            Signals::USER_ALL
        );
    });
}

#[test]
fn edge_triggered_reports_once_per_change() {
    each_backend(|k| {
        let s = set(k);
        let ev = Event::new();
        s.add_with(1, Source::from(&ev), Signals::USER_0, Trigger::Edge)
            .unwrap();
        ev.signal(Signals::empty(), Signals::USER_0).unwrap();
        assert_eq!(cookies(&wait_some(&s, 4)), vec![1]);
        assert!(
            poll_now(&s, 4).is_empty(),
            "still asserted, but no new edge"
        );
        ev.signal(Signals::USER_0, Signals::empty()).unwrap();
        ev.signal(Signals::empty(), Signals::USER_0).unwrap();
        assert_eq!(cookies(&wait_some(&s, 4)), vec![1]);
        if k.capabilities().edge {
            let (r, w) = pipe();
            s.add_with(2, fd_source(&r), Signals::READABLE, Trigger::Edge)
                .unwrap();
            write(&w, b"a");
            assert_eq!(cookies(&wait_some(&s, 4)), vec![2]);
            assert!(poll_now(&s, 4).is_empty(), "data unread, but no new edge");
            write(&w, b"b");
            assert_eq!(cookies(&wait_some(&s, 4)), vec![2]);
        }
    });
}

#[test]
fn oneshot_reports_once_until_modified() {
    each_backend(|k| {
        let s = set(k);
        let (r, w) = pipe();
        s.add_with(1, fd_source(&r), Signals::READABLE, Trigger::Oneshot)
            .unwrap();
        write(&w, b"x");
        assert_eq!(cookies(&wait_some(&s, 4)), vec![1]);
        assert!(poll_now(&s, 4).is_empty());
        s.modify(1, Signals::READABLE).unwrap();
        assert_eq!(cookies(&wait_some(&s, 4)), vec![1]);
        assert!(poll_now(&s, 4).is_empty());
    });
}

#[test]
fn eof_reports_readable_with_peer_closed() {
    each_backend(|k| {
        let s = set(k);
        let (r, w) = pipe();
        s.add(1, fd_source(&r), Signals::READABLE).unwrap();
        drop(w);
        let out = wait_some(&s, 4);
        assert_eq!(out[0].status, Status::Satisfied);
        assert!(
            out[0]
                .observed
                .contains(Signals::READABLE | Signals::PEER_CLOSED),
            "{:?}",
            out[0]
        );
    });
}

#[test]
fn readiness_from_another_thread_wakes_the_waiter() {
    each_backend(|k| {
        let s = set(k);
        let (a, b) = socketpair();
        s.add(1, fd_source(&a), Signals::READABLE).unwrap();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            write(&b, b"hello");
            b
        });
        assert_eq!(cookies(&wait_some(&s, 4)), vec![1]);
        t.join().unwrap();
    });
}

#[test]
fn adding_to_a_set_wakes_a_blocked_waiter() {
    each_backend(|k| {
        let s = set(k);
        let s2 = s.clone();
        let t = std::thread::spawn(move || wait_some(&s2, 4));
        std::thread::sleep(Duration::from_millis(50));
        let (r, w) = pipe();
        write(&w, b"x");
        s.add(1, fd_source(&r), Signals::READABLE).unwrap();
        assert_eq!(cookies(&t.join().unwrap()), vec![1]);
    });
}
