//! The event engines measured side by side on descriptor workloads, behind one small trait so
//! that every workload loop is written once and monomorphized per engine (no dynamic dispatch
//! in a timed loop).
//!
//! Each engine is driven the way its own documentation asks:
//! * waitset: a [`WaitSet`] with level-triggered `READABLE` entries (the default trigger).
//! * raw epoll: `epoll_ctl` + `epoll_wait` through rustix, level-triggered: the floor.
//! * mio: edge-triggered, as mio always is; the handler drains (see [`crate::fds::take`]).
//! * polling: one-shot, as polling's default mode is; every delivered event is re-armed with
//!   [`polling::Poller::modify`] after the handler ran — that `epoll_ctl` is polling's real cost.
//!   [`PollingLevel`] is polling's optional level mode, shown where it is informative.

use std::mem::MaybeUninit;
use std::num::NonZeroUsize;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use rustix::event::epoll::{self, EventData, EventFlags};
use waitset::{BackendKind, Deadline, Signals, Source, WaitResult, WaitSet};

use crate::Error;

/// A readiness engine: register read ends under integer tokens, then wait and dispatch.
pub(crate) trait Reactor<'a> {
    /// Watch `fd` for readability under `token`.
    fn register(&mut self, fd: BorrowedFd<'a>, token: usize) -> Result<(), Error>;
    /// Block until at least one registered fd is ready; call `f(token)` for each report.
    /// Returns the number of reports.
    fn wait(&mut self, f: &mut impl FnMut(usize)) -> Result<usize, Error>;
}

/// The engine under test.
pub(crate) struct WaitSetReactor {
    set: WaitSet,
    buf: Vec<WaitResult>,
}

impl WaitSetReactor {
    pub(crate) fn new(backend: BackendKind, cap: usize, entries: usize) -> Result<Self, Error> {
        Ok(WaitSetReactor {
            set: WaitSet::builder()
                .backend(backend)
                .capacity(entries)
                .build()?,
            buf: vec![WaitResult::default(); cap],
        })
    }
}

impl<'a> Reactor<'a> for WaitSetReactor {
    fn register(&mut self, fd: BorrowedFd<'a>, token: usize) -> Result<(), Error> {
        // SAFETY: the descriptor is borrowed for 'a, which outlives this reactor and its set:
        // it is closed only after the set is gone.
        unsafe {
            self.set
                .add(token as u64, Source::fd(&fd), Signals::READABLE)?
        };
        Ok(())
    }

    #[inline]
    fn wait(&mut self, f: &mut impl FnMut(usize)) -> Result<usize, Error> {
        let n = self.set.wait(Deadline::INFINITE, &mut self.buf)?;
        for r in &self.buf[..n] {
            f(r.cookie as usize);
        }
        Ok(n)
    }
}

/// Raw level-triggered epoll through rustix: what any engine on epoll must at least pay.
pub(crate) struct EpollReactor {
    ep: OwnedFd,
    buf: Vec<MaybeUninit<epoll::Event>>,
}

impl EpollReactor {
    pub(crate) fn new(cap: usize) -> Result<Self, Error> {
        Ok(EpollReactor {
            ep: epoll::create(epoll::CreateFlags::CLOEXEC)?,
            buf: vec![MaybeUninit::uninit(); cap],
        })
    }
}

impl<'a> Reactor<'a> for EpollReactor {
    fn register(&mut self, fd: BorrowedFd<'a>, token: usize) -> Result<(), Error> {
        epoll::add(
            &self.ep,
            fd,
            EventData::new_u64(token as u64),
            EventFlags::IN,
        )?;
        Ok(())
    }

    #[inline]
    fn wait(&mut self, f: &mut impl FnMut(usize)) -> Result<usize, Error> {
        let (events, _) = loop {
            match epoll::wait(&self.ep, &mut self.buf[..], None) {
                Err(rustix::io::Errno::INTR) => continue,
                r => break r?,
            }
        };
        for ev in events.iter() {
            f(ev.data.u64() as usize);
        }
        Ok(events.len())
    }
}

/// mio 1.x: `Poll` + `Events`, edge-triggered.
pub(crate) struct MioReactor {
    poll: mio::Poll,
    events: mio::Events,
}

impl MioReactor {
    pub(crate) fn new(cap: usize) -> Result<Self, Error> {
        Ok(MioReactor {
            poll: mio::Poll::new()?,
            events: mio::Events::with_capacity(cap),
        })
    }
}

