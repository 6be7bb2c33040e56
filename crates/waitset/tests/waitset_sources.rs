//! Every kind of source a WaitSet waits on, with real objects.

mod util;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use util::*;
use waitset::{Event, Signals, Source, Status};

#[test]
fn tcp_loopback_accept_read_write() {
    each_backend(|k| {
        let s = set(k);
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        s.add(1, fd_source(&l), Signals::READABLE).unwrap();
        let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        assert_eq!(
            cookies(&wait_some(&s, 4)),
            vec![1],
            "listener readable on a pending connection"
        );
        let (srv, _) = l.accept().unwrap();
        s.remove(1).unwrap();
        s.add(2, fd_source(&srv), Signals::READABLE).unwrap();
        assert!(poll_now(&s, 4).is_empty());
        c.write_all(b"hello").unwrap();
        let out = wait_some(&s, 4);
        assert_eq!((out[0].cookie, out[0].observed), (2, Signals::READABLE));
        drop(c);
        let mut buf = [0u8; 16];
        let _ = rustix::io::read(srv.as_fd(), &mut buf);
        let out = wait_some(&s, 4);
        assert!(
            out[0]
                .observed
                .contains(Signals::READABLE | Signals::PEER_CLOSED),
            "{:?}",
            out[0]
        );
    });
}

fn pty_pair() -> (OwnedFd, OwnedFd) {
    use rustix::fs::{Mode, OFlags};
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let slave = rustix::fs::open(
        name.as_c_str(),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .unwrap();
    (master, slave)
}

#[test]
fn pty_master_sees_slave_output_and_hangup() {
    each_backend(|k| {
        let s = set(k);
        let (master, slave) = pty_pair();
        s.add(1, fd_source(&master), Signals::READABLE).unwrap();
        assert!(poll_now(&s, 4).is_empty());
        rustix::io::write(&slave, b"out\n").unwrap();
        assert_eq!(cookies(&wait_some(&s, 4)), vec![1]);
        let mut buf = [0u8; 64];
        let _ = rustix::io::read(&master, &mut buf);
        drop(slave);
        let out = wait_some(&s, 4);
        assert!(
            out[0].observed.contains(Signals::PEER_CLOSED),
            "{:?}",
            out[0]
        );
    });
}

#[test]
fn eventfd_is_a_source() {
    each_backend(|k| {
        let s = set(k);
        let efd = rustix::event::eventfd(0, rustix::event::EventfdFlags::NONBLOCK).unwrap();
        s.add(1, fd_source(&efd), Signals::READABLE | Signals::WRITABLE)
            .unwrap();
        assert_eq!(wait_some(&s, 4)[0].observed, Signals::WRITABLE);
        rustix::io::write(&efd, &1u64.to_ne_bytes()).unwrap();
        assert_eq!(
            wait_some(&s, 4)[0].observed,
            Signals::READABLE | Signals::WRITABLE
        );
    });
}

#[test]
fn regular_files_and_dev_null_are_always_ready() {
    each_backend(|k| {
        let s = set(k);
        let path = std::env::temp_dir().join(format!(
            "waitset-regular-{}-{}",
            std::process::id(),
            k.name()
        ));
        std::fs::write(&path, b"data").unwrap();
        let f = std::fs::File::open(&path).unwrap();
        let null = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .unwrap();
        s.add(1, fd_source(&f), Signals::READABLE).unwrap();
        s.add(2, fd_source(&null), Signals::READABLE | Signals::WRITABLE)
            .unwrap();
        for _ in 0..3 {
            let mut out = wait_some(&s, 4);
            out.sort_by_key(|r| r.cookie);
            assert_eq!(out.len(), 2);
            assert_eq!(out[0].observed, Signals::READABLE);
            assert_eq!(out[1].observed, Signals::READABLE | Signals::WRITABLE);
        }
        std::fs::remove_file(&path).unwrap();
    });
}

#[test]
fn event_user_signals_set_and_cleared_from_any_thread() {
    each_backend(|k| {
        let s = set(k);
        let ev = Event::new();
        s.add(1, Source::from(&ev), Signals::USER_ALL).unwrap();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let ev = ev.clone();
                std::thread::spawn(move || ev.signal(Signals::empty(), Signals::user(i)).unwrap())
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(ev.signals(), Signals::USER_ALL);
        assert_eq!(wait_some(&s, 4)[0].observed, Signals::USER_ALL);
        ev.signal(Signals::USER_ALL - Signals::USER_5, Signals::empty())
            .unwrap();
        assert_eq!(wait_some(&s, 4)[0].observed, Signals::USER_5);
        assert!(
            ev.signal(Signals::empty(), Signals::READABLE).is_err(),
            "only user signals"
        );
        assert_eq!(
            ev.signals(),
            Signals::USER_5,
            "a rejected signal call changes nothing"
        );
    });
}

#[test]
fn event_watched_by_several_sets() {
    each_backend(|k| {
        let sets: Vec<_> = (0..3).map(|_| set(k)).collect();
        let ev = Event::new();
        for (i, s) in sets.iter().enumerate() {
            s.add(i as u64, Source::from(&ev), Signals::USER_1).unwrap();
        }
        let waiters: Vec<_> = sets
            .iter()
            .map(|s| {
                let s = s.clone();
                std::thread::spawn(move || wait_some(&s, 2))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(30));
        ev.signal(Signals::empty(), Signals::USER_1).unwrap();
        for (i, w) in waiters.into_iter().enumerate() {
            let out = w.join().unwrap();
            assert_eq!(
                (out[0].cookie, out[0].status),
                (i as u64, Status::Satisfied)
            );
        }
    });
}

#[test]
fn dropping_a_set_unwatches_its_sources() {
    let ev = Event::new();
    for k in backends() {
        let s = set(k);
        s.add(1, Source::from(&ev), Signals::USER_0).unwrap();
        drop(s);
    }
    // Signalling an event whose sets are gone is fine.
    ev.signal(Signals::empty(), Signals::USER_0).unwrap();
    let _ = std::io::stdout().flush();
}
