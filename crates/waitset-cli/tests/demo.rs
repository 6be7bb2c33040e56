//! The demo guest (the README's main job): stdin lines, a 500 ms timer and its own output,
//! multiplexed by one poll() loop.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::mpsc;

use common::{guest, pipe, run, waitset};

/// Splits the output into (tick lines, other lines) and returns the tick count of the summary.
fn split(stdout: &str) -> (Vec<&str>, Vec<&str>) {
    stdout.lines().partition(|l| l.starts_with("tick "))
}

/// Parses "demo: L lines, B bytes, T ticks".
fn summary(line: &str) -> (u64, u64, u64) {
    let rest = line.strip_prefix("demo: ").expect(line);
    let nums: Vec<u64> = rest
        .split(", ")
        .map(|p| p.split(' ').next().unwrap().parse().expect(line))
        .collect();
    (nums[0], nums[1], nums[2])
}

#[test]
fn echoes_every_line_then_summarizes_on_eof() {
    let (r, w) = pipe();
    std::fs::File::from(w)
        .write_all(b"alpha\nbeta\n\ngamma")
        .unwrap();
    let out = run(waitset().arg("run").arg(guest("demo.wasm")), Stdio::from(r));
    assert_eq!(out.code(), Some(0), "stderr: {}", out.stderr);
    let (ticks, rest) = split(&out.stdout);
    assert_eq!(
        rest[..4],
        ["echo: alpha", "echo: beta", "echo: ", "echo: gamma"]
    );
    assert_eq!(rest.len(), 5, "{}", out.stdout);
    let (lines, bytes, nticks) = summary(rest[4]);
    assert_eq!((lines, bytes), (4, 17));
    assert_eq!(nticks as usize, ticks.len());
}

#[test]
fn dev_null_is_an_immediate_eof() {
    let out = run(waitset().arg("run").arg(guest("demo.wasm")), Stdio::null());
    assert_eq!(out.code(), Some(0));
    let (_, rest) = split(&out.stdout);
    assert_eq!(rest.len(), 1, "{}", out.stdout);
    assert_eq!(summary(rest[0]).0, 0);
}

#[test]
fn ticks_while_waiting_for_input() {
    let (r, w) = pipe();
    let mut w = std::fs::File::from(w);
    let mut child = common::spawn(waitset().arg("run").arg(guest("demo.wasm")), Stdio::from(r));
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    // Two ticks arrive while stdin stays open and silent.
    while !seen.iter().any(|l| l == "tick 2") {
        seen.push(rx.recv_timeout(common::DEADLINE).expect("a tick"));
    }
    w.write_all(b"late line\n").unwrap();
    while !seen.iter().any(|l| l == "echo: late line") {
        seen.push(rx.recv_timeout(common::DEADLINE).expect("the echo"));
    }
    drop(w);
    while let Ok(line) = rx.recv_timeout(common::DEADLINE) {
        seen.push(line);
    }
    let status = common::wait_deadline(&mut child);
    assert_eq!(status.code(), Some(0));
    assert_eq!(seen.iter().filter(|l| l.starts_with("tick 1")).count(), 1);
    let last = seen.last().unwrap();
    let (lines, bytes, ticks) = summary(last);
    assert_eq!((lines, bytes), (1, 10));
    assert!(ticks >= 2, "{seen:?}");
    // ticks are numbered in order
    let numbers: Vec<u64> = seen
        .iter()
        .filter_map(|l| l.strip_prefix("tick ")?.parse().ok())
        .collect();
    assert_eq!(numbers, (1..=ticks).collect::<Vec<_>>());
}
