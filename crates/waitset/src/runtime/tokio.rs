//! `wait_async` on tokio (feature `tokio`): the set's descriptor registered with tokio's
//! reactor through [`AsyncFd`].
//!
//! ```
//! use std::time::Duration;
//! use waitset::runtime::tokio::AsyncWaitSet;
//! use waitset::{BackendKind, Event, Signals, Source, WaitResult, WaitSet};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let set = WaitSet::builder().backend(BackendKind::Epoll).build()?;
//! let ev = Event::new();
//! set.add(1, Source::from(&ev), Signals::USER_0)?;
//! let set = AsyncWaitSet::new(&set)?;
//! let raiser = ev.clone();
//! std::thread::spawn(move || raiser.signal(Signals::empty(), Signals::USER_0));
//! let mut out = [WaitResult::default(); 4];
//! let n = set.wait_async(&mut out).await?;
//! assert_eq!((n, out[0].cookie), (1, 1));
//! // Cancel-safe, so a timeout is exact: nothing is taken when it fires.
//! ev.signal(Signals::USER_0, Signals::empty())?;
//! let timed_out = tokio::time::timeout(Duration::from_millis(10), set.wait_async(&mut out));
//! assert!(timed_out.await.is_err());
//! # Ok::<(), waitset::Error>(()) }).unwrap();
//! ```

use std::ops::Deref;
use std::task::{ready, Context, Poll};

use ::tokio::io::unix::AsyncFd;
use ::tokio::io::Interest;

use crate::{Pollable, Result, WaitResult, WaitSet};

/// A [`WaitSet`] that tasks of a tokio runtime wait on with [`wait_async`](Self::wait_async).
///
/// It dereferences to the set, so entries are added and removed through it as usual; clones
/// of the set (and its sources) can be used from any thread meanwhile. Many tasks may wait on
/// one `AsyncWaitSet` at once (share it in an `Arc`): with [`Delivery::Broadcast`] every waiter
/// sees level-triggered entries, and an edge or one-shot entry goes to exactly one of them.
///
/// [`Delivery::Broadcast`]: crate::Delivery::Broadcast
///
/// ```
/// use std::sync::Arc;
/// use waitset::runtime::tokio::AsyncWaitSet;
/// use waitset::{BackendKind, Signals, Source, Status, Timer, Trigger, WaitResult, WaitSet};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let set = WaitSet::builder().backend(BackendKind::Epoll).build()?;
/// let set = Arc::new(AsyncWaitSet::new(&set)?);
/// let timer = Timer::new();
/// set.add_with(9, Source::from(&timer), Signals::TIMER, Trigger::Oneshot)?; // through Deref
/// timer.set(waitset::Deadline::after(std::time::Duration::from_millis(5)), Default::default());
/// let waiter = tokio::spawn({
///     let set = set.clone();
///     async move {
///         let mut out = [WaitResult::default(); 1];
///         set.wait_async(&mut out).await.map(|n| out[..n].to_vec())
///     }
/// });
/// let got = waiter.await.unwrap()?;
/// assert_eq!((got[0].cookie, got[0].status), (9, Status::Satisfied));
/// # Ok::<(), waitset::Error>(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct AsyncWaitSet {
    fd: AsyncFd<Pollable>,
}

impl AsyncWaitSet {
    /// Register `set`'s descriptor with the current tokio runtime.
    ///
    /// Errors: [`Error::NotSupported`](crate::Error::NotSupported) for a set on the poll(2)
    /// backend or with [`Delivery::Exclusive`](crate::Delivery::Exclusive) (see
    /// [`runtime`](crate::runtime)); an I/O error if the reactor refuses the descriptor.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or in one built without `enable_io`, as
    /// [`AsyncFd::register`](::tokio::io::unix::AsyncFd::register) does.
    ///
    /// ```
    /// use waitset::runtime::tokio::AsyncWaitSet;
    /// use waitset::{BackendKind, Delivery, Error, WaitSet};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let on_epoll = WaitSet::builder().backend(BackendKind::Epoll).build().unwrap();
    /// assert!(AsyncWaitSet::new(&on_epoll).is_ok());
    /// let on_poll = WaitSet::builder().backend(BackendKind::Poll).build().unwrap();
    /// assert!(matches!(AsyncWaitSet::new(&on_poll), Err(Error::NotSupported(_))));
    /// let exclusive = WaitSet::builder()
    ///     .backend(BackendKind::Epoll)
    ///     .delivery(Delivery::Exclusive)
    ///     .build()
    ///     .unwrap();
    /// assert!(matches!(AsyncWaitSet::new(&exclusive), Err(Error::NotSupported(_))));
    /// # });
    /// ```
    pub fn new(set: &WaitSet) -> Result<AsyncWaitSet> {
        let pollable = super::pollable_for_tasks(set)?;
        // SAFETY: the descriptor is the set's epoll instance, owned by the set's shared core,
        // which the `Pollable` keeps alive (it holds a clone of the set) for as long as the
        // `AsyncFd` owns it; the engine never closes or replaces that descriptor while the core
        // lives, so every `as_raw_fd` returns the same open descriptor.
        let fd = unsafe { AsyncFd::register_with_interest(pollable, Interest::READABLE) }
            .map_err(std::io::Error::from)?;
        Ok(AsyncWaitSet { fd })
    }

