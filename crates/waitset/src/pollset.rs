//! [`PollSet`]: the library-wrapper face, in the style of the classic systems libraries' poll
//! wrappers: build a set, count it, iterate it in insertion order, then poll.

use std::os::fd::{AsFd, AsRawFd};

use crate::poll::{PollFd, PollFlags, PollOptions};
use crate::{Deadline, Error, Result, Timeout};

/// The outcome of [`PollSet::poll`].
///
/// ```
/// use waitset::{PollFlags, PollOutcome, PollSet, Timeout};
/// let (r, w) = rustix::pipe::pipe().unwrap();
/// let mut set = PollSet::new();
/// set.push(&r, PollFlags::IN).unwrap();
/// let timed_out = PollOutcome { ready: 0, interrupted: false };
/// assert_eq!(set.poll(Timeout::ZERO, true).unwrap(), timed_out);
/// rustix::io::write(&w, b"x").unwrap();
/// assert_eq!(set.poll(Timeout::ZERO, true).unwrap().ready, 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PollOutcome {
    /// Entries with non-zero `revents` (0 on timeout).
    pub ready: usize,
    /// Whether a signal handler interrupted the wait at least once.
    pub interrupted: bool,
}

/// An ordered set of (fd, events) entries.
///
/// ```
/// use waitset::{PollFlags, PollSet, Timeout};
/// let (r, w) = rustix::pipe::pipe().unwrap();
/// let mut set = PollSet::new();
/// set.push(&r, PollFlags::IN).unwrap();
/// set.push(&w, PollFlags::OUT).unwrap();
/// assert_eq!(set.len(), 2);
/// let out = set.poll(Timeout::from_sec_usec(1, 0), true).unwrap();
/// assert_eq!(out.ready, 1); // the write end
/// assert!(set.iter().nth(1).unwrap().revents().contains(PollFlags::OUT));
/// ```
#[derive(Clone, Debug, Default)]
pub struct PollSet {
    fds: Vec<PollFd>,
    options: PollOptions,
}

impl PollSet {
    /// An empty set with default [`PollOptions`].
    ///
    /// ```
    /// use waitset::{PollSet, Timeout};
    /// let mut set = PollSet::new();
    /// assert!(set.is_empty());
    /// // Polling an empty set is a plain sleep.
    /// assert_eq!(set.poll(Timeout::from_millis(1), false).unwrap().ready, 0);
    /// ```
    pub fn new() -> PollSet {
        PollSet::default()
    }

    /// An empty set served with `options`.
    ///
    /// ```
    /// use waitset::{BackendKind, EofMode, PollFlags, PollOptions, PollSet, Timeout};
    /// let (r, w) = rustix::pipe::pipe().unwrap();
    /// drop(w);
    /// let opts = PollOptions::new().backend(BackendKind::Poll).eof(EofMode::Raw);
    /// let mut set = PollSet::with_options(opts);
    /// set.push(&r, PollFlags::IN).unwrap();
    /// assert_eq!(set.poll(Timeout::ZERO, false).unwrap().ready, 1);
    /// let got = set.iter().next().unwrap().revents();
    /// if cfg!(target_os = "linux") {
    ///     assert_eq!(got, PollFlags::HUP); // raw: the kernel's bits, not normalized to IN | HUP
    /// }
    /// ```
    pub fn with_options(options: PollOptions) -> PollSet {
        PollSet {
            fds: Vec::new(),
            options,
        }
    }

    /// Append an entry. An empty `events` is [`Error::InvalidArgument`] (it could never be
    /// satisfied but by an error); the set is unchanged on error.
    ///
    /// ```
    /// use waitset::{Error, PollFlags, PollSet};
    /// let (r, _w) = rustix::pipe::pipe().unwrap();
    /// let mut set = PollSet::new();
    /// set.push(&r, PollFlags::IN).unwrap();
    /// assert!(matches!(set.push(&r, PollFlags::empty()), Err(Error::InvalidArgument(_))));
    /// assert_eq!(set.len(), 1); // unchanged by the error
    /// ```
    pub fn push(&mut self, fd: &impl AsFd, events: PollFlags) -> Result<()> {
        self.push_raw(fd.as_fd().as_raw_fd(), events)
    }

