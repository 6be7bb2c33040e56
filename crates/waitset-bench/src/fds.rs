//! Descriptor pools shared by the fd workloads, and the open-files limit.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::io::Errno;
use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

use crate::Error;

/// Descriptors kept free for everything else (epoll instances, eventfds, timerfds, stdio,
/// the test harness, the async-io reactor).
const HEADROOM: u64 = 256;

/// Raise the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit now in force.
pub(crate) fn raise_nofile() -> u64 {
    let lim = getrlimit(Resource::Nofile);
    if lim.current != lim.maximum {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: lim.maximum,
                maximum: lim.maximum,
            },
        );
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// How many socketpairs fit under the soft open-files limit, with headroom.
pub(crate) fn pair_budget() -> usize {
    let soft = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    usize::try_from(soft.saturating_sub(HEADROOM) / 2).unwrap_or(usize::MAX)
}

/// One non-blocking AF_UNIX stream socketpair: bytes written to `w` become readable on `r`.
pub(crate) struct Pair {
    pub(crate) r: OwnedFd,
    pub(crate) w: OwnedFd,
}

impl Pair {
    pub(crate) fn new() -> Result<Pair, Error> {
        let (r, w) = socketpair(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        )?;
        Ok(Pair { r, w })
    }

    /// The read end.
    pub(crate) fn r(&self) -> BorrowedFd<'_> {
        self.r.as_fd()
    }
}

/// `n` socketpairs.
pub(crate) fn pairs(n: usize) -> Result<Vec<Pair>, Error> {
    if n > pair_budget() {
        return Err(Error::Setup(format!(
            "{n} socketpairs do not fit under RLIMIT_NOFILE"
        )));
    }
    (0..n).map(|_| Pair::new()).collect()
}

/// Write one byte (the socket buffers are far from full in every workload).
#[inline]
pub(crate) fn put(fd: impl AsFd) {
    let _ = rustix::io::write(fd, &[1u8]);
}

/// Read what is there with one `read`; loop only while the buffer came back full, so that an
/// edge-triggered reader has provably drained the socket (a short read on a stream socket means
/// it was empty at that moment). Returns the bytes read.
#[inline]
pub(crate) fn take(fd: impl AsFd) -> usize {
    let fd = fd.as_fd();
    let mut buf = [0u8; 16];
    let mut total = 0;
    loop {
        match rustix::io::read(fd, &mut buf) {
            Ok(n) => {
                total += n;
                if n < buf.len() {
                    return total;
                }
            }
            Err(Errno::INTR) => {}
            Err(_) => return total,
        }
    }
}

/// Empty every read end (untimed clean-up between samples).
pub(crate) fn drain(pairs: &[Pair]) {
    for p in pairs {
        take(&p.r);
    }
}
