/* The Magenta face across threads: a waiter woken by a signaller on another thread, a handle
 * closed while a thread waits on its entry (CANCELED result), the set closed under blocked
 * waiters (CANCELED return), broadcast versus exclusive delivery, and a stress of many threads
 * signalling, adding and removing at once. */
#include "check.h"

struct waiter {
    int hold; /* after a result, stay alive (and out of the set) until `release` is set */
    ws_handle_t set;
    ws_time_t deadline;
    uint32_t room;
    ws_status_t st;
    uint32_t n;
    ws_waitset_result_t r[8];
    ws_time_t returned_at;
};

static int release; /* read and written with __atomic builtins */

static void *wait_thread(void *arg) {
    struct waiter *w = arg;
    w->n = w->room;
    w->st = ws_waitset_wait(w->set, w->deadline, w->r, &w->n);
    __atomic_store_n(&w->returned_at, ws_time_now(), __ATOMIC_RELEASE);
    /* In an exclusive set the entry stays with this thread until it waits again or exits. */
    while (w->hold && w->st == WS_OK && !__atomic_load_n(&release, __ATOMIC_ACQUIRE))
        sleep_ms(1);
    return NULL;
}

static void start(pthread_t *t, struct waiter *w, ws_handle_t set, ws_time_t deadline, int hold) {
    memset(w, 0, sizeof *w);
    w->hold = hold;
    w->set = set;
    w->deadline = deadline;
    w->room = 8;
    REQUIRE(pthread_create(t, NULL, wait_thread, w) == 0);
}

static void test_signal_from_another_thread(void) {
    ws_handle_t set, ev;
    OK(ws_waitset_create(0, &set));
    OK(ws_event_create(0, &ev));
    OK(ws_waitset_add(set, 0xfeed, ev, WS_SIGNAL_USER_5));
    pthread_t t;
    struct waiter w;
    start(&t, &w, set, WS_TIME_INFINITE, 0);
    sleep_ms(30); /* let it block */
    ws_time_t signalled = ws_time_now();
    OK(ws_event_signal(ev, 0, WS_SIGNAL_USER_5));
    pthread_join(t, NULL);
    CHECK_ST(w.st, WS_OK);
    CHECK(w.n == 1 && w.r[0].cookie == 0xfeed && w.r[0].observed == WS_SIGNAL_USER_5);
    CHECK(w.returned_at >= signalled);
    OK(ws_handle_close(set));
    OK(ws_handle_close(ev));
}

static void test_fd_from_another_thread(void) {
    ws_handle_t set, rh;
    OK(ws_waitset_create(0, &set));
    int p[2];
    make_pipe(p);
    OK(ws_fd_wrap(p[0], &rh));
    OK(ws_waitset_add(set, 11, rh, WS_SIGNAL_READABLE));
    pthread_t t;
    struct waiter w;
    start(&t, &w, set, ms_from_now(10000), 0);
    sleep_ms(30);
    REQUIRE(write(p[1], "x", 1) == 1);
    pthread_join(t, NULL);
    CHECK_ST(w.st, WS_OK);
    CHECK(w.n == 1 && w.r[0].cookie == 11 && (w.r[0].observed & WS_SIGNAL_READABLE));
    char c;
    CHECK(read(p[0], &c, 1) == 1); /* the number stays usable while the handle is open */
    OK(ws_handle_close(rh));
    OK(ws_handle_close(set));
    close(p[1]);
}

/* A thread blocked on an entry whose handle another thread closes gets a CANCELED result. */
static void test_handle_close_cancels_waiting_entry(void) {
    ws_handle_t set, rh, ev;
    OK(ws_waitset_create(0, &set));
    int p[2];
    make_pipe(p);
    OK(ws_fd_wrap(p[0], &rh));
    OK(ws_event_create(0, &ev));
    OK(ws_waitset_add(set, 1, rh, WS_SIGNAL_READABLE));
    OK(ws_waitset_add(set, 2, ev, WS_SIGNAL_USER_0));
    pthread_t t;
    struct waiter w;
    start(&t, &w, set, WS_TIME_INFINITE, 0);
    sleep_ms(30);
    OK(ws_handle_close(rh));
    pthread_join(t, NULL);
    CHECK_ST(w.st, WS_OK);
    CHECK(w.n == 1 && w.r[0].cookie == 1 && w.r[0].status == WS_ERR_CANCELED);
    CHECK(fcntl(p[0], F_GETFD) == -1); /* the descriptor was closed with its last handle */
    CHECK_ST(ws_waitset_remove(set, 1), WS_ERR_NOT_FOUND);
    /* The other entry is untouched. */
    OK(ws_event_signal(ev, 0, WS_SIGNAL_USER_0));
    uint32_t n = 8;
    OK(ws_waitset_wait(set, 0, w.r, &n));
    CHECK(n == 1 && w.r[0].cookie == 2 && w.r[0].status == WS_OK);
    OK(ws_handle_close(set));
    OK(ws_handle_close(ev));
    close(p[1]);
}

