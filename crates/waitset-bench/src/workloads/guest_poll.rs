//! Workload 7: `poll_oneoff` from a real guest (`guests/poll_bench.wasm`) under `waitset run`,
//! wasmtime-py and Node's `node:wasi`. The guest times its own loop of `poll()` calls and prints
//! `poll_bench MODE N ITER ns_per_call=X`, so process start-up and compilation are not counted.
//!
//! Modes: `null` is `poll(NULL, 0, 0)` (no syscall is needed to answer it); `stdin` is `poll()`
//! over N entries that all name fd 0, timeout 0. WASI has no `pipe()`, so the guest cannot make
//! its own idle descriptors: the harness makes the child's stdin the read end of a pipe whose
//! write end it holds open and never writes, so fd 0 is idle for the whole run.

use std::path::Path;
use std::process::Stdio;

use rustix::pipe::{pipe_with, PipeFlags};

use crate::harness::{Ctx, Runner};
use crate::hosts::{finish, tail, Host, Hosts, RUN_DEADLINE};
use crate::report::Workload;
use crate::Error;

/// The guest module, in the guests directory.
pub(crate) const GUEST: &str = "poll_bench.wasm";

pub(crate) fn guest_poll(ctx: &mut Ctx<'_>, id: &str) -> Result<Workload, Error> {
    let reference = Host::Waitset.name();
    let mut wl = Workload::new(id, super::title(id), "µs/call", "fds", reference);
    wl.notes.push(
        "fds 0 is poll(NULL, 0, 0); fds N is poll() over N entries all naming fd 0 (an idle \
         pipe whose writer the harness holds open), timeout 0. The guest times its own loop \
         (start-up and compilation not counted); one process per sample, hosts interleaved"
            .into(),
    );
    let hosts = ctx.hosts.clone();
    if let Err(reason) = hosts.probe(Host::Waitset) {
        // Without our own host there is nothing to compare against: skip the workload.
        wl.skip(Host::Waitset.name(), reason);
        return Ok(wl);
    }
    let module = hosts.guest(GUEST)?;
    let mut available = vec![Host::Waitset];
    for host in [Host::WasmtimePy, Host::Node] {
        match hosts.probe(host) {
            Ok(version) => {
                wl.notes.push(format!("{}: {version}", host.name()));
                available.push(host);
            }
            Err(reason) => wl.skip(host.name(), reason),
        }
    }
    let calls: Vec<String> = ctx
        .sizes
        .guest_poll
        .iter()
        .map(|(n, iters)| format!("{n} fds: {iters}"))
        .collect();
    wl.notes
        .push(format!("calls per sample: {}", calls.join(", ")));
    for &(n, iters) in &ctx.sizes.guest_poll.clone() {
        let engines: Vec<Runner<'_>> = available
            .iter()
            .map(|&host| {
                let (hosts, module) = (&hosts, module.as_path());
                let f: Box<dyn FnMut() -> Result<f64, Error>> =
                    Box::new(move || run_guest(hosts, host, module, n, iters));
                (host.name().to_string(), f)
            })
            .collect();
        let entries = ctx.interleave(n, engines)?;
        wl.entries.extend(entries);
    }
    Ok(wl)
}

/// One run of the guest on `host`: µs per `poll()` call.
fn run_guest(hosts: &Hosts, host: Host, module: &Path, n: u64, iters: u64) -> Result<f64, Error> {
    let mode = if n == 0 { "null" } else { "stdin" };
    let args = [mode.to_string(), n.to_string(), iters.to_string()];
    let mut cmd = hosts.command::<String>(host, module, &[], &args)?;
    // The idle stdin: the child gets the read end; the write end stays open here (never
    // written) until the child has exited.
    let (r, w) = pipe_with(PipeFlags::CLOEXEC)?;
    cmd.stdin(Stdio::from(r))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().map_err(|e| {
        Error::Setup(format!(
            "{}: cannot start {:?}: {e}",
            host.name(),
            cmd.get_program()
        ))
    })?;
    drop(cmd); // closes the parent's copy of the read end
    let out = finish(child, RUN_DEADLINE)?;
    drop(w);
    let what = || format!("{} {} {mode} {n} {iters}", host.name(), module.display());
    if !out.status.success() {
        return Err(Error::Setup(format!(
            "{}: {} (stderr: {})",
            what(),
            out.status,
            tail(&out.stderr)
        )));
    }
    // The guest reports its first call's result: nothing may be ready (stdin is idle), or the
    // figure would be of a different path.
    let first = format!("poll_bench {mode} result: ret=0");
    if !out.stdout.lines().any(|l| l.starts_with(&first)) {
        return Err(Error::Setup(format!(
            "{}: expected `{first}` (an idle stdin), got {:?}",
            what(),
            tail(&out.stdout)
        )));
    }
    parse_ns_per_call(&out.stdout, mode, n, iters)
        .map(|ns| ns / 1000.0)
        .ok_or_else(|| {
            Error::Setup(format!(
                "{}: no `poll_bench {mode} {n} {iters} ns_per_call=X` line in its output: {:?} \
                 (stderr: {})",
                what(),
                tail(&out.stdout),
                tail(&out.stderr)
            ))
        })
}

/// The `X` of the line `poll_bench MODE N ITER ns_per_call=X` for this mode, N and ITER.
fn parse_ns_per_call(stdout: &str, mode: &str, n: u64, iters: u64) -> Option<f64> {
    let prefix = format!("poll_bench {mode} {n} {iters} ");
    stdout.lines().find_map(|l| {
        let rest = l.trim().strip_prefix(&prefix)?;
        let v = rest
            .split_whitespace()
            .find_map(|t| t.strip_prefix("ns_per_call="))?;
        v.parse::<f64>().ok().filter(|x| x.is_finite() && *x > 0.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_guest_line() {
        let out = "hello\npoll_bench stdin 64 1000 ns_per_call=1234.5\n";
        assert_eq!(parse_ns_per_call(out, "stdin", 64, 1000), Some(1234.5));
        assert_eq!(parse_ns_per_call(out, "stdin", 64, 999), None);
        assert_eq!(parse_ns_per_call(out, "null", 0, 1000), None);
        let out = "poll_bench null 0 10000 ns_per_call=87 extra=1\n";
        assert_eq!(parse_ns_per_call(out, "null", 0, 10000), Some(87.0));
        assert_eq!(
            parse_ns_per_call("poll_bench null 0 5 ns_per_call=0\n", "null", 0, 5),
            None
        );
    }
}
