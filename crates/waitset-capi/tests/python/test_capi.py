#!/usr/bin/env python3
"""The waitset C ABI from a second language: Python's ctypes, standard library only.

Everything this script knows about the ABI it reads from include/waitset.h: the constants, the
layout of the structs, and the signature of every function, which it binds from the prototypes.
It then checks that the library exports every declared function and drives each face through
every status code, with real pipes, threads and signals.

    python3 test_capi.py --lib target/debug/libwaitset_capi.so --header include/waitset.h
"""

import argparse
import ctypes
import errno
import os
import re
import signal
import sys
import threading
import time

# The handle table reads this once, at the first call: room for 64 handles, so that
# WS_ERR_NO_MEMORY can be reached.
os.environ["WAITSET_CAPI_MAX_HANDLES"] = "64"

PASSED = 0
FAILED = 0


def check(cond, what):
    global PASSED, FAILED
    if cond:
        PASSED += 1
    else:
        FAILED += 1
        caller = sys._getframe(1)
        print(f"line {caller.f_lineno}: CHECK failed: {what}", file=sys.stderr)


class Pollfd(ctypes.Structure):
    _fields_ = [("fd", ctypes.c_int), ("events", ctypes.c_short), ("revents", ctypes.c_short)]


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


SCALARS = {
    "void": None,
    "bool": ctypes.c_bool,
    "short": ctypes.c_short,
    "int": ctypes.c_int,
    "size_t": ctypes.c_size_t,
    "nfds_t": ctypes.c_ulong,
    "uint32_t": ctypes.c_uint32,
    "uint64_t": ctypes.c_uint64,
    "int32_t": ctypes.c_int32,
    "char": ctypes.c_char,
}
EXTERNAL_STRUCTS = {
    "struct pollfd": Pollfd,
    "struct timespec": Timespec,
    "struct timeval": Timeval,
    "sigset_t": ctypes.c_byte * 128,
}


