//! End of file and hang-up (design.md §2): normalized, `HUP` never comes with `OUT`, and `IN`
//! comes with `HUP` when `IN` was asked; [`EofMode::Raw`] passes the kernel's bits through.
//! The measured table for every object is in docs/SEMANTICS.md (examples/eof_table.rs).

mod posix_util;
mod util;

use std::os::fd::OwnedFd;

use posix_util::*;
use waitset::{BackendKind, EofMode, PollFlags, PollOptions};

const WRITE_BITS: PollFlags = PollFlags::OUT
    .union(PollFlags::WRNORM)
    .union(PollFlags::WRBAND);

/// Every object and state in which the kernel may say HUP, with a name for messages.
fn hung_up_objects() -> Vec<(&'static str, OwnedFd, Vec<OwnedFd>)> {
    let mut v = Vec::new();
    let (r, w) = util::pipe();
    drop(w);
    v.push(("pipe, writer closed", r, vec![]));
    let (r, w) = util::pipe();
    util::write(&w, b"data");
    drop(w);
    v.push(("pipe, writer closed, data pending", r, vec![]));
    let (r, w) = fifo();
    drop(w);
    v.push(("FIFO, writer closed", r, vec![]));
    let (a, b) = util::socketpair();
    drop(b);
    v.push(("socketpair, peer closed", a, vec![]));
    let (a, b) = util::socketpair();
    util::write(&b, b"data");
    drop(b);
    v.push(("socketpair, peer closed, data pending", a, vec![]));
    let (c, s) = tcp_pair();
    drop(s);
    settle(&c, PollFlags::IN, PollFlags::IN);
    let _ = rustix::net::send(&c, b"x", rustix::net::SendFlags::NOSIGNAL);
    settle(&c, PollFlags::IN, PollFlags::HUP);
    v.push(("TCP, reset", c, vec![]));
    let (m, s) = pty();
    drop(s);
    v.push(("pty master, slave closed", m, vec![]));
    let (m, s) = pty();
    drop(m);
    v.push(("pty slave, master closed", s, vec![]));
    v
}

fn normalized(k: BackendKind) -> PollOptions {
    PollOptions::new().backend(k)
}

fn raw(k: BackendKind) -> PollOptions {
    PollOptions::new().backend(k).eof(EofMode::Raw)
}

#[test]
fn hup_never_with_out() {
    util::each_backend(|k| {
        // The rule's own case: a socketpair whose peer closed, with IN|OUT asked. The kernel
        // says the socket is still writable (it is not: a write fails with EPIPE).
        let (a, b) = util::socketpair();
        drop(b);
        let asked = PollFlags::IN | PollFlags::OUT;
        if cfg!(target_os = "linux") {
            assert!(
                raw(k)
                    .poll_one(&a, asked)
                    .contains(PollFlags::OUT | PollFlags::HUP),
                "the kernel reports OUT with HUP here, which is what normalization is for"
            );
        }
        let got = normalized(k).poll_one(&a, asked);
        assert!(got.contains(PollFlags::HUP), "{got:?}");
        assert!(!got.intersects(WRITE_BITS), "{got:?}");
        assert!(got.contains(PollFlags::IN), "{got:?}");

        // Every hung-up object, whatever write bits were asked for.
        for (name, fd, _keep) in hung_up_objects() {
            for asked in [
                PollFlags::IN | PollFlags::OUT,
                PollFlags::OUT,
                PollFlags::OUT | PollFlags::WRNORM | PollFlags::WRBAND,
                PollFlags::IN | PollFlags::OUT | PollFlags::WRNORM | PollFlags::WRBAND,
            ] {
                let got = normalized(k).poll_one(&fd, asked);
                assert!(got.contains(PollFlags::HUP), "{name}, {asked:?}: {got:?}");
                assert!(!got.intersects(WRITE_BITS), "{name}, {asked:?}: {got:?}");
            }
        }
    });
}

