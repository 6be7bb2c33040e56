// conformance: one line per check, `name: value`, for the wait functions a wasi-libc program
// uses (poll, select, nanosleep, sleep, usleep, clock_nanosleep) and raw __wasi_poll_oneoff.
//
// The output depends only on what stdin (and stdout) is, never on timing or the poll seed:
// durations are reported as "not early" checks, event lists are sorted by userdata, and "fires
// at once" is shown by a 30 s clock in the same call that is *not* reported. stdin is never
// read, so a pipe's contents are still there for the nbytes checks.
//
// Run it with stdin as /dev/null, a pipe, a file or a tty and compare against the expected
// lines for that kind (crates/waitset-cli/tests).
//
// `conformance.wasm --skip NAME [--skip NAME]...` leaves those checks out (their line is not
// printed), so a host that crashes or hangs on one check can still be asked the others:
// scripts/compare-wasi does that for the peers. With no arguments every check runs.
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>
#include <wasi/api.h>

#define MS 1000000ull
#define LONG_NS (30000ull * MS) // a clock that must never fire during this program

static int g_argc;
static char **g_argv;

// Whether the check `name` runs: not named by a `--skip NAME` argument.
static int want(const char *name) {
    for (int i = 1; i + 1 < g_argc; i++)
        if (strcmp(g_argv[i], "--skip") == 0 && strcmp(g_argv[i + 1], name) == 0) return 0;
    return 1;
}
#define CHECK(name) if (want(name))

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void line(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void line(const char *name, const char *fmt, ...) {
    va_list ap;
    printf("%s: ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static const char *errname(int e) {
    switch (e) {
    case 0: return "0";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case ENOTSUP: return "ENOTSUP";
    case ENOTCAPABLE: return "ENOTCAPABLE";
    case EAGAIN: return "EAGAIN";
    case ENOSYS: return "ENOSYS";
    case EINTR: return "EINTR";
    default: {
        static char buf[32];
        snprintf(buf, sizeof buf, "errno%d", e);
        return buf;
    }
    }
}

static const char *revents_str(short re) {
    static char ring[4][128]; // several results may be formatted in one printf
    static int next;
    char *buf = ring[next++ % 4];
    buf[0] = 0;
    if (re == 0) return "0";
    if (re & POLLIN) strcat(buf, "|POLLIN");
    if (re & POLLOUT) strcat(buf, "|POLLOUT");
    if (re & POLLERR) strcat(buf, "|POLLERR");
    if (re & POLLHUP) strcat(buf, "|POLLHUP");
    if (re & POLLNVAL) strcat(buf, "|POLLNVAL");
    return buf + 1;
}

// ---- poll() ------------------------------------------------------------------------------

static void check_poll(void) {
    int r;
    struct pollfd p[3];
    CHECK("poll_nfds0_timeout") {
        long long t0 = now_ns();
        r = poll(NULL, 0, 30);
        line("poll_nfds0_timeout", "ret=%d not_early=%d", r, now_ns() - t0 >= 30 * (long long)MS);
    }

    CHECK("poll_nfds0_infinite") {
        errno = 0;
        r = poll(NULL, 0, -1); // nothing to wait for, forever: wasi-libc turns EINVAL into ENOTSUP
        line("poll_nfds0_infinite", "ret=%d errno=%s", r, errname(errno));
    }

    CHECK("poll_negative_fd") {
        p[0] = (struct pollfd){.fd = -1, .events = POLLIN};
        r = poll(p, 1, 0);
        line("poll_negative_fd", "ret=%d revents=%s", r, revents_str(p[0].revents));
    }

    CHECK("poll_bad_fd") {
        p[0] = (struct pollfd){.fd = 99, .events = POLLIN};
        r = poll(p, 1, 0);
        line("poll_bad_fd", "ret=%d revents=%s", r, revents_str(p[0].revents));
    }

    CHECK("poll_stdout_pollout") {
        p[0] = (struct pollfd){.fd = 1, .events = POLLOUT};
        r = poll(p, 1, 30000);
        line("poll_stdout_pollout", "ret=%d revents=%s", r, revents_str(p[0].revents));
    }

    CHECK("poll_stdout_pollin") {
        p[0] = (struct pollfd){.fd = 1, .events = POLLIN}; // stdout has no read right
        r = poll(p, 1, 0);
        line("poll_stdout_pollin", "ret=%d revents=%s", r, revents_str(p[0].revents));
    }

    CHECK("poll_stdin") {
        p[0] = (struct pollfd){.fd = 0, .events = POLLIN};
        r = poll(p, 1, 0);
        line("poll_stdin", "ret=%d revents=%s", r, revents_str(p[0].revents));
    }

    CHECK("poll_mixed") {
        p[0] = (struct pollfd){.fd = 99, .events = POLLIN};
        p[1] = (struct pollfd){.fd = 1, .events = POLLOUT};
        p[2] = (struct pollfd){.fd = -1, .events = POLLIN};
        r = poll(p, 3, 30000);
        line("poll_mixed", "ret=%d revents=%s,%s,%s", r, revents_str(p[0].revents),
             revents_str(p[1].revents), revents_str(p[2].revents));
    }
}

// ---- select() ----------------------------------------------------------------------------

static void check_select(void) {
    int r;
    struct timeval tv;
    CHECK("select_timeout") {
        tv = (struct timeval){.tv_sec = 0, .tv_usec = 30000};
        long long t0 = now_ns();
        r = select(0, NULL, NULL, NULL, &tv);
        line("select_timeout", "ret=%d not_early=%d", r, now_ns() - t0 >= 30 * (long long)MS);
    }

    CHECK("select_stdout_writable") {
        fd_set w;
        FD_ZERO(&w);
        FD_SET(1, &w);
        tv = (struct timeval){.tv_sec = 30, .tv_usec = 0};
        r = select(2, NULL, &w, NULL, &tv);
        line("select_stdout_writable", "ret=%d isset=%d", r, FD_ISSET(1, &w) ? 1 : 0);
    }

    CHECK("select_bad_fd") {
        fd_set rd;
        FD_ZERO(&rd);
        FD_SET(99, &rd);
        tv = (struct timeval){0, 0};
        errno = 0;
        r = select(100, &rd, NULL, NULL, &tv);
        line("select_bad_fd", "ret=%d errno=%s", r, errname(errno));
    }

    CHECK("select_bad_timeval") {
        tv = (struct timeval){.tv_sec = 0, .tv_usec = 2000000}; // tv_usec out of range
        errno = 0;
        r = select(0, NULL, NULL, NULL, &tv);
        line("select_bad_timeval", "ret=%d errno=%s", r, errname(errno));
    }
}

// ---- sleeps ------------------------------------------------------------------------------

static void check_sleeps(void) {
    int r;
    struct timespec ts;
    long long t0;
    CHECK("nanosleep") {
        ts = (struct timespec){.tv_sec = 0, .tv_nsec = 20 * MS};
        t0 = now_ns();
        r = nanosleep(&ts, NULL);
        line("nanosleep", "ret=%d not_early=%d", r, now_ns() - t0 >= 20 * (long long)MS);
    }

    CHECK("nanosleep_bad_nsec") {
        ts = (struct timespec){.tv_sec = 0, .tv_nsec = 1000000000};
        errno = 0;
        r = nanosleep(&ts, NULL);
        line("nanosleep_bad_nsec", "ret=%d errno=%s", r, errname(errno));
    }

    CHECK("sleep") {
        t0 = now_ns();
        unsigned left = sleep(1);
        line("sleep", "ret=%u not_early=%d", left, now_ns() - t0 >= 1000 * (long long)MS);
    }

    CHECK("usleep") {
        t0 = now_ns();
        r = usleep(20000);
        line("usleep", "ret=%d not_early=%d", r, now_ns() - t0 >= 20 * (long long)MS);
    }

    CHECK("clock_nanosleep_abs_past") {
        ts = (struct timespec){.tv_sec = 0, .tv_nsec = 1}; // long past
        r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        line("clock_nanosleep_abs_past", "ret=%s", errname(r));
    }

    CHECK("clock_nanosleep_cputime") {
        ts = (struct timespec){.tv_sec = 0, .tv_nsec = 1 * MS};
        r = clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &ts, NULL);
        line("clock_nanosleep_cputime", "ret=%s", errname(r));
    }
}

// ---- raw __wasi_poll_oneoff ----------------------------------------------------------------

static __wasi_subscription_t subs[8];
static __wasi_event_t evs[8];

static __wasi_subscription_t clock_sub(uint64_t ud, __wasi_clockid_t id, uint64_t timeout,
                                       int abstime) {
    __wasi_subscription_t s;
    memset(&s, 0, sizeof s);
    s.userdata = ud;
    s.u.tag = __WASI_EVENTTYPE_CLOCK;
    s.u.u.clock.id = id;
    s.u.u.clock.timeout = timeout;
    s.u.u.clock.precision = 0;
    s.u.u.clock.flags = abstime ? __WASI_SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME : 0;
    return s;
}

static __wasi_subscription_t fd_sub(uint64_t ud, __wasi_eventtype_t type, __wasi_fd_t fd) {
    __wasi_subscription_t s;
    memset(&s, 0, sizeof s);
    s.userdata = ud;
    s.u.tag = type;
    s.u.u.fd_read.file_descriptor = fd; // same layout for fd_write
    return s;
}

static int by_userdata(const void *a, const void *b) {
    const __wasi_event_t *x = a, *y = b;
    return x->userdata < y->userdata ? -1 : x->userdata > y->userdata;
}

// Calls poll_oneoff on subs[0..n) and prints errno, nevents and the events sorted by userdata
// as ud/type/error (plus nbytes and hangup when `fd_details`).
static void raw(const char *name, size_t n, int fd_details) {
    if (!want(name)) return;
    __wasi_size_t nev = 12345;
    memset(evs, 0xAA, sizeof evs);
    __wasi_errno_t e = __wasi_poll_oneoff(subs, evs, n, &nev);
    char buf[512];
    int at = snprintf(buf, sizeof buf, "errno=%d", e);
    if (e == 0) {
        qsort(evs, nev, sizeof evs[0], by_userdata);
        at += snprintf(buf + at, sizeof buf - at, " nevents=%u", (unsigned)nev);
        for (__wasi_size_t i = 0; i < nev && i < 8; i++) {
            at += snprintf(buf + at, sizeof buf - at, " [ud=%llu type=%d error=%d",
                           (unsigned long long)evs[i].userdata, evs[i].type, evs[i].error);
            if (fd_details && evs[i].type != __WASI_EVENTTYPE_CLOCK) {
                at += snprintf(buf + at, sizeof buf - at, " nbytes=%llu hangup=%d",
                               (unsigned long long)evs[i].fd_readwrite.nbytes,
                               evs[i].fd_readwrite.flags & __WASI_EVENTRWFLAGS_FD_READWRITE_HANGUP
                                   ? 1
                                   : 0);
            }
            at += snprintf(buf + at, sizeof buf - at, "]");
        }
    } else {
        at += snprintf(buf + at, sizeof buf - at, " nevents_untouched=%d", nev == 12345);
    }
    line(name, "%s", buf);
}

static void check_raw(void) {
    __wasi_size_t nev = 12345;
    __wasi_errno_t e;
    long long t0;
    CHECK("raw_nsubscriptions_0") {
        e = __wasi_poll_oneoff(subs, evs, 0, &nev);
        line("raw_nsubscriptions_0", "errno=%d nevents_untouched=%d", e, nev == 12345);
    }

    subs[0] = clock_sub(1, __WASI_CLOCKID_MONOTONIC, 1, 1);
    subs[1] = clock_sub(2, __WASI_CLOCKID_MONOTONIC, LONG_NS, 0);
    raw("raw_abstime_past_monotonic", 2, 0);

    subs[0] = clock_sub(1, __WASI_CLOCKID_REALTIME, 1, 1);
    subs[1] = clock_sub(2, __WASI_CLOCKID_MONOTONIC, LONG_NS, 0);
    raw("raw_abstime_past_realtime", 2, 0);

    subs[0] = clock_sub(1, __WASI_CLOCKID_MONOTONIC, 0, 0);
    subs[1] = clock_sub(2, __WASI_CLOCKID_REALTIME, 0, 1);
    subs[2] = clock_sub(3, __WASI_CLOCKID_MONOTONIC, LONG_NS, 0);
    raw("raw_two_clocks_expired", 3, 0);

    subs[0] = clock_sub(1, __WASI_CLOCKID_PROCESS_CPUTIME_ID, 1 * MS, 0);
    subs[1] = clock_sub(2, __WASI_CLOCKID_MONOTONIC, LONG_NS, 0);
    raw("raw_process_cputime_clock", 2, 0);

    subs[0] = clock_sub(1, __WASI_CLOCKID_THREAD_CPUTIME_ID, 1 * MS, 0);
    subs[1] = clock_sub(2, __WASI_CLOCKID_MONOTONIC, LONG_NS, 0);
    raw("raw_thread_cputime_clock", 2, 0);

    subs[0] = clock_sub(1, 99, 1 * MS, 0);
    subs[1] = clock_sub(2, __WASI_CLOCKID_MONOTONIC, LONG_NS, 0);
    raw("raw_unknown_clock", 2, 0);

    subs[0] = clock_sub(1, __WASI_CLOCKID_MONOTONIC, 1 * MS, 0);
    subs[0].u.u.clock.flags = 2; // not a subclockflags bit
    subs[1] = clock_sub(2, __WASI_CLOCKID_MONOTONIC, LONG_NS, 0);
    raw("raw_unknown_clock_flag", 2, 0);

    subs[0] = fd_sub(1, __WASI_EVENTTYPE_FD_READ, 99);
    subs[1] = clock_sub(2, __WASI_CLOCKID_MONOTONIC, LONG_NS, 0);
    raw("raw_fd_not_in_table", 2, 0);

    subs[0] = fd_sub(1, __WASI_EVENTTYPE_FD_READ, 1);
    subs[1] = clock_sub(2, __WASI_CLOCKID_MONOTONIC, LONG_NS, 0);
    raw("raw_fd_read_on_stdout", 2, 0);

    subs[0] = fd_sub(1, __WASI_EVENTTYPE_FD_WRITE, 0);
    subs[1] = clock_sub(2, __WASI_CLOCKID_MONOTONIC, LONG_NS, 0);
    raw("raw_fd_write_on_stdin", 2, 0);

    subs[0] = fd_sub(1, __WASI_EVENTTYPE_FD_WRITE, 1);
    subs[1] = clock_sub(2, __WASI_CLOCKID_MONOTONIC, LONG_NS, 0);
    raw("raw_stdout_writable", 2, 0);

    subs[0] = fd_sub(1, __WASI_EVENTTYPE_FD_WRITE, 1);
    subs[1] = clock_sub(2, __WASI_CLOCKID_MONOTONIC, 0, 0);
    raw("raw_timeout0_with_ready_fd", 2, 0);

    subs[0] = fd_sub(1, __WASI_EVENTTYPE_FD_READ, 0);
    subs[1] = clock_sub(2, __WASI_CLOCKID_MONOTONIC, 0, 0);
    raw("raw_stdin_read", 2, 1);

    CHECK("raw_clock_not_early") {
        subs[0] = clock_sub(1, __WASI_CLOCKID_MONOTONIC, 50 * MS, 0);
        t0 = now_ns();
        nev = 0;
        e = __wasi_poll_oneoff(subs, evs, 1, &nev);
        line("raw_clock_not_early", "errno=%d nevents=%u not_early=%d", e, (unsigned)nev,
             now_ns() - t0 >= 50 * (long long)MS);
    }

    CHECK("raw_clock_precision_not_early") {
        subs[0] = clock_sub(1, __WASI_CLOCKID_MONOTONIC, 50 * MS, 0);
        subs[0].u.u.clock.precision = 1000 * MS; // slack may only delay, never advance
        t0 = now_ns();
        nev = 0;
        e = __wasi_poll_oneoff(subs, evs, 1, &nev);
        line("raw_clock_precision_not_early", "errno=%d nevents=%u not_early=%d", e,
             (unsigned)nev, now_ns() - t0 >= 50 * (long long)MS);
    }

    // All 32 bytes of an event are written: pre-fill with 0xAA, print every byte.
    CHECK("raw_event_bytes") {
        subs[0] = clock_sub(0x0123456789abcdefull, __WASI_CLOCKID_MONOTONIC, 0, 0);
        memset(evs, 0xAA, sizeof evs);
        nev = 0;
        e = __wasi_poll_oneoff(subs, evs, 1, &nev);
        char hex[80];
        const unsigned char *b = (const unsigned char *)&evs[0];
        for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", b[i]);
        line("raw_event_bytes", "errno=%d nevents=%u bytes=%s", e, (unsigned)nev, hex);
    }

    // in and out are the same memory: everything is read before anything is written.
    CHECK("raw_in_out_overlap") {
        static __wasi_subscription_t both[4];
        both[0] = clock_sub(7, __WASI_CLOCKID_MONOTONIC, 0, 0);
        both[1] = clock_sub(9, __WASI_CLOCKID_MONOTONIC, 0, 1);
        nev = 0;
        e = __wasi_poll_oneoff(both, (__wasi_event_t *)both, 2, &nev);
        __wasi_event_t *out = (__wasi_event_t *)both;
        uint64_t a = out[0].userdata, c = out[1].userdata;
        line("raw_in_out_overlap", "errno=%d nevents=%u userdata=%llu,%llu", e, (unsigned)nev,
             (unsigned long long)(a < c ? a : c), (unsigned long long)(a < c ? c : a));
    }

    // An invalid tag fails the whole call, and nothing is written.
    subs[0] = clock_sub(1, __WASI_CLOCKID_MONOTONIC, 0, 0);
    subs[1] = clock_sub(2, __WASI_CLOCKID_MONOTONIC, 0, 0);
    subs[1].u.tag = 3;
    raw("raw_invalid_tag", 2, 0);
    CHECK("raw_invalid_tag") CHECK("raw_invalid_tag_events_untouched") {
        int untouched = 1;
        for (size_t i = 0; i < sizeof evs; i++)
            if (((unsigned char *)evs)[i] != 0xAA) untouched = 0;
        line("raw_invalid_tag_events_untouched", "%d", untouched);
    }
}

// ---- what the host says about stdio --------------------------------------------------------

static void check_fdstat(void) {
    for (int fd = 0; fd <= 2; fd++) {
        __wasi_fdstat_t st;
        __wasi_errno_t e = __wasi_fd_fdstat_get(fd, &st);
        char name[32];
        snprintf(name, sizeof name, "fdstat_%d", fd);
        if (!want(name)) continue;
        line(name, "errno=%d filetype=%d read=%d write=%d poll=%d seek=%d", e, st.fs_filetype,
             (st.fs_rights_base & __WASI_RIGHTS_FD_READ) != 0,
             (st.fs_rights_base & __WASI_RIGHTS_FD_WRITE) != 0,
             (st.fs_rights_base & __WASI_RIGHTS_POLL_FD_READWRITE) != 0,
             (st.fs_rights_base & __WASI_RIGHTS_FD_SEEK) != 0);
    }
    __wasi_prestat_t pre;
    CHECK("prestat_3") line("prestat_3", "errno=%d", __wasi_fd_prestat_get(3, &pre));
    CHECK("isatty_stdin") line("isatty_stdin", "%d", isatty(0));
}

int main(int argc, char **argv) {
    g_argc = argc;
    g_argv = argv;
    check_fdstat();
    check_poll();
    check_select();
    check_sleeps();
    check_raw();
    line("done", "ok");
    return 0;
}
