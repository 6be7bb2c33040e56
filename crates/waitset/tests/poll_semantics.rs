//! The POSIX face, rule by rule (the OpenBSD poll(2) manual plus design.md §2), on every backend,
//! with real pipes, FIFOs, socketpairs, TCP, a pty, eventfd, regular files and /dev/null.

mod posix_util;
mod util;

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use posix_util::*;
use waitset::{Error, PollFd, PollFlags, PollOptions, INFTIM};

/// Every bit a caller can ask for.
const ALL_EVENTS: PollFlags = PollFlags::IN
    .union(PollFlags::RDNORM)
    .union(PollFlags::RDBAND)
    .union(PollFlags::PRI)
    .union(PollFlags::OUT)
    .union(PollFlags::WRNORM)
    .union(PollFlags::WRBAND);

/// Bits that are reported whether asked for or not.
const ALWAYS_REPORTED: PollFlags = PollFlags::ERR.union(PollFlags::HUP).union(PollFlags::NVAL);

/// Revents garbage to pre-fill entries with.
const GARBAGE: PollFlags = PollFlags::from_bits_retain(-1);

fn opts(k: waitset::BackendKind) -> PollOptions {
    PollOptions::new().backend(k)
}

// ---------------------------------------------------------------------------------------------
// Entries and return value

#[test]
fn fd_negative_is_ignored_and_revents_cleared() {
    util::each_backend(|k| {
        let (r, w) = util::pipe();
        util::write(&w, b"x");
        let mut fds = [
            PollFd::from_raw(-1, PollFlags::IN | PollFlags::OUT),
            PollFd::new(&r, PollFlags::IN),
            PollFd::from_raw(-5, PollFlags::IN),
            PollFd::from_raw(i32::MIN, ALL_EVENTS),
        ];
        for p in fds.iter_mut() {
            p.set_revents(GARBAGE);
        }
        assert_eq!(opts(k).poll(&mut fds, 1000).unwrap(), 1);
        assert!(fds[1].revents().contains(PollFlags::IN));
        for i in [0, 2, 3] {
            assert_eq!(fds[i].revents(), PollFlags::empty(), "entry {i}");
            assert!(fds[i].fd() < 0, "the fd itself is left alone");
        }

        // Only negative entries: nothing to report, not NVAL, so the call times out.
        let mut only = [PollFd::from_raw(-1, PollFlags::IN); 3];
        only[1].set_revents(GARBAGE);
        let start = Instant::now();
        assert_eq!(opts(k).poll(&mut only, 50).unwrap(), 0);
        assert!(start.elapsed() >= Duration::from_millis(50));
        assert!(only.iter().all(|p| p.revents().is_empty()));
    });
}

#[test]
fn closed_fd_reports_nval_and_counts() {
    util::each_backend(|k| {
        let closed = closed_fd();
        let (r, w) = util::pipe();
        util::write(&w, b"x");
        let idle = util::pipe();
        let mut fds = [
            PollFd::from_raw(closed, PollFlags::IN),
            PollFd::new(&r, PollFlags::IN),
            PollFd::new(&idle.0, PollFlags::IN),
        ];
        assert_eq!(opts(k).poll(&mut fds, 0).unwrap(), 2);
        assert_eq!(fds[0].revents(), PollFlags::NVAL);
        assert!(fds[1].revents().contains(PollFlags::IN));
        assert_eq!(fds[2].revents(), PollFlags::empty());

        // Alone, and whatever was asked for (even nothing), it is NVAL and it counts.
        for events in [PollFlags::empty(), PollFlags::OUT, ALL_EVENTS] {
            let mut one = [PollFd::from_raw(closed, events)];
            assert_eq!(opts(k).poll(&mut one, 0).unwrap(), 1);
            assert_eq!(one[0].revents(), PollFlags::NVAL);
        }
    });
}

