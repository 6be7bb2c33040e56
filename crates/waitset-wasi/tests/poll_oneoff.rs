//! `poll_oneoff` through the engine-agnostic core, on a plain byte-vector guest memory.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use waitset_wasi::abi::{
    clockid, eventrwflags, eventtype, subclockflags, Errno, Event, Subscription, SubscriptionClock,
    SubscriptionFdReadwrite, SubscriptionKind,
};
use waitset_wasi::{host, poll_oneoff, WasiCtx};

const MEM: usize = 65536;
const IN: u32 = 0x1000;
const OUT: u32 = 0x4000;
const NEVENTS: u32 = 0x8000;
const LONG: u64 = 30_000_000_000; // 30 s: a clock that must not fire during a test

fn clock(userdata: u64, id: u32, timeout: u64, flags: u16) -> Subscription {
    Subscription {
        userdata,
        kind: SubscriptionKind::Clock(SubscriptionClock {
            id,
            timeout,
            precision: 0,
            flags,
        }),
    }
}

fn rel(userdata: u64, timeout: u64) -> Subscription {
    clock(userdata, clockid::MONOTONIC, timeout, 0)
}

fn fd_read(userdata: u64, fd: u32) -> Subscription {
    Subscription {
        userdata,
        kind: SubscriptionKind::FdRead(SubscriptionFdReadwrite { fd }),
    }
}

fn fd_write(userdata: u64, fd: u32) -> Subscription {
    Subscription {
        userdata,
        kind: SubscriptionKind::FdWrite(SubscriptionFdReadwrite { fd }),
    }
}

/// Guest memory filled with 0xAA, with `subs` written at `at`.
fn memory_with(subs: &[Subscription], at: u32) -> Vec<u8> {
    let mut mem = vec![0xAAu8; MEM];
    for (i, s) in subs.iter().enumerate() {
        let off = at as usize + i * Subscription::SIZE;
        let slot: &mut [u8; 48] = (&mut mem[off..off + 48]).try_into().unwrap();
        s.encode(slot);
    }
    mem
}

fn ctx() -> WasiCtx {
    WasiCtx::builder().poll_seed(0).build().unwrap()
}

/// Runs poll_oneoff on `subs` and returns the events sorted by userdata.
fn poll(ctx: &mut WasiCtx, subs: &[Subscription]) -> Vec<Event> {
    let mut mem = memory_with(subs, IN);
    let e = poll_oneoff(ctx, &mut mem, IN, OUT, subs.len() as u32, NEVENTS);
    assert_eq!(e, Errno::SUCCESS);
    let n = u32::from_le_bytes(mem[NEVENTS as usize..][..4].try_into().unwrap()) as usize;
    assert!(n >= 1 && n <= subs.len(), "nevents {n}");
    let mut evs: Vec<Event> = (0..n)
        .map(|i| Event::decode(&mem[OUT as usize + i * 32..]).unwrap())
        .collect();
    // Bytes after the last event are untouched.
    let end = OUT as usize + n * 32;
    assert!(mem[end..end + 32].iter().all(|&b| b == 0xAA));
    evs.sort_by_key(|e| e.userdata);
    evs
}

fn pipe() -> (OwnedFd, OwnedFd) {
    rustix::pipe::pipe().unwrap()
}

/// Calls poll_oneoff expecting `errno` and checks that not a byte of memory changed.
fn expect_error(in_: u32, out: u32, n: u32, nevents: u32, errno: Errno) {
    let subs = [rel(1, 0), rel(2, 0)];
    let mut mem = memory_with(&subs, IN);
    let before = mem.clone();
    let e = poll_oneoff(&mut ctx(), &mut mem, in_, out, n, nevents);
    assert_eq!(
        e, errno,
        "in={in_:#x} out={out:#x} n={n} nevents={nevents:#x}"
    );
    assert!(mem == before, "memory changed on an error return");
}

#[test]
fn nsubscriptions_zero_is_inval() {
    expect_error(IN, OUT, 0, NEVENTS, Errno::INVAL);
}

#[test]
fn ranges_outside_memory_are_fault() {
    let m = MEM as u32;
    expect_error(m - 40, OUT, 1, NEVENTS, Errno::FAULT);
    expect_error(m, OUT, 1, NEVENTS, Errno::FAULT);
    expect_error(IN, m - 24, 1, NEVENTS, Errno::FAULT);
    expect_error(IN, OUT, 1, m, Errno::FAULT);
    expect_error(IN, OUT, 1, m - 2, Errno::FAULT); // also misaligned: bounds come first
    expect_error(IN, OUT, 1, u32::MAX - 3, Errno::FAULT);
    expect_error(u32::MAX - 7, OUT, 1, NEVENTS, Errno::FAULT);
    expect_error(0, 40000, 1000, NEVENTS, Errno::FAULT); // in fits, out does not
}

