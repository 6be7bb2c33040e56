//! Measure how end of file and hang-up look on this machine, for every kind of object the engine
//! is documented for, on every backend, in raw and normalized mode. Each cell is a `PollSet` on
//! that backend (epoll keeps the interest in the kernel; poll is poll(2)), and `poll()` must give
//! the same answer (it is poll(2) on every backend): the example stops if they disagree.
//!
//! ```text
//! cargo run -p waitset --example eof_table > table.md
//! ```
//!
//! Prints a Markdown table: one row per (object, state, events asked), one column pair (raw,
//! normalized) per backend. docs/SEMANTICS.md holds its output.

use std::ffi::CString;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags};
use rustix::net::{AddressFamily, SendFlags, Shutdown, SocketFlags, SocketType};
use waitset::{BackendKind, EofMode, PollFd, PollFlags, PollOptions, PollSet, Timeout};

/// One object in one state: the fd that is polled, plus whatever must stay open meanwhile.
struct Case {
    object: &'static str,
    state: &'static str,
    fd: OwnedFd,
    _keep: Vec<OwnedFd>,
}

fn case(object: &'static str, state: &'static str, fd: OwnedFd, keep: Vec<OwnedFd>) -> Case {
    Case {
        object,
        state,
        fd,
        _keep: keep,
    }
}

fn main() {
    let backends: Vec<BackendKind> = if cfg!(target_os = "linux") {
        vec![BackendKind::Epoll, BackendKind::Poll]
    } else {
        vec![BackendKind::Poll]
    };
    let mut cases = Vec::new();
    cases.extend(pipe_cases());
    cases.extend(fifo_cases());
    cases.extend(socketpair_cases());
    cases.extend(tcp_cases());
    cases.extend(pty_cases());
    cases.extend(file_cases());

    let uname = rustix::system::uname();
    println!(
        "Measured on {} {} ({}) by `cargo run -p waitset --example eof_table`.\n",
        uname.sysname().to_string_lossy(),
        uname.release().to_string_lossy(),
        uname.machine().to_string_lossy()
    );
    print!("| object | state | asked |");
    for k in &backends {
        print!(" {0} raw | {0} normalized |", k.name());
    }
    println!();
    print!("|---|---|---|");
    for _ in &backends {
        print!("---|---|");
    }
    println!();
    for c in &cases {
        for asked in [PollFlags::IN | PollFlags::OUT, PollFlags::IN] {
            print!("| {} | {} | {} |", c.object, c.state, names(asked));
            for &k in &backends {
                let raw = measure(&c.fd, asked, k, EofMode::Raw);
                let norm = measure(&c.fd, asked, k, EofMode::Normalized);
                print!(" {} | {} |", names(raw), names(norm));
            }
            println!();
        }
    }
}

fn measure(fd: &OwnedFd, asked: PollFlags, k: BackendKind, eof: EofMode) -> PollFlags {
    let opts = PollOptions::new().backend(k).eof(eof);
    let mut set = PollSet::with_options(opts);
    set.push(fd, asked).expect("push");
    set.poll(Timeout::ZERO, false).expect("PollSet::poll");
    let got = set.iter().next().expect("one entry").revents();
    let mut fds = [PollFd::new(fd, asked)];
    opts.poll(&mut fds, 0).expect("poll");
    assert_eq!(
        got,
        fds[0].revents(),
        "PollSet on {k:?} and poll() disagree"
    );
    got
}

