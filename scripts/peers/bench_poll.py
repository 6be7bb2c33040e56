#!/usr/bin/env python3
"""bench_poll: benchmark workload 7 of issue 4, poll_oneoff from a real guest, under `waitset
run`, wasmtime-py (PyPI `wasmtime`) and Node's node:wasi.

    cargo build --release -p waitset-cli
    scripts/peers/bench_poll.py [--rounds 5] [--iters 10000] [--json out.json]

guests/poll_bench.wasm times ITER calls inside the guest (clock_gettime MONOTONIC) of
  null   poll(NULL, 0, 0)                      one poll_oneoff with one clock subscription
  64     poll over 64 pollfds on fd 0, POLLIN, timeout 0
  1024   poll over 1,024 pollfds on fd 0, POLLIN, timeout 0
with stdin an idle pipe whose writer this script holds open (nothing is ever ready). Process
start-up and module compilation are outside the timed loop. The hosts run alternately, A B C A
B C ..., for R rounds so drift on a noisy machine spreads over all of them; the table gives
the median and the minimum of the R figures in µs per call and each peer's ratio to waitset
(peer median / waitset median: above 1 means waitset is faster). A peer that is not installed
is skipped and the output says so. Exits 0 unless waitset itself cannot run (then 1).
"""
import argparse
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
GUEST = ROOT / "guests" / "poll_bench.wasm"
PEERS = ROOT / "scripts" / "peers"

# (label, MODE, N, goal: waitset at least this many times faster than wasmtime)
WORKLOADS = [
    ("poll(NULL,0,0)", "null", 0, 10),
    ("64 idle fds", "stdin", 64, 5),
    ("1024 idle fds", "stdin", 1024, 20),
    # N distinct fds (issue 8): 1,024 regular files (all ready) and 1,024 idle FIFOs, opened by
    # the guest under a preopened directory. No goal: new figures.
    ("1024 distinct files", "files", 1024, None),
    ("1024 distinct fifos", "fifos", 1024, None),
]
LINE = re.compile(r"^poll_bench (\S+) (\d+) (\d+) ns_per_call=([0-9.]+)$", re.M)
RESULT = re.compile(r"^poll_bench \S+ result: (.*)$", re.M)


def hosts_available(waitset_bin):
    hosts, skipped = [], []
    v = subprocess.run([waitset_bin, "--version"], capture_output=True, text=True).stdout.strip()
    hosts.append(("waitset", [waitset_bin, "run"], v or "waitset"))
    if importlib.util.find_spec("wasmtime") is not None:
        from importlib.metadata import version

        hosts.append(("wasmtime", [sys.executable, str(PEERS / "run_wasmtime.py")],
                      f"wasmtime-py {version('wasmtime')}"))
    else:
        skipped.append(("wasmtime", "Python package `wasmtime` not installed"))
    node = shutil.which("node")
    if node and subprocess.run([node, "-e", "require('node:wasi')"],
                               capture_output=True).returncode == 0:
        nv = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
        hosts.append(("node", [node, "--no-warnings", str(PEERS / "run_node.mjs")],
                      f"Node {nv} node:wasi"))
    else:
        skipped.append(("node", "`node` with node:wasi not found"))
    return hosts, skipped


