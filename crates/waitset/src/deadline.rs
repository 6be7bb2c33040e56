//! Absolute monotonic deadlines and the timeout conversions of the library faces.
//!
//! Every wait in the engine is bounded by a [`Deadline`]: an absolute point on `CLOCK_MONOTONIC`,
//! in nanoseconds. A relative timeout is turned into a deadline once, at the start of a call, so
//! a wait that is interrupted and resumed never waits longer in total than it was asked to.

use std::time::{Duration, Instant};

/// An absolute point in time on the monotonic clock, or [`Deadline::INFINITE`].
///
/// ```
/// use std::time::Duration;
/// use waitset::Deadline;
/// let d = Deadline::after(Duration::from_millis(5));
/// assert!(d > Deadline::now());
/// assert!(Deadline::after(Duration::MAX).is_infinite()); // saturates, never wraps
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Deadline(u64);

impl Deadline {
    /// A deadline that never passes.
    ///
    /// ```
    /// use std::time::Duration;
    /// use waitset::Deadline;
    /// assert!(Deadline::INFINITE.is_infinite());
    /// assert_eq!(Deadline::INFINITE.remaining(), None);
    /// assert!(Deadline::after(Duration::from_secs(365 * 24 * 3600)) < Deadline::INFINITE);
    /// ```
    pub const INFINITE: Deadline = Deadline(u64::MAX);

    /// The current time: waiting until `now()` checks readiness without blocking.
    ///
    /// ```
    /// use waitset::{Deadline, Error, Handle, Signals, Source, WaitResult, WaitSet};
    /// let (r, _w) = rustix::pipe::pipe().unwrap();
    /// let r = Handle::new(r);
    /// let set = WaitSet::new().unwrap();
    /// set.add(1, Source::from(&r), Signals::READABLE).unwrap();
    /// let mut out = [WaitResult::default(); 1];
    /// // Nothing to read: a wait until `now()` returns at once.
    /// assert!(matches!(set.wait(Deadline::now(), &mut out), Err(Error::TimedOut)));
    /// assert_eq!(Deadline::now().remaining(), Some(std::time::Duration::ZERO));
    /// ```
    pub fn now() -> Deadline {
        Deadline(monotonic_ns())
    }

    /// The deadline `timeout` from now; saturates to [`Deadline::INFINITE`] on overflow.
    ///
    /// ```
    /// use std::time::Duration;
    /// use waitset::Deadline;
    /// let left = Deadline::after(Duration::from_secs(60)).remaining().unwrap();
    /// assert!(left <= Duration::from_secs(60) && left > Duration::from_secs(50));
    /// assert_eq!(Deadline::after(Duration::MAX), Deadline::INFINITE); // saturates
    /// ```
    pub fn after(timeout: Duration) -> Deadline {
        let ns = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        Deadline(monotonic_ns().saturating_add(ns))
    }

    /// The deadline at `nanos` nanoseconds on `CLOCK_MONOTONIC` (as `clock_gettime` reports it).
    ///
    /// ```
    /// use rustix::time::{clock_gettime, ClockId};
    /// use waitset::Deadline;
    /// let ts = clock_gettime(ClockId::Monotonic);
    /// let ns = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
    /// let d = Deadline::from_monotonic_nanos(ns);
    /// assert_eq!(d.as_monotonic_nanos(), ns);
    /// assert!(d <= Deadline::now()); // the same clock
    /// ```
    pub const fn from_monotonic_nanos(nanos: u64) -> Deadline {
        Deadline(nanos)
    }

    /// This deadline in nanoseconds on `CLOCK_MONOTONIC` (`u64::MAX` when infinite).
    ///
    /// ```
    /// use std::time::Duration;
    /// use waitset::Deadline;
    /// assert_eq!(Deadline::from_monotonic_nanos(1_000).as_monotonic_nanos(), 1_000);
    /// assert_eq!(Deadline::INFINITE.as_monotonic_nanos(), u64::MAX);
    /// let soon = Deadline::after(Duration::from_secs(1)).as_monotonic_nanos();
    /// assert!(soon > Deadline::now().as_monotonic_nanos());
    /// ```
    pub const fn as_monotonic_nanos(self) -> u64 {
        self.0
    }