/// The bits of `f` by name, in `<poll.h>` order; `0` when empty.
fn names(f: PollFlags) -> String {
    const ORDER: [(PollFlags, &str); 10] = [
        (PollFlags::IN, "IN"),
        (PollFlags::RDNORM, "RDNORM"),
        (PollFlags::RDBAND, "RDBAND"),
        (PollFlags::PRI, "PRI"),
        (PollFlags::OUT, "OUT"),
        (PollFlags::WRNORM, "WRNORM"),
        (PollFlags::WRBAND, "WRBAND"),
        (PollFlags::ERR, "ERR"),
        (PollFlags::HUP, "HUP"),
        (PollFlags::NVAL, "NVAL"),
    ];
    let mut v: Vec<String> = ORDER
        .iter()
        .filter(|(b, _)| f.contains(*b))
        .map(|(_, n)| n.to_string())
        .collect();
    let known = ORDER.iter().fold(PollFlags::empty(), |a, (b, _)| a | *b);
    let rest = f.bits() & !known.bits();
    if rest != 0 {
        v.push(format!("{rest:#x}"));
    }
    if v.is_empty() {
        "0".to_string()
    } else {
        v.join(" ")
    }
}

/// Wait (up to 5 s) until the kernel's own poll shows `want` on `fd`, so a state change that
/// travels through the kernel (a FIN, a RST) has arrived before it is measured.
fn settle(fd: &impl AsFd, events: PollFlags, want: PollFlags) {
    let start = Instant::now();
    loop {
        let mut fds = [PollFd::new(fd, events)];
        PollOptions::new()
            .backend(BackendKind::Poll)
            .eof(EofMode::Raw)
            .poll(&mut fds, 100)
            .expect("poll");
        if fds[0].revents().contains(want) || start.elapsed() > Duration::from_secs(5) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn pipe() -> (OwnedFd, OwnedFd) {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK)
        .expect("pipe")
}

fn write(fd: &impl AsFd, b: &[u8]) {
    rustix::io::write(fd, b).expect("write");
}

fn pipe_cases() -> Vec<Case> {
    let (r1, w1) = pipe();
    drop(w1);
    let (r2, w2) = pipe();
    write(&w2, b"data");
    drop(w2);
    let (r3, w3) = pipe();
    drop(r3);
    vec![
        case("pipe", "read end, writer closed, no data", r1, vec![]),
        case("pipe", "read end, writer closed, data pending", r2, vec![]),
        case("pipe", "write end, reader closed", w3, vec![]),
    ]
}

static UNIQUE: AtomicUsize = AtomicUsize::new(0);

fn temp_path(what: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "waitset-eof-table-{what}-{}-{}",
        std::process::id(),
        UNIQUE.fetch_add(1, Ordering::Relaxed)
    ))
}

/// A FIFO's (read end, write end), both non-blocking; the path is removed once both are open.
fn fifo() -> (OwnedFd, OwnedFd) {
    let path = temp_path("fifo");
    rustix::fs::mkfifoat(rustix::fs::CWD, &path, Mode::from_raw_mode(0o600)).expect("mkfifo");
    let flags = OFlags::NONBLOCK | OFlags::CLOEXEC;
    let r = rustix::fs::open(&path, OFlags::RDONLY | flags, Mode::empty()).expect("open fifo r");
    let w = rustix::fs::open(&path, OFlags::WRONLY | flags, Mode::empty()).expect("open fifo w");
    std::fs::remove_file(&path).expect("unlink fifo");
    (r, w)
}

fn fifo_cases() -> Vec<Case> {
    let path = temp_path("fifo-lonely");
    rustix::fs::mkfifoat(rustix::fs::CWD, &path, Mode::from_raw_mode(0o600)).expect("mkfifo");
    let lonely = rustix::fs::open(
        &path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .expect("open fifo");
    std::fs::remove_file(&path).expect("unlink fifo");
    let (r1, w1) = fifo();
    drop(w1);
    let (r2, w2) = fifo();
    write(&w2, b"data");
    drop(w2);
    let (r3, w3) = fifo();
    drop(r3);
    vec![
        case("FIFO", "read end, no writer ever opened", lonely, vec![]),
        case("FIFO", "read end, writer closed, no data", r1, vec![]),
        case("FIFO", "read end, writer closed, data pending", r2, vec![]),
        case("FIFO", "write end, reader closed", w3, vec![]),
    ]
}

fn socketpair() -> (OwnedFd, OwnedFd) {
    rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )
    .expect("socketpair")
}

