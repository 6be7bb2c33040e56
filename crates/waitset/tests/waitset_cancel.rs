//! Handle close through waitset: Canceled once to every set that watches it, blocked waiters
//! woken, entry removed.

mod util;

use std::time::Duration;

use util::*;
use waitset::{Error, Handle, Signals, Source, Status};

#[test]
fn closing_a_handle_reports_canceled_once_to_every_set_then_removes_the_entry() {
    each_backend(|k| {
        let (a, b) = (set(k), set(k));
        let (r, _w) = pipe();
        let h = Handle::new(r);
        a.add(10, Source::from(&h), Signals::READABLE).unwrap();
        b.add(20, Source::from(&h), Signals::READABLE).unwrap();
        h.close().unwrap();
        for (s, c) in [(&a, 10), (&b, 20)] {
            let out = wait_some(s, 4);
            assert_eq!(out.len(), 1);
            assert_eq!((out[0].cookie, out[0].status), (c, Status::Canceled));
            assert!(poll_now(s, 4).is_empty(), "reported once");
            assert!(
                matches!(s.remove(c), Err(Error::NotFound(_))),
                "entry removed"
            );
            assert!(s.is_empty());
        }
    });
}

#[test]
fn closing_a_handle_wakes_blocked_waiters() {
    each_backend(|k| {
        let s = set(k);
        let (r, _w) = pipe();
        let h = Handle::new(r);
        s.add(1, Source::from(&h), Signals::READABLE).unwrap();
        let s2 = s.clone();
        let t = std::thread::spawn(move || wait_some(&s2, 4));
        std::thread::sleep(Duration::from_millis(50));
        drop(h); // dropping closes
        let out = t.join().unwrap();
        assert_eq!((out[0].cookie, out[0].status), (1, Status::Canceled));
    });
}

#[test]
fn a_reused_fd_number_is_not_confused_with_a_closed_handle() {
    each_backend(|k| {
        let s = set(k);
        let (r, w) = pipe();
        let h = Handle::new(r);
        s.add(1, Source::from(&h), Signals::READABLE).unwrap();
        h.close().unwrap();
        // The next pipe will likely reuse the number; readiness on it must not be reported as
        // the old entry's.
        let (r2, w2) = pipe();
        s.add(2, fd_source(&r2), Signals::READABLE).unwrap();
        write(&w2, b"x");
        let mut all = Vec::new();
        for _ in 0..2 {
            all.extend(wait_some(&s, 4));
        }
        assert!(all
            .iter()
            .any(|r| r.cookie == 1 && r.status == Status::Canceled));
        assert!(all
            .iter()
            .all(|r| r.cookie != 1 || r.status == Status::Canceled));
        assert!(all
            .iter()
            .any(|r| r.cookie == 2 && r.status == Status::Satisfied));
        drop(w);
    });
}

#[test]
fn handle_fd_borrow_reads_and_writes() {
    let (r, w) = pipe();
    let (hr, hw) = (Handle::new(r), Handle::new(w));
    rustix::io::write(hw.fd().unwrap(), b"abc").unwrap();
    let mut buf = [0u8; 3];
    rustix::io::read(hr.fd().unwrap(), &mut buf).unwrap();
    assert_eq!(&buf, b"abc");
    hr.close().unwrap();
    assert!(hr.fd().is_none());
    assert!(hr.is_closed());
}
