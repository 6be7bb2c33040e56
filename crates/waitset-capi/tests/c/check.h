/* Small test helpers for the C tests of waitset-capi: each CHECK names the expression and the
 * line that failed; main() ends with "N passed, M failed" and exits non-zero on a failure. */
#ifndef WS_TEST_CHECK_H
#define WS_TEST_CHECK_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "waitset.h"

static int checks_failed;
static int checks_passed;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (cond) {                                                                   \
            checks_passed++;                                                          \
        } else {                                                                      \
            checks_failed++;                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);  \
        }                                                                             \
    } while (0)

/* A call that must return the status `want`. */
#define CHECK_ST(expr, want)                                                          \
    do {                                                                              \
        ws_status_t st_ = (expr);                                                     \
        ws_status_t want_ = (want);                                                   \
        if (st_ == want_) {                                                           \
            checks_passed++;                                                          \
        } else {                                                                      \
            checks_failed++;                                                          \
            fprintf(stderr, "%s:%d: %s returned %s (%d), want %s (%d)\n", __FILE__,   \
                    __LINE__, #expr, ws_status_string(st_), st_,                      \
                    ws_status_string(want_), want_);                                  \
        }                                                                             \
    } while (0)

#define OK(expr) CHECK_ST(expr, WS_OK)

/* A call that must return -1 with errno `want`. */
#define CHECK_ERRNO(expr, want)                                                       \
    do {                                                                              \
        errno = 0;                                                                    \
        long r_ = (long)(expr);                                                       \
        int e_ = errno;                                                               \
        if (r_ == -1 && e_ == (want)) {                                               \
            checks_passed++;                                                          \
        } else {                                                                      \
            checks_failed++;                                                          \
            fprintf(stderr, "%s:%d: %s returned %ld errno %d (%s), want -1 errno %s\n", \
                    __FILE__, __LINE__, #expr, r_, e_, strerror(e_), #want);          \
        }                                                                             \
    } while (0)

/* A setup step that must succeed, or the test cannot go on. */
#define REQUIRE(cond)                                                                 \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s (errno %s)\n", __FILE__,       \
                    __LINE__, #cond, strerror(errno));                                \
            exit(2);                                                                  \
        }                                                                             \
    } while (0)

static inline int finish(const char *name) {
    printf("%s: %d passed, %d failed\n", name, checks_passed, checks_failed);
    return checks_failed == 0 ? 0 : 1;
}

static inline ws_time_t ms_from_now(uint64_t ms) { return ws_deadline_after(ms * 1000000u); }

static inline void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

static inline void make_pipe(int fds[2]) {
    REQUIRE(pipe(fds) == 0);
    REQUIRE(fcntl(fds[0], F_SETFL, O_NONBLOCK) == 0);
    REQUIRE(fcntl(fds[1], F_SETFL, O_NONBLOCK) == 0);
}

#endif
