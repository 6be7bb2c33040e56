//! `poll_oneoff` on the engine: kernel interest kept between calls, socket write space,
//! precision as slack, and the termination latch.

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use waitset_wasi::abi::{
    clockid, eventrwflags, Errno, Event, Subscription, SubscriptionClock, SubscriptionFdReadwrite,
    SubscriptionKind,
};
use waitset_wasi::{poll_oneoff, Interrupt, WasiCtx};

const MEM: usize = 1 << 20;
const IN: u32 = 0x1000;
const OUT: u32 = 0x40000;
const NEVENTS: u32 = 0x80000;

fn fd_sub(userdata: u64, fd: u32, write: bool) -> Subscription {
    let rw = SubscriptionFdReadwrite { fd };
    Subscription {
        userdata,
        kind: if write {
            SubscriptionKind::FdWrite(rw)
        } else {
            SubscriptionKind::FdRead(rw)
        },
    }
}

fn clock_sub(userdata: u64, timeout: u64, precision: u64) -> Subscription {
    Subscription {
        userdata,
        kind: SubscriptionKind::Clock(SubscriptionClock {
            id: clockid::MONOTONIC,
            timeout,
            precision,
            flags: 0,
        }),
    }
}

/// Runs poll_oneoff and returns (errno, events).
fn call(ctx: &mut WasiCtx, subs: &[Subscription]) -> (Errno, Vec<Event>) {
    let mut mem = vec![0xAAu8; MEM];
    for (i, s) in subs.iter().enumerate() {
        let off = IN as usize + i * Subscription::SIZE;
        let slot: &mut [u8; 48] = (&mut mem[off..off + 48]).try_into().unwrap();
        s.encode(slot);
    }
    let e = poll_oneoff(ctx, &mut mem, IN, OUT, subs.len() as u32, NEVENTS);
    if e != Errno::SUCCESS {
        return (e, Vec::new());
    }
    let n = u32::from_le_bytes(mem[NEVENTS as usize..][..4].try_into().unwrap()) as usize;
    let mut evs: Vec<Event> = (0..n)
        .map(|i| Event::decode(&mem[OUT as usize + i * 32..]).unwrap())
        .collect();
    evs.sort_by_key(|e| e.userdata);
    (e, evs)
}

fn pipes(n: usize) -> Vec<(OwnedFd, OwnedFd)> {
    (0..n).map(|_| rustix::pipe::pipe().unwrap()).collect()
}

/// A context with `n` preopened pipe read ends at guest fds 3.., each holding `bytes` unread
/// bytes; returns it with the write ends (kept open).
fn ctx_with_pipes(n: usize, bytes: &[u8]) -> (WasiCtx, Vec<OwnedFd>) {
    let mut b = WasiCtx::builder().poll_seed(0);
    let mut writers = Vec::new();
    for (r, w) in pipes(n) {
        if !bytes.is_empty() {
            rustix::io::write(&w, bytes).unwrap();
        }
        b = b.preopen_fd(r);
        writers.push(w);
    }
    (b.build().unwrap(), writers)
}

/// A read subscription on each of guest fds 3..3+n, userdata = index.
fn reads(n: u32) -> Vec<Subscription> {
    (0..n).map(|i| fd_sub(u64::from(i), 3 + i, false)).collect()
}