#[test]
fn huge_nsubscriptions_is_fault_without_allocating() {
    let t = Instant::now();
    expect_error(IN, OUT, 0x1000_0000, NEVENTS, Errno::FAULT);
    expect_error(IN, OUT, u32::MAX, NEVENTS, Errno::FAULT);
    expect_error(0, 0, u32::MAX / 32, 0, Errno::FAULT);
    assert!(t.elapsed() < Duration::from_secs(10));
}

#[test]
fn misaligned_pointers_are_inval() {
    expect_error(IN + 4, OUT, 1, NEVENTS, Errno::INVAL);
    expect_error(IN + 1, OUT, 1, NEVENTS, Errno::INVAL);
    expect_error(IN, OUT + 4, 1, NEVENTS, Errno::INVAL);
    expect_error(IN, OUT, 1, NEVENTS + 2, Errno::INVAL);
}

#[test]
fn invalid_tag_anywhere_is_inval_and_nothing_is_written() {
    for bad in 0..3usize {
        let subs = [rel(1, 0), rel(2, 0), rel(3, 0)];
        let mut mem = memory_with(&subs, IN);
        mem[IN as usize + bad * 48 + 8] = 3;
        let before = mem.clone();
        let e = poll_oneoff(&mut ctx(), &mut mem, IN, OUT, 3, NEVENTS);
        assert_eq!(e, Errno::INVAL);
        assert!(mem == before);
    }
}

#[test]
fn in_and_out_may_overlap() {
    for out in [IN, IN + 8, IN + 16, IN + 48] {
        let subs = [rel(10, 0), rel(20, 0), clock(30, clockid::REALTIME, 1, 1)];
        let mut mem = memory_with(&subs, IN);
        let e = poll_oneoff(&mut ctx(), &mut mem, IN, out, 3, NEVENTS);
        assert_eq!(e, Errno::SUCCESS);
        assert_eq!(
            u32::from_le_bytes(mem[NEVENTS as usize..][..4].try_into().unwrap()),
            3
        );
        let mut uds: Vec<u64> = (0..3)
            .map(|i| {
                Event::decode(&mem[out as usize + i * 32..])
                    .unwrap()
                    .userdata
            })
            .collect();
        uds.sort();
        assert_eq!(uds, [10, 20, 30], "out = in + {}", out - IN);
    }
}

#[test]
fn every_expired_clock_gets_its_own_event() {
    let evs = poll(
        &mut ctx(),
        &[
            rel(1, 0),
            clock(
                2,
                clockid::MONOTONIC,
                1,
                subclockflags::SUBSCRIPTION_CLOCK_ABSTIME,
            ),
            clock(3, clockid::REALTIME, 0, 0),
            rel(4, LONG),
        ],
    );
    let uds: Vec<u64> = evs.iter().map(|e| e.userdata).collect();
    assert_eq!(uds, [1, 2, 3]);
    for e in &evs {
        assert_eq!((e.error, e.type_), (Errno::SUCCESS, eventtype::CLOCK));
        assert_eq!(e.fd_readwrite.nbytes, 0);
    }
}

#[test]
fn absolute_deadline_in_the_past_fires_at_once() {
    for id in [clockid::MONOTONIC, clockid::REALTIME] {
        let evs = poll(
            &mut ctx(),
            &[
                clock(1, id, 5, subclockflags::SUBSCRIPTION_CLOCK_ABSTIME),
                rel(2, LONG),
            ],
        );
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].userdata, 1);
    }
}

#[test]
fn absolute_realtime_deadline_is_measured_on_realtime() {
    let now = host::now_ns(clockid::REALTIME).unwrap();
    let t = Instant::now();
    let evs = poll(
        &mut ctx(),
        &[clock(
            1,
            clockid::REALTIME,
            now + 40_000_000,
            subclockflags::SUBSCRIPTION_CLOCK_ABSTIME,
        )],
    );
    assert_eq!(evs[0].userdata, 1);
    assert!(host::now_ns(clockid::REALTIME).unwrap() >= now + 40_000_000);
    assert!(t.elapsed() >= Duration::from_millis(30));
}

