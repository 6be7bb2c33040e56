//! WaitSet entry management: add, modify, remove and their typed errors. Bad input leaves the
//! set exactly as it was.

mod util;

use util::*;
use waitset::{Error, Event, Handle, Signals, Source, Timer, Trigger, WaitSet};

#[test]
fn waitset_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<WaitSet>();
    assert_send_sync::<Event>();
    assert_send_sync::<Timer>();
    assert_send_sync::<Handle>();
}

#[test]
fn duplicate_cookie_is_already_exists() {
    each_backend(|k| {
        let s = set(k);
        let (r, _w) = pipe();
        let (r2, w2) = pipe();
        s.add(1, fd_source(&r), Signals::READABLE).unwrap();
        assert!(matches!(
            s.add(1, fd_source(&r2), Signals::READABLE),
            Err(Error::AlreadyExists(1))
        ));
        // The failed add left nothing behind: r2 is not watched.
        write(&w2, b"x");
        assert!(poll_now(&s, 4).is_empty());
        assert_eq!(s.len(), 1);
    });
}

#[test]
fn unknown_cookie_is_not_found() {
    each_backend(|k| {
        let s = set(k);
        assert!(matches!(
            s.modify(9, Signals::READABLE),
            Err(Error::NotFound(9))
        ));
        assert!(matches!(s.remove(9), Err(Error::NotFound(9))));
    });
}

#[test]
fn closed_fd_is_bad_handle() {
    each_backend(|k| {
        let s = set(k);
        // A number that is never open (above any fd limit of this machine): a number closed by
        // this test could be reused at once by a test running beside it.
        let raw = 1_000_000;
        // SAFETY: deliberately names a descriptor number that is not open; the engine must
        // reject it.
        let bad = unsafe { std::os::fd::BorrowedFd::borrow_raw(raw) };
        assert!(matches!(
            s.add(1, fd_source(&bad), Signals::READABLE),
            Err(Error::BadHandle)
        ));
        assert!(s.is_empty());
    });
}

#[test]
fn closed_handle_is_bad_handle() {
    each_backend(|k| {
        let s = set(k);
        let (r, _w) = pipe();
        let h = Handle::new(r);
        h.close().unwrap();
        assert!(matches!(
            s.add(1, Source::from(&h), Signals::READABLE),
            Err(Error::BadHandle)
        ));
        assert!(matches!(h.close(), Err(Error::BadHandle)));
        assert!(s.is_empty());
    });
}

#[test]
fn readable_on_write_only_fd_is_access_denied() {
    each_backend(|k| {
        let s = set(k);
        let (r, w) = pipe();
        assert!(
            matches!(s.add(1, fd_source(&w), Signals::READABLE), Err(Error::AccessDenied(d)) if d == Signals::READABLE)
        );
        assert!(
            matches!(s.add(2, fd_source(&r), Signals::WRITABLE), Err(Error::AccessDenied(d)) if d == Signals::WRITABLE)
        );
        assert!(s.is_empty());
        // And modify cannot sneak it in either.
        s.add(3, fd_source(&w), Signals::WRITABLE).unwrap();
        assert!(matches!(
            s.modify(3, Signals::READABLE | Signals::WRITABLE),
            Err(Error::AccessDenied(_))
        ));
        let out = wait_some(&s, 4);
        assert_eq!(out[0].observed, Signals::WRITABLE);
    });
}

#[test]
fn readable_on_write_only_handle_is_access_denied_on_every_add() {
    // A Handle learns its access mode once (the first add) and keeps it: the rule must hold
    // on the first add, on later adds to the same set and on adds to another set.
    each_backend(|k| {
        let (s1, s2) = (set(k), set(k));
        let (r, w) = pipe();
        let (hr, hw) = (Handle::new(r), Handle::new(w));
        for s in [&s1, &s2, &s1] {
            assert!(
                matches!(s.add(1, Source::from(&hw), Signals::READABLE), Err(Error::AccessDenied(d)) if d == Signals::READABLE)
            );
            assert!(
                matches!(s.add(2, Source::from(&hr), Signals::WRITABLE), Err(Error::AccessDenied(d)) if d == Signals::WRITABLE)
            );
            s.add(3, Source::from(&hw), Signals::WRITABLE).unwrap();
            assert!(matches!(
                s.modify(3, Signals::READABLE | Signals::WRITABLE),
                Err(Error::AccessDenied(_))
            ));
            assert_eq!(wait_some(s, 4)[0].observed, Signals::WRITABLE);
            s.remove(3).unwrap();
        }
    });
}

#[test]
fn signals_a_source_can_never_have_are_access_denied() {
    each_backend(|k| {
        let s = set(k);
        let (r, _w) = pipe();
        let ev = Event::new();
        let t = Timer::new();
        assert!(matches!(
            s.add(1, fd_source(&r), Signals::TIMER),
            Err(Error::AccessDenied(_))
        ));
        assert!(matches!(
            s.add(2, Source::from(&ev), Signals::READABLE),
            Err(Error::AccessDenied(_))
        ));
        assert!(matches!(
            s.add(3, Source::from(&t), Signals::USER_0),
            Err(Error::AccessDenied(_))
        ));
        assert!(s.is_empty());
    });
}

