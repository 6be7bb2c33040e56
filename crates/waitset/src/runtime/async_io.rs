//! `wait_async` on async-io (feature `async-io`): the set's descriptor registered with
//! async-io's reactor through [`Async`] — the reactor of smol and
//! async-std, which any executor can drive.
//!
//! ```
//! use std::time::Duration;
//! use waitset::runtime::async_io::AsyncWaitSet;
//! use waitset::{BackendKind, Event, Signals, Source, WaitResult, WaitSet};
//!
//! smol::block_on(async {
//!     let set = WaitSet::builder().backend(BackendKind::Epoll).build()?;
//!     let ev = Event::new();
//!     set.add(1, Source::from(&ev), Signals::USER_0)?;
//!     let set = AsyncWaitSet::new(&set)?;
//!     let raiser = ev.clone();
//!     std::thread::spawn(move || raiser.signal(Signals::empty(), Signals::USER_0));
//!     let mut out = [WaitResult::default(); 4];
//!     let n = set.wait_async(&mut out).await?;
//!     assert_eq!((n, out[0].cookie), (1, 1));
//!     // Cancel-safe, so racing it against a timer is exact: the loser takes nothing.
//!     ev.signal(Signals::USER_0, Signals::empty())?;
//!     let timer = async {
//!         smol::Timer::after(Duration::from_millis(10)).await;
//!         Ok(0)
//!     };
//!     assert_eq!(smol::future::or(set.wait_async(&mut out), timer).await?, 0);
//!     Ok::<(), waitset::Error>(())
//! })
//! .unwrap();
//! ```

use std::ops::Deref;
use std::task::{ready, Context, Poll};

use ::async_io::Async;

use crate::{Pollable, Result, WaitResult, WaitSet};

/// A [`WaitSet`] that tasks on async-io's reactor (smol, async-std, or any executor with
/// `async_io::block_on`) wait on with [`wait_async`](Self::wait_async).
///
/// It dereferences to the set, so entries are added and removed through it as usual. Many
/// tasks may wait on one `AsyncWaitSet` at once (share it in an `Arc`).
///
/// ```
/// use std::sync::Arc;
/// use waitset::runtime::async_io::AsyncWaitSet;
/// use waitset::{BackendKind, Deadline, Signals, Source, Timer, Trigger, WaitResult, WaitSet};
///
/// smol::block_on(async {
///     let set = WaitSet::builder().backend(BackendKind::Epoll).build()?;
///     let set = Arc::new(AsyncWaitSet::new(&set)?);
///     let timer = Timer::new();
///     set.add_with(9, Source::from(&timer), Signals::TIMER, Trigger::Oneshot)?;
///     timer.set(Deadline::after(std::time::Duration::from_millis(5)), Default::default());
///     let waiter = smol::spawn({
///         let set = set.clone();
///         async move {
///             let mut out = [WaitResult::default(); 1];
///             set.wait_async(&mut out).await.map(|n| out[..n].to_vec())
///         }
///     });
///     assert_eq!(waiter.await?[0].cookie, 9);
///     Ok::<(), waitset::Error>(())
/// })
/// .unwrap();
/// ```
#[derive(Debug)]
pub struct AsyncWaitSet {
    io: Async<Pollable>,
}

