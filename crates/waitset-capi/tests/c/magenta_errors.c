/* The Magenta face through every status code: each error of each call, each result status, the
 * in/out count rules, rights, duplicates and stale handles. Real pipes, events and timers.
 *
 * Run with WAITSET_CAPI_MAX_HANDLES unset: main() sets it before the first call, so that the
 * handle table fills after 64 handles and WS_ERR_NO_MEMORY can be reached. */
#include "check.h"

static void test_create_errors(void) {
    ws_handle_t h = 0;
    CHECK_ST(ws_waitset_create(0, NULL), WS_ERR_INVALID_ARGS);
    CHECK_ST(ws_waitset_create(0x80, &h), WS_ERR_INVALID_ARGS);
    CHECK_ST(ws_event_create(0, NULL), WS_ERR_INVALID_ARGS);
    CHECK_ST(ws_event_create(1, &h), WS_ERR_INVALID_ARGS);
    CHECK_ST(ws_timer_create(0, NULL), WS_ERR_INVALID_ARGS);
    CHECK_ST(ws_timer_create(7, &h), WS_ERR_INVALID_ARGS);
    CHECK(h == 0); /* nothing written on an error */

    OK(ws_waitset_create(0, &h));
    CHECK(h > 0);
    ws_obj_type_t type = 0;
    ws_rights_t rights = 0;
    OK(ws_handle_info(h, &type, &rights));
    CHECK(type == WS_OBJ_TYPE_WAITSET);
    CHECK(rights == (WS_RIGHT_READ | WS_RIGHT_WRITE));
    OK(ws_handle_close(h));
}

static void test_bad_handles(void) {
    ws_waitset_result_t r[1];
    uint32_t n = 1;
    /* Never handles: 0, negative, and small numbers such as file descriptors. */
    ws_handle_t never[] = {WS_HANDLE_INVALID, -1, 1, 3, 1000, (1 << 20) - 1};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
        CHECK_ST(ws_waitset_wait(never[i], 0, r, &n), WS_ERR_BAD_HANDLE);
        CHECK_ST(ws_waitset_remove(never[i], 1), WS_ERR_BAD_HANDLE);
        CHECK_ST(ws_event_signal(never[i], 0, WS_SIGNAL_USER_0), WS_ERR_BAD_HANDLE);
        CHECK_ST(ws_timer_cancel(never[i]), WS_ERR_BAD_HANDLE);
        CHECK_ST(ws_handle_info(never[i], NULL, NULL), WS_ERR_BAD_HANDLE);
    }
    OK(ws_handle_close(WS_HANDLE_INVALID)); /* closing the invalid handle is a no-op */
    CHECK_ST(ws_handle_close(3), WS_ERR_BAD_HANDLE);

    /* A closed handle is bad everywhere, and its value is not handed out again at once. */
    ws_handle_t set, ev, ev2;
    OK(ws_waitset_create(0, &set));
    OK(ws_event_create(0, &ev));
    OK(ws_handle_close(ev));
    CHECK_ST(ws_handle_close(ev), WS_ERR_BAD_HANDLE);
    CHECK_ST(ws_event_signal(ev, 0, WS_SIGNAL_USER_0), WS_ERR_BAD_HANDLE);
    CHECK_ST(ws_waitset_add(set, 1, ev, WS_SIGNAL_USER_0), WS_ERR_BAD_HANDLE);
    for (int i = 0; i < 40; i++) {
        OK(ws_event_create(0, &ev2));
        CHECK(ev2 != ev);
        OK(ws_handle_close(ev2));
    }
    /* The set handle too: bad for wait, add and remove once closed. */
    OK(ws_event_create(0, &ev));
    OK(ws_handle_close(set));
    n = 1;
    CHECK_ST(ws_waitset_wait(set, 0, r, &n), WS_ERR_BAD_HANDLE);
    CHECK_ST(ws_waitset_add(set, 1, ev, WS_SIGNAL_USER_0), WS_ERR_BAD_HANDLE);
    CHECK_ST(ws_waitset_remove(set, 1), WS_ERR_BAD_HANDLE);
    OK(ws_handle_close(ev));

    /* ws_fd_wrap: a number that is not an open descriptor. */
    ws_handle_t h = 0;
    CHECK_ST(ws_fd_wrap(-1, &h), WS_ERR_BAD_HANDLE);
    int p[2];
    make_pipe(p);
    close(p[1]);
    CHECK_ST(ws_fd_wrap(p[1], &h), WS_ERR_BAD_HANDLE);
    CHECK_ST(ws_fd_wrap(p[0], NULL), WS_ERR_INVALID_ARGS);
    CHECK(h == 0);
    /* On an error the descriptor stays the caller's: it is still open. */
    CHECK(fcntl(p[0], F_GETFD) != -1);
    close(p[0]);
}

