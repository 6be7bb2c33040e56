//! Workload 8: the wasm echo server (`guests/echo_server.wasm`, one `poll()` loop over the
//! preopened listener and every client) under `waitset run --listen 127.0.0.1:0`, driven by
//! concurrent clients on loopback. Each client is a thread with a blocking `TcpStream`
//! (`TCP_NODELAY`): it connects, waits for every other client, then makes request/response
//! round trips of a small message, checking the echo byte for byte and timing each one.
//!
//! One sample is one server process: it is told to exit after the clients' connections
//! (`echo_server.wasm CLIENTS`) and must report every byte. Workload 8a is the throughput
//! (requests over the wall time from the common start to the last client's last response);
//! 8b the latency percentiles of the same runs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Stdio;
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

use crate::harness::{Ctx, Runner};
use crate::hosts::{finish, tail, Host, RUN_DEADLINE};
use crate::report::Workload;
use crate::Error;

/// The guest module, in the guests directory.
pub(crate) const GUEST: &str = "echo_server.wasm";
/// The message of every request, in bytes.
pub(crate) const MSG: usize = 64;
/// How long a client waits for any one read before the run fails.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// The figures of one server run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EchoRun {
    /// Requests per second over all clients.
    pub(crate) rps: f64,
    /// Median round trip, µs.
    pub(crate) p50_us: f64,
    /// 99th percentile round trip, µs.
    pub(crate) p99_us: f64,
}

/// Workload 8a: requests per second.
pub(crate) fn throughput(ctx: &mut Ctx<'_>, id: &str) -> Result<Workload, Error> {
    let mut wl = workload(ctx, id, "requests/s", "clients");
    if let Some(runs) = runs(ctx, &mut wl)?.filter(|r| !r.is_empty()) {
        let clients = ctx.sizes.echo_clients as u64;
        let samples: Vec<f64> = runs.iter().map(|r| r.rps).collect();
        wl.entries.push(crate::report::Entry::new(
            wl.reference.clone(),
            clients,
            samples,
        ));
        wl.notes.push(
            "higher is better here: a peer's ratio below 1 would mean it serves fewer requests"
                .into(),
        );
    }
    Ok(wl)
}

/// Workload 8b: round-trip latency percentiles.
pub(crate) fn latency(ctx: &mut Ctx<'_>, id: &str) -> Result<Workload, Error> {
    let mut wl = workload(ctx, id, "µs/round trip", "pctile");
    if let Some(runs) = runs(ctx, &mut wl)?.filter(|r| !r.is_empty()) {
        let p50: Vec<f64> = runs.iter().map(|r| r.p50_us).collect();
        let p99: Vec<f64> = runs.iter().map(|r| r.p99_us).collect();
        wl.entries
            .push(crate::report::Entry::new(wl.reference.clone(), 50, p50));
        wl.entries
            .push(crate::report::Entry::new(wl.reference.clone(), 99, p99));
        wl.notes.push(
            "each sample is one server run's percentile over all its round trips; the same \
             runs as 8a when both are selected"
                .into(),
        );
    }
    Ok(wl)
}

fn workload(ctx: &Ctx<'_>, id: &str, unit: &str, param: &str) -> Workload {
    let mut wl = Workload::new(id, super::title(id), unit, param, Host::Waitset.name());
    let s = &ctx.sizes;
    wl.notes.push(format!(
        "{} clients x {} round trips of {MSG} bytes per sample, each client a thread with a \
         blocking TcpStream on 127.0.0.1 (TCP_NODELAY), every echo checked; one \
         `waitset run --listen 127.0.0.1:0 echo_server.wasm {}` per sample",
        s.echo_clients, s.echo_requests, s.echo_clients
    ));
    wl.notes.push(
        "peers: wasmtime-py and node:wasi cannot hand the guest a preopened listening socket \
         (no socket preopen in wasmtime's C API / WasiConfig, none in node:wasi), so this \
         workload runs on waitset alone"
            .into(),
    );
    wl
}

/// The runs of the echo server, measured once per bench run and shared by 8a and 8b; `None`
/// (with the workload marked skipped) when there is no waitset binary.
fn runs(ctx: &mut Ctx<'_>, wl: &mut Workload) -> Result<Option<Vec<EchoRun>>, Error> {
    if let Some(runs) = &ctx.echo_runs {
        return Ok(Some(runs.clone()));
    }
    let hosts = ctx.hosts.clone();
    if let Err(reason) = hosts.probe(Host::Waitset) {
        wl.skip(Host::Waitset.name(), reason);
        return Ok(None);
    }
    let module = hosts.guest(GUEST)?;
    let (clients, requests) = (ctx.sizes.echo_clients, ctx.sizes.echo_requests);
    let collected = std::cell::RefCell::new(Vec::new());
    let engines: Vec<Runner<'_>> = vec![(
        Host::Waitset.name().to_string(),
        Box::new(|| {
            let mut cmd = hosts.command(
                Host::Waitset,
                &module,
                &["--listen", "127.0.0.1:0"],
                &[clients.to_string().as_str()],
            )?;
            let run = one_run(&mut cmd, clients, requests)?;
            collected.borrow_mut().push(run);
            Ok(run.rps)
        }),
    )];
    ctx.interleave(clients as u64, engines)?;
    // The first run was interleave's discarded warm-up.
    let runs: Vec<EchoRun> = collected.into_inner().into_iter().skip(1).collect();
    ctx.echo_runs = Some(runs.clone());
    Ok(Some(runs))
}

