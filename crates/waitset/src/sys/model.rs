//! The model backend of the loom models (`cfg(loom)` only): no kernel. Descriptors can be
//! registered but never become ready; the wake channel is modelled under a loom mutex the way
//! the kernel treats it — as edges (epoll: a write links the channel once, one waiter takes it)
//! or as tokens (poll(2): readable while the counter is positive) — and a blocking wait sleeps
//! on a loom condition variable until the channel has something for it. A lost wake-up
//! therefore shows as a deadlock that loom reports. Finite timeouts cannot be modelled (loom has
//! no clock): a model waits either not at all or until woken.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use loom::sync::{Condvar, Mutex};
use rustix::io::Errno;

use super::{AddError, Backend, Report, Reports, Trigger};
use crate::fdrules::{Bits, IN};

/// What the backend and its set's wake channel share.
#[derive(Default)]
pub(crate) struct ModelKernel {
    state: Mutex<ModelState>,
    readable: Condvar,
}

#[derive(Default)]
struct ModelState {
    registered: HashMap<RawFd, u64>,
    /// Tokens: the wake channel's counter (a semaphore eventfd).
    tokens: usize,
    /// Edges: a write linked the channel and no waiter has taken it yet.
    linked: bool,
    /// The token the channel is registered under, once it is.
    channel_token: Option<u64>,
}

/// The model backend.
pub(crate) struct ModelBackend {
    kernel: Arc<ModelKernel>,
    edge: bool,
}

/// The model wake channel.
pub(crate) struct ModelChannel {
    kernel: Arc<ModelKernel>,
    edge: bool,
    /// A real descriptor that stands for the channel when the set registers it.
    stand_in: std::os::fd::OwnedFd,
}

impl ModelBackend {
    pub(crate) fn new(edge: bool) -> (ModelBackend, ModelChannel) {
        let kernel = Arc::new(ModelKernel::default());
        let stand_in = rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC)
            .expect("eventfd for the model channel");
        (
            ModelBackend {
                kernel: kernel.clone(),
                edge,
            },
            ModelChannel {
                kernel,
                stand_in,
                edge,
            },
        )
    }
}

impl ModelBackend {
    /// The kind whose channel this models.
    pub(crate) fn kind(&self) -> super::BackendKind {
        if self.edge {
            super::BackendKind::Epoll
        } else {
            super::BackendKind::Poll
        }
    }
}

impl ModelChannel {
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.stand_in.as_fd()
    }

    pub(crate) fn post(&self, tokens: usize) {
        if tokens == 0 {
            return;
        }
        let mut st = self.kernel.state.lock().unwrap();
        if self.edge {
            st.linked = true;
        } else {
            st.tokens += tokens;
        }
        drop(st);
        self.kernel.readable.notify_all();
    }

    pub(crate) fn take_one(&self) -> bool {
        let mut st = self.kernel.state.lock().unwrap();
        if st.tokens > 0 {
            st.tokens -= 1;
            true
        } else {
            false
        }
    }
}

impl Backend for ModelBackend {
    fn add(
        &self,
        fd: BorrowedFd<'_>,
        token: u64,
        interest: Bits,
        _mode: Trigger,
    ) -> Result<(), AddError> {
        let mut st = self.kernel.state.lock().unwrap();
        if st.registered.insert(fd.as_raw_fd(), token).is_some() {
            return Err(AddError::Sys(Errno::EXIST));
        }
        if interest == IN && token == super::WAKE_TOKEN {
            st.channel_token = Some(token);
        }
        Ok(())
    }

    fn modify(&self, fd: BorrowedFd<'_>, token: u64, _: Bits, _: Trigger) -> Result<(), Errno> {
        let mut st = self.kernel.state.lock().unwrap();
        match st.registered.get_mut(&fd.as_raw_fd()) {
            Some(t) => {
                *t = token;
                Ok(())
            }
            None => Err(Errno::NOENT),
        }
    }

    fn still_registered(&self, fd: BorrowedFd<'_>) -> bool {
        self.kernel
            .state
            .lock()
            .unwrap()
            .registered
            .contains_key(&fd.as_raw_fd())
    }

    fn delete(&self, fd: BorrowedFd<'_>) -> Result<(), Errno> {
        let mut st = self.kernel.state.lock().unwrap();
        st.registered
            .remove(&fd.as_raw_fd())
            .map(|_| ())
            .ok_or(Errno::NOENT)
    }

    fn wait<R>(
        &self,
        _max: usize,
        timeout: Option<Duration>,
        f: impl FnOnce(&mut Reports<'_>) -> R,
    ) -> Result<R, Errno> {
        let mut st = self.kernel.state.lock().unwrap();
        let readable = loop {
            if st.channel_token.is_some() {
                if self.edge && st.linked {
                    st.linked = false; // this waiter takes the edge
                    break true;
                }
                if !self.edge && st.tokens > 0 {
                    break true;
                }
            }
            if timeout == Some(Duration::ZERO) {
                break false;
            }
            st = self.kernel.readable.wait(st).unwrap();
        };
        let token = st.channel_token;
        drop(st);
        let report: Vec<Report> = readable
            .then(|| Report {
                token: token.expect("registered"),
                bits: IN,
            })
            .into_iter()
            .collect();
        Ok(f(&mut Reports::List(report.iter())))
    }

    fn change_needs_wake(&self) -> bool {
        false
    }
}