#[test]
fn nval_returns_at_once_even_with_infinite_timeout() {
    util::each_backend(|k| {
        let closed = closed_fd();
        let (r, w) = util::pipe();
        // If the call wrongly blocks, this unblocks it after 10 s so the test fails instead of
        // hanging.
        let rescue = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(10));
            let _ = rustix::io::write(&w, b"x");
        });
        let mut fds = [
            PollFd::new(&r, PollFlags::IN),
            PollFd::from_raw(closed, PollFlags::IN),
        ];
        let start = Instant::now();
        assert_eq!(opts(k).poll(&mut fds, INFTIM).unwrap(), 1);
        let took = start.elapsed();
        assert!(took < Duration::from_secs(5), "blocked for {took:?}");
        assert_eq!(fds[0].revents(), PollFlags::empty());
        assert_eq!(fds[1].revents(), PollFlags::NVAL);

        // ppoll with no timeout too.
        let start = Instant::now();
        assert_eq!(opts(k).ppoll(&mut fds, None, None).unwrap(), 1);
        assert!(start.elapsed() < Duration::from_secs(5));
        drop(r);
        drop(rescue); // detached: it only writes to a pipe whose reader is gone
    });
}

#[test]
fn revents_reset_on_every_call() {
    util::each_backend(|k| {
        let (r, w) = util::pipe();
        let (a, _b) = util::socketpair();
        let mut fds = [
            PollFd::new(&r, PollFlags::IN),
            PollFd::new(&a, PollFlags::IN),
            PollFd::from_raw(-1, PollFlags::IN),
        ];
        for p in fds.iter_mut() {
            p.set_revents(GARBAGE);
        }
        assert_eq!(opts(k).poll(&mut fds, 0).unwrap(), 0);
        assert!(fds.iter().all(|p| p.revents().is_empty()), "{fds:?}");

        util::write(&w, b"x");
        assert_eq!(opts(k).poll(&mut fds, 1000).unwrap(), 1);
        assert!(fds[0].revents().contains(PollFlags::IN));

        // The state went away: the previous call's bits must not survive into this one.
        util::drain(&r);
        assert_eq!(opts(k).poll(&mut fds, 0).unwrap(), 0);
        assert!(fds.iter().all(|p| p.revents().is_empty()), "{fds:?}");

        // Garbage with a ready entry: only real bits remain.
        util::write(&w, b"x");
        for p in fds.iter_mut() {
            p.set_revents(GARBAGE);
        }
        assert_eq!(opts(k).poll(&mut fds, 0).unwrap(), 1);
        assert_eq!(fds[0].revents(), PollFlags::IN);
        assert_eq!(fds[1].revents(), PollFlags::empty());
        assert_eq!(fds[2].revents(), PollFlags::empty());
    });
}

#[test]
fn returns_count_of_entries_with_nonzero_revents() {
    util::each_backend(|k| {
        let (r1, w1) = util::pipe();
        let (r2, _w2) = util::pipe();
        let (a, _b) = util::socketpair();
        let closed = closed_fd();
        util::write(&w1, b"x");
        let mut fds = [
            PollFd::new(&r1, PollFlags::IN),                 // ready
            PollFd::new(&r2, PollFlags::IN),                 // idle
            PollFd::new(&a, PollFlags::IN | PollFlags::OUT), // writable: one entry, two bits
            PollFd::from_raw(-1, PollFlags::IN),             // ignored
            PollFd::from_raw(closed, PollFlags::IN),         // NVAL
            PollFd::new(&w1, PollFlags::OUT),                // writable
        ];
        let n = opts(k).poll(&mut fds, 0).unwrap();
        let nonzero = fds.iter().filter(|p| !p.revents().is_empty()).count();
        assert_eq!(n, nonzero);
        assert_eq!(n, 4, "{fds:?}");
        assert_eq!(
            fds[2].revents(),
            PollFlags::OUT,
            "bits are not entries: one count for IN|OUT asked, OUT got"
        );
    });
}

// ---------------------------------------------------------------------------------------------
// Timeouts

