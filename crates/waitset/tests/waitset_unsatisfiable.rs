//! Status::Unsatisfiable: the watched signals can never become true again.

mod util;

use util::*;
use waitset::{Event, Signals, Source, Status};

#[test]
fn writable_after_peer_hung_up_is_unsatisfiable() {
    each_backend(|k| {
        let s = set(k);
        let (a, b) = socketpair();
        s.add(1, fd_source(&a), Signals::WRITABLE).unwrap();
        drop(b);
        // Right after the peer closes, the socket may still look writable once; wait for HUP.
        let mut last = None;
        for _ in 0..10 {
            let out = wait_some(&s, 4);
            last = Some(out[0]);
            if out[0].status == Status::Unsatisfiable {
                break;
            }
        }
        let r = last.unwrap();
        assert_eq!(r.status, Status::Unsatisfiable, "{r:?}");
        assert!(
            !r.observed.contains(Signals::WRITABLE),
            "WRITABLE is never reported with a hang-up"
        );
        assert!(r.observed.contains(Signals::PEER_CLOSED));
    });
}

#[test]
fn writable_on_pipe_whose_reader_is_gone_is_unsatisfiable() {
    each_backend(|k| {
        let s = set(k);
        let (r, w) = pipe();
        s.add(1, fd_source(&w), Signals::WRITABLE).unwrap();
        drop(r);
        let out = wait_some(&s, 4);
        assert_eq!(out[0].status, Status::Unsatisfiable, "{:?}", out[0]);
        assert!(out[0].observed.contains(Signals::ERROR));
    });
}

#[test]
fn readable_at_eof_is_satisfied_not_unsatisfiable() {
    each_backend(|k| {
        let s = set(k);
        let (a, b) = socketpair();
        s.add(1, fd_source(&a), Signals::READABLE | Signals::WRITABLE)
            .unwrap();
        drop(b);
        let out = wait_some(&s, 4);
        assert_eq!(out[0].status, Status::Satisfied);
        assert!(out[0]
            .observed
            .contains(Signals::READABLE | Signals::PEER_CLOSED));
        assert!(!out[0].observed.contains(Signals::WRITABLE));
    });
}

#[test]
fn event_signals_after_last_handle_dropped_are_unsatisfiable() {
    each_backend(|k| {
        let s = set(k);
        let ev = Event::new();
        s.add(1, Source::from(&ev), Signals::USER_3).unwrap();
        s.add(2, Source::from(&ev), Signals::USER_4).unwrap();
        ev.signal(Signals::empty(), Signals::USER_4).unwrap();
        drop(ev);
        let mut out = wait_some(&s, 4);
        out.sort_by_key(|r| r.cookie);
        assert_eq!((out[0].cookie, out[0].status), (1, Status::Unsatisfiable));
        assert_eq!(
            (out[1].cookie, out[1].status),
            (2, Status::Satisfied),
            "an asserted signal stays satisfied"
        );
        // Reported once, not on every wait.
        assert_eq!(cookies(&poll_now(&s, 4)), vec![2]);
    });
}
