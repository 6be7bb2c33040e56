//! [`Timer`]: a deadline plus slack that any set can wait on, kept in each set's own timer wheel.

use super::{Change, ObserverList};
use crate::deadline::monotonic_ns;
use crate::sync::{Arc, AtomicBool, AtomicU64, Mutex, Ordering, Rank};
use crate::Deadline;

/// No deadline armed.
const DISARMED: u64 = u64::MAX;

/// The state of a timer shared by its handles and by the sets that watch it.
pub(crate) struct TimerCore {
    /// The armed deadline (ns, monotonic) or DISARMED.
    deadline: AtomicU64,
    /// The slack: the timer may be reported up to this many ns late, so wake-ups coalesce.
    slack: AtomicU64,
    /// Set when the last handle is dropped: the timer can never be set again.
    frozen: AtomicBool,
    pub(crate) observers: Mutex<ObserverList>,
}

impl TimerCore {
    /// Whether the timer asserts `TIMER` at `now`.
    #[inline]
    pub(crate) fn fired_at(&self, now: u64) -> bool {
        let d = self.deadline.load(Ordering::Acquire);
        d != DISARMED && d <= now
    }

    /// When a set must wake for it (deadline + slack), or None when disarmed.
    #[inline]
    pub(crate) fn wake_at(&self) -> Option<u64> {
        let d = self.deadline.load(Ordering::Acquire);
        (d != DISARMED).then(|| d.saturating_add(self.slack.load(Ordering::Acquire)))
    }

    /// Whether the last handle has been dropped.
    #[inline]
    pub(crate) fn frozen(&self) -> bool {
        self.frozen.load(Ordering::Acquire)
    }
}

/// What every clone of one [`Timer`] shares; its `Drop` is the one place that decides that the
/// last handle is gone.
struct TimerOwner {
    core: Arc<TimerCore>,
}

/// Dropping the last handle freezes the timer: one that has not fired yet is disarmed and never
/// fires (see the drop rule in [`crate::source`]).
impl Drop for TimerOwner {
    fn drop(&mut self) {
        let core = &self.core;
        let deferred = {
            let mut observers = core.observers.lock();
            if !core.fired_at(monotonic_ns()) {
                core.deadline.store(DISARMED, Ordering::Release);
            }
            core.frozen.store(true, Ordering::Release);
            observers.notify_last(Change::Frozen)
        };
        deferred.run();
    }
}

/// A one-shot timer: [`Signals::TIMER`](crate::Signals::TIMER) is asserted from its deadline on,
/// until it is set again or canceled. Sets keep armed timers in their own timer wheel, so any
/// number of timers costs one kernel timeout per wait and O(1) per set or cancel.
///
/// `slack` lets the engine report the timer up to that much after its deadline so that nearby
/// wake-ups coalesce; it is never reported before its deadline.
///
/// ```
/// use std::time::Duration;
/// use waitset::{Deadline, Signals, Source, Timer, WaitResult, WaitSet};
/// let set = WaitSet::new().unwrap();
/// let t = Timer::new();
/// set.add(1, Source::from(&t), Signals::TIMER).unwrap();
/// t.set(Deadline::after(Duration::from_millis(2)), Duration::ZERO);
/// let mut out = [WaitResult::default(); 1];
/// assert_eq!(set.wait(Deadline::INFINITE, &mut out).unwrap(), 1);
/// assert_eq!(out[0].observed, Signals::TIMER);
/// ```
///
/// Clones are handles to the same timer. Dropping the last one freezes the timer, by the drop
/// rule every source follows: a timer that has not fired yet is disarmed and never fires, and
/// its entries are reported [`Status::Unsatisfiable`](crate::Status::Unsatisfiable); one that has
/// fired keeps asserting `TIMER`.
///
/// ```
/// use std::time::Duration;
/// use waitset::{Deadline, Signals, Source, Status, Timer, WaitResult, WaitSet};
/// let set = WaitSet::new().unwrap();
/// let t = Timer::new();
/// set.add(1, Source::from(&t), Signals::TIMER).unwrap();
/// t.set(Deadline::after(Duration::from_millis(1)), Duration::ZERO);
/// drop(t); // before the deadline: it will never fire
/// let mut out = [WaitResult::default(); 1];
/// assert_eq!(set.wait(Deadline::after(Duration::from_secs(5)), &mut out).unwrap(), 1);
/// assert_eq!(out[0].status, Status::Unsatisfiable);
/// ```
#[derive(Clone)]
pub struct Timer {
    owner: Arc<TimerOwner>,
}

impl Default for Timer {
    fn default() -> Timer {
        Timer::new()
    }
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer")
            .field("deadline", &self.deadline())
            .finish()
    }
}