static void test_wrong_type(void) {
    ws_handle_t set, ev, tm;
    OK(ws_waitset_create(0, &set));
    OK(ws_event_create(0, &ev));
    OK(ws_timer_create(0, &tm));
    ws_waitset_result_t r[1];
    uint32_t n = 1;
    CHECK_ST(ws_waitset_wait(ev, 0, r, &n), WS_ERR_WRONG_TYPE);
    CHECK_ST(ws_waitset_wait(tm, 0, r, &n), WS_ERR_WRONG_TYPE);
    CHECK_ST(ws_waitset_add(ev, 1, tm, WS_SIGNAL_TIMER), WS_ERR_WRONG_TYPE);
    CHECK_ST(ws_waitset_remove(tm, 1), WS_ERR_WRONG_TYPE);
    CHECK_ST(ws_event_signal(tm, 0, WS_SIGNAL_USER_0), WS_ERR_WRONG_TYPE);
    CHECK_ST(ws_event_signal(set, 0, WS_SIGNAL_USER_0), WS_ERR_WRONG_TYPE);
    ws_signals_t s;
    CHECK_ST(ws_event_get(tm, &s), WS_ERR_WRONG_TYPE);
    CHECK_ST(ws_timer_set(ev, 0, 0), WS_ERR_WRONG_TYPE);
    CHECK_ST(ws_timer_cancel(set), WS_ERR_WRONG_TYPE);
    /* A wait set is not a waitable object. */
    ws_handle_t set2;
    OK(ws_waitset_create(0, &set2));
    CHECK_ST(ws_waitset_add(set, 1, set2, WS_SIGNAL_READABLE), WS_ERR_NOT_SUPPORTED);
    CHECK_ST(ws_waitset_add(set, 1, set, WS_SIGNAL_READABLE), WS_ERR_NOT_SUPPORTED);
    OK(ws_handle_close(set2));
    OK(ws_handle_close(set));
    OK(ws_handle_close(ev));
    OK(ws_handle_close(tm));
}

static void test_rights(void) {
    ws_handle_t set, ev, ro, wo, nodup, again;
    OK(ws_waitset_create(0, &set));
    OK(ws_event_create(0, &ev));
    ws_rights_t rights;
    OK(ws_handle_info(ev, NULL, &rights));
    CHECK(rights == (WS_RIGHT_DUPLICATE | WS_RIGHT_READ | WS_RIGHT_WRITE));

    OK(ws_handle_duplicate(ev, WS_RIGHT_READ, &ro));
    OK(ws_handle_duplicate(ev, WS_RIGHT_WRITE | WS_RIGHT_DUPLICATE, &wo));
    OK(ws_handle_duplicate(ev, WS_RIGHT_READ | WS_RIGHT_WRITE, &nodup));
    CHECK(ro != ev && wo != ev && ro != wo);
    OK(ws_handle_info(ro, NULL, &rights));
    CHECK(rights == WS_RIGHT_READ);

    /* Watching needs READ on the watched handle. */
    CHECK_ST(ws_waitset_add(set, 1, wo, WS_SIGNAL_USER_0), WS_ERR_ACCESS_DENIED);
    OK(ws_waitset_add(set, 1, ro, WS_SIGNAL_USER_0));
    /* Signalling needs WRITE; reading the signals needs READ. */
    CHECK_ST(ws_event_signal(ro, 0, WS_SIGNAL_USER_0), WS_ERR_ACCESS_DENIED);
    OK(ws_event_signal(wo, 0, WS_SIGNAL_USER_0));
    ws_signals_t s = 0;
    CHECK_ST(ws_event_get(wo, &s), WS_ERR_ACCESS_DENIED);
    OK(ws_event_get(ro, &s));
    CHECK(s == WS_SIGNAL_USER_0);
    /* Duplicating needs DUPLICATE, and can only keep or drop rights. */
    CHECK_ST(ws_handle_duplicate(ro, WS_RIGHT_READ, &again), WS_ERR_ACCESS_DENIED);
    CHECK_ST(ws_handle_duplicate(nodup, WS_RIGHT_SAME_RIGHTS, &again), WS_ERR_ACCESS_DENIED);
    CHECK_ST(ws_handle_duplicate(wo, WS_RIGHT_READ, &again), WS_ERR_INVALID_ARGS);
    CHECK_ST(ws_handle_duplicate(ev, WS_RIGHT_SAME_RIGHTS, NULL), WS_ERR_INVALID_ARGS);
    OK(ws_handle_duplicate(wo, WS_RIGHT_SAME_RIGHTS, &again));
    OK(ws_handle_info(again, NULL, &rights));
    CHECK(rights == (WS_RIGHT_WRITE | WS_RIGHT_DUPLICATE));
    /* Wait set handles cannot be duplicated (as in Magenta). */
    CHECK_ST(ws_handle_duplicate(set, WS_RIGHT_SAME_RIGHTS, &again), WS_ERR_ACCESS_DENIED);

    /* Signals the object can never assert. */
    ws_handle_t tm, wend, rend;
    OK(ws_timer_create(0, &tm));
    CHECK_ST(ws_waitset_add(set, 2, ev, WS_SIGNAL_READABLE), WS_ERR_ACCESS_DENIED);
    CHECK_ST(ws_waitset_add(set, 2, tm, WS_SIGNAL_READABLE), WS_ERR_ACCESS_DENIED);
    int p[2];
    make_pipe(p);
    OK(ws_fd_wrap(p[0], &rend));
    OK(ws_fd_wrap(p[1], &wend));
    CHECK_ST(ws_waitset_add(set, 2, wend, WS_SIGNAL_READABLE), WS_ERR_ACCESS_DENIED);
    CHECK_ST(ws_waitset_add(set, 2, rend, WS_SIGNAL_TIMER), WS_ERR_ACCESS_DENIED);
    OK(ws_waitset_add(set, 2, wend, WS_SIGNAL_WRITABLE));

    for (ws_handle_t *h = (ws_handle_t[]){set, ev, ro, wo, nodup, again, tm, wend, rend, 0}; *h; h++)
        OK(ws_handle_close(*h));
}