impl AsyncWaitSet {
    /// Register `set`'s descriptor with async-io's reactor (started on first use; no runtime
    /// needs to be running). The descriptor's flags are left as they are.
    ///
    /// Errors: [`Error::NotSupported`](crate::Error::NotSupported) for a set on the poll(2)
    /// backend or with [`Delivery::Exclusive`](crate::Delivery::Exclusive) (see
    /// [`runtime`](crate::runtime)); an I/O error if the reactor refuses the descriptor.
    ///
    /// ```
    /// use waitset::runtime::async_io::AsyncWaitSet;
    /// use waitset::{BackendKind, Delivery, Error, WaitSet};
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
    /// ```
    pub fn new(set: &WaitSet) -> Result<AsyncWaitSet> {
        let pollable = super::pollable_for_tasks(set)?;
        // Not `Async::new`, which would set O_NONBLOCK on the set's own descriptor: the set
        // never reads it (epoll_wait takes its timeout as an argument), and it is not ours to
        // change.
        let io = Async::new_nonblocking(pollable)?;
        Ok(AsyncWaitSet { io })
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
    /// use waitset::runtime::async_io::AsyncWaitSet;
    /// use waitset::{BackendKind, Error, Handle, Signals, Source, Status, WaitResult, WaitSet};
    /// smol::block_on(async {
    ///     let set = WaitSet::builder().backend(BackendKind::Epoll).build()?;
    ///     let (r, w) = rustix::pipe::pipe().unwrap();
    ///     let r = Handle::new(r);
    ///     set.add(1, Source::from(&r), Signals::READABLE)?;
    ///     let aset = AsyncWaitSet::new(&set)?;
    ///     let mut out = [WaitResult::default(); 2];
    ///     rustix::io::write(&w, b"x").unwrap();
    ///     assert_eq!(aset.wait_async(&mut out).await?, 1);
    ///     assert_eq!((out[0].cookie, out[0].observed), (1, Signals::READABLE));
    ///     r.close()?; // the entry reports Canceled once
    ///     assert_eq!(aset.wait_async(&mut out).await?, 1);
    ///     assert_eq!(out[0].status, Status::Canceled);
    ///     set.close();
    ///     assert!(matches!(aset.wait_async(&mut out).await, Err(Error::Canceled)));
    ///     Ok::<(), waitset::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn wait_async(&self, results: &mut [WaitResult]) -> Result<usize> {
        super::check_buffer(results)?;
        loop {
            match self.io.get_ref().try_wait(results) {
                Ok(0) => {}
                done => return done,
            }
            // Readable since the attempt above (async-io re-arms its one-shot registration,
            // which reports readiness that arrived in between), or spuriously: try again.
            self.io.readable().await?;
        }
    }

    /// The poll form of [`wait_async`](Self::wait_async), for a hand-written `Future` or
    /// `Stream`: `Poll::Ready` with the results, or `Poll::Pending` with `cx`'s waker
    /// registered. Cancel-safe in the same way.
    ///
    /// Only one task should call this on one `AsyncWaitSet` at a time, as with
    /// [`Async::poll_readable`](::async_io::Async::poll_readable); tasks that share one should
    /// use `wait_async`.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use waitset::runtime::async_io::AsyncWaitSet;
    /// use waitset::{BackendKind, Event, Signals, Source, WaitResult, WaitSet};
    /// smol::block_on(async {
    ///     let set = WaitSet::builder().backend(BackendKind::Epoll).build()?;
    ///     let ev = Event::new();
    ///     set.add(3, Source::from(&ev), Signals::USER_1)?;
    ///     let aset = AsyncWaitSet::new(&set)?;
    ///     let mut out = [WaitResult::default(); 1];
    ///     let waker = std::task::Waker::noop();
    ///     let mut cx = std::task::Context::from_waker(&waker);
    ///     assert!(aset.poll_wait(&mut cx, &mut out).is_pending()); // nothing yet
    ///     ev.signal(Signals::empty(), Signals::USER_1)?;
    ///     assert_eq!(poll_fn(|cx| aset.poll_wait(cx, &mut out)).await?, 1);
    ///     Ok::<(), waitset::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn poll_wait(
        &self,
        cx: &mut Context<'_>,
        results: &mut [WaitResult],
    ) -> Poll<Result<usize>> {
        super::check_buffer(results)?;
        loop {
            match self.io.get_ref().try_wait(results) {
                Ok(0) => {}
                done => return Poll::Ready(done),
            }
            ready!(self.io.poll_readable(cx))?;
        }
    }

    /// The set's [`Pollable`] form, whose descriptor async-io watches.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use waitset::runtime::async_io::AsyncWaitSet;
    /// use waitset::{BackendKind, WaitSet};
    /// let set = WaitSet::builder().backend(BackendKind::Epoll).build().unwrap();
    /// let aset = AsyncWaitSet::new(&set).unwrap();
    /// assert_eq!(aset.pollable().as_raw_fd(), set.pollable().unwrap().as_raw_fd());
    /// ```
    pub fn pollable(&self) -> &Pollable {
        self.io.get_ref()
    }
}

impl Deref for AsyncWaitSet {
    type Target = WaitSet;
    fn deref(&self) -> &WaitSet {
        self.io.get_ref()
    }
}
