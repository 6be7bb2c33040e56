/* The POSIX face: ws_poll and ws_ppoll with poll(2)'s signature and errno rules (EFAULT,
 * EINVAL, EINTR), the OpenBSD rules (fd -1 ignored, POLLNVAL, normalized EOF), and ppoll's
 * atomic signal mask. */
#include <signal.h>
#include <sys/resource.h>

#include "check.h"

static volatile sig_atomic_t got_signal;
static void on_signal(int sig) {
    (void)sig;
    got_signal = 1;
}

static void install(int sig) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: poll must see EINTR */
    REQUIRE(sigaction(sig, &sa, NULL) == 0);
}

static void test_efault_einval(void) {
    struct pollfd fds[1];
    CHECK_ERRNO(ws_poll(NULL, 1, 0), EFAULT);
    CHECK_ERRNO(ws_ppoll(NULL, 2, NULL, NULL), EFAULT);
    /* Misaligned: a pointer no C program can form without undefined behaviour. */
    char buf[sizeof(struct pollfd) * 2];
    CHECK_ERRNO(ws_poll((struct pollfd *)(void *)(buf + 1), 1, 0), EFAULT);
    /* NULL with nfds == 0 is a plain sleep. */
    CHECK(ws_poll(NULL, 0, 1) == 0);
    /* A pointer outside the address space: the kernel reports it. */
    CHECK_ERRNO(ws_poll((struct pollfd *)(uintptr_t)0x10, 1, 0), EFAULT);

    int p[2];
    make_pipe(p);
    fds[0] = (struct pollfd){.fd = p[0], .events = POLLIN};
    CHECK_ERRNO(ws_poll(fds, 1, -5), EINVAL); /* negative other than INFTIM */
    struct rlimit rl;
    REQUIRE(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    if (rl.rlim_cur < (rlim_t)(1 << 22)) {
        /* A real array one longer than the limit allows. */
        struct pollfd *many = calloc((size_t)rl.rlim_cur + 1, sizeof *many);
        REQUIRE(many != NULL);
        for (rlim_t i = 0; i <= rl.rlim_cur; i++)
            many[i] = (struct pollfd){.fd = -1};
        CHECK_ERRNO(ws_poll(many, (nfds_t)rl.rlim_cur + 1, 0), EINVAL);
        CHECK(ws_poll(many, (nfds_t)rl.rlim_cur, 0) == 0);
        free(many);
    }
    CHECK_ERRNO(ws_poll(NULL, (nfds_t)rl.rlim_cur + 1, 0), EINVAL); /* nfds checked first */
    CHECK_ERRNO(ws_poll(fds, (nfds_t)-1, 0), EINVAL);
    struct timespec bad_ns = {0, 1000000000L}, neg = {-1, 0};
    CHECK_ERRNO(ws_ppoll(fds, 1, &bad_ns, NULL), EINVAL);
    CHECK_ERRNO(ws_ppoll(fds, 1, &neg, NULL), EINVAL);
    close(p[0]);
    close(p[1]);
}

static void test_rules(void) {
    int p[2];
    make_pipe(p);
    int closed[2];
    make_pipe(closed);
    close(closed[0]);
    close(closed[1]);
    struct pollfd fds[4] = {
        {.fd = p[0], .events = POLLIN, .revents = 0x7f},
        {.fd = p[1], .events = POLLOUT},
        {.fd = -1, .events = POLLIN, .revents = POLLIN}, /* ignored, revents cleared */
        {.fd = closed[0], .events = POLLIN},             /* not open: POLLNVAL */
    };
    CHECK(ws_poll(fds, 4, 0) == 2);
    CHECK(fds[0].revents == 0);
    CHECK(fds[1].revents == POLLOUT);
    CHECK(fds[2].revents == 0);
    CHECK(fds[3].revents == POLLNVAL);

    /* Data, then EOF: POLLHUP comes with POLLIN when POLLIN was asked. */
    REQUIRE(write(p[1], "ab", 2) == 2);
    close(p[1]);
    struct pollfd r = {.fd = p[0], .events = POLLIN};
    CHECK(ws_poll(&r, 1, -1) == 1);
    CHECK(r.revents == (POLLIN | POLLHUP));
    r.events = 0;
    CHECK(ws_poll(&r, 1, 0) == 1);
    CHECK(r.revents == POLLHUP);

    /* The write end after the reader is gone: never POLLOUT with POLLHUP. */
    int q[2];
    make_pipe(q);
    close(q[0]);
    struct pollfd w = {.fd = q[1], .events = POLLOUT};
    CHECK(ws_poll(&w, 1, 0) == 1);
    CHECK((w.revents & POLLERR) != 0);
    CHECK(!((w.revents & POLLHUP) && (w.revents & POLLOUT)));
    close(q[1]);
    close(p[0]);

    /* Timeouts: 0 returns at once, a positive one is never early. */
    int s[2];
    make_pipe(s);
    struct pollfd idle = {.fd = s[0], .events = POLLIN};
    ws_time_t t0 = ws_time_now();
    CHECK(ws_poll(&idle, 1, 20) == 0);
    CHECK(ws_time_now() - t0 >= 20000000u);
    struct timespec ts = {0, 5000000};
    t0 = ws_time_now();
    CHECK(ws_ppoll(&idle, 1, &ts, NULL) == 0);
    CHECK(ws_time_now() - t0 >= 5000000u);
    close(s[0]);
    close(s[1]);
}

struct kicker {
    pthread_t target;
    int sig;
    long delay_ms;
};

static void *kick(void *arg) {
    struct kicker *k = arg;
    sleep_ms(k->delay_ms);
    pthread_kill(k->target, k->sig);
    return NULL;
}

static void test_eintr_and_mask(void) {
    install(SIGUSR1);
    int p[2];
    make_pipe(p);
    struct pollfd fds[1] = {{.fd = p[0], .events = POLLIN}};

    /* A handler runs during an infinite wait: -1 with EINTR, never restarted. */
    struct kicker k = {pthread_self(), SIGUSR1, 30};
    pthread_t t;
    got_signal = 0;
    REQUIRE(pthread_create(&t, NULL, kick, &k) == 0);
    CHECK_ERRNO(ws_poll(fds, 1, -1), EINTR);
    pthread_join(t, NULL);
    CHECK(got_signal == 1);

    got_signal = 0;
    REQUIRE(pthread_create(&t, NULL, kick, &k) == 0);
    CHECK_ERRNO(ws_ppoll(fds, 1, NULL, NULL), EINTR);
    pthread_join(t, NULL);
    CHECK(got_signal == 1);

    /* ppoll's mask: SIGUSR1 blocked during the wait, so the wait runs to its timeout; the
     * signal stays pending and is delivered once the old mask is back. */
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    got_signal = 0;
    REQUIRE(pthread_create(&t, NULL, kick, &k) == 0);
    struct timespec ts = {0, 150000000};
    errno = 12345;
    CHECK(ws_ppoll(fds, 1, &ts, &block) == 0);
    CHECK(errno == 12345); /* a successful call leaves errno alone */
    pthread_join(t, NULL);
    CHECK(got_signal == 1); /* delivered after the call, not during it */

    /* The other way round: blocked in the thread, unblocked by the ppoll mask. */
    sigset_t old, empty;
    sigemptyset(&empty);
    REQUIRE(pthread_sigmask(SIG_BLOCK, &block, &old) == 0);
    got_signal = 0;
    REQUIRE(pthread_create(&t, NULL, kick, &k) == 0);
    ts.tv_sec = 10;
    CHECK_ERRNO(ws_ppoll(fds, 1, &ts, &empty), EINTR);
    pthread_join(t, NULL);
    CHECK(got_signal == 1);
    REQUIRE(pthread_sigmask(SIG_SETMASK, &old, NULL) == 0);

    close(p[0]);
    close(p[1]);
}

int main(void) {
    test_efault_einval();
    test_rules();
    test_eintr_and_mask();
    return finish("posix");
}
