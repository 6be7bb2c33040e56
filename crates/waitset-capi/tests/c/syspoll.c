/* The SysPoll face: include, count, iterate in insertion order, poll with and without retry,
 * and the `interrupted` report; its errno rules. */
#include <signal.h>

#include "check.h"

static void on_signal(int sig) { (void)sig; }

static void test_build_count_iterate(void) {
    ws_pollset_t *set = ws_pollset_create();
    REQUIRE(set != NULL);
    int a[2], b[2];
    make_pipe(a);
    make_pipe(b);
    CHECK(ws_pollset_count(set) == 0);
    CHECK(ws_pollset_include(set, a[0], POLLIN) == 0);
    CHECK(ws_pollset_include(set, b[1], POLLOUT) == 0);
    CHECK(ws_pollset_include(set, b[0], POLLIN | POLLPRI) == 0);
    CHECK(ws_pollset_count(set) == 3);
    int want_fd[3] = {a[0], b[1], b[0]};
    short want_ev[3] = {POLLIN, POLLOUT, POLLIN | POLLPRI};
    for (size_t i = 0; i < 3; i++) {
        struct pollfd p;
        CHECK(ws_pollset_get(set, i, &p) == 0);
        CHECK(p.fd == want_fd[i] && p.events == want_ev[i] && p.revents == 0);
    }
    struct pollfd p;
    CHECK_ERRNO(ws_pollset_get(set, 3, &p), EINVAL);
    CHECK_ERRNO(ws_pollset_get(set, 0, NULL), EFAULT);

    /* One ready (the write end): poll reports it, and iteration shows its revents. */
    ws_pollset_outcome_t out = {99, true};
    struct timeval tv = {1, 0};
    CHECK(ws_pollset_poll(set, &tv, true, &out) == 1);
    CHECK(out.ready == 1 && !out.interrupted);
    CHECK(ws_pollset_get(set, 1, &p) == 0 && p.revents == POLLOUT);
    CHECK(ws_pollset_get(set, 0, &p) == 0 && p.revents == 0);

    REQUIRE(write(a[1], "x", 1) == 1);
    CHECK(ws_pollset_poll(set, NULL, false, NULL) == 2); /* NULL: block; data is there */
    CHECK(ws_pollset_get(set, 0, &p) == 0 && p.revents == POLLIN);

    /* A partial millisecond rounds up: 1 us waits a whole millisecond, never less. */
    CHECK(ws_pollset_clear(set) == 0);
    CHECK(ws_pollset_count(set) == 0);
    CHECK(ws_pollset_include(set, b[0], POLLIN) == 0);
    struct timeval one_us = {0, 1};
    ws_time_t t0 = ws_time_now();
    CHECK(ws_pollset_poll(set, &one_us, true, &out) == 0);
    CHECK(ws_time_now() - t0 >= 1000000u); /* rounded up to a whole millisecond */
    CHECK(out.ready == 0 && !out.interrupted);
    struct timeval ms20 = {0, 20000};
    t0 = ws_time_now();
    CHECK(ws_pollset_poll(set, &ms20, true, &out) == 0);
    CHECK(ws_time_now() - t0 >= 20000000u);

    ws_pollset_destroy(set);
    ws_pollset_destroy(NULL);
    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
    }
}

static void test_errors(void) {
    ws_pollset_t *set = ws_pollset_create();
    REQUIRE(set != NULL);
    CHECK_ERRNO(ws_pollset_include(NULL, 0, POLLIN), EFAULT);
    CHECK_ERRNO(ws_pollset_include(set, -1, POLLIN), EINVAL);
    CHECK_ERRNO(ws_pollset_include(set, 0, 0), EINVAL);
    int gone[2];
    make_pipe(gone);
    close(gone[0]);
    close(gone[1]);
    CHECK_ERRNO(ws_pollset_include(set, gone[0], POLLIN), EBADF); /* not open: cannot join */
    CHECK(ws_pollset_count(NULL) == 0);
    CHECK_ERRNO(ws_pollset_clear(NULL), EFAULT);
    CHECK_ERRNO(ws_pollset_poll(NULL, NULL, true, NULL), EFAULT);
    struct timeval bad_usec = {0, 1000000}, neg = {-1, 0}, neg_usec = {0, -1};
    CHECK_ERRNO(ws_pollset_poll(set, &bad_usec, true, NULL), EINVAL);
    CHECK_ERRNO(ws_pollset_poll(set, &neg, true, NULL), EINVAL);
    CHECK_ERRNO(ws_pollset_poll(set, &neg_usec, true, NULL), EINVAL);
    struct pollfd p;
    CHECK_ERRNO(ws_pollset_get(NULL, 0, &p), EFAULT);
    CHECK(ws_pollset_count(set) == 0); /* failed includes changed nothing */
    ws_pollset_destroy(set);
}

/* A thread that interrupts the main thread with SIGUSR1 every millisecond until stopped. */
static int kicking; /* __atomic */
static pthread_t main_thread;
static void *kicker(void *arg) {
    (void)arg;
    while (__atomic_load_n(&kicking, __ATOMIC_ACQUIRE)) {
        pthread_kill(main_thread, SIGUSR1);
        sleep_ms(1);
    }
    return NULL;
}

static void test_interrupted(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    REQUIRE(sigaction(SIGUSR1, &sa, NULL) == 0);
    int p[2];
    make_pipe(p);
    ws_pollset_t *set = ws_pollset_create();
    REQUIRE(set != NULL);
    CHECK(ws_pollset_include(set, p[0], POLLIN) == 0);

    main_thread = pthread_self();
    __atomic_store_n(&kicking, 1, __ATOMIC_RELEASE);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, kicker, NULL) == 0);
    /* Without retry: back at the first interruption, which is reported. */
    ws_pollset_outcome_t out = {99, false};
    struct timeval ten_s = {10, 0};
    ws_time_t t0 = ws_time_now();
    CHECK(ws_pollset_poll(set, &ten_s, false, &out) == 0);
    CHECK(out.ready == 0 && out.interrupted);
    CHECK(ws_time_now() - t0 < 5000000000u);
    /* With retry: the wait resumes with the time left and ends at the original deadline, not
     * later (restarting the full 100 ms after each signal would never end). */
    struct timeval ms100 = {0, 100000};
    t0 = ws_time_now();
    CHECK(ws_pollset_poll(set, &ms100, true, &out) == 0);
    ws_time_t took = ws_time_now() - t0;
    CHECK(out.ready == 0 && out.interrupted);
    CHECK(took >= 100000000u && took < 2000000000u);
    __atomic_store_n(&kicking, 0, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    ws_pollset_destroy(set);
    close(p[0]);
    close(p[1]);
}

int main(void) {
    test_build_count_iterate();
    test_errors();
    test_interrupted();
    return finish("syspoll");
}
