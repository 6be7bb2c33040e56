//! [`Signals`]: the readiness bits shared by every interface of the engine.
//!
//! A [`WaitSet`](crate::WaitSet) entry waits for a mask of signals on its source, and each result
//! reports the signals observed. File descriptors assert the I/O signals, an
//! [`Event`](crate::Event) asserts the eight user signals, a [`Timer`](crate::Timer) asserts
//! [`Signals::TIMER`].

use bitflags::bitflags;

bitflags! {
    /// A set of readiness signals.
    ///
    /// ```
    /// use waitset::Signals;
    /// let s = Signals::READABLE | Signals::PEER_CLOSED;
    /// assert!(s.contains(Signals::READABLE));
    /// assert!(Signals::USER_ALL.contains(Signals::user(3)));
    /// ```
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct Signals: u32 {
        /// Data can be read without blocking (or a read returns end of file at once).
        const READABLE = 1 << 0;
        /// Data can be written without blocking.
        const WRITABLE = 1 << 1;
        /// Priority (out-of-band) data can be read.
        const PRIORITY = 1 << 2;
        /// An error condition is pending on the file descriptor.
        const ERROR = 1 << 3;
        /// The peer has hung up: no more data will arrive and writes will fail.
        const PEER_CLOSED = 1 << 4;
        /// A [`Timer`](crate::Timer) has reached its deadline.
        const TIMER = 1 << 5;
        /// User signal 0 of an [`Event`](crate::Event).
        const USER_0 = 1 << 24;
        /// User signal 1 of an [`Event`](crate::Event).
        const USER_1 = 1 << 25;
        /// User signal 2 of an [`Event`](crate::Event).
        const USER_2 = 1 << 26;
        /// User signal 3 of an [`Event`](crate::Event).
        const USER_3 = 1 << 27;
        /// User signal 4 of an [`Event`](crate::Event).
        const USER_4 = 1 << 28;
        /// User signal 5 of an [`Event`](crate::Event).
        const USER_5 = 1 << 29;
        /// User signal 6 of an [`Event`](crate::Event).
        const USER_6 = 1 << 30;
        /// User signal 7 of an [`Event`](crate::Event).
        const USER_7 = 1 << 31;
        /// All eight user signals.
        const USER_ALL = 0xff << 24;
        /// The signals a file descriptor can assert.
        const FD_ALL = Self::READABLE.bits() | Self::WRITABLE.bits() | Self::PRIORITY.bits()
            | Self::ERROR.bits() | Self::PEER_CLOSED.bits();
    }
}

impl Signals {
    /// User signal `n` (0 to 7); `n` above 7 yields the empty set.
    ///
    /// ```
    /// assert_eq!(waitset::Signals::user(0), waitset::Signals::USER_0);
    /// assert!(waitset::Signals::user(8).is_empty());
    /// ```
    pub const fn user(n: u32) -> Signals {
        if n > 7 {
            Signals::empty()
        } else {
            Signals::from_bits_retain(1 << (24 + n))
        }
    }
}