    /// Append an entry by raw fd number; a negative fd or empty `events` is
    /// [`Error::InvalidArgument`].
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use waitset::{Error, PollFlags, PollSet};
    /// let (r, _w) = rustix::pipe::pipe().unwrap();
    /// let mut set = PollSet::new();
    /// set.push_raw(r.as_raw_fd(), PollFlags::IN).unwrap();
    /// assert!(matches!(set.push_raw(-1, PollFlags::IN), Err(Error::InvalidArgument(_))));
    /// assert_eq!(set.len(), 1);
    /// ```
    pub fn push_raw(&mut self, fd: std::os::fd::RawFd, events: PollFlags) -> Result<()> {
        if fd < 0 {
            return Err(Error::InvalidArgument("negative fd").traced("pollset_push"));
        }
        if events.is_empty() {
            return Err(Error::InvalidArgument("empty events").traced("pollset_push"));
        }
        self.fds.push(PollFd::from_raw(fd, events));
        Ok(())
    }

    /// The number of entries.
    ///
    /// ```
    /// use waitset::{PollFlags, PollSet};
    /// let (r, w) = rustix::pipe::pipe().unwrap();
    /// let mut set = PollSet::new();
    /// set.push(&r, PollFlags::IN).unwrap();
    /// set.push(&w, PollFlags::OUT).unwrap();
    /// set.push(&r, PollFlags::PRI).unwrap(); // the same fd again is another entry
    /// assert_eq!(set.len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.fds.len()
    }

    /// Whether the set is empty.
    ///
    /// ```
    /// use waitset::{PollFlags, PollSet};
    /// let (r, _w) = rustix::pipe::pipe().unwrap();
    /// let mut set = PollSet::new();
    /// assert!(set.is_empty());
    /// set.push(&r, PollFlags::IN).unwrap();
    /// assert!(!set.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.fds.is_empty()
    }

    /// The entries, in insertion order, with the `revents` of the last poll.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use waitset::{PollFlags, PollSet, Timeout};
    /// let (r, w) = rustix::pipe::pipe().unwrap();
    /// let mut set = PollSet::new();
    /// set.push(&w, PollFlags::OUT).unwrap();
    /// set.push(&r, PollFlags::IN).unwrap();
    /// set.poll(Timeout::ZERO, false).unwrap();
    /// let seen: Vec<_> = set.iter().map(|p| (p.fd(), p.revents())).collect();
    /// assert_eq!(seen, [(w.as_raw_fd(), PollFlags::OUT), (r.as_raw_fd(), PollFlags::empty())]);
    /// assert_eq!((&set).into_iter().count(), 2); // `for p in &set` works too
    /// ```
    pub fn iter(&self) -> std::slice::Iter<'_, PollFd> {
        self.fds.iter()
    }

    /// The entries that were ready at the last poll, in insertion order.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use waitset::{PollFlags, PollSet, Timeout};
    /// let (r1, _w1) = rustix::pipe::pipe().unwrap();
    /// let (r2, w2) = rustix::pipe::pipe().unwrap();
    /// let mut set = PollSet::new();
    /// set.push(&r1, PollFlags::IN).unwrap();
    /// set.push(&r2, PollFlags::IN).unwrap();
    /// rustix::io::write(&w2, b"x").unwrap();
    /// assert_eq!(set.poll(Timeout::ZERO, false).unwrap().ready, 1);
    /// let ready: Vec<_> = set.ready().map(|p| p.fd()).collect();
    /// assert_eq!(ready, [r2.as_raw_fd()]); // r1, not ready, is skipped
    /// ```
    pub fn ready(&self) -> impl Iterator<Item = &PollFd> {
        self.fds.iter().filter(|p| !p.revents().is_empty())
    }

    /// Remove every entry.
    ///
    /// ```
    /// use waitset::{PollFlags, PollSet, Timeout};
    /// let (r, w) = rustix::pipe::pipe().unwrap();
    /// rustix::io::write(&w, b"x").unwrap();
    /// let mut set = PollSet::new();
    /// set.push(&r, PollFlags::IN).unwrap();
    /// set.clear();
    /// assert!(set.is_empty());
    /// assert_eq!(set.poll(Timeout::ZERO, false).unwrap().ready, 0); // `r` is no longer watched
    /// ```
    pub fn clear(&mut self) {
        self.fds.clear();
    }

    /// Poll every entry for up to `timeout`.
    ///
    /// With `retry`, an interruption by a signal handler resumes the wait with the time *left*
    /// against the deadline fixed at the start of the call (never the full timeout again), and
    /// `interrupted` reports that it happened. Without `retry`, the interruption is returned as
    /// [`Error::Interrupted`]. Every error is also emitted as a `tracing` event.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use waitset::{Error, PollFlags, PollSet, Timeout};
    ///
    /// extern "C" fn on_usr1(_: libc::c_int) {}
    /// let handler = on_usr1 as extern "C" fn(libc::c_int) as libc::sighandler_t;
    /// // SAFETY: the handler does nothing.
    /// unsafe { libc::signal(libc::SIGUSR1, handler) };
    /// // A thread that keeps interrupting this one with SIGUSR1 until told to stop.
    /// let me = unsafe { libc::pthread_self() } as usize;
    /// let stop = Arc::new(AtomicBool::new(false));
    /// let kicker = std::thread::spawn({
    ///     let stop = stop.clone();
    ///     move || {
    ///         while !stop.load(Ordering::Relaxed) {
    ///             unsafe { libc::pthread_kill(me as libc::pthread_t, libc::SIGUSR1) };
    ///             std::thread::sleep(Duration::from_millis(1));
    ///         }
    ///     }
    /// });
    ///
    /// let (r, _w) = rustix::pipe::pipe().unwrap();
    /// let mut set = PollSet::new();
    /// set.push(&r, PollFlags::IN).unwrap();
    /// // Without retry, the first interruption is an error...
    /// let e = set.poll(Timeout::from_millis(10_000), false).unwrap_err();
    /// assert!(matches!(e, Error::Interrupted));
    /// // ...with retry, the wait resumes with the time left, ends at the original deadline
    /// // (restarting the full 100 ms after each signal would never end), and reports the
    /// // interruption.
    /// let out = set.poll(Timeout::from_millis(100), true).unwrap();
    /// assert_eq!((out.ready, out.interrupted), (0, true));
    /// stop.store(true, Ordering::Relaxed);
    /// kicker.join().unwrap();
    /// ```
    pub fn poll(&mut self, timeout: Timeout, retry: bool) -> Result<PollOutcome> {
        let deadline = timeout.deadline();
        let mut interrupted = false;
        loop {
            let left = deadline.remaining();
            match self.options.ppoll(&mut self.fds, left, None) {
                Ok(ready) => return Ok(PollOutcome { ready, interrupted }),
                Err(Error::Interrupted) => {
                    interrupted = true;
                    if !retry {
                        return Err(Error::Interrupted.traced("pollset_poll"));
                    }
                    if deadline != Deadline::INFINITE
                        && deadline.remaining() == Some(std::time::Duration::ZERO)
                    {
                        for p in self.fds.iter_mut() {
                            p.set_revents(PollFlags::empty());
                        }
                        return Ok(PollOutcome {
                            ready: 0,
                            interrupted,
                        });
                    }
                }
                Err(e) => return Err(e.traced("pollset_poll")),
            }
        }
    }
}

impl<'a> IntoIterator for &'a PollSet {
    type Item = &'a PollFd;
    type IntoIter = std::slice::Iter<'a, PollFd>;
    fn into_iter(self) -> Self::IntoIter {
        self.fds.iter()
    }
}
