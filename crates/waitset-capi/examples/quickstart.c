/* quickstart.c: one wait set watching a pipe, a timer and an event raised by another thread.
 *
 *   cargo build -p waitset-capi
 *   gcc -std=c11 -pthread -Iinclude crates/waitset-capi/examples/quickstart.c \
 *       -Ltarget/debug -lwaitset_capi -Wl,-rpath,"$PWD/target/debug" -o quickstart
 *   ./quickstart
 */
#define _POSIX_C_SOURCE 200809L /* pipe, read, write, nanosleep; struct pollfd for waitset.h */
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <waitset.h>

enum { PIPE_COOKIE = 1, TIMER_COOKIE = 2, EVENT_COOKIE = 3 };

static int fail(const char *what, ws_status_t st) {
    fprintf(stderr, "%s: %s\n", what, ws_status_string(st));
    return 1;
}

/* Another thread raises USER_0 on the event (through its own duplicate handle). */
static void *raise_event(void *arg) {
    ws_handle_t ev = *(ws_handle_t *)arg;
    struct timespec ms20 = {0, 20 * 1000 * 1000};
    nanosleep(&ms20, NULL);
    ws_event_signal(ev, 0, WS_SIGNAL_USER_0);
    return NULL;
}

int main(void) {
    ws_status_t st;
    ws_handle_t set, rd, timer, event, event_for_thread;
    int fds[2];
    if (pipe(fds) != 0)
        return 1;

    /* Objects: the set, the pipe's read end (the handle owns the descriptor), a timer, an event. */
    if ((st = ws_waitset_create(0, &set)) < 0)
        return fail("ws_waitset_create", st);
    if ((st = ws_fd_wrap(fds[0], &rd)) < 0)
        return fail("ws_fd_wrap", st);
    if ((st = ws_timer_create(0, &timer)) < 0 || (st = ws_event_create(0, &event)) < 0)
        return fail("create", st);
    /* The thread gets a handle that may only signal the event. */
    if ((st = ws_handle_duplicate(event, WS_RIGHT_WRITE, &event_for_thread)) < 0)
        return fail("ws_handle_duplicate", st);

    /* Entries: a cookie, a handle, the signals to wait for. */
    if ((st = ws_waitset_add(set, PIPE_COOKIE, rd, WS_SIGNAL_READABLE)) < 0 ||
        (st = ws_waitset_add(set, TIMER_COOKIE, timer, WS_SIGNAL_TIMER)) < 0 ||
        (st = ws_waitset_add(set, EVENT_COOKIE, event, WS_SIGNAL_USER_0)) < 0)
        return fail("ws_waitset_add", st);

    ws_timer_set(timer, ws_deadline_after(10 * 1000 * 1000), 0); /* 10 ms from now */
    pthread_t thread;
    pthread_create(&thread, NULL, raise_event, &event_for_thread);
    if (write(fds[1], "hi", 2) != 2)
        return 1;

    int seen = 0;
    while (seen != ((1 << PIPE_COOKIE) | (1 << TIMER_COOKIE) | (1 << EVENT_COOKIE))) {
        ws_waitset_result_t results[8];
        uint32_t count = 8; /* in: room in results; out: results written */
        st = ws_waitset_wait(set, ws_deadline_after(5000000000ull), results, &count);
        if (st == WS_ERR_TIMED_OUT)
            return fail("nothing within 5 s", st);
        if (st < 0)
            return fail("ws_waitset_wait", st);
        for (uint32_t i = 0; i < count; i++) {
            ws_waitset_result_t *r = &results[i];
            printf("cookie %llu: %s, signals 0x%x\n", (unsigned long long)r->cookie,
                   ws_status_string(r->status), (unsigned)r->observed);
            seen |= 1 << r->cookie;
            /* Level-triggered: consume what was reported, or it is reported again. */
            if (r->cookie == PIPE_COOKIE) {
                char buf[16];
                if (read(fds[0], buf, sizeof buf) <= 0)
                    return 1;
            } else if (r->cookie == TIMER_COOKIE) {
                ws_timer_cancel(timer);
            } else if (r->cookie == EVENT_COOKIE) {
                ws_event_signal(event, WS_SIGNAL_USER_0, 0);
            }
        }
    }
    pthread_join(thread, NULL);

    /* Closing a handle cancels the entries added through it: reported once, then gone. */
    ws_handle_close(rd); /* also closes fds[0] */
    ws_waitset_result_t r;
    uint32_t count = 1;
    if ((st = ws_waitset_wait(set, 0, &r, &count)) < 0 || r.status != WS_ERR_CANCELED)
        return fail("expected a canceled entry", st);
    printf("cookie %llu: %s\n", (unsigned long long)r.cookie, ws_status_string(r.status));

    ws_handle_close(event_for_thread);
    ws_handle_close(event);
    ws_handle_close(timer);
    ws_handle_close(set);
    close(fds[1]);
    return 0;
}
