//! The preview1 host functions through the engine-agnostic core: behaviour, rights, and bad
//! guest pointers (FAULT/INVAL, never a panic, no side effect).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;

use waitset_wasi::abi::{clockid, filetype, sdflags, Errno, FdFlags, Rights};
use waitset_wasi::{host, WasiCtx};

fn mem() -> Vec<u8> {
    vec![0u8; 65536]
}

fn u32_at(mem: &[u8], at: u32) -> u32 {
    u32::from_le_bytes(mem[at as usize..][..4].try_into().unwrap())
}

fn u64_at(mem: &[u8], at: u32) -> u64 {
    u64::from_le_bytes(mem[at as usize..][..8].try_into().unwrap())
}

/// Writes one iovec {buf, len} at `at`.
fn iovec(mem: &mut [u8], at: u32, buf: u32, len: u32) {
    mem[at as usize..][..4].copy_from_slice(&buf.to_le_bytes());
    mem[at as usize + 4..][..4].copy_from_slice(&len.to_le_bytes());
}

fn pipe() -> (OwnedFd, OwnedFd) {
    rustix::pipe::pipe().unwrap()
}

fn fionread(fd: &OwnedFd) -> u64 {
    rustix::io::ioctl_fionread(fd).unwrap()
}

#[test]
fn args_and_environ_layout() {
    let mut c = WasiCtx::builder()
        .arg("prog")
        .arg("a b")
        .env("K", "V=1")
        .build()
        .unwrap();
    let mut m = mem();
    assert_eq!(host::args_sizes_get(&mut c, &mut m, 0, 4), Errno::SUCCESS);
    assert_eq!((u32_at(&m, 0), u32_at(&m, 4)), (2, 9));
    assert_eq!(host::args_get(&mut c, &mut m, 16, 64), Errno::SUCCESS);
    assert_eq!((u32_at(&m, 16), u32_at(&m, 20)), (64, 69));
    assert_eq!(&m[64..73], b"prog\0a b\0");

    assert_eq!(
        host::environ_sizes_get(&mut c, &mut m, 0, 4),
        Errno::SUCCESS
    );
    assert_eq!((u32_at(&m, 0), u32_at(&m, 4)), (1, 6));
    assert_eq!(host::environ_get(&mut c, &mut m, 32, 128), Errno::SUCCESS);
    assert_eq!(u32_at(&m, 32), 128);
    assert_eq!(&m[128..134], b"K=V=1\0");
}

#[test]
fn args_get_checks_both_buffers_before_writing() {
    let mut c = WasiCtx::builder().arg("prog").arg("xyz").build().unwrap();
    let mut m = mem();
    let before = m.clone();
    // argv fits, argv_buf runs past the end
    assert_eq!(host::args_get(&mut c, &mut m, 0, 65536 - 4), Errno::FAULT);
    assert!(m == before);
    assert_eq!(host::args_get(&mut c, &mut m, 65536 - 4, 0), Errno::FAULT);
    assert_eq!(host::args_get(&mut c, &mut m, 2, 64), Errno::INVAL);
    assert!(m == before);
}

#[test]
fn ctx_rejects_nul_and_bad_env() {
    assert!(WasiCtx::builder().arg("a\0b").build().is_err());
    assert!(WasiCtx::builder().env("", "v").build().is_err());
    assert!(WasiCtx::builder().env("K", "v\0").build().is_err());
}

