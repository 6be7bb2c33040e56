//! [`Timer`]: a deadline plus slack that any set can wait on, kept in each set's own timer wheel.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::waitset::Watchers;
use crate::Deadline;

/// No deadline armed.
pub(crate) const DISARMED: u64 = u64::MAX;

pub(crate) struct TimerShared {
    /// The armed deadline (ns, monotonic) or DISARMED.
    pub(crate) deadline: AtomicU64,
    /// The slack: the timer may be reported up to this many ns late, so wake-ups coalesce.
    pub(crate) slack: AtomicU64,
    pub(crate) watchers: Mutex<Watchers>,
}

impl TimerShared {
    /// Whether the timer is asserted at `now`.
    pub(crate) fn fired_at(&self, now: u64) -> bool {
        let d = self.deadline.load(Ordering::Acquire);
        d != DISARMED && d <= now
    }
    /// When a set must wake for it (deadline + slack), or None when disarmed.
    pub(crate) fn wake_at(&self) -> Option<u64> {
        let d = self.deadline.load(Ordering::Acquire);
        (d != DISARMED).then(|| d.saturating_add(self.slack.load(Ordering::Acquire)))
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
pub struct Timer {
    pub(crate) shared: Arc<TimerShared>,
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
            shared: Arc::new(TimerShared {
                deadline: AtomicU64::new(DISARMED),
                slack: AtomicU64::new(0),
                watchers: Mutex::new(Watchers::default()),
            }),
        }
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
        let w = crate::waitset::lock(&self.shared.watchers);
        let d = deadline.as_monotonic_nanos();
        self.shared.slack.store(
            u64::try_from(slack.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Release,
        );
        self.shared.deadline.store(d, Ordering::Release);
        let posts = w.timer_changed();
        drop(w);
        // Wake waiters only now: one woken under the lock would block on it at once.
        posts.post();
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
        let d = self.shared.deadline.load(Ordering::Acquire);
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
        self.shared.fired_at(crate::deadline::monotonic_ns())
    }
}