#[test]
fn a_clock_is_never_reported_early() {
    for precision in [0, 1_000_000_000] {
        let mut s = rel(1, 50_000_000);
        if let SubscriptionKind::Clock(c) = &mut s.kind {
            c.precision = precision;
        }
        let t = Instant::now();
        let evs = poll(&mut ctx(), &[s]);
        assert_eq!(evs.len(), 1);
        assert!(
            t.elapsed() >= Duration::from_millis(50),
            "{:?}",
            t.elapsed()
        );
    }
}

#[test]
fn per_subscription_problems_are_events_returned_at_once() {
    let mut c = ctx();
    let cases: [(Subscription, Errno); 6] = [
        (
            clock(1, clockid::PROCESS_CPUTIME_ID, 1000, 0),
            Errno::NOTSUP,
        ),
        (clock(1, clockid::THREAD_CPUTIME_ID, 1000, 0), Errno::NOTSUP),
        (clock(1, 4, 1000, 0), Errno::INVAL),
        (clock(1, clockid::MONOTONIC, 1000, 0x2), Errno::INVAL),
        (fd_read(1, 99), Errno::BADF),
        (fd_write(1, u32::MAX), Errno::BADF),
    ];
    for (sub, errno) in cases {
        let t = Instant::now();
        let evs = poll(&mut c, &[sub, rel(2, LONG)]);
        assert_eq!(evs.len(), 1, "{sub:?}");
        assert_eq!(evs[0].userdata, 1);
        assert_eq!(evs[0].error, errno, "{sub:?}");
        assert_eq!(evs[0].type_, sub.kind.event_type());
        assert!(t.elapsed() < Duration::from_secs(20));
    }
}

#[test]
fn guest_cannot_name_host_fds_it_was_not_given() {
    // The test process has fds 0, 1, 2 (and the pipe below) open, but this guest has an
    // empty table: every one of them is BADF to it.
    let (_r, _w) = pipe();
    let mut c = ctx();
    for fd in 0..16 {
        let evs = poll(&mut c, &[fd_write(1, fd), rel(2, LONG)]);
        assert_eq!(evs[0].error, Errno::BADF, "fd {fd}");
    }
}

#[test]
fn fd_without_the_right_is_notcapable() {
    let (r, w) = pipe();
    let mut c = WasiCtx::builder()
        .preopen_fd(r)
        .preopen_fd(w)
        .build()
        .unwrap();
    let evs = poll(&mut c, &[fd_write(1, 3), fd_read(2, 4), rel(3, LONG)]);
    assert_eq!(evs.len(), 2);
    assert_eq!(evs[0].error, Errno::NOTCAPABLE);
    assert_eq!(evs[1].error, Errno::NOTCAPABLE);
}

#[test]
fn pipe_readiness_nbytes_and_hangup() {
    let (r, w) = pipe();
    let mut wf = std::fs::File::from(w);
    let mut c = WasiCtx::builder()
        .preopen_fd(r)
        .poll_seed(1)
        .build()
        .unwrap();

    // Empty pipe, writer open: only the timeout.
    let evs = poll(&mut c, &[fd_read(1, 3), rel(2, 0)]);
    assert_eq!(evs.iter().map(|e| e.userdata).collect::<Vec<_>>(), [2]);

    wf.write_all(b"hello").unwrap();
    let evs = poll(&mut c, &[fd_read(1, 3), rel(2, LONG)]);
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].type_, eventtype::FD_READ);
    assert_eq!(evs[0].error, Errno::SUCCESS);
    assert_eq!(evs[0].fd_readwrite.nbytes, 5);
    assert_eq!(evs[0].fd_readwrite.flags, 0);

    drop(wf);
    let evs = poll(&mut c, &[fd_read(1, 3), rel(2, LONG)]);
    assert_eq!(evs[0].fd_readwrite.nbytes, 5);
    assert_eq!(evs[0].fd_readwrite.flags, eventrwflags::FD_READWRITE_HANGUP);
}

#[test]
fn pipe_write_end_reports_free_space() {
    let (r, w) = pipe();
    let mut c = WasiCtx::builder().preopen_fd(w).build().unwrap();
    let evs = poll(&mut c, &[fd_write(1, 3)]);
    assert_eq!(evs[0].error, Errno::SUCCESS);
    let size = rustix::pipe::fcntl_getpipe_size(&r).unwrap() as u64;
    assert_eq!(evs[0].fd_readwrite.nbytes, size);
}

