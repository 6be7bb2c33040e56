//! Real objects and real signals for the POSIX-face and PollSet behaviour tests.
//!
//! Backend iteration lives in `tests/util`; this module only builds the objects (FIFOs, TCP pairs,
//! ptys, eventfds, regular files, closed fd numbers) and installs signal handlers.
#![allow(dead_code)]

use std::ffi::CString;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags};
use waitset::{BackendKind, EofMode, PollFd, PollFlags, PollOptions};

static UNIQUE: AtomicUsize = AtomicUsize::new(0);

/// A path under the temp dir that no other test, process or run uses.
pub fn temp_path(what: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!(
        "waitset-test-{what}-{}-{}-{nanos}",
        std::process::id(),
        UNIQUE.fetch_add(1, Ordering::Relaxed)
    ))
}

/// A FIFO made with mkfifo in the temp dir: (read end, write end), both non-blocking. The path is
/// removed once both ends are open.
pub fn fifo() -> (OwnedFd, OwnedFd) {
    let path = temp_path("fifo");
    rustix::fs::mkfifoat(rustix::fs::CWD, &path, Mode::from_raw_mode(0o600)).expect("mkfifo");
    let flags = OFlags::NONBLOCK | OFlags::CLOEXEC;
    let r = rustix::fs::open(&path, OFlags::RDONLY | flags, Mode::empty()).expect("open fifo r");
    let w = rustix::fs::open(&path, OFlags::WRONLY | flags, Mode::empty()).expect("open fifo w");
    std::fs::remove_file(&path).expect("unlink fifo");
    (r, w)
}

/// A connected TCP pair on 127.0.0.1: (client, server side), both non-blocking.
pub fn tcp_pair() -> (OwnedFd, OwnedFd) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let c = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
    let (s, _) = l.accept().expect("accept");
    c.set_nonblocking(true).expect("nonblocking");
    s.set_nonblocking(true).expect("nonblocking");
    (OwnedFd::from(c), OwnedFd::from(s))
}

/// A pty: (master, slave), both non-blocking; the slave is not our controlling terminal.
pub fn pty() -> (OwnedFd, OwnedFd) {
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
    .expect("open pty slave");
    rustix::fs::fcntl_setfl(&m, OFlags::RDWR | OFlags::NONBLOCK).expect("nonblocking");
    (m, s)
}

/// A non-blocking eventfd with counter `init`.
pub fn eventfd(init: u32) -> OwnedFd {
    use rustix::event::EventfdFlags;
    rustix::event::eventfd(init, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK).expect("eventfd")
}

/// A regular file (already unlinked) holding `contents`, open read-write.
pub fn regular_file(contents: &[u8]) -> OwnedFd {
    let path = temp_path("file");
    std::fs::write(&path, contents).expect("write file");
    let f = rustix::fs::open(&path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()).expect("open");
    std::fs::remove_file(&path).expect("unlink file");
    f
}

/// /dev/null, open read-write.
pub fn dev_null() -> OwnedFd {
    rustix::fs::open("/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()).expect("/dev/null")
}

static CLOSED_SLOT: AtomicUsize = AtomicUsize::new(0);

/// The number of an fd that was open a moment ago and is now closed.
///
/// Tests in one binary run on parallel threads and the kernel hands out the lowest free number, so
/// a freshly closed low number could be reused by another test before the poll sees it. This one
/// is made by duplicating a pipe onto a number near the top of the fd table (where nothing else
/// will be allocated) and closing it again.
pub fn closed_fd() -> RawFd {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(1 << 20)
        .min(1 << 20) as RawFd;
    let slot = (CLOSED_SLOT.fetch_add(1, Ordering::Relaxed) % 64) as RawFd;
    let target = limit - 1 - slot;
    let (r, _w) = rustix::pipe::pipe().expect("pipe");
    // SAFETY: dup2 onto a number nothing else allocates (see above); closed right after.
    let fd = unsafe { libc::dup2(r.as_raw_fd(), target) };
    assert_eq!(fd, target, "dup2: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` was just created by dup2 and is owned by nobody else.
    assert_eq!(unsafe { libc::close(fd) }, 0);
    fd
}

/// Poll one entry once without blocking and return its revents.
///
/// `poll()` is poll(2) on every backend; the same question is also put to a fresh `PollSet` on
/// the options' backend (which keeps its interest in that backend: epoll or poll(2)), and the two
/// answers must agree, so every rule checked through this helper holds for both faces on every
/// backend.
pub fn revents_now(opts: PollOptions, fd: &impl AsFd, events: PollFlags) -> PollFlags {
    let mut fds = [PollFd::new(fd, events)];
    opts.poll(&mut fds, 0).expect("poll");
    let by_poll = fds[0].revents();
    if events.is_empty() {
        return by_poll; // a PollSet refuses an entry that asks for nothing
    }
    let mut set = waitset::PollSet::with_options(opts);
    set.push(fd, events).expect("push");
    set.poll(waitset::Timeout::ZERO, false)
        .expect("PollSet::poll");
    let by_set = set.iter().next().expect("one entry").revents();
    assert_eq!(
        by_set,
        by_poll,
        "PollSet on {:?} and poll() disagree for {events:?}",
        opts.backend_kind()
    );
    by_poll
}

/// What the kernel's own poll(2) says about `fd` for `events` (no engine involved).
pub fn kernel_poll(fd: &impl AsFd, events: PollFlags) -> PollFlags {
    let mut p = libc::pollfd {
        fd: fd.as_fd().as_raw_fd(),
        events: events.bits(),
        revents: 0,
    };
    // SAFETY: one valid pollfd, no timeout.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    assert!(n >= 0, "poll: {}", std::io::Error::last_os_error());
    PollFlags::from_bits_retain(p.revents)
}

/// Wait (up to 5 s) until the kernel's poll shows `want` on `fd`, so a state change that travels
/// through the kernel (a FIN, a reset, urgent data) has arrived before a test measures it.
pub fn settle(fd: &impl AsFd, events: PollFlags, want: PollFlags) {
    let opts = PollOptions::new()
        .backend(BackendKind::Poll)
        .eof(EofMode::Raw);
    let start = Instant::now();
    while !revents_now(opts, fd, events).contains(want) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{want:?} never arrived"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

// ---------------------------------------------------------------------------------------------
// Signals

/// Serializes every test of one binary that touches signal dispositions or masks.
static SIGNAL_LOCK: Mutex<()> = Mutex::new(());

/// How many times the SIGUSR1 handler has run.
pub static SIGUSR1_COUNT: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_sigusr1(_sig: libc::c_int) {
    SIGUSR1_COUNT.fetch_add(1, Ordering::SeqCst);
}

/// A SIGUSR1 handler installed *without* `SA_RESTART`, held under the binary's signal lock; the
/// previous disposition and this thread's signal mask are restored on drop.
pub struct SigusrHandler {
    old: libc::sigaction,
    old_mask: libc::sigset_t,
    _lock: MutexGuard<'static, ()>,
}

impl SigusrHandler {
    pub fn install() -> SigusrHandler {
        let lock = SIGNAL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: plain libc calls on zero-initialised, valid structs; the handler only touches
        // an atomic, which is async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigusr1 as extern "C" fn(libc::c_int) as libc::sighandler_t;
            sa.sa_flags = 0; // no SA_RESTART
            libc::sigemptyset(&mut sa.sa_mask);
            let mut old: libc::sigaction = std::mem::zeroed();
            assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, &mut old), 0);
            let mut old_mask: libc::sigset_t = std::mem::zeroed();
            assert_eq!(
                libc::pthread_sigmask(libc::SIG_SETMASK, std::ptr::null(), &mut old_mask),
                0
            );
            SigusrHandler {
                old,
                old_mask,
                _lock: lock,
            }
        }
    }
}

