//! The file-descriptor rules every face uses, each written once:
//!
//! * **kernel bits**: readiness as the kernel reports it, in `poll(2)` bit values (which epoll
//!   shares on Linux), and their translation to and from [`Signals`];
//! * **end of file**: how hang-up bits are normalized ([`normalize_eof`]);
//! * **status**: what a descriptor entry of a wait set reports for a kernel report
//!   ([`fd_status`]);
//! * **always ready**: a descriptor the kernel refuses to watch (epoll answers `EPERM` for
//!   regular files, directories, `/dev/null`) is always ready for what its access mode allows
//!   ([`ALWAYS_READY_BITS`], [`always_ready_status`]); nothing else (no file-type guess) makes a
//!   descriptor always ready;
//! * **access mode**: which signals a descriptor can ever assert ([`possible_signals`]);
//! * **identity**: which open file a descriptor number names ([`FileId`]), to tell a reused
//!   number from the file that had it.

use std::os::fd::BorrowedFd;

use crate::{Error, Result, Signals, Status};

/// Kernel readiness bits, as `poll(2)` defines them (epoll uses the same values on Linux).
pub(crate) type Bits = u32;

/// `POLLIN`.
pub(crate) const IN: Bits = libc::POLLIN as u16 as Bits;
/// `POLLPRI`.
pub(crate) const PRI: Bits = libc::POLLPRI as u16 as Bits;
/// `POLLOUT`.
pub(crate) const OUT: Bits = libc::POLLOUT as u16 as Bits;
/// `POLLERR`.
pub(crate) const ERR: Bits = libc::POLLERR as u16 as Bits;
/// `POLLHUP`.
pub(crate) const HUP: Bits = libc::POLLHUP as u16 as Bits;
/// `POLLNVAL`.
pub(crate) const NVAL: Bits = libc::POLLNVAL as u16 as Bits;
/// `POLLRDNORM`.
pub(crate) const RDNORM: Bits = libc::POLLRDNORM as u16 as Bits;
/// `POLLRDBAND`.
pub(crate) const RDBAND: Bits = libc::POLLRDBAND as u16 as Bits;
/// `POLLWRNORM`.
pub(crate) const WRNORM: Bits = libc::POLLWRNORM as u16 as Bits;
/// `POLLWRBAND`.
pub(crate) const WRBAND: Bits = libc::POLLWRBAND as u16 as Bits;
/// `POLLRDHUP` (the peer shut down its writing side) where the kernel has it, else nothing.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) const RDHUP: Bits = libc::POLLRDHUP as u16 as Bits;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) const RDHUP: Bits = 0;

#[cfg(any(target_os = "linux", target_os = "android"))]
const _: () = {
    // The epoll backend hands these bits to epoll_ctl and reads epoll_wait's bits as these.
    assert!(IN == libc::EPOLLIN as Bits && OUT == libc::EPOLLOUT as Bits);
    assert!(PRI == libc::EPOLLPRI as Bits && ERR == libc::EPOLLERR as Bits);
    assert!(HUP == libc::EPOLLHUP as Bits && RDHUP == libc::EPOLLRDHUP as Bits);
    assert!(RDNORM == libc::EPOLLRDNORM as Bits && RDBAND == libc::EPOLLRDBAND as Bits);
    assert!(WRNORM == libc::EPOLLWRNORM as Bits && WRBAND == libc::EPOLLWRBAND as Bits);
};

/// What `poll(2)` reports for a file that is always ready (Linux's `DEFAULT_POLLMASK`), before
/// masking with the requested events.
pub(crate) const ALWAYS_READY_BITS: Bits = IN | OUT | RDNORM | WRNORM;

/// The kernel interest for a wait-set entry's signals.
#[inline]
pub(crate) fn interest(signals: Signals) -> Bits {
    let mut b = 0;
    if signals.contains(Signals::READABLE) {
        b |= IN | RDHUP;
    }
    if signals.contains(Signals::WRITABLE) {
        b |= OUT;
    }
    if signals.contains(Signals::PRIORITY) {
        b |= PRI;
    }
    if signals.contains(Signals::PEER_CLOSED) {
        b |= RDHUP;
    }
    b
}

/// The signals kernel bits report.
#[inline]
pub(crate) fn signals(bits: Bits) -> Signals {
    let mut s = Signals::empty();
    if bits & (IN | RDNORM) != 0 {
        s |= Signals::READABLE;
    }
    if bits & (OUT | WRNORM | WRBAND) != 0 {
        s |= Signals::WRITABLE;
    }
    if bits & (PRI | RDBAND) != 0 {
        s |= Signals::PRIORITY;
    }
    if bits & (ERR | NVAL) != 0 {
        s |= Signals::ERROR;
    }
    if bits & (HUP | RDHUP) != 0 {
        s |= Signals::PEER_CLOSED;
    }
    s
}

/// Whether the kernel says the descriptor hung up, failed, or is not open: nothing will ever
/// become writable on it again.
#[inline]
pub(crate) fn hangup_or_error(bits: Bits) -> bool {
    bits & (HUP | ERR | NVAL) != 0
}