static void test_add_remove_errors(void) {
    ws_handle_t set, ev;
    OK(ws_waitset_create(0, &set));
    OK(ws_event_create(0, &ev));
    CHECK_ST(ws_waitset_add(set, 1, ev, 1u << 10), WS_ERR_INVALID_ARGS); /* unknown bit */
    CHECK_ST(ws_waitset_add(set, WS_COOKIE_RESERVED, ev, WS_SIGNAL_USER_0), WS_ERR_INVALID_ARGS);
    OK(ws_waitset_add(set, 1, ev, WS_SIGNAL_USER_0));
    CHECK_ST(ws_waitset_add(set, 1, ev, WS_SIGNAL_USER_1), WS_ERR_ALREADY_EXISTS);
    OK(ws_waitset_add(set, 2, ev, WS_SIGNAL_USER_1)); /* same handle, another cookie */
    CHECK_ST(ws_waitset_remove(set, 3), WS_ERR_NOT_FOUND);
    CHECK_ST(ws_waitset_remove(set, WS_COOKIE_RESERVED), WS_ERR_NOT_FOUND);
    OK(ws_waitset_remove(set, 1));
    CHECK_ST(ws_waitset_remove(set, 1), WS_ERR_NOT_FOUND);
    OK(ws_waitset_add(set, 1, ev, WS_SIGNAL_USER_0)); /* the cookie is free again */
    CHECK_ST(ws_event_signal(ev, 0, WS_SIGNAL_READABLE), WS_ERR_INVALID_ARGS);
    OK(ws_handle_close(set));
    OK(ws_handle_close(ev));
}