#[test]
fn kernel_interest_is_kept_between_calls() {
    let (mut ctx, writers) = ctx_with_pipes(64, b"");
    let subs: Vec<Subscription> = (0..64u32)
        .map(|i| fd_sub(u64::from(i), 3 + i, false))
        .chain([clock_sub(999, 0, 0)])
        .collect();
    let (e, evs) = call(&mut ctx, &subs);
    assert_eq!(e, Errno::SUCCESS);
    assert_eq!(evs.len(), 1, "only the timeout-0 clock: {evs:?}");
    let after_first = ctx.poll_state().registration_changes();
    assert_eq!(after_first, 64, "one registration per fd on the first call");
    for _ in 0..1000 {
        call(&mut ctx, &subs);
    }
    assert_eq!(
        ctx.poll_state().registration_changes(),
        after_first,
        "1000 identical calls changed nothing"
    );
    // One fd becomes ready: reported, still no registration change.
    rustix::io::write(&writers[17], b"x").unwrap();
    let (_, evs) = call(&mut ctx, &subs);
    assert!(
        evs.iter()
            .any(|e| e.userdata == 17 && e.fd_readwrite.nbytes == 1),
        "{evs:?}"
    );
    assert_eq!(ctx.poll_state().registration_changes(), after_first);
    // A call that leaves fd 3 out disables exactly that entry, once (a ready stale entry could
    // otherwise take the place of one asked for).
    let without_3: Vec<Subscription> = subs.iter().filter(|s| s.userdata != 0).cloned().collect();
    call(&mut ctx, &without_3);
    assert_eq!(ctx.poll_state().registration_changes(), after_first + 1);
    // Polling that same set again, blocking or not, changes nothing more.
    rustix::io::write(&writers[20], b"y").unwrap();
    let blocking: Vec<Subscription> = without_3
        .iter()
        .filter(|s| s.userdata != 999)
        .cloned()
        .collect();
    let (_, evs) = call(&mut ctx, &blocking);
    assert!(evs.iter().any(|e| e.userdata == 20));
    call(&mut ctx, &without_3);
    assert_eq!(ctx.poll_state().registration_changes(), after_first + 1);
}

#[test]
fn fds_no_longer_polled_are_disabled_before_blocking() {
    let (r1, w1) = rustix::pipe::pipe().unwrap();
    let (r2, w2) = rustix::pipe::pipe().unwrap();
    let mut ctx = WasiCtx::builder()
        .poll_seed(0)
        .preopen_fd(r1)
        .preopen_fd(r2)
        .build()
        .unwrap();
    call(
        &mut ctx,
        &[fd_sub(1, 3, false), fd_sub(2, 4, false), clock_sub(9, 0, 0)],
    );
    // fd 3 becomes ready but is no longer polled: a blocking poll on fd 4 must not spin or
    // report it; it ends with the clock.
    rustix::io::write(&w1, b"x").unwrap();
    let t0 = Instant::now();
    let (_, evs) = call(
        &mut ctx,
        &[fd_sub(2, 4, false), clock_sub(9, 30_000_000, 0)],
    );
    assert_eq!(evs.iter().map(|e| e.userdata).collect::<Vec<_>>(), vec![9]);
    assert!(t0.elapsed() >= Duration::from_millis(30));
    drop(w2);
}

#[test]
fn closing_a_polled_fd_drops_its_entry() {
    let (r, _w) = rustix::pipe::pipe().unwrap();
    let mut ctx = WasiCtx::builder()
        .poll_seed(0)
        .preopen_fd(r)
        .build()
        .unwrap();
    call(&mut ctx, &[fd_sub(1, 3, false), clock_sub(9, 0, 0)]);
    assert_eq!(ctx.poll_state().registered_fds(), 1);
    let mut mem = vec![0u8; 16];
    assert_eq!(
        waitset_wasi::host::fd_close(&mut ctx, &mut mem, 3),
        Errno::SUCCESS
    );
    assert_eq!(ctx.poll_state().registered_fds(), 0);
    let (_, evs) = call(&mut ctx, &[fd_sub(1, 3, false)]);
    assert_eq!(evs[0].error, Errno::BADF);
}

#[test]
fn socket_write_reports_free_send_space() {
    use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};
    let (a, _b) = socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .unwrap();
    let mut ctx = WasiCtx::builder()
        .poll_seed(0)
        .preopen_fd(a)
        .build()
        .unwrap();
    let (_, evs) = call(&mut ctx, &[fd_sub(1, 3, true)]);
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].error, Errno::SUCCESS);
    assert!(
        evs[0].fd_readwrite.nbytes > 0,
        "free send space is known for sockets: {evs:?}"
    );
}

#[test]
fn socket_peer_gone_is_hangup_for_read_and_write() {
    use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};
    let (a, b) = socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .unwrap();
    let mut ctx = WasiCtx::builder()
        .poll_seed(0)
        .preopen_fd(a)
        .build()
        .unwrap();
    drop(b);
    let (_, evs) = call(&mut ctx, &[fd_sub(1, 3, false), fd_sub(2, 3, true)]);
    assert_eq!(evs.len(), 2, "{evs:?}");
    for e in &evs {
        assert_ne!(
            e.fd_readwrite.flags & eventrwflags::FD_READWRITE_HANGUP,
            0,
            "{e:?}"
        );
    }
}