impl Drop for SigusrHandler {
    fn drop(&mut self) {
        // Let any SIGUSR1 still pending for this thread run the handler before the old
        // disposition comes back (which might be "terminate").
        unblock(libc::SIGUSR1);
        std::thread::sleep(Duration::from_millis(1));
        // SAFETY: restoring values saved by `install`.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old_mask, std::ptr::null_mut());
            libc::sigaction(libc::SIGUSR1, &self.old, std::ptr::null_mut());
        }
    }
}

/// Block `sig` in the calling thread.
pub fn block(sig: libc::c_int) {
    change_mask(libc::SIG_BLOCK, sig);
}

/// Unblock `sig` in the calling thread.
pub fn unblock(sig: libc::c_int) {
    change_mask(libc::SIG_UNBLOCK, sig);
}

fn change_mask(how: libc::c_int, sig: libc::c_int) {
    // SAFETY: valid sigset built by sigemptyset/sigaddset.
    unsafe {
        let mut s: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut s);
        libc::sigaddset(&mut s, sig);
        assert_eq!(libc::pthread_sigmask(how, &s, std::ptr::null_mut()), 0);
    }
}

/// Whether `sig` is pending for the calling thread (or the process).
pub fn is_pending(sig: libc::c_int) -> bool {
    // SAFETY: sigpending fills a valid sigset.
    unsafe {
        let mut s: libc::sigset_t = std::mem::zeroed();
        assert_eq!(libc::sigpending(&mut s), 0);
        libc::sigismember(&s, sig) == 1
    }
}

/// The calling thread, as a target for [`SignalStorm`] and `pthread_kill`.
#[derive(Clone, Copy)]
pub struct ThreadId(libc::pthread_t);

impl ThreadId {
    pub fn current() -> ThreadId {
        // SAFETY: pthread_self has no preconditions.
        ThreadId(unsafe { libc::pthread_self() })
    }
    pub fn kill(self, sig: libc::c_int) {
        // SAFETY: the target thread is alive: every storm is stopped before its target returns.
        let r = unsafe { libc::pthread_kill(self.0, sig) };
        assert_eq!(r, 0, "pthread_kill");
    }
}

/// A thread that sends SIGUSR1 to one target thread, first after `first`, then every `every`,
/// until stopped (or until `max` has passed, so a broken test cannot run forever).
pub struct SignalStorm {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SignalStorm {
    pub fn start(target: ThreadId, first: Duration, every: Duration, max: Duration) -> SignalStorm {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let (s, n) = (stop.clone(), sent.clone());
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            std::thread::sleep(first);
            while !s.load(Ordering::SeqCst) && start.elapsed() < max {
                target.kill(libc::SIGUSR1);
                n.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(every);
            }
        });
        SignalStorm {
            stop,
            sent,
            thread: Some(thread),
        }
    }

    /// Stop sending and wait for the sender; returns how many signals it sent.
    pub fn stop(mut self) -> usize {
        self.halt();
        self.sent.load(Ordering::SeqCst)
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().expect("signal sender");
        }
    }
}

impl Drop for SignalStorm {
    fn drop(&mut self) {
        self.halt();
    }
}
