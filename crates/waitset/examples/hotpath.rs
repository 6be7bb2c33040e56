//! The wait path in isolation, for instruction counts: `waits` level-triggered waits on a set
//! whose one entry, a pipe's read end, stays readable. Run it under callgrind twice with two
//! counts and divide the difference in instructions by the difference in waits:
//!
//! ```text
//! RUSTFLAGS=--cfg=rustix_use_libc cargo build --release -p waitset --example hotpath
//! valgrind --tool=callgrind target/release/examples/hotpath 100000
//! valgrind --tool=callgrind target/release/examples/hotpath 200000
//! ```
//!
//! (`rustix_use_libc` lets valgrind follow rustix's system calls.) A second argument `epoll`
//! runs the same loop on a bare `epoll_wait`, the floor; `add` adds and removes the pipe's read
//! end `waits` times instead (`add-handle` the same as a `Handle`, and `add-epoll` does the same with bare `epoll_ctl`).

use std::os::fd::AsFd;

use waitset::{Deadline, Handle, Signals, Source, WaitResult, WaitSet};

fn main() {
    let mut args = std::env::args().skip(1);
    let waits: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let what = args.next();
    let bare = what.as_deref() == Some("epoll");
    let (r, w) = rustix::pipe::pipe().expect("pipe");
    if what.as_deref() == Some("add") {
        let set = WaitSet::new().expect("set");
        for i in 0..waits {
            // SAFETY: removed right after, while `r` is open.
            unsafe { set.add(i, Source::fd(&r), Signals::READABLE).expect("add") };
            set.remove(i).expect("remove");
        }
        return;
    }
    if what.as_deref() == Some("add-handle") {
        let set = WaitSet::new().expect("set");
        let h = waitset::Handle::new(r);
        for i in 0..waits {
            set.add(i, Source::from(&h), Signals::READABLE)
                .expect("add");
            set.remove(i).expect("remove");
        }
        return;
    }
    if what.as_deref() == Some("add-epoll") {
        use rustix::event::epoll;
        let ep = epoll::create(epoll::CreateFlags::CLOEXEC).expect("epoll");
        for i in 0..waits {
            let flags = epoll::EventFlags::IN | epoll::EventFlags::RDHUP;
            epoll::add(&ep, r.as_fd(), epoll::EventData::new_u64(i), flags).expect("add");
            epoll::delete(&ep, r.as_fd()).expect("delete");
        }
        return;
    }
    rustix::io::write(&w, b"x").expect("write");
    if bare {
        use rustix::event::epoll;
        let ep = epoll::create(epoll::CreateFlags::CLOEXEC).expect("epoll");
        epoll::add(
            &ep,
            r.as_fd(),
            epoll::EventData::new_u64(1),
            epoll::EventFlags::IN,
        )
        .expect("add");
        let mut buf = [std::mem::MaybeUninit::<epoll::Event>::uninit(); 64];
        for _ in 0..waits {
            let (ev, _) = epoll::wait(&ep, &mut buf[..], None).expect("wait");
            assert_eq!(ev.len(), 1);
        }
        return;
    }
    let set = WaitSet::new().expect("set");
    let r = Handle::new(r);
    set.add(1, Source::from(&r), Signals::READABLE)
        .expect("add");
    let mut out = [WaitResult::default(); 64];
    for _ in 0..waits {
        let n = set.wait(Deadline::INFINITE, &mut out).expect("wait");
        assert_eq!(n, 1);
    }
}
