//! A WASI preview1 host for the waitset project.
//!
//! - [`abi`]: the preview1 byte layouts (subscription, event, fdstat, ...), every constant, and
//!   the checked guest-memory helpers all host functions use.
//! - [`ctx`]: [`WasiCtx`], one guest's arguments, environment and fd table.
//! - [`host`] and [`fs`]: every preview1 function, engine-agnostic: each is a plain function
//!   over `&mut WasiCtx` and the guest memory as `&mut [u8]`, returning an [`Errno`]. Paths are
//!   resolved beneath their directory by cap-std.
//! - [`poll`]: `poll_oneoff`, the ABI path and the wait behind it: one persistent
//!   [`waitset::WaitSet`] per guest, so kernel interest is kept between calls.
//! - [`interrupt`]: SIGINT / SIGTERM end a run, even one blocked in a wait.
//! - [`wasmtime_host`] (feature `wasmtime`, default): links all of it into a
//!   `wasmtime::Linker<T>` and runs a command module. Without the feature the crate is the
//!   engine-agnostic core, for another runtime.
//!
//! A guest reaches host objects only through its own fd table, and a bad guest pointer is
//! `EFAULT` (or `EINVAL` when misaligned), never a host panic.

#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod abi;
pub mod ctx;
pub mod fs;
pub mod host;
pub mod interrupt;
pub mod poll;
#[cfg(feature = "wasmtime")]
pub mod wasmtime_host;

pub use abi::{Errno, Event, Subscription};
pub use ctx::{CtxError, FdEntry, FdObject, FdTable, FileKind, WasiCtx, WasiCtxBuilder};
pub use host::ProcExit;
pub use interrupt::Interrupt;
pub use poll::poll_oneoff;