/// The message of request `j` of client `i`.
fn message(i: usize, j: usize) -> [u8; MSG] {
    let mut m = [0u8; MSG];
    let mut x = crate::harness::scramble(((i as u64) << 32) | j as u64);
    for chunk in m.chunks_mut(8) {
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        x = crate::harness::scramble(x);
    }
    m
}

/// Start the server, run the clients, check the server's own account: one run's figures.
fn one_run(
    cmd: &mut std::process::Command,
    clients: usize,
    requests: usize,
) -> Result<EchoRun, Error> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    // The first stderr line names the address; keep the rest for error messages.
    let stderr = child.stderr.take().expect("piped");
    let (addr_tx, addr_rx) = mpsc::channel();
    let err_thread = std::thread::spawn(move || {
        let mut rest = String::new();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line.strip_prefix("waitset: fd 3 listening on ") {
                let _ = addr_tx.send(addr.trim().to_string());
            } else {
                rest.push_str(&line);
                rest.push('\n');
            }
        }
        rest
    });
    let addr = match addr_rx.recv_timeout(IO_TIMEOUT) {
        Ok(a) => a,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            let rest = err_thread.join().unwrap_or_default();
            return Err(Error::Setup(format!(
                "echo server: no `listening on` line (stderr: {})",
                tail(&rest)
            )));
        }
    };

    let result = drive(&addr, clients, requests);
    if result.is_err() {
        let _ = child.kill();
    }
    let out = finish(child, RUN_DEADLINE)?;
    let rest = err_thread.join().unwrap_or_default();
    let (rps, mut lat) = result?;
    let bytes = (clients * requests * MSG) as u64;
    let want = format!("echo_server: served {clients} connections, {bytes} bytes");
    if !out.status.success() || out.stdout.trim() != want {
        return Err(Error::Setup(format!(
            "echo server: {} with stdout {:?}, expected {want:?} (stderr: {})",
            out.status,
            out.stdout.trim(),
            tail(&rest)
        )));
    }
    lat.sort_unstable();
    let pct = |p: f64| {
        let i = ((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1;
        lat[i] as f64 / 1000.0
    };
    Ok(EchoRun {
        rps,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
    })
}

/// Run `clients` client threads against `addr`: requests per second and every round trip's
/// latency in ns.
fn drive(addr: &str, clients: usize, requests: usize) -> Result<(f64, Vec<u64>), Error> {
    // Connect every client before any thread starts, so a failed connect leaves no thread
    // waiting on the barrier.
    let mut streams = Vec::with_capacity(clients);
    for _ in 0..clients {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        streams.push(stream);
    }
    let barrier = Arc::new(Barrier::new(clients + 1));
    let mut threads = Vec::with_capacity(clients);
    for (i, stream) in streams.into_iter().enumerate() {
        let barrier = Arc::clone(&barrier);
        let t = std::thread::Builder::new()
            .name(format!("echo-client-{i}"))
            .stack_size(128 * 1024)
            .spawn(move || client(stream, &barrier, i, requests))?;
        threads.push(t);
    }
    barrier.wait();
    let start = Instant::now();
    let mut lat = Vec::with_capacity(clients * requests);
    let mut end = start;
    let mut first_err = None;
    for t in threads {
        match t.join() {
            Ok(Ok((done, l))) => {
                end = end.max(done);
                lat.extend(l);
            }
            Ok(Err(e)) => {
                first_err.get_or_insert(e);
            }
            Err(_) => {
                first_err.get_or_insert(Error::Setup("echo client panicked".into()));
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    let secs = end.duration_since(start).as_secs_f64().max(1e-9);
    Ok(((clients * requests) as f64 / secs, lat))
}

/// One client: `requests` checked round trips, then an orderly close. Returns when its last
/// response arrived and each round trip's latency in ns.
fn client(
    mut s: TcpStream,
    barrier: &Barrier,
    i: usize,
    requests: usize,
) -> Result<(Instant, Vec<u64>), Error> {
    let mut lat = Vec::with_capacity(requests);
    let mut buf = [0u8; MSG];
    barrier.wait();
    for j in 0..requests {
        let m = message(i, j);
        let t0 = Instant::now();
        s.write_all(&m)?;
        s.read_exact(&mut buf)?;
        lat.push(t0.elapsed().as_nanos() as u64);
        if buf != m {
            return Err(Error::Setup(format!(
                "echo client {i}: request {j} came back different"
            )));
        }
    }
    let done = Instant::now();
    s.shutdown(Shutdown::Write)?;
    let mut rest = Vec::new();
    s.read_to_end(&mut rest)?;
    if !rest.is_empty() {
        return Err(Error::Setup(format!(
            "echo client {i}: {} unexpected bytes after the last echo",
            rest.len()
        )));
    }
    Ok((done, lat))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_differ() {
        assert_ne!(message(0, 0), message(0, 1));
        assert_ne!(message(0, 0), message(1, 0));
        assert_eq!(message(3, 4), message(3, 4));
    }
}
