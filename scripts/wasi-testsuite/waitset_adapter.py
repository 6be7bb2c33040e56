"""wasi-testsuite runtime adapter for `waitset run` (see scripts/run-wasi-testsuite).

The binary is $WAITSET (split with shell rules, like the upstream wasmtime adapter's $WASMTIME),
default `waitset` on PATH. Its command line follows `wasmtime run`: options, then the module,
then the guest's own arguments.
"""
import os
import shlex
import subprocess
from typing import Dict, List, Optional, Tuple

WAITSET = shlex.split(os.getenv("WAITSET", "waitset"))


def get_name() -> str:
    return "waitset"


def get_version() -> str:
    result = subprocess.run(WAITSET + ["--version"], encoding="UTF-8",
                            capture_output=True, check=True)
    return result.stdout.split()[1]


def get_timeout_seconds() -> float:
    # The runner's default is 5 s per test; a debug build compiling a module on 2 loaded cores
    # can take longer than that. $WAITSET_TEST_TIMEOUT overrides.
    return float(os.getenv("WAITSET_TEST_TIMEOUT", "60"))


def get_wasi_versions() -> List[str]:
    return ["wasm32-wasip1"]


def get_wasi_worlds() -> List[str]:
    return ["wasi:cli/command"]


def compute_argv(test_path: str,
                 args_env_root: Tuple[List[str], Dict[str, str], Optional[str]],
                 proposals: List[str],
                 wasi_world: str,
                 wasi_version: str) -> List[str]:
    args, env, root = args_env_root
    argv = WAITSET + ["run"]
    for k, v in env.items():
        argv += ["--env", f"{k}={v}"]
    if root:
        argv += ["--dir", f"{root}::/"]
    argv += [test_path]
    argv += args
    return argv
