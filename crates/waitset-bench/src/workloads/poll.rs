//! Workload 6: the POSIX face and PollSet against calling poll(2) directly on the same array.

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Instant;

use rustix::pipe::{pipe_with, PipeFlags};
use waitset::{BackendKind, PollFd, PollFlags, PollOptions, PollSet, Timeout};

use crate::harness::{per, Ctx, Runner};
use crate::report::Workload;
use crate::Error;

/// Idle pipes beside the one ready pipe, per parameter.
const IDLE: [usize; 2] = [64, 1024];
const LIBC: &str = "libc::poll";

pub(crate) fn versus_poll2(ctx: &mut Ctx<'_>, id: &str) -> Result<Workload, Error> {
    let mut wl = Workload::new(id, super::title(id), "ns/call", "fds", LIBC);
    wl.notes.push(
        "ratio here is the overhead over calling poll(2) directly. waitset::poll is poll(2) on \
         every backend; PollSet [epoll] keeps its interest in the kernel between polls, so a \
         poll costs in proportion to what is ready"
            .into(),
    );
    for idle in IDLE {
        let entries = one_size(ctx, idle)?;
        wl.entries.extend(entries);
    }
    Ok(wl)
}

fn one_size(ctx: &mut Ctx<'_>, idle: usize) -> Result<Vec<crate::report::Entry>, Error> {
    let mut pipes: Vec<(OwnedFd, OwnedFd)> = Vec::with_capacity(idle + 1);
    for _ in 0..=idle {
        pipes.push(pipe_with(PipeFlags::NONBLOCK | PipeFlags::CLOEXEC)?);
    }
    rustix::io::write(&pipes[idle].1, b"x")?;
    let raw: Vec<libc::pollfd> = pipes
        .iter()
        .map(|(r, _)| libc::pollfd {
            fd: r.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let fds: Vec<PollFd> = pipes
        .iter()
        .map(|(r, _)| PollFd::new(r, PollFlags::IN))
        .collect();
    let target = ctx.sizes.poll_sample;

    let mut engines: Vec<Runner<'_>> = Vec::new();
    {
        let mut arr = raw.clone();
        engines.push((
            LIBC.into(),
            calibrated(target, move || {
                // SAFETY: `arr` is a live, exclusively borrowed array of `arr.len()` pollfd
                // structs for the whole call; timeout 0 never blocks.
                let r = unsafe { libc::poll(arr.as_mut_ptr(), arr.len() as libc::nfds_t, 0) };
                expect_one(if r < 0 {
                    Err(Error::Io(std::io::Error::last_os_error()))
                } else {
                    Ok(r as usize)
                })
            }),
        ));
    }
    {
        let mut arr = fds.clone();
        engines.push((
            "waitset::poll".into(),
            calibrated(target, move || expect_one(Ok(waitset::poll(&mut arr, 0)?))),
        ));
    }
    for backend in [BackendKind::Poll, BackendKind::Epoll] {
        let opts = PollOptions::new().backend(backend);
        let mut set = PollSet::with_options(opts);
        for (r, _) in &pipes {
            set.push(r, PollFlags::IN)?;
        }
        engines.push((
            format!("PollSet [{}]", backend.name()),
            calibrated(target, move || {
                expect_one(Ok(set.poll(Timeout::ZERO, false)?.ready))
            }),
        ));
    }
    ctx.interleave((idle + 1) as u64, engines)
}

fn expect_one(r: Result<usize, Error>) -> Result<(), Error> {
    match r? {
        1 => Ok(()),
        n => Err(Error::Setup(format!("poll reported {n} ready, expected 1"))),
    }
}

/// A sample closure that repeats `call` for about `target` per sample: the count is
/// calibrated on the first (warm-up) invocation and fixed afterwards.
fn calibrated<'a>(
    target: std::time::Duration,
    mut call: impl FnMut() -> Result<(), Error> + 'a,
) -> Box<dyn FnMut() -> Result<f64, Error> + 'a> {
    let mut iters: Option<u64> = None;
    Box::new(move || {
        let n = match iters {
            Some(n) => n,
            None => {
                let probe = 16u64;
                let start = Instant::now();
                for _ in 0..probe {
                    call()?;
                }
                let each = per(start.elapsed(), probe).max(1.0);
                let n = ((target.as_nanos() as f64 / each) as u64).clamp(16, 50_000_000);
                iters = Some(n);
                n
            }
        };
        let start = Instant::now();
        for _ in 0..n {
            call()?;
        }
        Ok(per(start.elapsed(), n))
    })
}