#[test]
fn precision_is_slack_but_never_early() {
    let mut ctx = WasiCtx::builder().poll_seed(0).build().unwrap();
    let t0 = Instant::now();
    let (_, evs) = call(&mut ctx, &[clock_sub(1, 20_000_000, 10_000_000)]);
    assert_eq!(evs.len(), 1);
    assert!(t0.elapsed() >= Duration::from_millis(20));
}

/// The slack a clock's `precision` may add is capped: at most 1/16 of the time left and never
/// more than 5 ms (`waitset_wasi::poll::clock_slack`).
#[test]
fn clock_slack_is_capped_by_a_fraction_and_an_absolute_bound() {
    use waitset_wasi::poll::{clock_slack, SLACK_FRACTION, SLACK_MAX_NS};
    assert_eq!((SLACK_FRACTION, SLACK_MAX_NS), (16, 5_000_000));
    assert_eq!(
        clock_slack(20_000_000, 100),
        100,
        "a small precision is honoured"
    );
    assert_eq!(
        clock_slack(20_000_000, 1_000_000_000),
        1_250_000,
        "1/16 of 20 ms"
    );
    assert_eq!(clock_slack(20_000_000, u64::MAX), 1_250_000);
    assert_eq!(
        clock_slack(3_600_000_000_000, u64::MAX),
        5_000_000,
        "never above 5 ms"
    );
    assert_eq!(clock_slack(0, u64::MAX), 0);
}

/// A 20 ms clock with precision `u64::MAX` fires: a finite clock never becomes an infinite wait
/// (before the cap it never returned). The wait runs on a thread so a regression fails the test
/// after a generous guard instead of hanging it; no duration is asserted.
#[test]
fn a_huge_precision_does_not_make_a_finite_clock_infinite() {
    for precision in [u64::MAX, 1_000_000_000] {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut ctx = WasiCtx::builder().poll_seed(0).build().unwrap();
            let (_, evs) = call(&mut ctx, &[clock_sub(7, 20_000_000, precision)]);
            let _ = tx.send(evs);
        });
        let evs = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the 20 ms clock never fired");
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].userdata, 7);
    }
}

#[test]
fn a_pending_interrupt_ends_poll_oneoff_first_and_writes_nothing() {
    let int = Interrupt::new().unwrap();
    let (r, w) = rustix::pipe::pipe().unwrap();
    rustix::io::write(&w, b"x").unwrap();
    let mut ctx = WasiCtx::builder()
        .poll_seed(0)
        .preopen_fd(r)
        .interrupt(int.clone())
        .build()
        .unwrap();
    int.raise(libc_sigterm());
    let mut mem = vec![0xAAu8; MEM];
    let e = poll_oneoff(&mut ctx, &mut mem, IN, OUT, 1, NEVENTS);
    assert_eq!(e, Errno::INTR);
    assert!(mem.iter().all(|&b| b == 0xAA));
    assert_eq!(ctx.interrupted(), Some(libc_sigterm()));
}

#[test]
fn an_interrupt_wakes_a_blocked_poll_oneoff() {
    let int = Interrupt::new().unwrap();
    let (r, _w) = rustix::pipe::pipe().unwrap();
    let mut ctx = WasiCtx::builder()
        .poll_seed(0)
        .preopen_fd(r)
        .interrupt(int.clone())
        .build()
        .unwrap();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        int.raise(2);
    });
    let t0 = Instant::now();
    let (_, evs) = call(&mut ctx, &[fd_sub(1, 3, false)]);
    assert!(evs.is_empty());
    assert_eq!(ctx.interrupted(), Some(2));
    assert!(t0.elapsed() < Duration::from_secs(20));
    t.join().unwrap();
}

fn libc_sigterm() -> i32 {
    15
}