#[test]
fn timeout_zero_returns_at_once() {
    util::each_backend(|k| {
        let (r, _w) = util::pipe();
        let mut fds = [PollFd::new(&r, PollFlags::IN)];
        let start = Instant::now();
        for _ in 0..100 {
            assert_eq!(opts(k).poll(&mut fds, 0).unwrap(), 0);
        }
        // 100 calls that never sleep: generous bound for a loaded machine.
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(
            opts(k).ppoll(&mut fds, Some(Duration::ZERO), None).unwrap(),
            0
        );
    });
}

#[test]
fn timeout_expires_returns_zero() {
    util::each_backend(|k| {
        let (r, _w) = util::pipe();
        let (a, _b) = util::socketpair();
        let mut fds = [
            PollFd::new(&r, PollFlags::IN),
            PollFd::new(&a, PollFlags::IN),
        ];
        for p in fds.iter_mut() {
            p.set_revents(GARBAGE);
        }
        let start = Instant::now();
        assert_eq!(opts(k).poll(&mut fds, 100).unwrap(), 0);
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(100), "woke early: {took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        assert!(fds.iter().all(|p| p.revents().is_empty()));

        let start = Instant::now();
        assert_eq!(
            opts(k)
                .ppoll(&mut fds, Some(Duration::from_micros(30_500)), None)
                .unwrap(),
            0
        );
        assert!(start.elapsed() >= Duration::from_micros(30_500));
    });
}

#[test]
fn inftim_blocks_until_ready() {
    util::each_backend(|k| {
        let (r, w) = util::pipe();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            util::write(&w, b"x");
            w
        });
        let mut fds = [PollFd::new(&r, PollFlags::IN)];
        let start = Instant::now();
        assert_eq!(opts(k).poll(&mut fds, INFTIM).unwrap(), 1);
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(200),
            "returned early: {took:?}"
        );
        assert_eq!(fds[0].revents(), PollFlags::IN);
        drop(writer.join().unwrap());
    });
}

#[test]
fn negative_timeout_other_than_inftim_is_einval() {
    util::each_backend(|k| {
        let (r, w) = util::pipe();
        util::write(&w, b"x");
        let closed = closed_fd();
        let mut fds = [
            PollFd::new(&r, PollFlags::IN),
            PollFd::from_raw(closed, PollFlags::IN),
            PollFd::from_raw(-1, PollFlags::OUT),
        ];
        fds[0].set_revents(PollFlags::PRI | PollFlags::WRBAND);
        fds[1].set_revents(GARBAGE);
        let before = fds;
        for t in [-2, -3, -1000, i32::MIN] {
            let e = opts(k).poll(&mut fds, t).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{t}: {e:?}");
            assert_eq!(e.errno(), libc::EINVAL);
            assert_eq!(fds, before, "timeout {t} touched the array");
        }
        // INFTIM itself is not an error (the ready entry returns at once).
        assert_eq!(opts(k).poll(&mut fds, INFTIM).unwrap(), 2);

        // An empty slice is no exception. Asked on another thread: if the timeout is not
        // rejected, the call sleeps forever, and the test must fail, not hang.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut none: [PollFd; 0] = [];
            let _ = tx.send(opts(k).poll(&mut none, -2).map_err(|e| e.errno()));
        });
        let got = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("poll(&mut [], -2) blocked instead of failing with EINVAL");
        assert_eq!(got, Err(libc::EINVAL));
    });
}

/// Env var that turns `nfds_above_rlimit_nofile_is_einval` into its child half.
const RLIMIT_CHILD: &str = "WAITSET_TEST_RLIMIT_CHILD";