impl<'a> Reactor<'a> for MioReactor {
    fn register(&mut self, fd: BorrowedFd<'a>, token: usize) -> Result<(), Error> {
        let raw = fd.as_raw_fd();
        self.poll.registry().register(
            &mut mio::unix::SourceFd(&raw),
            mio::Token(token),
            mio::Interest::READABLE,
        )?;
        Ok(())
    }

    #[inline]
    fn wait(&mut self, f: &mut impl FnMut(usize)) -> Result<usize, Error> {
        loop {
            match self.poll.poll(&mut self.events, None) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => break r?,
            }
        }
        let mut n = 0;
        for ev in self.events.iter() {
            f(ev.token().0);
            n += 1;
        }
        Ok(n)
    }
}

/// polling 3.x in its default one-shot mode: re-armed after every delivered event.
pub(crate) struct PollingReactor<'a> {
    poller: polling::Poller,
    events: polling::Events,
    fds: Vec<Option<BorrowedFd<'a>>>,
    level: bool,
}

impl PollingReactor<'_> {
    /// One-shot (`level == false`, polling's default) or level mode.
    pub(crate) fn new(cap: usize, level: bool) -> Result<Self, Error> {
        Ok(PollingReactor {
            poller: polling::Poller::new()?,
            events: polling::Events::with_capacity(NonZeroUsize::new(cap.max(1)).expect("max(1)")),
            fds: Vec::new(),
            level,
        })
    }
}

impl<'a> Reactor<'a> for PollingReactor<'a> {
    fn register(&mut self, fd: BorrowedFd<'a>, token: usize) -> Result<(), Error> {
        let mode = if self.level {
            polling::PollMode::Level
        } else {
            polling::PollMode::Oneshot
        };
        // SAFETY: polling requires the source to be deleted from the poller before it is closed.
        // Every fd registered here is borrowed for 'a, which outlives this reactor (the borrow is
        // stored in `self.fds`); the poller — and with it every registration — is dropped before
        // the descriptors can be closed.
        unsafe {
            self.poller
                .add_with_mode(fd.as_raw_fd(), polling::Event::readable(token), mode)?;
        }
        if self.fds.len() <= token {
            self.fds.resize(token + 1, None);
        }
        self.fds[token] = Some(fd);
        Ok(())
    }

    #[inline]
    fn wait(&mut self, f: &mut impl FnMut(usize)) -> Result<usize, Error> {
        self.events.clear();
        loop {
            match self.poller.wait(&mut self.events, None) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => {
                    r?;
                    break;
                }
            };
        }
        let mut n = 0;
        for ev in self.events.iter() {
            f(ev.key);
            n += 1;
            if !self.level {
                if let Some(fd) = self.fds[ev.key] {
                    self.poller.modify(fd, polling::Event::readable(ev.key))?;
                }
            }
        }
        Ok(n)
    }
}

/// The engines a descriptor workload can be run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// waitset WaitSet on the epoll backend.
    WaitSetEpoll,
    /// waitset WaitSet on the poll(2) backend.
    WaitSetPoll,
    /// Raw epoll, level-triggered.
    Epoll,
    /// mio, edge-triggered.
    Mio,
    /// polling, one-shot (its default).
    Polling,
    /// polling, level mode.
    PollingLevel,
}

impl Kind {
    /// The engine's name in reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::WaitSetEpoll => "waitset [epoll]",
            Kind::WaitSetPoll => "waitset [poll]",
            Kind::Epoll => "raw epoll",
            Kind::Mio => "mio",
            Kind::Polling => "polling [oneshot]",
            Kind::PollingLevel => "polling [level]",
        }
    }
}

/// Build the engine `kind` and hand it to `body` (generic, so each engine's loop is its own
/// monomorphized copy).
pub(crate) trait WithReactor<'a> {
    type Out;
    fn call<R: Reactor<'a>>(self, r: R) -> Result<Self::Out, Error>;
}

/// Dispatch on `kind` once, outside any timed loop.
pub(crate) fn with_reactor<'a, B: WithReactor<'a>>(
    kind: Kind,
    cap: usize,
    entries: usize,
    body: B,
) -> Result<B::Out, Error> {
    match kind {
        Kind::WaitSetEpoll => body.call(WaitSetReactor::new(BackendKind::Epoll, cap, entries)?),
        Kind::WaitSetPoll => body.call(WaitSetReactor::new(BackendKind::Poll, cap, entries)?),
        Kind::Epoll => body.call(EpollReactor::new(cap)?),
        Kind::Mio => body.call(MioReactor::new(cap)?),
        Kind::Polling => body.call(PollingReactor::new(cap, false)?),
        Kind::PollingLevel => body.call(PollingReactor::new(cap, true)?),
    }
}