impl Timer {
    /// A disarmed timer.
    ///
    /// ```
    /// use waitset::{Deadline, Error, Signals, Source, Timer, WaitResult, WaitSet};
    /// let t = Timer::new();
    /// assert_eq!(t.deadline(), None);
    /// assert!(!t.fired());
    /// let set = WaitSet::new().unwrap();
    /// set.add(1, Source::from(&t), Signals::TIMER).unwrap();
    /// let mut out = [WaitResult::default(); 1];
    /// assert!(matches!(set.wait(Deadline::now(), &mut out), Err(Error::TimedOut)));
    /// ```
    pub fn new() -> Timer {
        Timer {
            owner: Arc::new(TimerOwner {
                core: Arc::new(TimerCore {
                    deadline: AtomicU64::new(DISARMED),
                    slack: AtomicU64::new(0),
                    frozen: AtomicBool::new(false),
                    observers: Mutex::new(Rank::Source, ObserverList::default()),
                }),
            }),
        }
    }

    /// The shared state the sets watch.
    pub(crate) fn core(&self) -> &Arc<TimerCore> {
        &self.owner.core
    }

    /// Arm the timer for `deadline` with `slack`, replacing any earlier deadline and clearing
    /// [`Signals::TIMER`](crate::Signals::TIMER). [`Deadline::INFINITE`] disarms it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use waitset::{Deadline, Timer};
    /// let t = Timer::new();
    /// t.set(Deadline::now(), Duration::ZERO);
    /// assert!(t.fired());
    /// // Setting again replaces the deadline and clears TIMER.
    /// let later = Deadline::after(Duration::from_secs(3600));
    /// t.set(later, Duration::from_millis(10));
    /// assert!(!t.fired());
    /// assert_eq!(t.deadline(), Some(later));
    /// t.set(Deadline::INFINITE, Duration::ZERO); // disarms
    /// assert_eq!(t.deadline(), None);
    /// ```
    pub fn set(&self, deadline: Deadline, slack: std::time::Duration) {
        let core = &self.owner.core;
        let deferred = {
            let mut observers = core.observers.lock();
            core.slack.store(
                u64::try_from(slack.as_nanos()).unwrap_or(u64::MAX),
                Ordering::Release,
            );
            core.deadline
                .store(deadline.as_monotonic_nanos(), Ordering::Release);
            observers.notify(Change::Deadline)
        };
        // Wake waiters only now: one woken under the lock would block on it at once.
        deferred.run();
    }

    /// Disarm the timer and clear [`Signals::TIMER`](crate::Signals::TIMER).
    ///
    /// ```
    /// use std::time::Duration;
    /// use waitset::{Deadline, Error, Signals, Source, Timer, WaitResult, WaitSet};
    /// let set = WaitSet::new().unwrap();
    /// let t = Timer::new();
    /// set.add(1, Source::from(&t), Signals::TIMER).unwrap();
    /// t.set(Deadline::now(), Duration::ZERO);
    /// assert!(t.fired());
    /// t.cancel();
    /// assert!(!t.fired() && t.deadline().is_none());
    /// let mut out = [WaitResult::default(); 1];
    /// assert!(matches!(set.wait(Deadline::now(), &mut out), Err(Error::TimedOut)));
    /// ```
    pub fn cancel(&self) {
        self.set(Deadline::INFINITE, std::time::Duration::ZERO);
    }

    /// The armed deadline, if any.
    ///
    /// ```
    /// use std::time::Duration;
    /// use waitset::{Deadline, Timer};
    /// let t = Timer::new();
    /// assert_eq!(t.deadline(), None);
    /// let d = Deadline::after(Duration::from_millis(50));
    /// t.set(d, Duration::from_millis(5)); // slack does not move the deadline
    /// assert_eq!(t.deadline(), Some(d));
    /// t.cancel();
    /// assert_eq!(t.deadline(), None);
    /// ```
    pub fn deadline(&self) -> Option<Deadline> {
        let d = self.owner.core.deadline.load(Ordering::Acquire);
        (d != DISARMED).then_some(Deadline::from_monotonic_nanos(d))
    }

    /// Whether the deadline has passed (the timer asserts `TIMER`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use waitset::{Deadline, Timer};
    /// let t = Timer::new();
    /// t.set(Deadline::after(Duration::from_secs(3600)), Duration::ZERO);
    /// assert!(!t.fired());
    /// let d = Deadline::after(Duration::from_millis(2));
    /// t.set(d, Duration::ZERO);
    /// while !t.fired() {
    ///     std::thread::sleep(Duration::from_micros(200));
    /// }
    /// assert!(d <= Deadline::now()); // never before the deadline
    /// ```
    pub fn fired(&self) -> bool {
        self.owner.core.fired_at(monotonic_ns())
    }
}
