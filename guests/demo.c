// demo: one poll() loop multiplexing three things —
//   - stdin lines, each echoed back with a prefix;
//   - a periodic timer, printing a tick every 500 ms;
//   - its own output: bytes are queued and written only when poll() says stdout is writable.
// On stdin EOF it stops reading and ticking, prints a summary, flushes and exits 0.
//
//   cargo run --release -- run guests/demo.wasm        (type lines; Ctrl-D ends)
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS 500
#define CHUNK 4096

static char inbuf[4096];
static size_t inlen;
static char outbuf[65536];
static size_t outlen;

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Queues formatted output; drops it (and says so once) when the queue is full.
static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>
static void out(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(outbuf + outlen, sizeof outbuf - outlen, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof outbuf - outlen) {
        return; // would not fit: dropped
    }
    outlen += (size_t)n;
}

static unsigned long lines, bytes, ticks;

static void emit_line(const char *p, size_t n) {
    out("echo: %.*s\n", (int)n, p);
    lines++;
}

int main(void) {
    int eof = 0;
    long long next_tick = now_ms() + TICK_MS;

    for (;;) {
        struct pollfd p[2];
        int np = 0, in_idx = -1, out_idx = -1;
        // Backpressure: stop reading while the output queue is nearly full.
        if (!eof && sizeof outbuf - outlen > sizeof inbuf + 256) {
            in_idx = np;
            p[np++] = (struct pollfd){.fd = 0, .events = POLLIN};
        }
        if (outlen > 0) {
            out_idx = np;
            p[np++] = (struct pollfd){.fd = 1, .events = POLLOUT};
        }
        if (eof && outlen == 0) {
            break;
        }
        int timeout = -1;
        if (!eof) {
            long long left = next_tick - now_ms();
            timeout = left < 0 ? 0 : (int)left;
        }
        int r = poll(p, (nfds_t)np, timeout);
        if (r < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "demo: poll: %s\n", strerror(errno));
            return 1;
        }
        if (!eof) {
            long long now = now_ms();
            while (now >= next_tick) {
                ticks++;
                out("tick %lu\n", ticks);
                next_tick += TICK_MS;
            }
        }
        if (in_idx >= 0 && (p[in_idx].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = read(0, inbuf + inlen, sizeof inbuf - inlen);
            if (n < 0 && errno != EAGAIN && errno != EINTR) {
                fprintf(stderr, "demo: read: %s\n", strerror(errno));
                return 1;
            }
            if (n == 0) {
                eof = 1;
                if (inlen > 0) { // a last line without a newline
                    emit_line(inbuf, inlen);
                    inlen = 0;
                }
                out("demo: %lu lines, %lu bytes, %lu ticks\n", lines, bytes, ticks);
            } else if (n > 0) {
                bytes += (unsigned long)n;
                inlen += (size_t)n;
                size_t start = 0;
                for (size_t i = 0; i < inlen; i++) {
                    if (inbuf[i] == '\n') {
                        emit_line(inbuf + start, i - start);
                        start = i + 1;
                    }
                }
                if (start == 0 && inlen == sizeof inbuf) { // a line longer than the buffer
                    emit_line(inbuf, inlen);
                    start = inlen;
                }
                memmove(inbuf, inbuf + start, inlen - start);
                inlen -= start;
            }
        }
        if (out_idx >= 0 && (p[out_idx].revents & (POLLOUT | POLLERR | POLLHUP))) {
            size_t len = outlen < CHUNK ? outlen : CHUNK;
            ssize_t n = write(1, outbuf, len);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                return 1; // stdout is gone
            }
            memmove(outbuf, outbuf + n, outlen - (size_t)n);
            outlen -= (size_t)n;
        }
    }
    return 0;
}