#[test]
fn nfds_above_rlimit_nofile_is_einval() {
    if std::env::var_os(RLIMIT_CHILD).is_some() {
        return rlimit_child();
    }
    // The current limit, in this process, with an array of fd -1 entries one longer than it.
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    if let Some(soft) = soft.filter(|&s| s <= 1 << 20) {
        util::each_backend(|k| {
            // A ready entry first, so a call that is not rejected returns at once (and fails
            // the test) instead of blocking.
            let (r, w) = util::pipe();
            util::write(&w, b"x");
            let mut fds = vec![PollFd::from_raw(-1, PollFlags::IN); soft as usize + 1];
            fds[0] = PollFd::new(&r, PollFlags::IN);
            fds[1].set_revents(GARBAGE);
            let before = fds.clone();
            let e = opts(k).poll(&mut fds, INFTIM).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
            assert_eq!(fds, before, "caller memory changed");
            fds.pop();
            assert_eq!(
                opts(k).poll(&mut fds, 0).unwrap(),
                1,
                "exactly the limit is fine"
            );
        });
    }
    // A small limit, set in a child process (this test binary re-executed for this test only)
    // so no other test sees it.
    let exe = std::env::current_exe().expect("current_exe");
    let out = std::process::Command::new(exe)
        .args([
            "nfds_above_rlimit_nofile_is_einval",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(RLIMIT_CHILD, "1")
        .output()
        .expect("run child");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{text}");
    assert!(
        text.contains("1 passed"),
        "child did not run the test:\n{text}"
    );
}

fn rlimit_child() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let old = getrlimit(Resource::Nofile);
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(64),
            maximum: old.maximum,
        },
    )
    .expect("setrlimit");
    util::each_backend(|k| {
        let (r, w) = util::pipe();
        util::write(&w, b"x");
        let mut fds = vec![PollFd::from_raw(-1, PollFlags::IN); 65];
        fds[0] = PollFd::new(&r, PollFlags::IN);
        fds[1].set_revents(GARBAGE);
        let before = fds.clone();
        let e = opts(k).poll(&mut fds, 0).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        assert_eq!(e.errno(), libc::EINVAL);
        assert_eq!(fds, before, "caller memory changed");
        let e = opts(k).ppoll(&mut fds, None, None).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        fds.truncate(64);
        assert_eq!(opts(k).poll(&mut fds, 0).unwrap(), 1);
    });
}

#[test]
fn empty_slice_is_a_plain_sleep() {
    util::each_backend(|k| {
        let mut none: [PollFd; 0] = [];
        let start = Instant::now();
        assert_eq!(opts(k).poll(&mut none, 100).unwrap(), 0);
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(100), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");

        let start = Instant::now();
        assert_eq!(
            opts(k)
                .ppoll(&mut none, Some(Duration::from_millis(50)), None)
                .unwrap(),
            0
        );
        assert!(start.elapsed() >= Duration::from_millis(50));
        assert_eq!(opts(k).poll(&mut none, 0).unwrap(), 0);
    });
}

// ---------------------------------------------------------------------------------------------
// What is reported

#[test]
fn only_requested_bits_plus_err_hup_nval_are_reported() {
    util::each_backend(|k| {
        // A socketpair with data both ways is readable and writable; each entry gets only what
        // it asked for.
        let (a, b) = util::socketpair();
        util::write(&b, b"x");
        for asked in [
            PollFlags::IN,
            PollFlags::OUT,
            PollFlags::RDNORM,
            PollFlags::WRNORM,
            PollFlags::PRI,
            PollFlags::empty(),
            ALL_EVENTS,
        ] {
            let got = revents_now(opts(k), &a, asked);
            assert!(
                (asked | ALWAYS_REPORTED).contains(got),
                "asked {asked:?}, got {got:?}"
            );
        }
        assert_eq!(revents_now(opts(k), &a, PollFlags::IN), PollFlags::IN);
        assert_eq!(revents_now(opts(k), &a, PollFlags::OUT), PollFlags::OUT);
        assert_eq!(revents_now(opts(k), &a, PollFlags::PRI), PollFlags::empty());

        // HUP and ERR come without being asked for.
        let (r, w) = util::pipe();
        drop(w);
        assert_eq!(revents_now(opts(k), &r, PollFlags::empty()), PollFlags::HUP);
        assert_eq!(revents_now(opts(k), &r, PollFlags::PRI), PollFlags::HUP);
        let (r, w) = util::pipe();
        drop(r);
        assert_eq!(revents_now(opts(k), &w, PollFlags::empty()), PollFlags::ERR);
        assert_eq!(revents_now(opts(k), &w, PollFlags::IN), PollFlags::ERR);

        // Always-ready objects, which epoll refuses, obey the same rule.
        for f in [regular_file(b"data"), dev_null()] {
            assert_eq!(revents_now(opts(k), &f, PollFlags::OUT), PollFlags::OUT);
            assert_eq!(revents_now(opts(k), &f, PollFlags::IN), PollFlags::IN);
            assert_eq!(
                revents_now(opts(k), &f, PollFlags::PRI | PollFlags::RDBAND),
                PollFlags::empty()
            );
        }
    });
}

