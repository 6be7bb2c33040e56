//! The libevent "pipes" chain of workload 1 (one byte circulating through N socketpairs), alone
//! in a process, for counting system calls per event with `strace -c` or `perf stat`:
//!
//! ```text
//! cargo build --release -p waitset --example chain
//! strace -c -f target/release/examples/chain uring edge 1000 200000
//! ```
//!
//! Arguments: backend (`uring`, `epoll`, `poll`, or `raw-epoll` for a bare level-triggered
//! `epoll_wait` loop), trigger (`level`, `edge`, or `oneshot`: one-shot entries re-armed with
//! `modify` after every event), N socketpairs, events. Prints the time per event; registration
//! is done before the clock starts, so the system calls it makes are a constant the event count
//! dilutes (count twice with two event counts and take the difference to remove it).

use std::os::fd::{AsFd, OwnedFd};
use std::time::Instant;

use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};
use waitset::{BackendKind, Deadline, Signals, Source, Trigger, WaitResult, WaitSet};

fn pair() -> (OwnedFd, OwnedFd) {
    socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )
    .expect("socketpair")
}

/// Read the byte (if any) from `r`; true if one was read.
fn take(r: &OwnedFd) -> bool {
    let mut b = [0u8; 16];
    matches!(rustix::io::read(r, &mut b), Ok(n) if n > 0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let backend = args.next().unwrap_or_else(|| "uring".into());
    let trigger = match args.next().as_deref() {
        Some("edge") => Trigger::Edge,
        Some("oneshot") => Trigger::Oneshot,
        _ => Trigger::Level,
    };
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let events: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let pairs: Vec<(OwnedFd, OwnedFd)> = (0..n).map(|_| pair()).collect();
    let mut count = 0u64;
    let start;
    if backend == "raw-epoll" {
        use rustix::event::epoll;
        let ep = epoll::create(epoll::CreateFlags::CLOEXEC).expect("epoll");
        for (i, (r, _)) in pairs.iter().enumerate() {
            epoll::add(
                &ep,
                r.as_fd(),
                epoll::EventData::new_u64(i as u64),
                epoll::EventFlags::IN,
            )
            .expect("add");
        }
        rustix::io::write(&pairs[0].1, b"x").expect("write");
        let mut buf = vec![std::mem::MaybeUninit::<epoll::Event>::uninit(); 1024];
        start = Instant::now();
        while count < events {
            let (evs, _) = epoll::wait(&ep, &mut buf[..], None).expect("wait");
            for ev in evs.iter() {
                let i = ev.data.u64() as usize;
                if take(&pairs[i].0) {
                    rustix::io::write(&pairs[(i + 1) % n].1, b"x").expect("write");
                    count += 1;
                }
            }
        }
    } else {
        let kind = match backend.as_str() {
            "epoll" => BackendKind::Epoll,
            "poll" => BackendKind::Poll,
            _ => BackendKind::Uring,
        };
        let set = WaitSet::builder()
            .backend(kind)
            .capacity(n)
            .build()
            .expect("set");
        for (i, (r, _)) in pairs.iter().enumerate() {
            // SAFETY: every entry's descriptor stays open until the set is dropped.
            unsafe { set.add_with(i as u64, Source::fd(r), Signals::READABLE, trigger) }
                .expect("add");
        }
        rustix::io::write(&pairs[0].1, b"x").expect("write");
        let mut out = vec![WaitResult::default(); 1024];
        start = Instant::now();
        while count < events {
            let k = set.wait(Deadline::INFINITE, &mut out).expect("wait");
            for r in &out[..k] {
                let i = r.cookie as usize;
                if take(&pairs[i].0) {
                    rustix::io::write(&pairs[(i + 1) % n].1, b"x").expect("write");
                    count += 1;
                }
                if trigger == Trigger::Oneshot {
                    set.modify(r.cookie, Signals::READABLE).expect("modify");
                }
            }
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / count as f64;
    println!("{backend} {trigger:?} n={n}: {count} events, {ns:.0} ns/event");
}