#[test]
fn in_with_hup_when_in_requested() {
    util::each_backend(|k| {
        // A pipe whose writer closed, nothing buffered: the kernel says HUP alone (Linux), yet a
        // read will not block (it returns 0), so IN is reported too.
        let (r, w) = util::pipe();
        drop(w);
        if cfg!(target_os = "linux") {
            assert_eq!(raw(k).poll_one(&r, PollFlags::IN), PollFlags::HUP);
        }
        assert_eq!(
            normalized(k).poll_one(&r, PollFlags::IN),
            PollFlags::IN | PollFlags::HUP
        );
        assert_eq!(
            normalized(k).poll_one(&r, PollFlags::IN | PollFlags::RDNORM),
            PollFlags::IN | PollFlags::RDNORM | PollFlags::HUP
        );
        assert_eq!(
            normalized(k).poll_one(&r, PollFlags::RDNORM),
            PollFlags::RDNORM | PollFlags::HUP
        );
        // And the promise holds: the read returns 0 at once.
        let mut buf = [0u8; 8];
        assert_eq!(rustix::io::read(&r, &mut buf).unwrap(), 0);

        // Not asked, not reported: IN is only added when it was requested.
        assert_eq!(normalized(k).poll_one(&r, PollFlags::PRI), PollFlags::HUP);
        assert_eq!(
            normalized(k).poll_one(&r, PollFlags::empty()),
            PollFlags::HUP
        );
        assert_eq!(normalized(k).poll_one(&r, PollFlags::OUT), PollFlags::HUP);

        // Every hung-up object.
        for (name, fd, _keep) in hung_up_objects() {
            let got = normalized(k).poll_one(&fd, PollFlags::IN);
            assert!(
                got.contains(PollFlags::IN | PollFlags::HUP),
                "{name}: {got:?}"
            );
            let got = normalized(k).poll_one(&fd, PollFlags::PRI);
            assert!(!got.contains(PollFlags::IN), "{name}: {got:?}");
        }
    });
}

#[test]
fn raw_mode_passes_kernel_bits() {
    util::each_backend(|k| {
        // Raw mode is exactly what the kernel's own poll(2) says, for every hung-up object and
        // every question.
        for (name, fd, _keep) in hung_up_objects() {
            for asked in [
                PollFlags::IN | PollFlags::OUT,
                PollFlags::IN,
                PollFlags::OUT,
                PollFlags::empty(),
            ] {
                assert_eq!(
                    raw(k).poll_one(&fd, asked),
                    kernel_poll(&fd, asked),
                    "{name}, {asked:?}"
                );
            }
        }
        // What the kernel says, recorded (Linux; the full table is in docs/SEMANTICS.md).
        if cfg!(target_os = "linux") {
            let io = PollFlags::IN | PollFlags::OUT;
            let (r, w) = util::pipe();
            drop(w);
            assert_eq!(raw(k).poll_one(&r, io), PollFlags::HUP);
            let (r, w) = util::pipe();
            drop(r);
            assert_eq!(raw(k).poll_one(&w, io), PollFlags::OUT | PollFlags::ERR);
            let (a, b) = util::socketpair();
            drop(b);
            assert_eq!(raw(k).poll_one(&a, io), io | PollFlags::HUP);
            let (m, s) = pty();
            drop(s);
            assert_eq!(raw(k).poll_one(&m, io), PollFlags::OUT | PollFlags::HUP);
            let (m, s) = pty();
            drop(m);
            assert_eq!(
                raw(k).poll_one(&s, io),
                io | PollFlags::ERR | PollFlags::HUP
            );
            // TCP: a FIN alone is not a hang-up (the socket can still send); only a reset is.
            let (c, s) = tcp_pair();
            drop(s);
            settle(&c, PollFlags::IN, PollFlags::IN);
            assert_eq!(raw(k).poll_one(&c, io), io);
            assert_eq!(normalized(k).poll_one(&c, io), io);
        }
        // Objects that never hang up are the same in both modes.
        for fd in [regular_file(b"data"), dev_null()] {
            let io = PollFlags::IN | PollFlags::OUT;
            assert_eq!(raw(k).poll_one(&fd, io), io);
            assert_eq!(normalized(k).poll_one(&fd, io), io);
        }
    });
}

/// `poll` on one fd without blocking, returning its revents.
trait PollOne {
    fn poll_one(self, fd: &impl std::os::fd::AsFd, events: PollFlags) -> PollFlags;
}

impl PollOne for PollOptions {
    fn poll_one(self, fd: &impl std::os::fd::AsFd, events: PollFlags) -> PollFlags {
        revents_now(self, fd, events)
    }
}