#[test]
fn duplicate_fd_entries_each_get_revents() {
    util::each_backend(|k| {
        let (a, b) = util::socketpair();
        util::write(&b, b"x");
        let f = regular_file(b"data");
        let mut fds = [
            PollFd::new(&a, PollFlags::IN),
            PollFd::new(&a, PollFlags::OUT),
            PollFd::new(&a, PollFlags::IN | PollFlags::OUT),
            PollFd::new(&a, PollFlags::PRI),
            PollFd::new(&f, PollFlags::IN),
            PollFd::new(&f, PollFlags::OUT),
        ];
        assert_eq!(opts(k).poll(&mut fds, 0).unwrap(), 5);
        assert_eq!(fds[0].revents(), PollFlags::IN);
        assert_eq!(fds[1].revents(), PollFlags::OUT);
        assert_eq!(fds[2].revents(), PollFlags::IN | PollFlags::OUT);
        assert_eq!(fds[3].revents(), PollFlags::empty());
        assert_eq!(fds[4].revents(), PollFlags::IN);
        assert_eq!(fds[5].revents(), PollFlags::OUT);

        // Duplicates of a hung-up fd each get HUP; a duplicate also blocks properly.
        drop(b);
        let mut fds = [
            PollFd::new(&a, PollFlags::IN),
            PollFd::new(&a, PollFlags::OUT),
        ];
        assert_eq!(opts(k).poll(&mut fds, 0).unwrap(), 2);
        assert!(fds[0].revents().contains(PollFlags::HUP | PollFlags::IN));
        assert_eq!(fds[1].revents(), PollFlags::HUP);

        let (r, w) = util::pipe();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            util::write(&w, b"x");
            w
        });
        let mut fds = [
            PollFd::new(&r, PollFlags::IN),
            PollFd::new(&r, PollFlags::IN),
        ];
        assert_eq!(opts(k).poll(&mut fds, 10_000).unwrap(), 2);
        assert_eq!(fds[0].revents(), PollFlags::IN);
        assert_eq!(fds[1].revents(), PollFlags::IN);
        drop(writer.join().unwrap());
    });
}

// ---------------------------------------------------------------------------------------------
// Every flag, observed on a real object

#[test]
fn flag_in() {
    util::each_backend(|k| {
        let (r, w) = util::pipe();
        assert_eq!(revents_now(opts(k), &r, PollFlags::IN), PollFlags::empty());
        util::write(&w, b"x");
        assert_eq!(revents_now(opts(k), &r, PollFlags::IN), PollFlags::IN);

        let (fr, fw) = fifo();
        util::write(&fw, b"x");
        assert_eq!(revents_now(opts(k), &fr, PollFlags::IN), PollFlags::IN);

        let (c, s) = tcp_pair();
        util::write(&s, b"x");
        settle(&c, PollFlags::IN, PollFlags::IN);
        assert_eq!(revents_now(opts(k), &c, PollFlags::IN), PollFlags::IN);

        let (m, sl) = pty();
        assert_eq!(revents_now(opts(k), &m, PollFlags::IN), PollFlags::empty());
        util::write(&sl, b"x\n");
        settle(&m, PollFlags::IN, PollFlags::IN);
        assert_eq!(revents_now(opts(k), &m, PollFlags::IN), PollFlags::IN);

        let ev = eventfd(0);
        assert_eq!(revents_now(opts(k), &ev, PollFlags::IN), PollFlags::empty());
        rustix::io::write(&ev, &1u64.to_ne_bytes()).unwrap();
        assert_eq!(revents_now(opts(k), &ev, PollFlags::IN), PollFlags::IN);

        assert_eq!(
            revents_now(opts(k), &regular_file(b""), PollFlags::IN),
            PollFlags::IN
        );
        assert_eq!(
            revents_now(opts(k), &dev_null(), PollFlags::IN),
            PollFlags::IN
        );
    });
}

