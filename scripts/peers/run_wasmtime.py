#!/usr/bin/env python3
"""Runs a WASI preview1 command module on wasmtime-py (PyPI `wasmtime`), the peer host that
scripts/compare-wasi and scripts/peers/bench_poll.py compare `waitset run` against.

    pip install wasmtime
    scripts/peers/run_wasmtime.py [--env K=V]... [--dir HOST::GUEST]... MODULE [ARGS...]

stdin, stdout and stderr are this process's own (WasiConfig.inherit_stdin/stdout/stderr), argv
is MODULE ARGS..., and the environment is only the --env pairs (as with `waitset run`). The exit status is the guest's proc_exit code
(0 when _start returns); a trap prints the error on stderr and exits 134, as `waitset run` does.
"""
import sys


def main() -> int:
    args = sys.argv[1:]
    env = []
    dirs = []
    while len(args) >= 2 and args[0] in ("--env", "--dir"):
        if args[0] == "--env" and "=" in args[1]:
            env.append(tuple(args[1].split("=", 1)))
        elif args[0] == "--dir":
            host, _, guest = args[1].partition("::")
            dirs.append((host, guest or host))
        else:
            break
        args = args[2:]
    if not args:
        print("usage: run_wasmtime.py [--env K=V]... MODULE [ARGS...]", file=sys.stderr)
        return 2
    try:
        import wasmtime
    except ImportError:
        print("run_wasmtime.py: the `wasmtime` package is not installed (pip install wasmtime)",
              file=sys.stderr)
        return 2

    path = args[0]
    engine = wasmtime.Engine()
    try:
        module = wasmtime.Module.from_file(engine, path)  # .wasm or .wat
    except (OSError, wasmtime.WasmtimeError) as e:
        print(f"run_wasmtime.py: {path}: {e}", file=sys.stderr)
        return 2

    wasi = wasmtime.WasiConfig()
    wasi.argv = args
    wasi.env = env
    for host, guest in dirs:
        wasi.preopen_dir(host, guest)
    wasi.inherit_stdin()
    wasi.inherit_stdout()
    wasi.inherit_stderr()

    store = wasmtime.Store(engine)
    store.set_wasi(wasi)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    # Imports the host lacks would fail to link; waitset gives them NOSYS stubs instead.
    # wasmtime-py offers define_unknown_imports_as_traps, the nearest equivalent.
    linker.define_unknown_imports_as_traps(module)

    sys.stdout.flush()
    try:
        instance = linker.instantiate(store, module)
        start = instance.exports(store)["_start"]
        start(store)
    except wasmtime.ExitTrap as e:
        return e.code
    except (wasmtime.Trap, wasmtime.WasmtimeError) as e:
        print(f"run_wasmtime.py: guest trapped: {e}", file=sys.stderr)
        return 134
    return 0


if __name__ == "__main__":
    sys.exit(main())