#[test]
fn edge_on_a_backend_without_edge_is_not_supported() {
    each_backend(|k| {
        let s = set(k);
        let (r, _w) = pipe();
        let res = s.add_with(1, fd_source(&r), Signals::READABLE, Trigger::Edge);
        if k.capabilities().edge {
            res.unwrap();
        } else {
            assert!(matches!(res, Err(Error::NotSupported(_))));
            assert!(s.is_empty());
        }
    });
}

#[test]
fn remove_stops_reports_and_frees_the_cookie() {
    each_backend(|k| {
        let s = set(k);
        let (r, w) = pipe();
        s.add(5, fd_source(&r), Signals::READABLE).unwrap();
        write(&w, b"x");
        assert_eq!(cookies(&wait_some(&s, 4)), vec![5]);
        s.remove(5).unwrap();
        assert!(poll_now(&s, 4).is_empty());
        s.add(5, fd_source(&r), Signals::READABLE).unwrap();
        assert_eq!(cookies(&wait_some(&s, 4)), vec![5]);
    });
}

#[test]
fn several_entries_may_watch_one_fd() {
    each_backend(|k| {
        let s = set(k);
        let (a, b) = socketpair();
        s.add(1, fd_source(&a), Signals::READABLE).unwrap();
        s.add(2, fd_source(&a), Signals::WRITABLE).unwrap();
        assert_eq!(cookies(&wait_some(&s, 4)), vec![2]);
        write(&b, b"ping");
        assert_eq!(cookies(&wait_some(&s, 4)), vec![1, 2]);
        s.remove(2).unwrap();
        assert_eq!(cookies(&wait_some(&s, 4)), vec![1]);
        drain(&a);
        assert!(poll_now(&s, 4).is_empty());
    });
}

#[test]
fn modify_changes_the_watched_signals() {
    each_backend(|k| {
        let s = set(k);
        let (a, _b) = socketpair();
        s.add(1, fd_source(&a), Signals::READABLE).unwrap();
        assert!(poll_now(&s, 4).is_empty());
        s.modify(1, Signals::WRITABLE).unwrap();
        let out = wait_some(&s, 4);
        assert_eq!((out[0].cookie, out[0].observed), (1, Signals::WRITABLE));
        s.modify(1, Signals::empty()).unwrap();
        assert!(
            poll_now(&s, 4).is_empty(),
            "an entry with no signals is disabled"
        );
    });
}

#[test]
fn empty_results_buffer_is_invalid_argument() {
    each_backend(|k| {
        let s = set(k);
        assert!(matches!(
            s.wait(waitset::Deadline::now(), &mut []),
            Err(Error::InvalidArgument(_))
        ));
    });
}

#[test]
fn operations_on_a_closed_set_are_canceled() {
    each_backend(|k| {
        let s = set(k);
        let (r, _w) = pipe();
        s.close();
        assert!(matches!(
            s.add(1, fd_source(&r), Signals::READABLE),
            Err(Error::Canceled)
        ));
        assert!(matches!(
            s.wait(waitset::Deadline::now(), &mut [Default::default()]),
            Err(Error::Canceled)
        ));
    });
}

#[test]
fn an_fd_closed_without_remove_neither_spins_nor_hides_a_reused_number() {
    each_backend(|k| {
        let s = set(k);
        let (r, w) = pipe();
        s.add(1, fd_source(&r), Signals::READABLE).unwrap();
        drop(r); // misuse: closed while still in the set
        drop(w);
        let cpu = || {
            let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
            std::time::Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
        };
        let (t0, c0) = (std::time::Instant::now(), cpu());
        let mut reports = 0;
        while t0.elapsed() < std::time::Duration::from_millis(100) {
            let mut out = [waitset::WaitResult::default(); 4];
            if let Ok(n) = s.wait(
                waitset::Deadline::after(std::time::Duration::from_millis(20)),
                &mut out,
            ) {
                reports += n;
                assert!(
                    out[..n]
                        .iter()
                        .all(|r| r.status == waitset::Status::Unsatisfiable),
                    "{:?}",
                    &out[..n]
                );
            }
        }
        assert!(
            reports <= 1,
            "a closed fd is reported at most once, got {reports}"
        );
        assert!(cpu() - c0 < t0.elapsed() / 2, "the waiter spun");
        // The number is reused by a new pipe, added under a new cookie: it must work.
        let (r2, w2) = pipe();
        s.add(2, fd_source(&r2), Signals::READABLE).unwrap();
        write(&w2, b"x");
        let out = wait_some(&s, 4);
        assert!(
            out.iter()
                .any(|r| r.cookie == 2 && r.status == waitset::Status::Satisfied),
            "{out:?}"
        );
    });
}