#[test]
fn flag_rdnorm() {
    util::each_backend(|k| {
        let (r, w) = util::pipe();
        assert_eq!(
            revents_now(opts(k), &r, PollFlags::RDNORM),
            PollFlags::empty()
        );
        util::write(&w, b"x");
        assert_eq!(
            revents_now(opts(k), &r, PollFlags::RDNORM),
            PollFlags::RDNORM
        );
        assert_eq!(
            revents_now(opts(k), &r, PollFlags::IN | PollFlags::RDNORM),
            PollFlags::IN | PollFlags::RDNORM
        );
        let (a, b) = util::socketpair();
        util::write(&b, b"x");
        assert_eq!(
            revents_now(opts(k), &a, PollFlags::RDNORM),
            PollFlags::RDNORM
        );
        let f = regular_file(b"data");
        assert_eq!(
            revents_now(opts(k), &f, PollFlags::RDNORM),
            PollFlags::RDNORM
        );
    });
}

/// Urgent (out-of-band) TCP data waiting on `fd`'s socket.
fn tcp_with_urgent_data() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    let (c, s) = tcp_pair();
    rustix::net::send(&s, b"!", rustix::net::SendFlags::OOB).expect("send MSG_OOB");
    settle(&c, PollFlags::PRI, PollFlags::PRI);
    (c, s)
}

#[test]
fn flag_rdband() {
    // RDBAND is "priority band data readable". The BSDs raise it (with PRI) for TCP urgent data;
    // Linux raises only PRI for it, and no object a test can make on Linux (pipes, FIFOs, UNIX and
    // INET sockets of every type, ptys, eventfd, files, every /dev and /proc/self node) raises
    // RDBAND at all: only DECnet sockets did, and DECnet is gone since Linux 6.1. What can be
    // checked everywhere: asking for RDBAND is accepted, and the engine reports exactly what the
    // kernel's own poll(2) reports for that fd, on every backend, never inventing the bit.
    util::each_backend(|k| {
        let (c, _s) = tcp_with_urgent_data();
        let asked = PollFlags::RDBAND | PollFlags::PRI;
        let kernel = kernel_poll(&c, asked);
        let got = revents_now(opts(k), &c, asked);
        assert_eq!(got, kernel);
        assert!(got.contains(PollFlags::PRI));
        if cfg!(any(
            target_os = "freebsd",
            target_os = "openbsd",
            target_os = "netbsd",
            target_os = "dragonfly",
            target_os = "macos"
        )) {
            assert!(got.contains(PollFlags::RDBAND), "{got:?}");
        }
        assert_eq!(
            revents_now(opts(k), &c, PollFlags::RDBAND),
            kernel_poll(&c, PollFlags::RDBAND)
        );
        // Not reported where there is nothing of the kind.
        let (r, w) = util::pipe();
        util::write(&w, b"x");
        assert_eq!(
            revents_now(opts(k), &r, PollFlags::RDBAND),
            PollFlags::empty()
        );
    });
}

