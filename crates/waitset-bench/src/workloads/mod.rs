//! The workloads of the benchmark issue (parts 1 to 8).

mod echo;
mod engine;
mod fd;
mod guest_poll;
mod poll;
mod timers;
mod wake;

pub(crate) use echo::EchoRun;

use crate::harness::Ctx;
use crate::report::Workload;
use crate::Error;

/// `(id, title)` of every workload, in run order.
pub(crate) const LIST: &[(&str, &str)] = &[
    ("1a", "libevent pipes chain, 1 active"),
    ("1b", "libevent pipes chain, 100 active"),
    (
        "1c",
        "libevent pipes chain, 1 active, one-shot entries re-armed after every event",
    ),
    ("2", "idle scaling: N idle socketpairs + 1 active pair"),
    (
        "3",
        "many ready: level-triggered fds all ready, buffer 1024",
    ),
    ("4", "cross-thread wake round trip"),
    ("5a", "timers: insert + cancel"),
    ("5b", "timers: expiring in order"),
    (
        "6",
        "poll() and PollSet vs poll(2): 64 or 1024 idle pipes + 1 ready, timeout 0",
    ),
    (
        "7",
        "poll_oneoff from a real guest: poll() over N idle entries, timeout 0",
    ),
    ("8a", "wasm echo server: throughput"),
    ("8b", "wasm echo server: round-trip latency"),
    ("9a", "engine: cost per result with many asserted events"),
    ("9b", "engine: removing an entry queued as ready"),
    ("9c", "engine: adding a descriptor vs raw epoll_ctl"),
];

/// The engines each workload reports, by the names of the report (`--engines` picks among
/// them; the smoke tests check this table against what a run reports). Workload 7's peers
/// appear only where they are installed.
pub(crate) const ENGINES: &[(&str, &[&str])] = &[
    ("1a", CHAIN_ENGINES),
    ("1b", CHAIN_ENGINES),
    (
        "1c",
        &[
            "waitset [epoll, oneshot]",
            "waitset [uring, oneshot]",
            "polling [oneshot]",
            "raw epoll",
        ],
    ),
    (
        "2",
        &[
            "waitset [epoll]",
            "raw epoll",
            "mio",
            "polling [oneshot]",
            "waitset [uring]",
            "raw io_uring",
            "waitset [poll]",
        ],
    ),
    (
        "3",
        &[
            "waitset [epoll]",
            "raw epoll",
            "polling [oneshot]",
            "polling [level]",
            "waitset [poll]",
            "waitset [uring]",
        ],
    ),
    (
        "4",
        &[
            "waitset Event",
            "mio Waker",
            "polling notify",
            "waitset Event [edge]",
            "waitset Event [uring]",
            "waitset Event [uring, edge]",
        ],
    ),
    ("5a", TIMER_ENGINES),
    ("5b", TIMER_ENGINES),
    (
        "6",
        &[
            "libc::poll",
            "waitset::poll",
            "PollSet [poll]",
            "PollSet [epoll]",
        ],
    ),
    ("7", &["waitset run", "wasmtime-py", "node:wasi"]),
    ("8a", &["waitset run"]),
    ("8b", &["waitset run"]),
    ("9a", &["waitset [epoll]", "waitset [poll]"]),
    ("9b", &["waitset [epoll]", "waitset [poll]"]),
    ("9c", &["waitset [epoll]", "waitset [poll]", "raw epoll"]),
];

const CHAIN_ENGINES: &[&str] = &[
    "waitset [epoll]",
    "raw epoll",
    "mio",
    "polling [oneshot]",
    "waitset [uring]",
    "waitset [uring, edge]",
    "raw io_uring",
    "waitset [poll]",
];

const TIMER_ENGINES: &[&str] = &["waitset Timer", "std BinaryHeap", "async-io Timer"];

/// The engines of workload `id` (empty for an unknown id).
pub(crate) fn engines(id: &str) -> &'static [&'static str] {
    ENGINES
        .iter()
        .find(|(i, _)| *i == id)
        .map_or(&[], |(_, e)| e)
}

fn title(id: &str) -> &'static str {
    LIST.iter().find(|(i, _)| *i == id).map_or("", |(_, t)| t)
}

/// Run workload `id`.
pub(crate) fn run(id: &str, ctx: &mut Ctx<'_>) -> Result<Workload, Error> {
    match id {
        "1a" => fd::pipes(ctx, id, 1),
        "1b" => fd::pipes(ctx, id, 100),
        "1c" => fd::pipes_rearm(ctx, id),
        "2" => fd::idle(ctx, id),
        "3" => fd::many_ready(ctx, id),
        "4" => wake::round_trip(ctx, id),
        "5a" => timers::insert_cancel(ctx, id),
        "5b" => timers::expire(ctx, id),
        "6" => poll::versus_poll2(ctx, id),
        "7" => guest_poll::guest_poll(ctx, id),
        "8a" => echo::throughput(ctx, id),
        "8b" => echo::latency(ctx, id),
        "9a" => engine::events_ready(ctx, id),
        "9b" => engine::remove_queued(ctx, id),
        "9c" => engine::add_fd(ctx, id),
        _ => Err(Error::Setup(format!("unknown workload {id}"))),
    }
}