static void test_wait_count_rules(void) {
    ws_handle_t set, ev;
    OK(ws_waitset_create(0, &set));
    OK(ws_event_create(0, &ev));
    OK(ws_waitset_add(set, 7, ev, WS_SIGNAL_USER_0 | WS_SIGNAL_USER_3));

    ws_waitset_result_t r[4];
    memset(r, 0xab, sizeof r);
    uint32_t n = 4;
    CHECK_ST(ws_waitset_wait(set, 0, r, NULL), WS_ERR_INVALID_ARGS);
    CHECK_ST(ws_waitset_wait(set, 0, NULL, &n), WS_ERR_INVALID_ARGS); /* NULL with *count > 0 */
    /* Nothing ready: TIMED_OUT, and neither results nor count are written. */
    CHECK_ST(ws_waitset_wait(set, 0, r, &n), WS_ERR_TIMED_OUT);
    CHECK(n == 4);
    CHECK(r[0].cookie == 0xababababababababull);
    ws_time_t t0 = ws_time_now();
    CHECK_ST(ws_waitset_wait(set, ms_from_now(20), r, &n), WS_ERR_TIMED_OUT);
    CHECK(ws_time_now() - t0 >= 20000000u); /* never early */
    n = 0;
    CHECK_ST(ws_waitset_wait(set, 0, NULL, &n), WS_ERR_TIMED_OUT);

    /* Ready: *count == 0 with NULL results waits for it without taking it. */
    OK(ws_event_signal(ev, 0, WS_SIGNAL_USER_3));
    n = 0;
    OK(ws_waitset_wait(set, WS_TIME_INFINITE, NULL, &n));
    CHECK(n == 0);
    n = 4;
    OK(ws_waitset_wait(set, 0, r, &n));
    CHECK(n == 1);
    CHECK(r[0].cookie == 7 && r[0].status == WS_OK && r[0].observed == WS_SIGNAL_USER_3);
    CHECK(r[1].cookie == 0xababababababababull); /* only n results written */
    /* Level-triggered: reported again while asserted; once cleared, no more. */
    n = 1;
    OK(ws_waitset_wait(set, 0, r, &n));
    CHECK(n == 1 && r[0].cookie == 7);
    OK(ws_event_signal(ev, WS_SIGNAL_USER_ALL, 0));
    CHECK_ST(ws_waitset_wait(set, 0, r, &n), WS_ERR_TIMED_OUT);
    OK(ws_handle_close(set));
    OK(ws_handle_close(ev));
}

static void test_result_statuses(void) {
    ws_handle_t set, wend, rend, ev, ev_dup, tm;
    OK(ws_waitset_create(0, &set));
    int p[2];
    make_pipe(p);
    int rfd = p[0];
    OK(ws_fd_wrap(p[0], &rend));
    OK(ws_fd_wrap(p[1], &wend));
    OK(ws_event_create(0, &ev));
    OK(ws_handle_duplicate(ev, WS_RIGHT_SAME_RIGHTS, &ev_dup));
    OK(ws_timer_create(0, &tm));
    OK(ws_waitset_add(set, 1, wend, WS_SIGNAL_WRITABLE));
    OK(ws_waitset_add(set, 2, ev, WS_SIGNAL_USER_0));
    OK(ws_waitset_add(set, 3, ev_dup, WS_SIGNAL_USER_0));
    OK(ws_waitset_add(set, 4, tm, WS_SIGNAL_TIMER));

    ws_waitset_result_t r[8];
    uint32_t n = 8;
    /* WS_OK: the pipe is writable. */
    OK(ws_waitset_wait(set, 0, r, &n));
    CHECK(n == 1 && r[0].cookie == 1 && r[0].status == WS_OK);
    CHECK(r[0].observed == WS_SIGNAL_WRITABLE);

    /* WS_ERR_BAD_STATE: the reader is gone, so the writer can never write again. */
    OK(ws_handle_close(rend));
    CHECK(fcntl(rfd, F_GETFD) == -1); /* the last handle closed the descriptor */
    n = 8;
    OK(ws_waitset_wait(set, 0, r, &n));
    CHECK(n == 1 && r[0].cookie == 1 && r[0].status == WS_ERR_BAD_STATE);
    CHECK((r[0].observed & (WS_SIGNAL_ERROR | WS_SIGNAL_PEER_CLOSED)) != 0);
    OK(ws_waitset_remove(set, 1));

    /* WS_ERR_CANCELED: closing the handle an entry was added with; a duplicate's entry stays. */
    OK(ws_handle_close(ev));
    n = 8;
    OK(ws_waitset_wait(set, 0, r, &n));
    CHECK(n == 1 && r[0].cookie == 2 && r[0].status == WS_ERR_CANCELED && r[0].observed == 0);
    n = 8;
    CHECK_ST(ws_waitset_wait(set, 0, r, &n), WS_ERR_TIMED_OUT); /* reported once */
    CHECK_ST(ws_waitset_remove(set, 2), WS_ERR_NOT_FOUND);        /* and gone */
    OK(ws_event_signal(ev_dup, 0, WS_SIGNAL_USER_0)); /* the object lives on */
    n = 8;
    OK(ws_waitset_wait(set, 0, r, &n));
    CHECK(n == 1 && r[0].cookie == 3 && r[0].status == WS_OK);
    OK(ws_waitset_remove(set, 3));

    /* Timers: never early, then asserted until set again. */
    ws_time_t at = ms_from_now(15);
    OK(ws_timer_set(tm, at, 0));
    n = 8;
    OK(ws_waitset_wait(set, WS_TIME_INFINITE, r, &n));
    CHECK(ws_time_now() >= at);
    CHECK(n == 1 && r[0].cookie == 4 && r[0].observed == WS_SIGNAL_TIMER);
    OK(ws_timer_cancel(tm));
    n = 8;
    CHECK_ST(ws_waitset_wait(set, 0, r, &n), WS_ERR_TIMED_OUT);
    /* A canceled entry not yet reported still holds its cookie until reported or removed. */
    OK(ws_handle_close(tm));
    CHECK_ST(ws_waitset_add(set, 4, ev_dup, WS_SIGNAL_USER_0), WS_ERR_ALREADY_EXISTS);
    OK(ws_waitset_remove(set, 4));
    n = 8;
    CHECK_ST(ws_waitset_wait(set, 0, r, &n), WS_ERR_TIMED_OUT);
    OK(ws_waitset_add(set, 4, ev_dup, WS_SIGNAL_USER_0));

    OK(ws_handle_close(wend));
    OK(ws_handle_close(ev_dup));
    OK(ws_handle_close(set));
}

