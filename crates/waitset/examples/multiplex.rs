//! Multiplex stdin, a periodic timer and a user event raised from another thread in one WaitSet,
//! printing what arrives. Ends at end of input (or after `--ticks N` timer ticks).
//!
//! ```text
//! cargo run -p waitset --example multiplex            # type lines; Ctrl-D ends
//! printf 'a\nb\n' | cargo run -p waitset --example multiplex
//! ```

use std::io::Write;
use std::time::{Duration, Instant};

use waitset::{Deadline, Event, Signals, Source, Status, Timer, WaitResult, WaitSet};

const STDIN: u64 = 1;
const TICK: u64 = 2;
const PING: u64 = 3;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let max_ticks: Option<u64> = std::env::args()
        .skip_while(|a| a != "--ticks")
        .nth(1)
        .and_then(|n| n.parse().ok());
    let set = WaitSet::new()?;
    let stdin = std::io::stdin();
    // SAFETY: stdin stays open for the whole program, longer than the set.
    unsafe { set.add(STDIN, Source::fd(&stdin), Signals::READABLE)? };

    let period = Duration::from_millis(500);
    let timer = Timer::new();
    set.add(TICK, Source::from(&timer), Signals::TIMER)?;
    timer.set(Deadline::after(period), Duration::from_millis(5));

    // Another thread raises USER_0 every 700 ms; the waiter clears it when it handles it.
    let ping = Event::new();
    set.add(PING, Source::from(&ping), Signals::USER_0)?;
    let pinger = ping.clone();
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(700));
        if pinger.signal(Signals::empty(), Signals::USER_0).is_err() {
            return;
        }
    });

    let start = Instant::now();
    let (mut lines, mut ticks, mut pings) = (0u64, 0u64, 0u64);
    let mut out = std::io::stdout().lock();
    let mut results = [WaitResult::default(); 8];
    let mut pending = Vec::new();
    writeln!(
        out,
        "waitset multiplex on {:?}: type lines, Ctrl-D to end",
        set.backend()
    )?;
    'outer: loop {
        let n = set.wait(Deadline::INFINITE, &mut results)?;
        for r in &results[..n] {
            let t = start.elapsed().as_secs_f64();
            match (r.cookie, r.status) {
                (STDIN, Status::Satisfied) => {
                    let mut buf = [0u8; 4096];
                    let got = rustix::io::read(&stdin, &mut buf)?;
                    if got == 0 {
                        if !pending.is_empty() {
                            lines += 1;
                            writeln!(
                                out,
                                "[{t:7.3}s] line: {}",
                                String::from_utf8_lossy(&pending)
                            )?;
                        }
                        writeln!(out, "[{t:7.3}s] end of input")?;
                        break 'outer;
                    }
                    pending.extend_from_slice(&buf[..got]);
                    while let Some(i) = pending.iter().position(|&b| b == b'\n') {
                        let line: Vec<u8> = pending.drain(..=i).collect();
                        lines += 1;
                        writeln!(
                            out,
                            "[{t:7.3}s] line: {}",
                            String::from_utf8_lossy(&line[..i])
                        )?;
                    }
                }
                (TICK, _) => {
                    ticks += 1;
                    writeln!(out, "[{t:7.3}s] tick {ticks}")?;
                    timer.set(Deadline::after(period), Duration::from_millis(5));
                    if max_ticks.is_some_and(|m| ticks >= m) {
                        break 'outer;
                    }
                }
                (PING, _) => {
                    pings += 1;
                    ping.signal(Signals::USER_0, Signals::empty())?;
                    writeln!(out, "[{t:7.3}s] ping {pings} from another thread")?;
                }
                (c, s) => writeln!(out, "[{t:7.3}s] cookie {c}: {s:?} {:?}", r.observed)?,
            }
        }
    }
    writeln!(out, "{lines} lines, {ticks} ticks, {pings} pings")?;
    Ok(())
}