#[test]
fn fd_write_and_fd_read_through_a_pipe() {
    let (r, w) = pipe();
    let (r2, w2) = pipe();
    let mut c = WasiCtx::builder()
        .preopen_fd(w)
        .preopen_fd(r2)
        .build()
        .unwrap();
    let mut m = mem();
    m[100..105].copy_from_slice(b"hello");
    m[200..206].copy_from_slice(b" world");
    iovec(&mut m, 0, 100, 5);
    iovec(&mut m, 8, 300, 0); // empty buffers are skipped
    iovec(&mut m, 16, 200, 6);
    assert_eq!(host::fd_write(&mut c, &mut m, 3, 0, 3, 40), Errno::SUCCESS);
    assert_eq!(u32_at(&m, 40), 11);
    let mut got = [0u8; 11];
    std::fs::File::from(r).read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hello world");

    std::fs::File::from(w2).write_all(b"abcdef").unwrap();
    iovec(&mut m, 0, 500, 0);
    iovec(&mut m, 8, 600, 4);
    assert_eq!(host::fd_read(&mut c, &mut m, 4, 0, 2, 40), Errno::SUCCESS);
    assert_eq!(u32_at(&m, 40), 4);
    assert_eq!(&m[600..604], b"abcd");
    // the writer is closed: the rest, then EOF
    assert_eq!(host::fd_read(&mut c, &mut m, 4, 0, 2, 40), Errno::SUCCESS);
    assert_eq!(u32_at(&m, 40), 2);
    assert_eq!(host::fd_read(&mut c, &mut m, 4, 0, 2, 40), Errno::SUCCESS);
    assert_eq!(u32_at(&m, 40), 0);
}

#[test]
fn bad_pointers_fail_before_any_io() {
    let (r, w) = pipe();
    let (r2, w2) = pipe();
    rustix::io::write(&w2, b"data").unwrap();
    let mut c = WasiCtx::builder()
        .preopen_fd(w)
        .preopen_fd(r2)
        .build()
        .unwrap();
    let mut m = mem();
    iovec(&mut m, 0, 100, 4);
    // nwritten out of bounds: nothing is written to the pipe
    assert_eq!(host::fd_write(&mut c, &mut m, 3, 0, 1, 65536), Errno::FAULT);
    assert_eq!(host::fd_write(&mut c, &mut m, 3, 0, 1, 41), Errno::INVAL);
    assert_eq!(fionread(&r), 0);
    // a buffer out of bounds
    iovec(&mut m, 0, 65534, 4);
    assert_eq!(host::fd_write(&mut c, &mut m, 3, 0, 1, 40), Errno::FAULT);
    assert_eq!(fionread(&r), 0);
    // iovec array out of bounds / misaligned / overflowing
    assert_eq!(
        host::fd_write(&mut c, &mut m, 3, 65532, 1, 40),
        Errno::FAULT
    );
    assert_eq!(host::fd_write(&mut c, &mut m, 3, 2, 1, 40), Errno::INVAL);
    assert_eq!(
        host::fd_write(&mut c, &mut m, 3, 0, u32::MAX, 40),
        Errno::FAULT
    );
    assert_eq!(fionread(&r), 0);
    // fd_read with nread out of bounds: the data stays in the pipe
    iovec(&mut m, 0, 100, 4);
    assert_eq!(
        host::fd_read(&mut c, &mut m, 4, 0, 1, u32::MAX),
        Errno::FAULT
    );
    assert_eq!(host::fd_read(&mut c, &mut m, 4, 0, 1, 40), Errno::SUCCESS);
    assert_eq!(u32_at(&m, 40), 4);
    assert_eq!(&m[100..104], b"data");
}

#[test]
fn rights_are_enforced() {
    let (r, w) = pipe();
    let mut c = WasiCtx::builder()
        .preopen_fd(r)
        .preopen_fd(w)
        .build()
        .unwrap();
    let mut m = mem();
    iovec(&mut m, 0, 100, 4);
    assert_eq!(
        host::fd_write(&mut c, &mut m, 3, 0, 1, 40),
        Errno::NOTCAPABLE
    );
    assert_eq!(
        host::fd_read(&mut c, &mut m, 4, 0, 1, 40),
        Errno::NOTCAPABLE
    );
    assert_eq!(host::fd_seek(&mut c, &mut m, 3, 0, 1, 40), Errno::SPIPE);
}

