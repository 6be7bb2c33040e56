//! The WASI hosts of workloads 7 and 8: `waitset run` (this workspace's binary) and its peers,
//! wasmtime-py (PyPI `wasmtime`, through `scripts/peers/run_wasmtime.py`) and Node's
//! `node:wasi` (through `scripts/peers/run_node.mjs`). Each guest run is a child process; it
//! measures itself (the guests print their own figures), so start-up and compilation are not
//! timed.

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::Error;

/// How long one guest run may take before it is killed and the run fails.
pub(crate) const RUN_DEADLINE: Duration = Duration::from_secs(300);

/// A WASI host that can run a guest module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Host {
    /// `waitset run`.
    Waitset,
    /// wasmtime-py through `run_wasmtime.py`.
    WasmtimePy,
    /// `node:wasi` through `run_node.mjs`.
    Node,
}

impl Host {
    /// The engine name in the report.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Host::Waitset => "waitset run",
            Host::WasmtimePy => "wasmtime-py",
            Host::Node => "node:wasi",
        }
    }
}

/// Where the hosts and guests are; see [`crate::BenchConfig`].
#[derive(Clone, Debug)]
pub(crate) struct Hosts {
    /// The `waitset` binary, if the caller gave one.
    pub(crate) waitset: Option<PathBuf>,
    /// The directory of the guest modules.
    pub(crate) guests: PathBuf,
    /// The directory of the peer runner scripts.
    pub(crate) peers: PathBuf,
}

/// A host that is available, with a version string for the notes; or why it is skipped.
pub(crate) type Availability = Result<String, String>;

impl Hosts {
    /// The path of guest `name`, which must exist.
    pub(crate) fn guest(&self, name: &str) -> Result<PathBuf, Error> {
        let p = self.guests.join(name);
        if p.is_file() {
            Ok(p)
        } else {
            Err(Error::Setup(format!(
                "guest {} not found (set BenchConfig::guests_dir / --guests)",
                p.display()
            )))
        }
    }

    /// Whether `host` can run here: its version, or the reason it is skipped.
    pub(crate) fn probe(&self, host: Host) -> Availability {
        match host {
            Host::Waitset => match &self.waitset {
                Some(p) if p.is_file() => Ok(p.display().to_string()),
                Some(p) => Err(format!("the waitset binary {} does not exist", p.display())),
                None => Err(
                    "no waitset binary was given to the harness (BenchConfig::waitset_exe \
                     is None; `waitset bench` sets it)"
                        .into(),
                ),
            },
            Host::WasmtimePy => {
                let script = self.peers.join("run_wasmtime.py");
                if !script.is_file() {
                    return Err(format!("{} not found", script.display()));
                }
                let probe =
                    "import importlib.metadata as m, wasmtime; print(m.version('wasmtime'))";
                match quick_output(Command::new("python3").args(["-c", probe])) {
                    Some(v) => Ok(format!("PyPI wasmtime {v}, driven by run_wasmtime.py")),
                    None => Err(
                        "not installed: python3 cannot import wasmtime (pip install wasmtime)"
                            .into(),
                    ),
                }
            }
            Host::Node => {
                let script = self.peers.join("run_node.mjs");
                if !script.is_file() {
                    return Err(format!("{} not found", script.display()));
                }
                // The same test as scripts/peers/bench_poll.py: node exists and has node:wasi.
                let probe = "require('node:wasi'); console.log(process.version)";
                match quick_output(Command::new("node").args(["--no-warnings", "-e", probe])) {
                    Some(v) => Ok(format!("node {v} node:wasi, driven by run_node.mjs")),
                    None => Err("not installed: no `node` with node:wasi on PATH".into()),
                }
            }
        }
    }

    /// A command running `module` with `args` on `host` (which [`probe`](Self::probe) found).
    pub(crate) fn command<S: AsRef<OsStr>>(
        &self,
        host: Host,
        module: &Path,
        pre_args: &[S],
        args: &[S],
    ) -> Result<Command, Error> {
        let mut c = match host {
            Host::Waitset => {
                let exe = self
                    .waitset
                    .as_ref()
                    .ok_or_else(|| Error::Setup("no waitset binary".into()))?;
                let mut c = Command::new(exe);
                c.arg("run");
                c.args(pre_args);
                c
            }
            Host::WasmtimePy => {
                let mut c = Command::new("python3");
                c.arg(self.peers.join("run_wasmtime.py"));
                c
            }
            Host::Node => {
                let mut c = Command::new("node");
                c.arg(self.peers.join("run_node.mjs"));
                c
            }
        };
        c.arg(module).args(args);
        Ok(c)
    }
}

/// The trimmed first line of `cmd`'s stdout when it exits 0 within a few seconds.
fn quick_output(cmd: &mut Command) -> Option<String> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let child = cmd.spawn().ok()?;
    let out = finish(child, Duration::from_secs(30)).ok()?;
    if !out.status.success() {
        return None;
    }
    let line = out.stdout.lines().next()?.trim().to_string();
    (!line.is_empty()).then_some(line)
}

/// What a finished child produced.
pub(crate) struct Output {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Collect `child`'s piped stdout and stderr (either may be absent) and wait for it, killing it
/// and failing after `deadline`.
pub(crate) fn finish(mut child: Child, deadline: Duration) -> Result<Output, Error> {
    fn drain(r: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut v);
            }
            String::from_utf8_lossy(&v).into_owned()
        })
    }
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let status = wait_deadline(&mut child, deadline)?;
    Ok(Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// Wait for `child`, killing it and failing after `deadline`.
pub(crate) fn wait_deadline(child: &mut Child, deadline: Duration) -> Result<ExitStatus, Error> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Setup(format!(
                "child process {} still running after {deadline:?}: killed",
                child.id()
            )));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The last few lines of `s`, for error messages.
pub(crate) fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}