    /// The deadline of a [`std::time::Instant`] (which is `CLOCK_MONOTONIC` on Linux and the BSDs).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use waitset::Deadline;
    /// let d = Deadline::from_instant(Instant::now() + Duration::from_secs(10));
    /// let left = d.remaining().unwrap();
    /// assert!(left <= Duration::from_secs(10) && left > Duration::from_secs(5));
    /// // An instant already behind us is a deadline that has passed.
    /// assert_eq!(Deadline::from_instant(Instant::now()).remaining(), Some(Duration::ZERO));
    /// ```
    pub fn from_instant(at: Instant) -> Deadline {
        let now_i = Instant::now();
        let now = monotonic_ns();
        match at.checked_duration_since(now_i) {
            Some(ahead) => {
                Deadline(now.saturating_add(u64::try_from(ahead.as_nanos()).unwrap_or(u64::MAX)))
            }
            None => {
                let behind = now_i.duration_since(at);
                Deadline(now.saturating_sub(u64::try_from(behind.as_nanos()).unwrap_or(u64::MAX)))
            }
        }
    }

    /// Whether this deadline never passes.
    ///
    /// ```
    /// use std::time::Duration;
    /// use waitset::{Deadline, Timeout};
    /// assert!(Deadline::INFINITE.is_infinite());
    /// assert!(Timeout::INFINITE.deadline().is_infinite());
    /// assert!(Deadline::after(Duration::MAX).is_infinite());
    /// assert!(!Deadline::now().is_infinite());
    /// ```
    pub const fn is_infinite(self) -> bool {
        self.0 == u64::MAX
    }

    /// Time left until the deadline, measured against `now`: `None` when infinite, zero once passed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use waitset::Deadline;
    /// let d = Deadline::from_monotonic_nanos(5_000_000);
    /// assert_eq!(d.remaining_from(2_000_000), Some(Duration::from_millis(3)));
    /// assert_eq!(d.remaining_from(9_000_000), Some(Duration::ZERO)); // passed: zero
    /// assert_eq!(Deadline::INFINITE.remaining_from(0), None);
    /// ```
    pub fn remaining_from(self, now: u64) -> Option<Duration> {
        if self.is_infinite() {
            None
        } else {
            Some(Duration::from_nanos(self.0.saturating_sub(now)))
        }
    }

    /// Time left until the deadline: `None` when infinite, zero once passed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use waitset::Deadline;
    /// let left = Deadline::after(Duration::from_secs(60)).remaining().unwrap();
    /// assert!(left > Duration::from_secs(50) && left <= Duration::from_secs(60));
    /// assert_eq!(Deadline::now().remaining(), Some(Duration::ZERO));
    /// assert_eq!(Deadline::INFINITE.remaining(), None);
    /// ```
    pub fn remaining(self) -> Option<Duration> {
        self.remaining_from(monotonic_ns())
    }

    /// Whether the deadline has passed at `now` (nanoseconds on the monotonic clock).
    ///
    /// ```
    /// use waitset::Deadline;
    /// let d = Deadline::from_monotonic_nanos(1_000);
    /// assert!(!d.passed_at(999));
    /// assert!(d.passed_at(1_000)); // due exactly at the deadline
    /// assert!(!Deadline::INFINITE.passed_at(Deadline::now().as_monotonic_nanos()));
    /// ```
    pub const fn passed_at(self, now: u64) -> bool {
        self.0 <= now
    }
}

/// The same as [`Deadline::from_instant`].
///
/// ```
/// use std::time::{Duration, Instant};
/// use waitset::Deadline;
/// let d: Deadline = (Instant::now() + Duration::from_secs(5)).into();
/// assert!(d > Deadline::now() && !d.is_infinite());
/// ```
impl From<Instant> for Deadline {
    fn from(at: Instant) -> Deadline {
        Deadline::from_instant(at)
    }
}