/* Closing the set's handle wakes every blocked waiter with WS_ERR_CANCELED. */
static void test_set_close_cancels_waiters(void) {
    ws_handle_t set;
    OK(ws_waitset_create(WS_WAITSET_EXCLUSIVE, &set));
    pthread_t t[4];
    struct waiter w[4];
    for (int i = 0; i < 4; i++)
        start(&t[i], &w[i], set, WS_TIME_INFINITE, 0);
    sleep_ms(30);
    OK(ws_handle_close(set));
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_ST(w[i].st, WS_ERR_CANCELED);
        CHECK(w[i].n == 8); /* count not written on an error */
    }
}

/* Broadcast: one level-triggered readiness wakes every waiter. Exclusive: it wakes one, and
 * the others keep waiting while that one holds the entry (it neither waits again nor exits). */
static void test_delivery(uint32_t options, int want_woken) {
    ws_handle_t set, ev;
    OK(ws_waitset_create(options, &set));
    OK(ws_event_create(0, &ev));
    OK(ws_waitset_add(set, 5, ev, WS_SIGNAL_USER_0));
    pthread_t t[3];
    struct waiter w[3];
    ws_time_t deadline = ms_from_now(400);
    __atomic_store_n(&release, 0, __ATOMIC_RELEASE);
    for (int i = 0; i < 3; i++)
        start(&t[i], &w[i], set, deadline, 1);
    sleep_ms(50);
    OK(ws_event_signal(ev, 0, WS_SIGNAL_USER_0));
    while (ws_time_now() < deadline + 100000000u)
        sleep_ms(5);
    int returned = 0;
    for (int i = 0; i < 3; i++)
        returned += __atomic_load_n(&w[i].returned_at, __ATOMIC_ACQUIRE) != 0;
    CHECK(returned == 3); /* every wait has ended: a result or TIMED_OUT */
    __atomic_store_n(&release, 1, __ATOMIC_RELEASE);
    int woken = 0, timed_out = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        if (w[i].st == WS_OK) {
            woken++;
            CHECK(w[i].n == 1 && w[i].r[0].cookie == 5);
        } else {
            CHECK_ST(w[i].st, WS_ERR_TIMED_OUT);
            timed_out++;
        }
    }
    if (woken != want_woken)
        fprintf(stderr, "delivery %u: %d woken, want %d\n", options, woken, want_woken);
    CHECK(woken == want_woken);
    CHECK(woken + timed_out == 3);
    OK(ws_handle_close(set));
    OK(ws_handle_close(ev));
}

/* Exclusive delivery shares work: every ready entry is taken by some waiter, each waiter
 * clears what it took, and the set is drained. */
#define NEV 32
static ws_handle_t work_set;
static ws_handle_t work_ev[NEV];
static int taken[NEV];
static pthread_mutex_t taken_mu = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg) {
    (void)arg;
    for (;;) {
        ws_waitset_result_t r[2];
        uint32_t n = 2;
        ws_status_t st = ws_waitset_wait(work_set, WS_TIME_INFINITE, r, &n);
        if (st == WS_ERR_CANCELED || st == WS_ERR_BAD_HANDLE)
            return NULL;
        if (st != WS_OK) {
            fprintf(stderr, "worker: %s\n", ws_status_string(st));
            return (void *)1;
        }
        for (uint32_t i = 0; i < n; i++) {
            uint64_t c = r[i].cookie;
            if (c >= NEV)
                return (void *)1;
            ws_event_signal(work_ev[c], WS_SIGNAL_USER_0, 0);
            pthread_mutex_lock(&taken_mu);
            taken[c]++;
            pthread_mutex_unlock(&taken_mu);
        }
    }
}