fn socketpair_cases() -> Vec<Case> {
    let (a1, b1) = socketpair();
    drop(b1);
    let (a2, b2) = socketpair();
    write(&b2, b"data");
    drop(b2);
    let (a3, b3) = socketpair();
    rustix::net::shutdown(&b3, Shutdown::Write).expect("shutdown");
    vec![
        case("socketpair", "peer closed, no data", a1, vec![]),
        case("socketpair", "peer closed, data pending", a2, vec![]),
        case("socketpair", "peer shut down writing only", a3, vec![b3]),
    ]
}

/// A connected TCP pair on 127.0.0.1 (client, server side), both non-blocking.
fn tcp_pair() -> (OwnedFd, OwnedFd) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let c = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
    let (s, _) = l.accept().expect("accept");
    c.set_nonblocking(true).expect("nonblocking");
    s.set_nonblocking(true).expect("nonblocking");
    (OwnedFd::from(c), OwnedFd::from(s))
}

fn tcp_cases() -> Vec<Case> {
    let (a1, b1) = tcp_pair();
    drop(b1);
    settle(&a1, PollFlags::IN, PollFlags::IN);
    let (a2, b2) = tcp_pair();
    write(&b2, b"data");
    drop(b2);
    settle(&a2, PollFlags::IN, PollFlags::IN);
    // Write after the peer closed: the peer answers with a reset.
    let (a3, b3) = tcp_pair();
    drop(b3);
    settle(&a3, PollFlags::IN, PollFlags::IN);
    let _ = rustix::net::send(&a3, b"x", SendFlags::NOSIGNAL);
    settle(&a3, PollFlags::IN, PollFlags::ERR);
    let (a4, b4) = tcp_pair();
    rustix::net::shutdown(&b4, Shutdown::Write).expect("shutdown");
    settle(&a4, PollFlags::IN, PollFlags::IN);
    vec![
        case("TCP", "peer closed, no data", a1, vec![]),
        case("TCP", "peer closed, data pending", a2, vec![]),
        case("TCP", "peer closed, then we wrote (reset)", a3, vec![]),
        case("TCP", "peer shut down writing only", a4, vec![b4]),
    ]
}

/// A pty (master, slave), both non-blocking; the slave is not our controlling terminal.
fn pty() -> (OwnedFd, OwnedFd) {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let m = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).expect("openpt");
    grantpt(&m).expect("grantpt");
    unlockpt(&m).expect("unlockpt");
    let name: CString = ptsname(&m, Vec::new()).expect("ptsname");
    let s = rustix::fs::open(
        name.as_c_str(),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .expect("open slave");
    rustix::fs::fcntl_setfl(&m, OFlags::NONBLOCK | OFlags::RDWR).expect("nonblocking");
    (m, s)
}

fn pty_cases() -> Vec<Case> {
    let (m1, s1) = pty();
    drop(s1);
    let (m2, s2) = pty();
    write(&s2, b"data\n");
    settle(&m2, PollFlags::IN, PollFlags::IN);
    drop(s2);
    let (m3, s3) = pty();
    drop(m3);
    let (m4, s4) = pty();
    write(&m4, b"data\n");
    settle(&s4, PollFlags::IN, PollFlags::IN);
    drop(m4);
    vec![
        case("pty", "master, slave closed, no data", m1, vec![]),
        case("pty", "master, slave wrote then closed", m2, vec![]),
        case("pty", "slave, master closed", s3, vec![]),
        case("pty", "slave, master wrote then closed", s4, vec![]),
    ]
}

fn file_cases() -> Vec<Case> {
    let path = temp_path("file");
    std::fs::write(&path, b"data").expect("write file");
    let f = rustix::fs::open(&path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()).expect("open");
    std::fs::remove_file(&path).expect("unlink");
    let null = rustix::fs::open("/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
        .expect("open /dev/null");
    vec![
        case("regular file", "(always)", f, vec![]),
        case("/dev/null", "(always)", null, vec![]),
    ]
}