/// wasi-testsuite `c/sock_shutdown-not_sock`: a non-socket is NOTSOCK, decided by the fd's
/// kind before its rights (a pipe lacks SOCK_SHUTDOWN because it is not a socket).
#[test]
fn sock_calls_on_a_non_socket_are_notsock_before_rights() {
    let (r, w) = pipe();
    let mut c = WasiCtx::builder()
        .preopen_fd(r)
        .preopen_fd(w)
        .build()
        .unwrap();
    let mut m = mem();
    iovec(&mut m, 0, 100, 4);
    assert_eq!(host::sock_accept(&mut c, &mut m, 3, 0, 40), Errno::NOTSOCK);
    assert_eq!(
        host::sock_shutdown(&mut c, &mut m, 3, sdflags::WR),
        Errno::NOTSOCK
    );
    assert_eq!(
        host::sock_recv(&mut c, &mut m, 4, 0, 1, 0, 40, 44),
        Errno::NOTSOCK
    );
    assert_eq!(
        host::sock_send(&mut c, &mut m, 3, 0, 1, 0, 40),
        Errno::NOTSOCK
    );
    // An fd that is not open is still BADF.
    assert_eq!(
        host::sock_shutdown(&mut c, &mut m, 9, sdflags::WR),
        Errno::BADF
    );
}

#[test]
fn unknown_fds_are_badf() {
    let mut c = WasiCtx::builder().build().unwrap();
    let mut m = mem();
    iovec(&mut m, 0, 100, 4);
    for fd in [0, 1, 2, 3, 1000, u32::MAX] {
        assert_eq!(host::fd_write(&mut c, &mut m, fd, 0, 1, 40), Errno::BADF);
        assert_eq!(host::fd_read(&mut c, &mut m, fd, 0, 1, 40), Errno::BADF);
        assert_eq!(host::fd_fdstat_get(&mut c, &mut m, fd, 64), Errno::BADF);
        assert_eq!(host::fd_close(&mut c, &mut m, fd), Errno::BADF);
        assert_eq!(host::fd_prestat_get(&mut c, &mut m, fd, 64), Errno::BADF);
    }
}

#[test]
fn fd_close_removes_the_entry() {
    let (r, w) = pipe();
    let mut c = WasiCtx::builder().preopen_fd(w).build().unwrap();
    let mut m = mem();
    assert_eq!(host::fd_close(&mut c, &mut m, 3), Errno::SUCCESS);
    assert_eq!(host::fd_close(&mut c, &mut m, 3), Errno::BADF);
    // the host fd was closed: the read end sees EOF
    let mut buf = [0u8; 1];
    assert_eq!(rustix::io::read(&r, &mut buf).unwrap(), 0);
}

#[test]
fn fdstat_reports_kind_rights_and_flags() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let (r, _w) = pipe();
    let mut c = WasiCtx::builder()
        .preopen_listener(listener)
        .preopen_fd(r)
        .build()
        .unwrap();
    let mut m = mem();
    assert_eq!(host::fd_fdstat_get(&mut c, &mut m, 3, 64), Errno::SUCCESS);
    assert_eq!(m[64], filetype::SOCKET_STREAM);
    let base = Rights::from_bits_retain(u64_at(&m, 72));
    assert!(base.contains(Rights::SOCK_ACCEPT | Rights::POLL_FD_READWRITE | Rights::FD_READ));
    let inheriting = Rights::from_bits_retain(u64_at(&m, 80));
    assert!(inheriting.contains(Rights::FD_READ | Rights::FD_WRITE | Rights::SOCK_SHUTDOWN));

    assert_eq!(host::fd_fdstat_get(&mut c, &mut m, 4, 64), Errno::SUCCESS);
    assert_eq!(m[64], filetype::UNKNOWN, "pipes have no preview1 filetype");
    let base = Rights::from_bits_retain(u64_at(&m, 72));
    assert!(base.contains(Rights::FD_READ | Rights::POLL_FD_READWRITE));
    assert!(!base.intersects(Rights::FD_WRITE | Rights::FD_SEEK));

    assert_eq!(host::fd_fdstat_get(&mut c, &mut m, 4, 68), Errno::INVAL);
    assert_eq!(
        host::fd_fdstat_get(&mut c, &mut m, 4, 65536 - 16),
        Errno::FAULT
    );
    // a listener is not a preopened directory
    assert_eq!(host::fd_prestat_get(&mut c, &mut m, 3, 64), Errno::BADF);
    // ... and, being open, its name is NOTDIR (as wasmtime); an fd that is not open is BADF.
    assert_eq!(
        host::fd_prestat_dir_name(&mut c, &mut m, 3, 64, 10),
        Errno::NOTDIR
    );
    assert_eq!(
        host::fd_prestat_dir_name(&mut c, &mut m, 99, 64, 10),
        Errno::BADF
    );
}