#[test]
fn flag_pri() {
    util::each_backend(|k| {
        let (c, _s) = tcp_with_urgent_data();
        assert_eq!(revents_now(opts(k), &c, PollFlags::PRI), PollFlags::PRI);
        assert!(revents_now(opts(k), &c, PollFlags::PRI | PollFlags::IN).contains(PollFlags::PRI));
        // Read the urgent byte: PRI goes away.
        let mut buf = [0u8; 1];
        let n = rustix::net::recv(&c, &mut buf, rustix::net::RecvFlags::OOB).expect("recv OOB");
        assert_eq!((n.0, buf[0]), (1, b'!'));
        assert_eq!(revents_now(opts(k), &c, PollFlags::PRI), PollFlags::empty());
        // Ordinary data is not priority data.
        let (c2, s2) = tcp_pair();
        util::write(&s2, b"x");
        settle(&c2, PollFlags::IN, PollFlags::IN);
        assert_eq!(
            revents_now(opts(k), &c2, PollFlags::PRI),
            PollFlags::empty()
        );
    });
}

#[test]
fn flag_out() {
    util::each_backend(|k| {
        let (_r, w) = util::pipe();
        assert_eq!(revents_now(opts(k), &w, PollFlags::OUT), PollFlags::OUT);
        // Fill the pipe: no longer writable.
        while rustix::io::write(&w, &[0u8; 4096]).is_ok() {}
        assert_eq!(revents_now(opts(k), &w, PollFlags::OUT), PollFlags::empty());

        let (c, _s) = tcp_pair();
        assert_eq!(revents_now(opts(k), &c, PollFlags::OUT), PollFlags::OUT);
        let (m, _sl) = pty();
        assert_eq!(revents_now(opts(k), &m, PollFlags::OUT), PollFlags::OUT);
        let ev = eventfd(0);
        assert_eq!(revents_now(opts(k), &ev, PollFlags::OUT), PollFlags::OUT);
        assert_eq!(
            revents_now(opts(k), &dev_null(), PollFlags::OUT),
            PollFlags::OUT
        );
        assert_eq!(
            revents_now(opts(k), &regular_file(b""), PollFlags::OUT),
            PollFlags::OUT
        );
    });
}

#[test]
fn flag_wrnorm() {
    util::each_backend(|k| {
        let (_r, w) = util::pipe();
        assert_eq!(
            revents_now(opts(k), &w, PollFlags::WRNORM),
            PollFlags::WRNORM
        );
        let (fr, fw) = fifo();
        assert_eq!(
            revents_now(opts(k), &fw, PollFlags::WRNORM),
            PollFlags::WRNORM
        );
        let (a, _b) = util::socketpair();
        assert_eq!(
            revents_now(opts(k), &a, PollFlags::OUT | PollFlags::WRNORM),
            PollFlags::OUT | PollFlags::WRNORM
        );
        assert_eq!(
            revents_now(opts(k), &dev_null(), PollFlags::WRNORM),
            PollFlags::WRNORM
        );
        drop(fr);
    });
}

#[test]
fn flag_wrband() {
    util::each_backend(|k| {
        // UNIX-domain sockets say priority data may be written (Linux sets WRBAND with OUT).
        let (a, _b) = util::socketpair();
        let kernel = kernel_poll(&a, PollFlags::WRBAND);
        let got = revents_now(opts(k), &a, PollFlags::WRBAND);
        assert_eq!(got, kernel);
        if cfg!(target_os = "linux") {
            assert_eq!(got, PollFlags::WRBAND);
        }
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
        assert_eq!(
            revents_now(opts(k), &udp.as_fd(), PollFlags::WRBAND),
            kernel_poll(&udp, PollFlags::WRBAND)
        );
        // Not reported when not asked.
        assert!(!revents_now(opts(k), &a, PollFlags::OUT).contains(PollFlags::WRBAND));
    });
}