static void test_exclusive_work_sharing(void) {
    OK(ws_waitset_create(WS_WAITSET_EXCLUSIVE, &work_set));
    for (int i = 0; i < NEV; i++) {
        OK(ws_event_create(0, &work_ev[i]));
        OK(ws_waitset_add(work_set, (uint64_t)i, work_ev[i], WS_SIGNAL_USER_0));
    }
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        REQUIRE(pthread_create(&t[i], NULL, worker, NULL) == 0);
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < NEV; i++)
            OK(ws_event_signal(work_ev[i], 0, WS_SIGNAL_USER_0));
        /* Wait until every event was taken and cleared. */
        ws_time_t give_up = ms_from_now(5000);
        for (;;) {
            int pending = 0;
            for (int i = 0; i < NEV; i++) {
                ws_signals_t s;
                OK(ws_event_get(work_ev[i], &s));
                pending += s != 0;
            }
            if (pending == 0 || ws_time_now() > give_up) {
                CHECK(pending == 0);
                break;
            }
            sleep_ms(1);
        }
    }
    OK(ws_handle_close(work_set));
    for (int i = 0; i < 4; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        CHECK(ret == NULL);
    }
    for (int i = 0; i < NEV; i++) {
        CHECK(taken[i] >= 20);
        OK(ws_handle_close(work_ev[i]));
    }
}

/* Many threads adding, removing, signalling, duplicating and closing handles on one set while
 * two threads wait on it: no crash, no deadlock, and every call returns a documented status. */
static ws_handle_t stress_set;
static int stress_stop; /* __atomic */

static void *stress_mutator(void *arg) {
    uintptr_t id = (uintptr_t)arg;
    uint64_t base = (uint64_t)id << 32;
    int bad = 0;
    for (int i = 0; i < 2000; i++) {
        ws_handle_t ev, dup;
        if (ws_event_create(0, &ev) != WS_OK)
            return (void *)1;
        uint64_t cookie = base + (uint64_t)i;
        bad += ws_waitset_add(stress_set, cookie, ev, WS_SIGNAL_USER_0) != WS_OK;
        bad += ws_event_signal(ev, 0, WS_SIGNAL_USER_0) != WS_OK;
        bad += ws_handle_duplicate(ev, WS_RIGHT_SAME_RIGHTS, &dup) != WS_OK;
        bad += ws_waitset_add(stress_set, cookie | (1ull << 31), dup, WS_SIGNAL_USER_0) != WS_OK;
        if (i % 2)
            bad += ws_waitset_remove(stress_set, cookie) != WS_OK;
        bad += ws_handle_close(ev) != WS_OK; /* cancels `cookie` unless removed */
        if (i % 3 == 0)
            bad += ws_waitset_remove(stress_set, cookie | (1ull << 31)) != WS_OK;
        bad += ws_handle_close(dup) != WS_OK;
    }
    return (void *)(uintptr_t)bad;
}

static void *stress_waiter(void *arg) {
    (void)arg;
    long results = 0;
    while (!__atomic_load_n(&stress_stop, __ATOMIC_ACQUIRE)) {
        ws_waitset_result_t r[16];
        uint32_t n = 16;
        ws_status_t st = ws_waitset_wait(stress_set, ms_from_now(50), r, &n);
        if (st == WS_OK) {
            for (uint32_t i = 0; i < n; i++) {
                if (r[i].status != WS_OK && r[i].status != WS_ERR_CANCELED)
                    return (void *)-1;
                if (r[i].cookie == WS_COOKIE_RESERVED)
                    return (void *)-1;
            }
            results += n;
        } else if (st != WS_ERR_TIMED_OUT) {
            return (void *)-1;
        }
    }
    return (void *)results;
}

static void test_stress(void) {
    OK(ws_waitset_create(0, &stress_set));
    pthread_t m[4], w[2];
    for (uintptr_t i = 0; i < 2; i++)
        REQUIRE(pthread_create(&w[i], NULL, stress_waiter, NULL) == 0);
    for (uintptr_t i = 0; i < 4; i++)
        REQUIRE(pthread_create(&m[i], NULL, stress_mutator, (void *)(i + 1)) == 0);
    for (int i = 0; i < 4; i++) {
        void *bad;
        pthread_join(m[i], &bad);
        CHECK(bad == NULL);
    }
    __atomic_store_n(&stress_stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 2; i++) {
        void *res;
        pthread_join(w[i], &res);
        CHECK((intptr_t)res >= 0);
    }
    /* Everything was removed or canceled: after the owed results are drained, nothing is left. */
    ws_waitset_result_t r[64];
    uint32_t n;
    int rounds = 0;
    do {
        n = 64;
        rounds++;
    } while (ws_waitset_wait(stress_set, 0, r, &n) == WS_OK && rounds < 10000);
    CHECK(rounds < 10000);
    OK(ws_handle_close(stress_set));
}

int main(void) {
    test_signal_from_another_thread();
    test_fd_from_another_thread();
    test_handle_close_cancels_waiting_entry();
    test_set_close_cancels_waiters();
    test_delivery(0, 3);
    test_delivery(WS_WAITSET_EXCLUSIVE, 1);
    test_exclusive_work_sharing();
    test_stress();
    return finish("magenta_threads");
}