#[test]
fn pipe_write_end_reports_hangup_when_the_reader_is_gone() {
    let (r, w) = pipe();
    let mut c = WasiCtx::builder().preopen_fd(w).build().unwrap();
    drop(r);
    let evs = poll(&mut c, &[fd_write(1, 3), rel(2, LONG)]);
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].error, Errno::SUCCESS);
    assert_eq!(evs[0].fd_readwrite.flags, eventrwflags::FD_READWRITE_HANGUP);
    assert_eq!(evs[0].fd_readwrite.nbytes, 0);
}

#[test]
fn a_blocked_wait_wakes_when_data_arrives() {
    let (r, w) = pipe();
    let mut c = WasiCtx::builder().preopen_fd(r).build().unwrap();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        rustix::io::write(&w, b"x").unwrap();
        w
    });
    let evs = poll(&mut c, &[fd_read(1, 3), rel(2, LONG)]);
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].userdata, 1);
    assert_eq!(evs[0].fd_readwrite.nbytes, 1);
    drop(writer.join().unwrap());
}

#[test]
fn timeout_zero_is_reported_together_with_ready_fds() {
    let (r, w) = pipe();
    rustix::io::write(&w, b"abc").unwrap();
    let mut c = WasiCtx::builder()
        .preopen_fd(r)
        .preopen_fd(w)
        .build()
        .unwrap();
    let evs = poll(&mut c, &[fd_read(1, 3), fd_write(2, 4), rel(3, 0)]);
    assert_eq!(
        evs.iter().map(|e| e.userdata).collect::<Vec<_>>(),
        [1, 2, 3]
    );
}

#[test]
fn regular_file_is_always_ready_with_bytes_left() {
    let path = std::env::temp_dir().join(format!("waitset-wasi-poll-{}", std::process::id()));
    std::fs::write(&path, b"0123456789").unwrap();
    let f = std::fs::File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let mut c = WasiCtx::builder().preopen_fd(f.into()).build().unwrap();
    let evs = poll(&mut c, &[fd_read(1, 3), rel(2, LONG)]);
    assert_eq!(evs[0].fd_readwrite.nbytes, 10);

    // Read 4 bytes through fd_read: 6 are left.
    let mut mem = vec![0u8; 256];
    mem[0..4].copy_from_slice(&64u32.to_le_bytes());
    mem[4..8].copy_from_slice(&4u32.to_le_bytes());
    assert_eq!(host::fd_read(&mut c, &mut mem, 3, 0, 1, 16), Errno::SUCCESS);
    assert_eq!(&mem[64..68], b"0123");
    let evs = poll(&mut c, &[fd_read(1, 3), rel(2, LONG)]);
    assert_eq!(evs[0].fd_readwrite.nbytes, 6);
}

#[test]
fn dev_null_is_always_ready() {
    let f = std::fs::File::open("/dev/null").unwrap();
    let mut c = WasiCtx::builder().preopen_fd(f.into()).build().unwrap();
    let evs = poll(&mut c, &[fd_read(1, 3), rel(2, LONG)]);
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].error, Errno::SUCCESS);
    assert_eq!(evs[0].fd_readwrite.nbytes, 0);
}

#[test]
fn poll_seed_rotates_the_order_of_events() {
    let mut c = WasiCtx::builder().poll_seed(0).build().unwrap();
    let subs = [rel(1, 0), rel(2, 0), rel(3, 0)];
    let mut firsts = Vec::new();
    for _ in 0..3 {
        let mut mem = memory_with(&subs, IN);
        assert_eq!(
            poll_oneoff(&mut c, &mut mem, IN, OUT, 3, NEVENTS),
            Errno::SUCCESS
        );
        firsts.push(Event::decode(&mem[OUT as usize..]).unwrap().userdata);
    }
    firsts.sort();
    assert_eq!(
        firsts,
        [1, 2, 3],
        "each subscription comes first once in three calls"
    );
    assert_eq!(c.poll_seed(), 3);
}

#[test]
fn fixed_seed_gives_the_same_order() {
    let order = |seed| {
        let mut c = WasiCtx::builder().poll_seed(seed).build().unwrap();
        let subs = [rel(1, 0), rel(2, 0), rel(3, 0), rel(4, 0)];
        let mut mem = memory_with(&subs, IN);
        assert_eq!(
            poll_oneoff(&mut c, &mut mem, IN, OUT, 4, NEVENTS),
            Errno::SUCCESS
        );
        (0..4)
            .map(|i| {
                Event::decode(&mem[OUT as usize + 32 * i..])
                    .unwrap()
                    .userdata
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(order(7), order(7));
    assert_ne!(order(7), order(8));
}