/// A relative timeout in whole milliseconds, as the classic library wrappers take it.
///
/// Built from (seconds, microseconds) it rounds a partial millisecond *up* (a 1 µs timeout waits
/// 1 ms, it never becomes a non-blocking poll) and saturates instead of wrapping.
///
/// ```
/// use waitset::Timeout;
/// assert_eq!(Timeout::from_sec_usec(0, 1).as_millis(), Some(1));
/// assert_eq!(Timeout::from_sec_usec(1, 500).as_millis(), Some(1001));
/// assert_eq!(Timeout::from_sec_usec(0, 0).as_millis(), Some(0));
/// assert_eq!(Timeout::from_sec_usec(u64::MAX, 999_999).as_millis(), Some(u64::MAX));
/// assert_eq!(Timeout::INFINITE.as_millis(), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timeout(Option<u64>);

impl Timeout {
    /// Block until something is ready.
    ///
    /// ```
    /// use waitset::{Deadline, PollFlags, PollSet, Timeout};
    /// assert_eq!(Timeout::INFINITE.as_millis(), None);
    /// assert_eq!(Timeout::INFINITE.deadline(), Deadline::INFINITE);
    /// let (r, w) = rustix::pipe::pipe().unwrap();
    /// rustix::io::write(&w, b"x").unwrap();
    /// let mut set = PollSet::new();
    /// set.push(&r, PollFlags::IN).unwrap();
    /// // Blocks only until something is ready, which it already is.
    /// assert_eq!(set.poll(Timeout::INFINITE, false).unwrap().ready, 1);
    /// ```
    pub const INFINITE: Timeout = Timeout(None);
    /// Do not block.
    ///
    /// ```
    /// use waitset::{PollFlags, PollSet, Timeout};
    /// let (r, _w) = rustix::pipe::pipe().unwrap();
    /// let mut set = PollSet::new();
    /// set.push(&r, PollFlags::IN).unwrap();
    /// assert_eq!(set.poll(Timeout::ZERO, false).unwrap().ready, 0); // returns at once
    /// assert_eq!(Timeout::ZERO, Timeout::from_millis(0));
    /// ```
    pub const ZERO: Timeout = Timeout(Some(0));

    /// A timeout of `ms` milliseconds.
    ///
    /// ```
    /// use waitset::{PollFlags, PollSet, Timeout};
    /// assert_eq!(Timeout::from_millis(250).as_millis(), Some(250));
    /// let (r, _w) = rustix::pipe::pipe().unwrap();
    /// let mut set = PollSet::new();
    /// set.push(&r, PollFlags::IN).unwrap();
    /// // Nothing arrives within 1 ms: the poll times out with no ready entry.
    /// assert_eq!(set.poll(Timeout::from_millis(1), false).unwrap().ready, 0);
    /// ```
    pub const fn from_millis(ms: u64) -> Timeout {
        Timeout(Some(ms))
    }

    /// A timeout of `secs` seconds plus `usecs` microseconds, rounded up to the next whole
    /// millisecond and saturated at `u64::MAX` milliseconds. Microseconds past one second carry.
    ///
    /// ```
    /// use waitset::Timeout;
    /// assert_eq!(Timeout::from_sec_usec(0, 1_001), Timeout::from_millis(2)); // rounds up
    /// assert_eq!(Timeout::from_sec_usec(0, 2_500_000), Timeout::from_millis(2_500)); // µs carry
    /// assert_eq!(Timeout::from_sec_usec(u64::MAX, 0).as_millis(), Some(u64::MAX)); // saturates
    /// ```
    pub fn from_sec_usec(secs: u64, usecs: u64) -> Timeout {
        let d = Duration::from_secs(secs).checked_add(Duration::from_micros(usecs));
        Timeout::from_duration(d.unwrap_or(Duration::MAX))
    }