class Header:
    """The parts of waitset.h this script uses, parsed from its text."""

    def __init__(self, text):
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        text = re.sub(r"//[^\n]*", "", text)
        self.consts = {}
        for name, expr in re.findall(r"^#define (WS_\w+) (.+)$", text, flags=re.M):
            expr = expr.strip().replace("UINT64_MAX", str(2**64 - 1))
            expr = re.sub(r"(\d+)u\b", r"\1", expr)
            if not re.fullmatch(r"[0-9()<+\- ]+", expr):
                raise ValueError(f"unexpected constant {name} = {expr}")
            self.consts[name] = eval(expr, {"__builtins__": {}})
        self.types = dict(SCALARS)
        for base, name in re.findall(r"^typedef (\w+) (\w+);", text, flags=re.M):
            self.types[name] = self.types[base]
        for name, body in re.findall(r"typedef struct (\w+) \{(.*?)\} \1;", text, flags=re.S):
            fields = []
            for ctype, field in re.findall(r"^\s*(\w+) (\w+);", body, flags=re.M):
                fields.append((field, self.types[ctype]))
            self.types[name] = type(name, (ctypes.Structure,), {"_fields_": fields})
        for name in re.findall(r"^typedef struct (\w+) \1;", text, flags=re.M):
            self.types[name] = type(name, (ctypes.Structure,), {})  # opaque
        self.functions = {}
        for ret, name, args in re.findall(r"^([\w ]+?\**) ?(ws_\w+)\((.*?)\);", text, flags=re.M):
            argtypes = [] if args.strip() == "void" else [self.param(a) for a in args.split(", ")]
            self.functions[name] = (self.ctype(ret), argtypes)

    def param(self, decl):
        """The ctypes type of a parameter such as `const struct timespec *tmo_p`."""
        ctype, name = decl.rsplit(" ", 1)
        return self.ctype(ctype + "*" * name.count("*"))

    def ctype(self, decl):
        decl = decl.replace("const ", "").strip()
        stars = decl.count("*")
        base = decl.replace("*", "").strip()
        if base.startswith("struct ") and base[7:] in self.types:
            base = base[7:]
        t = EXTERNAL_STRUCTS.get(base, self.types.get(base))
        if t is None and base not in self.types:
            raise ValueError(f"unknown C type {decl!r}")
        if stars and base == "char":
            return ctypes.c_char_p
        for _ in range(stars):
            t = ctypes.c_void_p if t is None else ctypes.POINTER(t)
        return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--header", required=True)
    args = ap.parse_args()
    with open(args.header) as f:
        h = Header(f.read())
    lib = ctypes.CDLL(args.lib, use_errno=True)

    # Every declared function is exported, and bound from its prototype.
    check(len(h.functions) >= 25, f"{len(h.functions)} prototypes parsed")
    for name, (restype, argtypes) in h.functions.items():
        fn = getattr(lib, name, None)
        check(fn is not None, f"{name} is exported")
        if fn is not None:
            fn.restype, fn.argtypes = restype, argtypes
    c = h.consts
    Result = h.types["ws_waitset_result_t"]
    Outcome = h.types["ws_pollset_outcome_t"]
    check(ctypes.sizeof(Result) == 16, "sizeof(ws_waitset_result_t) == 16")
    check(c["WS_ERR_NO_MEMORY"] == -4 and c["WS_ERR_BAD_HANDLE"] == -11, "Zircon's values")

    H = ctypes.c_int32

    def new(create, *a):
        out = H()
        st = create(*a, ctypes.byref(out))
        check(st == c["WS_OK"], f"{create.__name__}: {lib.ws_status_string(st)}")
        return out.value

    def wait(s, deadline, room=8):
        results = (Result * max(room, 1))()
        n = ctypes.c_uint32(room)
        st = lib.ws_waitset_wait(s, deadline, results if room else None, ctypes.byref(n))
        return st, [(r.cookie, r.status, r.observed) for r in results[: n.value]] if st == 0 else None

    def expect(st, name, what=""):
        check(st == c[name], f"{what} returned {lib.ws_status_string(st).decode()}, want {name}")

    OKS, now = "WS_OK", 0

    # --- Magenta face: every error code -----------------------------------------------------
    s = new(lib.ws_waitset_create, 0)
    ev = new(lib.ws_event_create, 0)
    tm = new(lib.ws_timer_create, 0)
    expect(lib.ws_waitset_create(0, None), "WS_ERR_INVALID_ARGS", "create(out NULL)")
    expect(lib.ws_event_create(5, ctypes.byref(H())), "WS_ERR_INVALID_ARGS", "event options")
    for bad in (0, -1, 3, 12345):
        expect(wait(bad, now)[0], "WS_ERR_BAD_HANDLE", f"wait({bad})")
        expect(lib.ws_event_signal(bad, 0, c["WS_SIGNAL_USER_0"]), "WS_ERR_BAD_HANDLE",
               f"signal({bad})")
    expect(wait(ev, now)[0], "WS_ERR_WRONG_TYPE", "wait(event)")
    expect(lib.ws_timer_set(ev, 0, 0), "WS_ERR_WRONG_TYPE", "timer_set(event)")
    expect(lib.ws_waitset_add(s, 1, s, c["WS_SIGNAL_READABLE"]), "WS_ERR_NOT_SUPPORTED", "add(set)")
    expect(lib.ws_waitset_add(s, 1, ev, 1 << 12), "WS_ERR_INVALID_ARGS", "unknown signal bit")
    expect(lib.ws_waitset_add(s, c["WS_COOKIE_RESERVED"], ev, c["WS_SIGNAL_USER_0"]),
           "WS_ERR_INVALID_ARGS", "reserved cookie")
    expect(lib.ws_waitset_add(s, 1, ev, c["WS_SIGNAL_READABLE"]), "WS_ERR_ACCESS_DENIED",
           "READABLE on an event")
    wo = new(lib.ws_handle_duplicate, ev, c["WS_RIGHT_WRITE"])
    expect(lib.ws_waitset_add(s, 1, wo, c["WS_SIGNAL_USER_0"]), "WS_ERR_ACCESS_DENIED", "no READ")
    expect(lib.ws_handle_duplicate(wo, c["WS_RIGHT_WRITE"], ctypes.byref(H())),
           "WS_ERR_ACCESS_DENIED", "no DUPLICATE")
    expect(lib.ws_handle_duplicate(s, c["WS_RIGHT_SAME_RIGHTS"], ctypes.byref(H())),
           "WS_ERR_ACCESS_DENIED", "duplicate a set")
    expect(lib.ws_waitset_add(s, 1, ev, c["WS_SIGNAL_USER_0"]), OKS, "add")
    expect(lib.ws_waitset_add(s, 1, tm, c["WS_SIGNAL_TIMER"]), "WS_ERR_ALREADY_EXISTS", "dup cookie")
    expect(lib.ws_waitset_remove(s, 99), "WS_ERR_NOT_FOUND", "remove(99)")
    expect(lib.ws_waitset_add(s, 2, tm, c["WS_SIGNAL_TIMER"]), OKS, "add timer")

    # TIMED_OUT, with nothing written; then OK with a result.
    results = (Result * 2)()
    results[0].cookie = 777
    n = ctypes.c_uint32(2)
    expect(lib.ws_waitset_wait(s, now, results, ctypes.byref(n)), "WS_ERR_TIMED_OUT", "wait(now)")
    check(n.value == 2 and results[0].cookie == 777, "nothing written on TIMED_OUT")
    expect(lib.ws_waitset_wait(s, now, None, None), "WS_ERR_INVALID_ARGS", "count NULL")
    expect(lib.ws_waitset_wait(s, now, None, ctypes.byref(n)), "WS_ERR_INVALID_ARGS",
           "results NULL with count > 0")
    expect(lib.ws_event_signal(wo, 0, c["WS_SIGNAL_USER_0"] | c["WS_SIGNAL_USER_2"]), OKS, "signal")
    st, got = wait(s, now, room=0)
    expect(st, OKS, "wait(count 0) with a ready entry")
    st, got = wait(s, now)
    check(st == 0 and got == [(1, 0, c["WS_SIGNAL_USER_0"])], f"event result {got}")
    lib.ws_event_signal(wo, c["WS_SIGNAL_USER_ALL"], 0)
    t0 = lib.ws_time_now()
    lib.ws_timer_set(tm, lib.ws_deadline_after(10_000_000), 0)
    st, got = wait(s, c["WS_TIME_INFINITE"])
    check(st == 0 and got == [(2, 0, c["WS_SIGNAL_TIMER"])], f"timer result {got}")
    check(lib.ws_time_now() - t0 >= 10_000_000, "a timer is never early")
    lib.ws_timer_cancel(tm)

    # Result statuses: BAD_STATE (reader gone), CANCELED (the entry's handle closed).
    r, w = os.pipe()
    wh = new(lib.ws_fd_wrap, w)
    rh = new(lib.ws_fd_wrap, r)
    expect(lib.ws_waitset_add(s, 3, wh, c["WS_SIGNAL_WRITABLE"]), OKS, "add pipe")
    expect(lib.ws_handle_close(rh), OKS, "close reader")
    st, got = wait(s, now)
    check(st == 0 and [g[:2] for g in got] == [(3, c["WS_ERR_BAD_STATE"])], f"BAD_STATE {got}")
    expect(lib.ws_handle_close(wh), OKS, "close writer")
    st, got = wait(s, now)
    check(st == 0 and got == [(3, c["WS_ERR_CANCELED"], 0)], f"CANCELED result {got}")
    expect(wait(s, now)[0], "WS_ERR_TIMED_OUT", "canceled entries are reported once")
    expect(lib.ws_handle_close(wh), "WS_ERR_BAD_HANDLE", "close twice")

    # CANCELED return: the set is closed while this thread waits.
    threading.Timer(0.05, lambda: lib.ws_handle_close(s)).start()
    expect(wait(s, c["WS_TIME_INFINITE"])[0], "WS_ERR_CANCELED", "wait while closed")
    expect(wait(s, now)[0], "WS_ERR_BAD_HANDLE", "wait after close")

    # A waiter thread woken by this one.
    s = new(lib.ws_waitset_create, c["WS_WAITSET_EXCLUSIVE"])
    lib.ws_waitset_add(s, 9, ev, c["WS_SIGNAL_USER_7"])
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("r", wait(s, lib.ws_deadline_after(10**10))))
    t.start()
    time.sleep(0.03)
    lib.ws_event_signal(ev, 0, c["WS_SIGNAL_USER_7"])
    t.join()
    check(box["r"] == (0, [(9, 0, c["WS_SIGNAL_USER_7"])]), f"waiter thread got {box['r']}")

    # NO_MEMORY: the table holds 64 handles (WAITSET_CAPI_MAX_HANDLES).
    made = []
    while True:
        out = H()
        st = lib.ws_event_create(0, ctypes.byref(out))
        if st != 0:
            break
        made.append(out.value)
        if len(made) > 64:
            break
    expect(st, "WS_ERR_NO_MEMORY", "the 65th handle")
    for x in made:
        lib.ws_handle_close(x)
    for x in (s, ev, wo, tm):
        expect(lib.ws_handle_close(x), OKS, "close")

    # --- POSIX face: errno ----------------------------------------------------------------
    def call_errno(fn, *a):
        ctypes.set_errno(0)
        ret = fn(*a)
        return ret, ctypes.get_errno()

    check(call_errno(lib.ws_poll, None, 1, 0) == (-1, errno.EFAULT), "poll(NULL, 1): EFAULT")
    r, w = os.pipe()
    fds = (Pollfd * 2)(Pollfd(r, 1, 0), Pollfd(w, 4, 0))  # POLLIN, POLLOUT
    check(call_errno(lib.ws_poll, fds, 2, -7) == (-1, errno.EINVAL), "timeout -7: EINVAL")
    bad = Timespec(0, 2_000_000_000)
    check(call_errno(lib.ws_ppoll, fds, 2, ctypes.byref(bad), None) == (-1, errno.EINVAL),
          "tv_nsec out of range: EINVAL")
    check(lib.ws_poll(fds, 2, 0) == 1 and fds[1].revents == 4, "the write end is ready")
    signal.signal(signal.SIGALRM, lambda *_: None)
    signal.siginterrupt(signal.SIGALRM, True)
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    check(call_errno(lib.ws_poll, fds, 1, -1) == (-1, errno.EINTR), "a signal: EINTR")

    # --- SysPoll face ---------------------------------------------------------------------
    ps = lib.ws_pollset_create()
    check(bool(ps), "pollset created")
    check(lib.ws_pollset_include(ps, r, 1) == 0 and lib.ws_pollset_include(ps, w, 4) == 0, "include")
    check(call_errno(lib.ws_pollset_include, ps, -3, 1) == (-1, errno.EINVAL), "include(-3)")
    check(lib.ws_pollset_count(ps) == 2, "count")
    out = Outcome()
    check(lib.ws_pollset_poll(ps, ctypes.byref(Timeval(1, 0)), True, ctypes.byref(out)) == 1,
          "one ready")
    check(out.ready == 1 and not out.interrupted, "outcome")
    p = Pollfd()
    check(lib.ws_pollset_get(ps, 1, ctypes.byref(p)) == 0 and (p.fd, p.revents) == (w, 4), "get(1)")
    check(call_errno(lib.ws_pollset_get, ps, 2, ctypes.byref(p)) == (-1, errno.EINVAL), "get(2)")
    lib.ws_pollset_destroy(ps)
    os.close(r)
    os.close(w)

    print(f"python_ctypes: {PASSED} passed, {FAILED} failed", flush=True)
    return 0 if FAILED == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
