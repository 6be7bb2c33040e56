//! The epoll backend (Linux): interest lives in the kernel, so a wait costs in proportion to what
//! is ready, not to how much is watched. Every `epoll_ctl` and `epoll_wait` of the crate is here.

use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::time::Duration;

use rustix::event::epoll::{self, EventData, EventFlags};
use rustix::io::Errno;

use super::{AddError, Backend, Reports, Trigger, KERNEL_BATCH};
use crate::fdrules::Bits;

/// An epoll instance.
pub(crate) struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    /// The epoll instance itself (readable when a wait would report something).
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.fd.as_fd()
    }

    pub(crate) fn new() -> crate::Result<Epoll> {
        Ok(Epoll {
            fd: epoll::create(epoll::CreateFlags::CLOEXEC).map_err(crate::Error::sys)?,
        })
    }
}

/// The epoll flags for kernel interest bits (the same values) and a mode.
#[inline]
fn flags(interest: Bits, mode: Trigger) -> EventFlags {
    let f = EventFlags::from_bits_retain(interest);
    match mode {
        Trigger::Level => f,
        Trigger::Edge => f | EventFlags::ET,
        Trigger::Oneshot => f | EventFlags::ONESHOT,
    }
}

impl Backend for Epoll {
    fn add(
        &self,
        fd: BorrowedFd<'_>,
        token: u64,
        interest: Bits,
        mode: Trigger,
    ) -> Result<(), AddError> {
        match epoll::add(
            &self.fd,
            fd,
            EventData::new_u64(token),
            flags(interest, mode),
        ) {
            Ok(()) => Ok(()),
            Err(Errno::PERM) => Err(AddError::Refused),
            Err(e) => Err(AddError::Sys(e)),
        }
    }

    fn modify(
        &self,
        fd: BorrowedFd<'_>,
        token: u64,
        interest: Bits,
        mode: Trigger,
    ) -> Result<(), Errno> {
        // ENOENT: the kernel dropped the registration when the file was closed; the number may
        // name another file now, which is never registered from here.
        epoll::modify(
            &self.fd,
            fd,
            EventData::new_u64(token),
            flags(interest, mode),
        )
    }

    fn delete(&self, fd: BorrowedFd<'_>) -> Result<(), Errno> {
        epoll::delete(&self.fd, fd)
    }

    fn still_registered(&self, fd: BorrowedFd<'_>) -> bool {
        // epoll keys a registration by (file, number): adding the number again fails with
        // EEXIST exactly while the registered file is the one the number names. Unlike a
        // modify, this re-arms nothing. If the add succeeds, the old registration was gone:
        // take the probe back out.
        match epoll::add(
            &self.fd,
            fd,
            EventData::new_u64(u64::MAX - 3),
            EventFlags::empty(),
        ) {
            Err(Errno::EXIST) => true,
            Ok(()) => {
                let _ = epoll::delete(&self.fd, fd);
                false
            }
            Err(_) => false,
        }
    }

    fn wait<R>(
        &self,
        max: usize,
        timeout: Option<Duration>,
        f: impl FnOnce(&mut Reports<'_>) -> R,
    ) -> Result<R, Errno> {
        // Uninitialised stack space: nothing is zero-filled, and the reports go to `f` from here
        // without an intermediate copy.
        let mut buf = [MaybeUninit::<epoll::Event>::uninit(); KERNEL_BATCH];
        let n = max.clamp(1, KERNEL_BATCH);
        let ts = timeout.map(crate::deadline::timespec);
        let (events, _) = epoll::wait(&self.fd, &mut buf[..n], ts.as_ref())?;
        Ok(f(&mut Reports::Epoll(events.iter())))
    }

    fn change_needs_wake(&self) -> bool {
        false
    }
}