    /// A timeout from a [`Duration`], rounding a partial millisecond up; saturates.
    ///
    /// ```
    /// use std::time::Duration;
    /// use waitset::Timeout;
    /// assert_eq!(Timeout::from_duration(Duration::from_nanos(1)).as_millis(), Some(1)); // never 0
    /// assert_eq!(Timeout::from_duration(Duration::from_micros(1_500)).as_millis(), Some(2));
    /// assert_eq!(Timeout::from_duration(Duration::from_millis(3)).as_millis(), Some(3));
    /// assert_eq!(Timeout::from_duration(Duration::ZERO), Timeout::ZERO);
    /// assert_eq!(Timeout::from_duration(Duration::MAX).as_millis(), Some(u64::MAX));
    /// ```
    pub fn from_duration(d: Duration) -> Timeout {
        Timeout(Some(ceil_millis(d)))
    }

    /// Whole milliseconds, or `None` for [`Timeout::INFINITE`].
    ///
    /// ```
    /// use waitset::Timeout;
    /// assert_eq!(Timeout::from_millis(7).as_millis(), Some(7));
    /// assert_eq!(Timeout::ZERO.as_millis(), Some(0));
    /// assert_eq!(Timeout::INFINITE.as_millis(), None);
    /// ```
    pub const fn as_millis(self) -> Option<u64> {
        self.0
    }

    /// The absolute deadline this timeout ends at when started now.
    ///
    /// ```
    /// use std::time::Duration;
    /// use waitset::{Deadline, Timeout};
    /// assert_eq!(Timeout::INFINITE.deadline(), Deadline::INFINITE);
    /// assert!(Timeout::ZERO.deadline() <= Deadline::now()); // already due
    /// let left = Timeout::from_millis(60_000).deadline().remaining().unwrap();
    /// assert!(left > Duration::from_secs(50) && left <= Duration::from_secs(60));
    /// ```
    pub fn deadline(self) -> Deadline {
        match self.0 {
            None => Deadline::INFINITE,
            Some(ms) => Deadline::after(Duration::from_millis(ms)),
        }
    }
}

/// Nanoseconds on `CLOCK_MONOTONIC`: the one clock read of the engine.
#[inline]
pub(crate) fn monotonic_ns() -> u64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// Round a duration up to whole milliseconds, saturating: a partial millisecond never becomes
/// zero (a kernel that takes milliseconds would otherwise spin), the one copy of this rule.
pub(crate) fn ceil_millis(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

/// A millisecond timeout for a kernel interface that takes a C `int` (`None`: block, -1).
#[cfg_attr(
    any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd",
        target_os = "dragonfly"
    ),
    allow(dead_code)
)]
pub(crate) fn millis_c_int(timeout: Option<Duration>) -> i32 {
    match timeout {
        None => -1,
        Some(d) => ceil_millis(d).min(i32::MAX as u64) as i32,
    }
}

/// The largest number of seconds handed to a kernel timespec (about 146 years): every kernel
/// accepts it, and adding it to the current time cannot overflow. (Unused where there is
/// neither `ppoll` nor epoll: Apple's systems time out in milliseconds.)
#[cfg_attr(
    not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd",
        target_os = "dragonfly"
    )),
    allow(dead_code)
)]
const MAX_TIMESPEC_SECS: u64 = i64::MAX as u64 / 2_000_000_000;

/// A kernel timespec for a relative timeout, clamped to [`MAX_TIMESPEC_SECS`]: the one
/// conversion used by every backend.
#[cfg_attr(
    not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd",
        target_os = "dragonfly"
    )),
    allow(dead_code)
)]
pub(crate) fn timespec(d: Duration) -> rustix::time::Timespec {
    rustix::time::Timespec {
        tv_sec: d.as_secs().min(MAX_TIMESPEC_SECS) as i64,
        tv_nsec: d.subsec_nanos().into(),
    }
}