#[test]
fn fds_no_longer_polled_never_crowd_out_a_ready_fd() {
    // 64 fds polled once and all readable; then only one of them (also ready) with timeout 0:
    // the stale 63 must not take the places of the one asked for.
    let (mut ctx, _writers) = ctx_with_pipes(64, b"x");
    let all: Vec<Subscription> = reads(64);
    let (_, evs) = call(&mut ctx, &all);
    assert_eq!(evs.len(), 64);
    for target in [5u32, 40, 63] {
        let (_, evs) = call(
            &mut ctx,
            &[fd_sub(1000, 3 + target, false), clock_sub(999, 0, 0)],
        );
        let ids: Vec<u64> = evs.iter().map(|e| e.userdata).collect();
        assert!(
            ids.contains(&1000),
            "fd {} is ready but was not reported: {ids:?}",
            3 + target
        );
    }
}

#[test]
fn more_ready_fds_than_one_kernel_pass_are_all_reported() {
    let (mut ctx, _writers) = ctx_with_pipes(300, b"x");
    let subs: Vec<Subscription> = reads(300);
    let (_, evs) = call(&mut ctx, &subs);
    assert_eq!(
        evs.len(),
        300,
        "every ready fd is an event, as poll() reports every ready fd"
    );
}

/// Opens `path` under the preopen at fd 3 with `path_open`; returns the new guest fd.
fn open_under(ctx: &mut WasiCtx, path: &str, oflags: u16, fdflags: u16) -> u32 {
    use waitset_wasi::abi::Rights;
    let mut mem = vec![0u8; 4096];
    mem[1024..1024 + path.len()].copy_from_slice(path.as_bytes());
    let e = waitset_wasi::fs::path_open(
        ctx,
        &mut mem,
        3,
        0,
        1024,
        path.len() as u32,
        oflags,
        (Rights::FD_READ | Rights::FD_READDIR | Rights::POLL_FD_READWRITE).bits(),
        0,
        fdflags,
        16,
    );
    assert_eq!(e, Errno::SUCCESS, "path_open {path}");
    u32::from_le_bytes(mem[16..20].try_into().unwrap())
}

/// Files and FIFOs the guest opens are distinct fds, each its own entry of the one persistent
/// set; regular files are ready because the engine's one rule says so (the kernel refused
/// them), a FIFO with no writer is not. A directory holds no FD_READ (nothing can `fd_read` it),
/// so a read subscription on it is a NOTCAPABLE event and never reaches the set.
#[test]
fn files_the_guest_opens_are_distinct_entries_and_the_engine_decides_readiness() {
    let dir = std::env::temp_dir().join(format!("waitset-poll-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("a"), b"12345").unwrap();
    std::fs::write(dir.join("b"), b"").unwrap();
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        dir.join("fifo"),
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();
    let mut ctx = WasiCtx::builder()
        .poll_seed(0)
        .preopen_host_dir(&dir, "/d")
        .unwrap()
        .build()
        .unwrap();
    let a = open_under(&mut ctx, "a", 0, 0);
    let b = open_under(&mut ctx, "b", 0, 0);
    let sub = open_under(&mut ctx, "sub", 0, 0);
    let fifo = open_under(&mut ctx, "fifo", 0, 0);
    let fds = [a, b, sub, fifo];
    let mut sorted = fds;
    sorted.sort();
    assert!(sorted.windows(2).all(|w| w[0] != w[1]), "{fds:?}");
    let subs: Vec<_> = fds
        .iter()
        .enumerate()
        .map(|(i, &fd)| fd_sub(i as u64, fd, false))
        .collect();
    let (e, evs) = call(&mut ctx, &subs);
    assert_eq!(e, Errno::SUCCESS);
    let mut ready: Vec<(u64, Errno)> = evs.iter().map(|e| (e.userdata, e.error)).collect();
    ready.sort();
    assert_eq!(
        ready,
        vec![
            (0, Errno::SUCCESS),
            (1, Errno::SUCCESS),
            (2, Errno::NOTCAPABLE)
        ],
        "{evs:?}"
    );
    let a_ev = evs.iter().find(|e| e.userdata == 0).unwrap();
    assert_eq!(
        a_ev.fd_readwrite.nbytes, 5,
        "bytes left in the file, from the kernel"
    );
    assert_eq!(ctx.poll_state().registered_fds(), 3, "a, b and the FIFO");
    for fd in fds {
        assert_eq!(ctx.close(fd), Ok(()));
    }
    assert_eq!(ctx.poll_state().registered_fds(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}
