//! The epoll backend (Linux): interest lives in the kernel, so a wait costs in proportion to what
//! is ready, not to how much is watched.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{OwnedFd, RawFd};
use std::time::Duration;

use rustix::event::epoll::{self, EventData, EventFlags};
use rustix::io::Errno;

use super::{borrow, AddError, Backend, Ready, Trigger};
use crate::Signals;

/// How many kernel events one `epoll_wait` may return; bounded so the buffer lives on the stack.
pub(crate) const MAX_EVENTS: usize = 256;

/// An epoll instance.
pub(crate) struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    pub(crate) fn new() -> io::Result<Epoll> {
        Ok(Epoll {
            fd: epoll::create(epoll::CreateFlags::CLOEXEC)?,
        })
    }
}

/// The epoll flags for an interest and trigger.
pub(crate) fn flags(interest: Signals, trigger: Trigger) -> EventFlags {
    let mut f = EventFlags::empty();
    if interest.contains(Signals::READABLE) {
        f |= EventFlags::IN | EventFlags::RDHUP;
    }
    if interest.contains(Signals::WRITABLE) {
        f |= EventFlags::OUT;
    }
    if interest.contains(Signals::PRIORITY) {
        f |= EventFlags::PRI;
    }
    if interest.contains(Signals::PEER_CLOSED) {
        f |= EventFlags::RDHUP;
    }
    match trigger {
        Trigger::Level => {}
        Trigger::Edge => f |= EventFlags::ET,
        Trigger::Oneshot => f |= EventFlags::ONESHOT,
    }
    f
}

/// The signals an epoll event reports.
#[inline]
pub(crate) fn signals(f: EventFlags) -> Signals {
    let mut s = Signals::empty();
    if f.intersects(EventFlags::IN) {
        s |= Signals::READABLE;
    }
    if f.intersects(EventFlags::OUT) {
        s |= Signals::WRITABLE;
    }
    if f.intersects(EventFlags::PRI) {
        s |= Signals::PRIORITY;
    }
    if f.intersects(EventFlags::ERR) {
        s |= Signals::ERROR;
    }
    if f.intersects(EventFlags::HUP | EventFlags::RDHUP) {
        s |= Signals::PEER_CLOSED;
    }
    s
}

impl Backend for Epoll {
    fn add(
        &self,
        fd: RawFd,
        token: u64,
        interest: Signals,
        trigger: Trigger,
    ) -> Result<(), AddError> {
        match epoll::add(
            &self.fd,
            borrow(fd),
            EventData::new_u64(token),
            flags(interest, trigger),
        ) {
            Ok(()) => Ok(()),
            Err(Errno::PERM) => Err(AddError::NotPollable),
            Err(e) => Err(AddError::Io(e.into())),
        }
    }

    fn modify(&self, fd: RawFd, token: u64, interest: Signals, trigger: Trigger) -> io::Result<()> {
        Ok(epoll::modify(
            &self.fd,
            borrow(fd),
            EventData::new_u64(token),
            flags(interest, trigger),
        )?)
    }

    fn delete(&self, fd: RawFd) -> io::Result<()> {
        Ok(epoll::delete(&self.fd, borrow(fd))?)
    }

    fn wait<R>(
        &self,
        max: usize,
        timeout: Option<Duration>,
        f: impl FnOnce(&mut dyn Iterator<Item = Ready>) -> R,
    ) -> io::Result<R> {
        // Uninitialised stack space: nothing is zero-filled, and the reports go to `f` from here
        // without an intermediate copy.
        let mut buf = [MaybeUninit::<epoll::Event>::uninit(); MAX_EVENTS];
        let n = max.clamp(1, MAX_EVENTS);
        let ts = timeout.map(|d| rustix::time::Timespec {
            tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: d.subsec_nanos().into(),
        });
        let (events, _) = epoll::wait(&self.fd, &mut buf[..n], ts.as_ref())?;
        let mut reports = events.iter().map(|ev| {
            let fl = ev.flags;
            Ready {
                token: ev.data.u64(),
                signals: signals(fl),
                hup: fl.intersects(EventFlags::HUP | EventFlags::ERR),
            }
        });
        Ok(f(&mut reports))
    }

    fn change_needs_wake(&self) -> bool {
        false
    }
}