#[test]
fn flag_err() {
    util::each_backend(|k| {
        // A pipe's write end whose reader is gone.
        let (r, w) = util::pipe();
        drop(r);
        assert!(revents_now(opts(k), &w, PollFlags::OUT).contains(PollFlags::ERR));
        let (fr, fw) = fifo();
        drop(fr);
        assert!(revents_now(opts(k), &fw, PollFlags::OUT).contains(PollFlags::ERR));
        // A TCP socket that was reset.
        let (c, s) = tcp_pair();
        drop(s);
        settle(&c, PollFlags::IN, PollFlags::IN);
        let _ = rustix::net::send(&c, b"x", rustix::net::SendFlags::NOSIGNAL);
        settle(&c, PollFlags::IN, PollFlags::ERR);
        assert!(revents_now(opts(k), &c, PollFlags::IN).contains(PollFlags::ERR));
    });
}

#[test]
fn flag_hup() {
    util::each_backend(|k| {
        let (r, w) = util::pipe();
        drop(w);
        assert!(revents_now(opts(k), &r, PollFlags::IN).contains(PollFlags::HUP));
        let (fr, fw) = fifo();
        drop(fw);
        assert!(revents_now(opts(k), &fr, PollFlags::IN).contains(PollFlags::HUP));
        let (a, b) = util::socketpair();
        drop(b);
        assert!(revents_now(opts(k), &a, PollFlags::IN).contains(PollFlags::HUP));
        let (m, sl) = pty();
        drop(sl);
        assert!(revents_now(opts(k), &m, PollFlags::IN).contains(PollFlags::HUP));
        let (m, sl) = pty();
        drop(m);
        assert!(revents_now(opts(k), &sl, PollFlags::IN).contains(PollFlags::HUP));
    });
}

#[test]
fn flag_nval() {
    util::each_backend(|k| {
        let closed = closed_fd();
        let mut fds = [PollFd::from_raw(closed, PollFlags::IN | PollFlags::OUT)];
        assert_eq!(opts(k).poll(&mut fds, 0).unwrap(), 1);
        assert_eq!(fds[0].revents(), PollFlags::NVAL);
        // A number far beyond the fd table is just as invalid.
        let mut fds = [PollFd::from_raw(i32::MAX, PollFlags::IN)];
        assert_eq!(opts(k).poll(&mut fds, 0).unwrap(), 1);
        assert_eq!(fds[0].revents(), PollFlags::NVAL);
    });
}

// ---------------------------------------------------------------------------------------------
// Processes

/// A parent and a child after fork() poll independently: one process's poll never removes or
/// steals the other's interest. (The epoll path keeps a per-thread epoll instance; a child
/// inherits the fd, which names the *same* kernel instance, so it must make its own.)
#[test]
fn poll_after_fork_keeps_kernel_state_per_process() {
    util::each_backend(|k| {
        let (r, w) = util::pipe();
        let mut fds = [PollFd::new(&r, PollFlags::IN)];
        // Warm up: this thread's kernel state exists before the fork.
        assert_eq!(opts(k).poll(&mut fds, 0).unwrap(), 0);

        // SAFETY: the child only makes system calls (the poll reuses this thread's buffers, so
        // it does not allocate) and leaves with _exit; no locks, no unwinding.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            let code = match opts(k).poll(&mut fds, 3000) {
                Ok(1) => 0,
                Ok(_) => 1,
                Err(_) => 2,
            };
            // SAFETY: ends the forked child without running anything of the parent's.
            unsafe { libc::_exit(code) };
        }
        // Let the child block, poll the same pipe here, then make it readable: the child must
        // see it at once, not time out after 3 s.
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(opts(k).poll(&mut fds, 0).unwrap(), 0);
        util::write(&w, b"x");
        let mut status = 0;
        // SAFETY: waits for the child forked above.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status), "child status {status:#x}");
        match libc::WEXITSTATUS(status) {
            0 => {}
            1 => panic!("the child missed readiness: the parent's poll removed its interest"),
            c => panic!("the child's poll failed (exit {c})"),
        }
        assert_eq!(
            opts(k).poll(&mut fds, 0).unwrap(),
            1,
            "and the parent sees it too"
        );
    });
}
