//! # waitset-capi
//!
//! The C ABI of the [`waitset`] engine: a shared and a static library (`libwaitset_capi.so`,
//! `libwaitset_capi.a`) and the header `include/waitset.h`, generated from this crate by
//! cbindgen. Three faces:
//!
//! - **Magenta**: integer handles with rights ([`ws_handle_t`]) naming wait sets, events,
//!   timers and wrapped descriptors, and the wait set calls of the Magenta kernel:
//!   [`ws_waitset_create`], [`ws_waitset_add`], [`ws_waitset_remove`], [`ws_waitset_wait`],
//!   [`ws_handle_close`], [`ws_handle_duplicate`], `ws_event_*`, `ws_timer_*`,
//!   [`ws_fd_wrap`]. Calls return a [`ws_status_t`]: [`WS_OK`] or a negative `WS_ERR_*` code
//!   with Zircon's values.
//! - **POSIX**: [`ws_poll`] and [`ws_ppoll`], with poll(2)'s C signature and errno conventions.
//! - **SysPoll**: an fd set ([`ws_pollset_t`]) to include descriptors in, count, iterate, and
//!   poll with retry after a signal, reporting that it was interrupted.
//!
//! No panic crosses the boundary: every entry point catches it and returns its face's error
//! ([`WS_ERR_INTERNAL`], or -1 with `errno` `EIO`). Every function is safe to call from any
//! thread.
//!
//! The Rust items below exist to generate the header and to document it; a Rust program uses
//! the `waitset` crate directly.

#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod guard;
mod magenta;
mod posix;
mod status;
mod syspoll;
mod table;

pub use crate::magenta::*;
pub use crate::posix::*;
pub use crate::status::*;
pub use crate::syspoll::*;
pub use crate::table::{ws_handle_t, WS_HANDLE_INVALID};