static void *close_later(void *arg) {
    sleep_ms(30);
    ws_handle_close(*(ws_handle_t *)arg);
    return NULL;
}

static void test_canceled_wait(void) {
    ws_handle_t set, ev;
    OK(ws_waitset_create(0, &set));
    OK(ws_event_create(0, &ev));
    OK(ws_waitset_add(set, 1, ev, WS_SIGNAL_USER_0));
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, close_later, &set) == 0);
    ws_waitset_result_t r[1];
    uint32_t n = 1;
    CHECK_ST(ws_waitset_wait(set, WS_TIME_INFINITE, r, &n), WS_ERR_CANCELED);
    CHECK(n == 1);
    pthread_join(t, NULL);
    CHECK_ST(ws_waitset_wait(set, 0, r, &n), WS_ERR_BAD_HANDLE);
    OK(ws_handle_close(ev));
}

static void test_no_memory(void) {
    /* main() limited the table to 64 handles. */
    ws_handle_t hs[64];
    int made = 0;
    ws_status_t st = WS_OK;
    while (made < 64 && (st = ws_event_create(0, &hs[made])) == WS_OK)
        made++;
    if (made == 64)
        st = ws_event_create(0, &hs[0]);
    CHECK_ST(st, WS_ERR_NO_MEMORY);
    CHECK(made > 0);
    ws_handle_t extra;
    CHECK_ST(ws_waitset_create(0, &extra), WS_ERR_NO_MEMORY);
    CHECK_ST(ws_handle_duplicate(hs[0], WS_RIGHT_SAME_RIGHTS, &extra), WS_ERR_NO_MEMORY);
    int p[2];
    make_pipe(p);
    CHECK_ST(ws_fd_wrap(p[0], &extra), WS_ERR_NO_MEMORY);
    CHECK(fcntl(p[0], F_GETFD) != -1); /* not taken */
    OK(ws_handle_close(hs[--made]));
    OK(ws_fd_wrap(p[0], &extra)); /* room again */
    OK(ws_handle_close(extra));
    while (made > 0)
        OK(ws_handle_close(hs[--made]));
    close(p[1]);
}

static void test_status_strings(void) {
    CHECK(strcmp(ws_status_string(WS_OK), "WS_OK") == 0);
    CHECK(strcmp(ws_status_string(WS_ERR_ACCESS_DENIED), "WS_ERR_ACCESS_DENIED") == 0);
    CHECK(strcmp(ws_status_string(12345), "(unknown)") == 0);
    /* The codes are Zircon's, and expressions with them parse as expected. */
    CHECK(WS_ERR_NO_MEMORY == -4 && WS_ERR_BAD_HANDLE == -11 && WS_ERR_CANCELED == -23);
    CHECK(1 - WS_ERR_INTERNAL == 2);
    CHECK(sizeof(ws_waitset_result_t) == 16);
}

int main(void) {
    REQUIRE(setenv("WAITSET_CAPI_MAX_HANDLES", "64", 1) == 0);
    test_create_errors();
    test_bad_handles();
    test_wrong_type();
    test_rights();
    test_add_remove_errors();
    test_wait_count_rules();
    test_result_statuses();
    test_canceled_wait();
    test_no_memory();
    test_status_strings();
    return finish("magenta_errors");
}
