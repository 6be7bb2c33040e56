// clock_precision: poll_oneoff on one 20 ms MONOTONIC clock whose `precision` is ARG (default
// 2^64-1). Precision is slack, capped by the host, so the clock fires: prints
// "errno=0 nevents=1 userdata=7" and exits 0. A host that adds the precision unbounded never
// returns (u64::MAX) or returns after about a second (1e9).
#include <stdio.h>
#include <stdlib.h>
#include <wasi/api.h>

int main(int argc, char **argv) {
    __wasi_subscription_t sub = {0};
    sub.userdata = 7;
    sub.u.tag = __WASI_EVENTTYPE_CLOCK;
    sub.u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
    sub.u.u.clock.timeout = 20 * 1000 * 1000;
    sub.u.u.clock.precision = argc > 1 ? strtoull(argv[1], NULL, 10) : ~0ULL;
    __wasi_event_t ev = {0};
    __wasi_size_t n = 0;
    __wasi_errno_t e = __wasi_poll_oneoff(&sub, &ev, 1, &n);
    printf("errno=%d nevents=%u userdata=%llu\n", e, (unsigned)n, (unsigned long long)ev.userdata);
    return e == 0 && n == 1 ? 0 : 1;
}
