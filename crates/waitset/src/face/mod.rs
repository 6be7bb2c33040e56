//! The stateless and library-wrapper faces: [`poll`](crate::poll) / [`ppoll`](crate::ppoll),
//! served by the kernel's `poll(2)`, and [`PollSet`](crate::PollSet), which keeps its interest in
//! the backend.

pub(crate) mod poll;
pub(crate) mod pollset;