    /// Wait until at least one entry can be reported, and write the results into `results`:
    /// `Ok(n)` with `results[..n]` written, as [`WaitSet::wait`] without a deadline.
    ///
    /// Cancel-safe: results are taken from the set only in the poll that returns them, so
    /// dropping the future at any point loses nothing. Errors: [`Error::Canceled`] once the
    /// set is [closed](WaitSet::close) (a task waiting at the close is woken);
    /// [`Error::InvalidArgument`] for an empty buffer; an I/O error from the reactor.
    ///
    /// [`Error::Canceled`]: crate::Error::Canceled
    /// [`Error::InvalidArgument`]: crate::Error::InvalidArgument
    ///
    /// ```
    /// use waitset::runtime::tokio::AsyncWaitSet;
    /// use waitset::{BackendKind, Error, Handle, Signals, Source, Status, WaitResult, WaitSet};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let set = WaitSet::builder().backend(BackendKind::Epoll).build()?;
    /// let (r, w) = rustix::pipe::pipe().unwrap();
    /// let r = Handle::new(r);
    /// set.add(1, Source::from(&r), Signals::READABLE)?;
    /// let aset = AsyncWaitSet::new(&set)?;
    /// let mut out = [WaitResult::default(); 2];
    /// rustix::io::write(&w, b"x").unwrap();
    /// assert_eq!(aset.wait_async(&mut out).await?, 1);
    /// assert_eq!((out[0].cookie, out[0].observed), (1, Signals::READABLE));
    /// r.close()?; // the entry reports Canceled once
    /// assert_eq!(aset.wait_async(&mut out).await?, 1);
    /// assert_eq!(out[0].status, Status::Canceled);
    /// set.close();
    /// assert!(matches!(aset.wait_async(&mut out).await, Err(Error::Canceled)));
    /// # Ok::<(), waitset::Error>(()) }).unwrap();
    /// ```
    pub async fn wait_async(&self, results: &mut [WaitResult]) -> Result<usize> {
        super::check_buffer(results)?;
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.get_inner().try_wait(results) {
                // A spurious wake-up (an Event cleared meanwhile): forget this readiness, but
                // only if no newer one arrived since (tokio compares its readiness ticks).
                Ok(0) => guard.clear_ready(),
                done => return done,
            }
        }
    }

    /// The poll form of [`wait_async`](Self::wait_async), for a hand-written `Future` or
    /// `Stream`: `Poll::Ready` with the results, or `Poll::Pending` with `cx`'s waker
    /// registered. Cancel-safe in the same way.
    ///
    /// Only the waker of the last task to call this is woken, as with
    /// [`AsyncFd::poll_read_ready`]; tasks that share an `AsyncWaitSet` should use
    /// `wait_async`.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use waitset::runtime::tokio::AsyncWaitSet;
    /// use waitset::{BackendKind, Event, Signals, Source, WaitResult, WaitSet};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let set = WaitSet::builder().backend(BackendKind::Epoll).build()?;
    /// let ev = Event::new();
    /// set.add(3, Source::from(&ev), Signals::USER_1)?;
    /// let aset = AsyncWaitSet::new(&set)?;
    /// let mut out = [WaitResult::default(); 1];
    /// let waker = std::task::Waker::noop();
    /// let mut cx = std::task::Context::from_waker(&waker);
    /// assert!(aset.poll_wait(&mut cx, &mut out).is_pending()); // nothing yet
    /// ev.signal(Signals::empty(), Signals::USER_1)?;
    /// assert_eq!(poll_fn(|cx| aset.poll_wait(cx, &mut out)).await?, 1);
    /// # Ok::<(), waitset::Error>(()) }).unwrap();
    /// ```
    ///
    /// [`AsyncFd::poll_read_ready`]: ::tokio::io::unix::AsyncFd::poll_read_ready
    pub fn poll_wait(
        &self,
        cx: &mut Context<'_>,
        results: &mut [WaitResult],
    ) -> Poll<Result<usize>> {
        super::check_buffer(results)?;
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            match guard.get_inner().try_wait(results) {
                Ok(0) => guard.clear_ready(),
                done => return Poll::Ready(done),
            }
        }
    }

    /// The set's [`Pollable`] form, whose descriptor tokio watches.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use waitset::runtime::tokio::AsyncWaitSet;
    /// use waitset::{BackendKind, WaitSet};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let set = WaitSet::builder().backend(BackendKind::Epoll).build().unwrap();
    /// let aset = AsyncWaitSet::new(&set).unwrap();
    /// assert_eq!(aset.pollable().as_raw_fd(), set.pollable().unwrap().as_raw_fd());
    /// # });
    /// ```
    pub fn pollable(&self) -> &Pollable {
        self.fd.get_ref()
    }
}

impl Deref for AsyncWaitSet {
    type Target = WaitSet;
    fn deref(&self) -> &WaitSet {
        self.fd.get_ref()
    }
}
