//! A WASI preview1 host for the waitset project.
//!
//! - [`abi`]: the preview1 byte layouts (subscription, event, fdstat, ...), every constant, and
//!   the checked guest-memory helpers all host functions use.
//! - [`ctx`]: [`WasiCtx`], one guest's arguments, environment and fd table.
//! - [`host`]: the preview1 functions a wasi-libc program needs, engine-agnostic: each is a plain
//!   function over `&mut WasiCtx` and the guest memory as `&mut [u8]`, returning an [`Errno`].
//! - [`poll`]: `poll_oneoff`, the ABI path and the wait behind it: one persistent
//!   [`waitset::WaitSet`] per guest, so kernel interest is kept between calls.
//! - [`interrupt`]: SIGINT / SIGTERM end a run, even one blocked in a wait.
//! - [`wasmtime_host`]: links all of it into a `wasmtime::Linker` and runs a command module.
//!
//! A guest reaches host objects only through its own fd table, and a bad guest pointer is
//! `EFAULT` (or `EINVAL` when misaligned), never a host panic.

#![warn(missing_docs)]

pub mod abi;
pub mod ctx;
pub mod host;
pub mod interrupt;
pub mod poll;
pub mod wasmtime_host;

pub use abi::{Errno, Event, Subscription};
pub use ctx::{CtxError, FdEntry, FdObject, FdTable, FileKind, WasiCtx, WasiCtxBuilder};
pub use host::ProcExit;
pub use interrupt::Interrupt;
pub use poll::poll_oneoff;