/// The end-of-file rule: kernels disagree on the bits they set at end of file; this makes them
/// agree. With `HUP`, the writable bits are cleared (a write would fail); with `HUP` or
/// `RDHUP`, the readable bits that were requested are set (a read returns 0 at once).
#[inline]
pub(crate) fn normalize_eof(requested: Bits, returned: Bits) -> Bits {
    let mut b = returned;
    if b & HUP != 0 {
        b &= !(OUT | WRNORM | WRBAND);
    }
    if b & (HUP | RDHUP) != 0 {
        b |= requested & (IN | RDNORM);
    }
    b
}

/// What a descriptor entry watching `watched` reports for the kernel bits `bits`.
///
/// The EOF rule applies first; then a descriptor that hung up or failed is never reported
/// writable. `ERROR` and `PEER_CLOSED` are shown whether watched or not. When none of the
/// watched signals is asserted and the descriptor hung up or failed, none ever will be:
/// [`Status::Unsatisfiable`].
#[inline]
pub(crate) fn fd_status(watched: Signals, bits: Bits) -> Option<(Status, Signals)> {
    if bits & (HUP | RDHUP | ERR | NVAL) == 0 {
        // The common case, no hang-up or error: the bits say it all.
        let obs = signals(bits);
        return obs
            .intersects(watched)
            .then_some((Status::Satisfied, obs & watched));
    }
    let mut obs = signals(normalize_eof(interest(watched), bits));
    let dead = hangup_or_error(bits);
    if dead {
        obs.remove(Signals::WRITABLE);
    }
    let shown = obs & (watched | Signals::ERROR | Signals::PEER_CLOSED);
    if obs.intersects(watched) {
        Some((Status::Satisfied, shown))
    } else if dead && !watched.is_empty() {
        Some((Status::Unsatisfiable, shown))
    } else {
        None
    }
}

/// What an always-ready descriptor (one the kernel refused to watch) whose access mode allows
/// `possible` reports for `watched`.
#[inline]
pub(crate) fn always_ready_status(possible: Signals, watched: Signals) -> Option<Signals> {
    let s = signals(ALWAYS_READY_BITS) & possible & watched;
    (!s.is_empty()).then_some(s)
}

/// The kernel's bits for `fd` now, for `interest` (one `poll(2)` that does not block): the
/// current state of one descriptor, without touching any registration.
pub(crate) fn bits_now(fd: BorrowedFd<'_>, interest: Bits) -> Bits {
    let mut p = libc::pollfd {
        fd: std::os::fd::AsRawFd::as_raw_fd(&fd),
        events: interest as u16 as i16,
        revents: 0,
    };
    match crate::sys::poll::raw_poll(
        std::slice::from_mut(&mut p),
        Some(std::time::Duration::ZERO),
        None,
    ) {
        Ok(_) => p.revents as u16 as Bits,
        Err(_) => 0,
    }
}

/// The signals a descriptor's access mode can ever assert; [`Error::BadHandle`] when it is not
/// open.
pub(crate) fn possible_signals(fd: BorrowedFd<'_>) -> Result<Signals> {
    use rustix::fs::OFlags;
    let fl = rustix::fs::fcntl_getfl(fd).map_err(|_| Error::BadHandle)?;
    let io = Signals::ERROR | Signals::PEER_CLOSED;
    Ok(match fl & OFlags::RWMODE {
        m if m == OFlags::RDONLY => io | Signals::READABLE | Signals::PRIORITY,
        m if m == OFlags::WRONLY => io | Signals::WRITABLE,
        _ => Signals::FD_ALL,
    })
}

/// Which open file a descriptor names: device and inode. Two descriptors with the same
/// number at different times name the same file only if their ids are equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    /// The id of the file `fd` names, or `None` when the number is not open.
    pub(crate) fn of(fd: BorrowedFd<'_>) -> Option<FileId> {
        let st = rustix::fs::fstat(fd).ok()?;
        Some(FileId {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eof_never_reports_writable_with_hangup_and_adds_requested_readable() {
        let b = normalize_eof(IN | OUT, IN | OUT | HUP);
        assert_eq!(b, IN | HUP);
        assert_eq!(normalize_eof(OUT, OUT | HUP), HUP);
        assert_eq!(normalize_eof(IN, HUP), IN | HUP);
        assert_eq!(normalize_eof(RDNORM, RDHUP), RDNORM | RDHUP);
        assert_eq!(
            normalize_eof(IN, OUT | ERR),
            OUT | ERR,
            "ERR alone is not EOF"
        );
    }

    #[test]
    fn a_failed_descriptor_is_never_writable_for_a_wait_set() {
        assert_eq!(
            fd_status(Signals::WRITABLE, OUT | ERR),
            Some((Status::Unsatisfiable, Signals::ERROR))
        );
        assert_eq!(
            fd_status(Signals::READABLE, HUP),
            Some((Status::Satisfied, Signals::READABLE | Signals::PEER_CLOSED))
        );
        assert_eq!(fd_status(Signals::READABLE, OUT), None);
    }

    #[test]
    fn always_ready_follows_the_access_mode() {
        let ro = Signals::READABLE | Signals::PRIORITY | Signals::ERROR | Signals::PEER_CLOSED;
        assert_eq!(always_ready_status(ro, Signals::WRITABLE), None);
        assert_eq!(
            always_ready_status(Signals::FD_ALL, Signals::READABLE | Signals::WRITABLE),
            Some(Signals::READABLE | Signals::WRITABLE)
        );
        assert_eq!(
            always_ready_status(Signals::FD_ALL, Signals::PRIORITY),
            None
        );
    }
}
