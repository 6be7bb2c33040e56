//! [`PollSet`]: the library-wrapper face, in the style of the classic systems libraries' poll
//! wrappers: build a set, count it, iterate it in insertion order, then poll.

use std::os::fd::{AsFd, AsRawFd};

use crate::poll::{PollFd, PollFlags, PollOptions};
use crate::{Deadline, Error, Result, Timeout};

/// The outcome of [`PollSet::poll`].
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
    pub fn new() -> PollSet {
        PollSet::default()
    }

    /// An empty set served with `options`.
    pub fn with_options(options: PollOptions) -> PollSet {
        PollSet {
            fds: Vec::new(),
            options,
        }
    }

    /// Append an entry. An empty `events` is [`Error::InvalidArgument`] (it could never be
    /// satisfied but by an error); the set is unchanged on error.
    pub fn push(&mut self, fd: &impl AsFd, events: PollFlags) -> Result<()> {
        self.push_raw(fd.as_fd().as_raw_fd(), events)
    }

    /// Append an entry by raw fd number; a negative fd or empty `events` is
    /// [`Error::InvalidArgument`].
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
    pub fn len(&self) -> usize {
        self.fds.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.fds.is_empty()
    }

    /// The entries, in insertion order, with the `revents` of the last poll.
    pub fn iter(&self) -> std::slice::Iter<'_, PollFd> {
        self.fds.iter()
    }

    /// The entries that were ready at the last poll, in insertion order.
    pub fn ready(&self) -> impl Iterator<Item = &PollFd> {
        self.fds.iter().filter(|p| !p.revents().is_empty())
    }

    /// Remove every entry.
    pub fn clear(&mut self) {
        self.fds.clear();
    }

    /// Poll every entry for up to `timeout`.
    ///
    /// With `retry`, an interruption by a signal handler resumes the wait with the time *left*
    /// against the deadline fixed at the start of the call (never the full timeout again), and
    /// `interrupted` reports that it happened. Without `retry`, the interruption is returned as
    /// [`Error::Interrupted`]. Every error is also emitted as a `tracing` event.
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
