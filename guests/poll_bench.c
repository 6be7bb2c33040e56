// poll_bench: the cost of one poll() as the guest sees it, for benchmark workload 7 (issue 4).
//
//   waitset run guests/poll_bench.wasm MODE N ITER
//
// MODE null:  poll(NULL, 0, 0). wasi-libc turns it into one poll_oneoff with a single clock
//             subscription of timeout 0: the host can answer without a system call. N is ignored.
// MODE stdin: poll() over N pollfds that all name fd 0 with events POLLIN, timeout 0: one
//             poll_oneoff with N fd_read subscriptions plus the timeout clock. The harness
//             (scripts/peers/bench_poll.py) makes stdin an idle pipe whose writer it keeps open,
//             so nothing is ever ready and every call returns 0. All N name the same fd because
//             a guest cannot make pipes of its own: WASI preview1 has no pipe() (nor dup()), so
//             stdin is the only idle pipe it can be given.
// MODE files: opens N distinct regular files /bench/f0 ... (created, under the directory the
//             harness preopens as /bench) and polls them all, POLLIN, timeout 0: every fd is
//             ready (regular files always are), so each call reports N events.
// MODE fifos: opens N distinct FIFOs /bench/p0 ... (the harness makes them with mkfifo and no
//             writer) read-only and nonblocking and polls them, POLLIN, timeout 0: nothing is
//             ever ready. Unlike `stdin`, the N subscriptions name N different fds.
//
// Prints the first call's result once (a sanity check), then, after ITER/10 untimed warm-up
// calls, times ITER calls with clock_gettime(CLOCK_MONOTONIC) inside the guest and prints
//
//   poll_bench MODE N ITER ns_per_call=X
//
// Exit status 2 for bad arguments, 1 when a poll() fails.
//
// wasi-libc's poll() keeps 2*N+1 subscriptions and as many events on the stack (~160 KiB at
// N = 1024), more than the default 64 KiB stack:
// build-flags: -Wl,-z,stack-size=1048576
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_N 4096

static struct pollfd fds[MAX_N];

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static int usage(void) {
    fprintf(stderr, "usage: poll_bench null|stdin|files|fifos N ITER   (1 <= N <= %d, ITER >= 1)\n",
            MAX_N);
    return 2;
}

int main(int argc, char **argv) {
    if (argc != 4) return usage();
    const char *mode = argv[1];
    int is_null = strcmp(mode, "null") == 0;
    int is_files = strcmp(mode, "files") == 0, is_fifos = strcmp(mode, "fifos") == 0;
    if (!is_null && !is_files && !is_fifos && strcmp(mode, "stdin") != 0) return usage();
    char *end;
    long n = strtol(argv[2], &end, 10);
    if (*end || n < 0 || n > MAX_N || (!is_null && n < 1)) return usage();
    long iter = strtol(argv[3], &end, 10);
    if (*end || iter < 1) return usage();

    struct pollfd *p = NULL;
    size_t nfds = 0;
    if (!is_null) {
        for (long i = 0; i < n; i++) {
            int fd = 0;
            if (is_files || is_fifos) {
                char path[64];
                snprintf(path, sizeof path, "/bench/%c%ld", is_files ? 'f' : 'p', i);
                fd = is_files ? open(path, O_RDWR | O_CREAT, 0644)
                              : open(path, O_RDONLY | O_NONBLOCK);
                if (fd < 0) {
                    printf("poll_bench %s result: open %s: %s\n", mode, path, strerror(errno));
                    return 1;
                }
            }
            fds[i] = (struct pollfd){.fd = fd, .events = POLLIN};
        }
        p = fds;
        nfds = (size_t)n;
    }

    int r = poll(p, nfds, 0);
    if (r < 0) {
        printf("poll_bench %s result: ret=-1 errno=%d (%s)\n", mode, errno, strerror(errno));
        return 1;
    }
    printf("poll_bench %s result: ret=%d revents[0]=%d\n", mode, r, is_null ? 0 : fds[0].revents);

    long warm = iter / 10 > 0 ? iter / 10 : 1;
    for (long i = 0; i < warm; i++)
        if (poll(p, nfds, 0) < 0) return 1;

    long long t0 = now_ns();
    for (long i = 0; i < iter; i++)
        if (poll(p, nfds, 0) < 0) {
            printf("poll_bench %s: call %ld failed: errno=%d\n", mode, i, errno);
            return 1;
        }
    long long dt = now_ns() - t0;

    printf("poll_bench %s %ld %ld ns_per_call=%.1f\n", mode, is_null ? 0 : n, iter,
           (double)dt / (double)iter);
    return 0;
}