def run(cmd, mode, n, iters, timeout):
    """One run of the guest with stdin an idle pipe; returns (ns per call, result line). The
    files and fifos modes get a fresh directory preopened as /bench (FIFOs made here)."""
    import tempfile
    r, w = os.pipe()  # w stays open in this process until the run is over: an idle pipe
    bench = tempfile.mkdtemp(prefix="waitset-bench-")
    try:
        extra = []
        if mode in ("files", "fifos"):
            extra = ["--dir", f"{bench}::/bench"]
            if mode == "fifos":
                for i in range(n):
                    os.mkfifo(os.path.join(bench, f"p{i}"))
        proc = subprocess.run(cmd + extra + [str(GUEST), mode, str(n), str(iters)], stdin=r,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timeout after {timeout} s"
    finally:
        os.close(r)
        os.close(w)
        shutil.rmtree(bench, ignore_errors=True)
    m = LINE.search(proc.stdout)
    res = RESULT.search(proc.stdout)
    if proc.returncode != 0 or not m:
        why = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"exit {proc.returncode}: {why}"
    return float(m.group(4)), res.group(1) if res else "?"


def main():
    ap = argparse.ArgumentParser(description="poll_oneoff from real guests: waitset vs peers")
    ap.add_argument("--rounds", type=int, default=5, help="A B C rounds (default 5)")
    ap.add_argument("--iters", type=int, default=10000, help="timed calls per run (default 10000)")
    ap.add_argument("--json", metavar="PATH", help="write the figures as JSON to PATH")
    ap.add_argument("--waitset", default=str(ROOT / "target" / "release" / "waitset"))
    ap.add_argument("--timeout", type=float, default=300, help="seconds per run (default 300)")
    ap.add_argument("--only", choices=[w[1] + str(w[2]) for w in WORKLOADS],
                    help="run one workload only (null0, stdin64, stdin1024, files1024, "
                         "fifos1024)")
    opts = ap.parse_args()

    if not os.access(opts.waitset, os.X_OK):
        print(f"bench_poll: no waitset binary at {opts.waitset}; "
              "build it with `cargo build --release -p waitset-cli`", file=sys.stderr)
        return 1
    if not GUEST.exists():
        print(f"bench_poll: {GUEST} missing; build it with guests/build.sh", file=sys.stderr)
        return 1
    hosts, skipped = hosts_available(opts.waitset)
    workloads = [w for w in WORKLOADS if opts.only in (None, w[1] + str(w[2]))]
    for name, why in skipped:
        print(f"skipped {name}: {why}")
    print("hosts: " + "; ".join(f"{h[0]} = {h[2]}" for h in hosts))
    print(f"{opts.rounds} rounds x {opts.iters} calls, hosts alternating "
          + " ".join(h[0] for h in hosts) + " ...")

    samples = {(w[0], h[0]): [] for w in workloads for h in hosts}
    results = {}
    errors = {}
    t_start = time.time()
    for rnd in range(opts.rounds):
        for label, mode, n, _ in workloads:
            for hname, cmd, _ in hosts:
                if (label, hname) in errors:
                    continue
                ns, res = run(cmd, mode, n, opts.iters, opts.timeout)
                if ns is None:
                    errors[(label, hname)] = res
                    print(f"  {label} on {hname}: FAILED ({res})", file=sys.stderr)
                    continue
                samples[(label, hname)].append(ns)
                results.setdefault((label, hname), res)
        print(f"  round {rnd + 1}/{opts.rounds} done ({time.time() - t_start:.0f} s)",
              file=sys.stderr)

    if any(h == "waitset" for (_, h) in errors):
        print("bench_poll: waitset failed: " + "; ".join(
            f"{w}: {e}" for (w, h), e in errors.items() if h == "waitset"), file=sys.stderr)

    names = [h[0] for h in hosts]
    head = f"| workload | " + " | ".join(f"{h} median / min µs" for h in names)
    head += " | " + " | ".join(f"{h} ÷ waitset" for h in names[1:]) + " | goal (wasmtime ÷ waitset) |"
    print()
    print(head)
    print("|" + " --- |" * (1 + len(names) + len(names) - 1 + 1))
    out = {"machine": machine(), "rounds": opts.rounds, "iters": opts.iters,
           "hosts": {h[0]: h[2] for h in hosts}, "skipped": dict(skipped), "workloads": []}
    for label, mode, n, goal in workloads:
        cells, ratios, entry = [], [], {"workload": label, "mode": mode, "n": n,
                                       "goal_wasmtime_ratio": goal, "hosts": {}}
        med = {}
        for h in names:
            s = samples[(label, h)]
            if s:
                med[h] = statistics.median(s)
                cells.append(f"{med[h] / 1000:.3f} / {min(s) / 1000:.3f}")
                entry["hosts"][h] = {"ns_per_call": s, "median_ns": med[h], "min_ns": min(s),
                                     "first_result": results.get((label, h))}
            else:
                cells.append(f"failed: {errors.get((label, h), 'no figure')}")
                entry["hosts"][h] = {"error": errors.get((label, h), "no figure")}
        for h in names[1:]:
            if h in med and "waitset" in med:
                ratio = med[h] / med["waitset"]
                ratios.append(f"{ratio:.2f}×")
                entry["hosts"][h]["ratio_to_waitset"] = ratio
            else:
                ratios.append("-")
        verdict = "-"
        if goal is not None and "wasmtime" in med and "waitset" in med:
            r = med["wasmtime"] / med["waitset"]
            verdict = f"≥ {goal}×: {'met' if r >= goal else 'MISSED'}"
            entry["goal_met"] = r >= goal
        print(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(ratios) + f" | {verdict} |")
        out["workloads"].append(entry)
    print()
    for label, mode, n, _ in workloads:
        firsts = {h: results.get((label, h)) for h in names if results.get((label, h))}
        print(f"first poll() result, {label}: "
              + "; ".join(f"{h}: {r}" for h, r in firsts.items()))
    if opts.json:
        Path(opts.json).write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {opts.json}")
    return 1 if any(h == "waitset" for (_, h) in errors) else 0


def machine():
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
            "python": platform.python_version()}


if __name__ == "__main__":
    sys.exit(main())