#[test]
fn nonblocking_flag_is_emulated_on_a_blocking_host_fd() {
    let (r, _w) = pipe();
    let mut c = WasiCtx::builder().preopen_fd(r).build().unwrap();
    let mut m = mem();
    assert_eq!(
        host::fd_fdstat_set_flags(&mut c, &mut m, 3, FdFlags::NONBLOCK.bits()),
        Errno::SUCCESS
    );
    iovec(&mut m, 0, 100, 4);
    // the host pipe is blocking; the guest asked for nonblocking: EAGAIN, not a hang
    assert_eq!(host::fd_read(&mut c, &mut m, 3, 0, 1, 40), Errno::AGAIN);
    assert_eq!(host::fd_fdstat_get(&mut c, &mut m, 3, 64), Errno::SUCCESS);
    assert_eq!(u16::from_le_bytes([m[66], m[67]]), FdFlags::NONBLOCK.bits());

    assert_eq!(
        host::fd_fdstat_set_flags(&mut c, &mut m, 3, 0x20),
        Errno::INVAL
    );
    assert_eq!(
        host::fd_fdstat_set_flags(&mut c, &mut m, 3, FdFlags::SYNC.bits()),
        Errno::NOTSUP
    );
}

#[test]
fn sockets_accept_recv_send_shutdown() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut c = WasiCtx::builder()
        .preopen_listener(listener)
        .build()
        .unwrap();
    let mut m = mem();

    // nonblocking listener, nobody connecting: EAGAIN
    assert_eq!(
        host::fd_fdstat_set_flags(&mut c, &mut m, 3, FdFlags::NONBLOCK.bits()),
        Errno::SUCCESS
    );
    assert_eq!(host::sock_accept(&mut c, &mut m, 3, 0, 40), Errno::AGAIN);
    assert_eq!(host::sock_accept(&mut c, &mut m, 3, 0x10, 40), Errno::INVAL);

    let mut client = TcpStream::connect(addr).unwrap();
    // ro_fd out of bounds: the connection stays pending, no fd is created
    assert_eq!(host::sock_accept(&mut c, &mut m, 3, 0, 65536), Errno::FAULT);
    assert_eq!(c.fds().len(), 1);
    // blocking listener: accept waits for the connection that is already there
    assert_eq!(
        host::fd_fdstat_set_flags(&mut c, &mut m, 3, 0),
        Errno::SUCCESS
    );
    assert_eq!(host::sock_accept(&mut c, &mut m, 3, 0, 40), Errno::SUCCESS);
    let fd = u32_at(&m, 40);
    assert_eq!(fd, 0, "the lowest free guest fd (this guest has no stdio)");

    client.write_all(b"ping").unwrap();
    iovec(&mut m, 0, 100, 16);
    // blocking recv with WAITALL would wait for 16 bytes; plain recv returns what is there
    assert_eq!(
        host::sock_recv(&mut c, &mut m, fd, 0, 1, 0, 48, 52),
        Errno::SUCCESS
    );
    assert_eq!(u32_at(&m, 48), 4);
    assert_eq!(&m[100..104], b"ping");
    assert_eq!(u16::from_le_bytes([m[52], m[53]]), 0);
    assert_eq!(
        host::sock_recv(&mut c, &mut m, fd, 0, 1, 4, 48, 52),
        Errno::INVAL
    );
    assert_eq!(
        host::sock_recv(&mut c, &mut m, fd, 0, 1, 0, 48, 53),
        Errno::INVAL
    );

    m[200..204].copy_from_slice(b"pong");
    iovec(&mut m, 8, 200, 4);
    assert_eq!(
        host::sock_send(&mut c, &mut m, fd, 8, 1, 0, 48),
        Errno::SUCCESS
    );
    assert_eq!(u32_at(&m, 48), 4);
    assert_eq!(
        host::sock_send(&mut c, &mut m, fd, 8, 1, 1, 48),
        Errno::INVAL
    );
    assert_eq!(
        host::sock_shutdown(&mut c, &mut m, fd, sdflags::WR),
        Errno::SUCCESS
    );
    assert_eq!(host::sock_shutdown(&mut c, &mut m, fd, 0), Errno::INVAL);
    assert_eq!(host::sock_shutdown(&mut c, &mut m, fd, 4), Errno::INVAL);
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"pong");

    // fd_write and fd_read work on sockets too
    client.write_all(b"xy").unwrap();
    drop(client);
    iovec(&mut m, 0, 300, 8);
    assert_eq!(host::fd_read(&mut c, &mut m, fd, 0, 1, 48), Errno::SUCCESS);
    assert_eq!(&m[300..302], b"xy");
    // the peer is gone: writing is EPIPE or ECONNRESET, never a SIGPIPE
    let mut last = Errno::SUCCESS;
    for _ in 0..100 {
        last = host::fd_write(&mut c, &mut m, fd, 8, 1, 48);
        if last != Errno::SUCCESS {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(matches!(last, Errno::PIPE | Errno::CONNRESET), "{last:?}");
}

#[test]
fn clocks_random_and_yield() {
    let mut c = WasiCtx::builder().build().unwrap();
    let mut m = mem();
    assert_eq!(
        host::clock_time_get(&mut c, &mut m, clockid::MONOTONIC, 0, 8),
        Errno::SUCCESS
    );
    let t1 = u64_at(&m, 8);
    assert_eq!(
        host::clock_time_get(&mut c, &mut m, clockid::MONOTONIC, 0, 8),
        Errno::SUCCESS
    );
    assert!(u64_at(&m, 8) >= t1);
    assert_eq!(
        host::clock_time_get(&mut c, &mut m, clockid::REALTIME, 0, 8),
        Errno::SUCCESS
    );
    assert!(u64_at(&m, 8) > 1_600_000_000_000_000_000);
    for id in 0..4 {
        assert_eq!(host::clock_res_get(&mut c, &mut m, id, 16), Errno::SUCCESS);
        assert!(u64_at(&m, 16) >= 1);
    }
    assert_eq!(host::clock_time_get(&mut c, &mut m, 4, 0, 8), Errno::INVAL);
    assert_eq!(host::clock_time_get(&mut c, &mut m, 1, 0, 12), Errno::INVAL);
    assert_eq!(
        host::clock_time_get(&mut c, &mut m, 1, 0, 65536),
        Errno::FAULT
    );

    assert_eq!(host::random_get(&mut c, &mut m, 1000, 64), Errno::SUCCESS);
    assert!(m[1000..1064].iter().any(|&b| b != 0));
    assert_eq!(host::random_get(&mut c, &mut m, 65535, 2), Errno::FAULT);
    assert_eq!(host::random_get(&mut c, &mut m, 65536, 0), Errno::SUCCESS);
    assert_eq!(host::sched_yield(&mut c), Errno::SUCCESS);
    assert_eq!(host::proc_exit(&mut c, 3), host::ProcExit(3));
}

#[test]
fn seek_and_filestat_on_a_file() {
    let path = std::env::temp_dir().join(format!("waitset-wasi-seek-{}", std::process::id()));
    std::fs::write(&path, b"0123456789").unwrap();
    let f = std::fs::File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let mut c = WasiCtx::builder().preopen_fd(f.into()).build().unwrap();
    let mut m = mem();
    assert_eq!(host::fd_seek(&mut c, &mut m, 3, -3, 2, 8), Errno::SUCCESS);
    assert_eq!(u64_at(&m, 8), 7);
    assert_eq!(host::fd_seek(&mut c, &mut m, 3, 0, 1, 8), Errno::SUCCESS);
    assert_eq!(u64_at(&m, 8), 7);
    assert_eq!(host::fd_seek(&mut c, &mut m, 3, -1, 0, 8), Errno::INVAL);
    assert_eq!(host::fd_seek(&mut c, &mut m, 3, 0, 3, 8), Errno::INVAL);
    assert_eq!(host::fd_filestat_get(&mut c, &mut m, 3, 64), Errno::SUCCESS);
    assert_eq!(m[64 + 16], filetype::REGULAR_FILE);
    assert_eq!(u64_at(&m, 64 + 32), 10);
    assert_eq!(
        host::fd_filestat_get(&mut c, &mut m, 3, 65536 - 32),
        Errno::FAULT
    );
}

/// Every function, every pointer argument, a set of hostile values: an errno, never a panic.
#[test]
fn hostile_pointers_never_panic() {
    let nasty = [
        0u32,
        1,
        3,
        4,
        7,
        65528,
        65532,
        65535,
        65536,
        65537,
        0x7fff_ffff,
        u32::MAX - 3,
        u32::MAX,
    ];
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let (r, w) = pipe();
    let mut c = WasiCtx::builder()
        .arg("x")
        .env("A", "B")
        .preopen_listener(listener)
        .preopen_fd(r)
        .preopen_fd(w)
        .build()
        .unwrap();
    let _ = host::fd_fdstat_set_flags(&mut c, &mut mem(), 3, FdFlags::NONBLOCK.bits());
    let _ = host::fd_fdstat_set_flags(&mut c, &mut mem(), 4, FdFlags::NONBLOCK.bits());
    for &a in &nasty {
        for &b in &nasty {
            let mut m = mem();
            m.iter_mut()
                .enumerate()
                .for_each(|(i, x)| *x = (i * 7) as u8);
            let _ = host::args_get(&mut c, &mut m, a, b);
            let _ = host::args_sizes_get(&mut c, &mut m, a, b);
            let _ = host::environ_get(&mut c, &mut m, a, b);
            let _ = host::environ_sizes_get(&mut c, &mut m, a, b);
            let _ = host::clock_res_get(&mut c, &mut m, 1, a);
            let _ = host::clock_time_get(&mut c, &mut m, 1, 0, a);
            let _ = host::random_get(&mut c, &mut m, a, b.min(1 << 20));
            let _ = host::fd_fdstat_get(&mut c, &mut m, 3, a);
            let _ = host::fd_filestat_get(&mut c, &mut m, 3, a);
            let _ = host::fd_seek(&mut c, &mut m, 3, 0, 1, a);
            let _ = host::fd_prestat_dir_name(&mut c, &mut m, 3, a, b);
            let _ = host::sock_accept(&mut c, &mut m, 3, 0, a);
            for fd in [3, 4, 5] {
                let _ = host::fd_read(&mut c, &mut m, fd, a, b, a);
                let _ = host::fd_write(&mut c, &mut m, 5, a, b, b);
                let _ = host::sock_recv(&mut c, &mut m, fd, a, b, 0, a, b);
                let _ = host::sock_send(&mut c, &mut m, fd, a, b, 0, b);
            }
            let _ = waitset_wasi::poll_oneoff(&mut c, &mut m, a, b, 1, a);
            let _ = waitset_wasi::poll_oneoff(&mut c, &mut m, a, b, b, 8);
        }
    }
}
