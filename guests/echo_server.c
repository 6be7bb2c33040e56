// echo_server: a TCP echo server on the listener preopened at fd 3 (`waitset run --listen`).
// One poll() loop serves many clients at once: every byte a client sends is sent back; when a
// client shuts down its side and everything has been echoed, the connection is closed.
//
//   waitset run --listen 127.0.0.1:7000 guests/echo_server.wasm [N]
//
// With N, the server exits (status 0) after N connections have been served; without, it runs
// forever. On exit it prints "echo_server: served C connections, B bytes".
//
// build-flags: -Wl,-z,stack-size=1048576
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_FD 3
#define MAX_CLIENTS 512
#define BUF 4096

struct client {
    int fd;
    int eof;        // the peer shut down its sending side
    size_t len;     // bytes in buf waiting to be echoed
    size_t off;     // bytes of buf already echoed
    char buf[BUF];
};

static struct client clients[MAX_CLIENTS];
static int nclients;
static struct pollfd pfds[MAX_CLIENTS + 1];

static void drop_client(int i) {
    close(clients[i].fd);
    clients[i] = clients[--nclients];
}

int main(int argc, char **argv) {
    long limit = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
    long accepted = 0, served = 0;
    unsigned long long total = 0;

    if (fcntl(LISTEN_FD, F_SETFL, O_NONBLOCK) != 0) {
        fprintf(stderr, "echo_server: fd %d: %s (run with --listen HOST:PORT)\n", LISTEN_FD,
                strerror(errno));
        return 1;
    }

    while (limit == 0 || served < limit) {
        int n = 0;
        int want_accept = nclients < MAX_CLIENTS && (limit == 0 || accepted < limit);
        pfds[n++] = (struct pollfd){.fd = want_accept ? LISTEN_FD : -1, .events = POLLIN};
        for (int i = 0; i < nclients; i++) {
            struct client *c = &clients[i];
            short ev = c->len > 0 ? POLLOUT : (c->eof ? 0 : POLLIN);
            pfds[n++] = (struct pollfd){.fd = c->fd, .events = ev ? ev : POLLOUT};
        }
        if (poll(pfds, (nfds_t)n, -1) < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "echo_server: poll: %s\n", strerror(errno));
            return 1;
        }

        // Clients first (indexes shift when one is dropped, so walk backwards).
        for (int i = nclients - 1; i >= 0; i--) {
            struct client *c = &clients[i];
            short re = pfds[i + 1].revents;
            if (re == 0) continue;
            if (c->len == 0 && !c->eof && (re & (POLLIN | POLLHUP | POLLERR))) {
                ssize_t r = recv(c->fd, c->buf, BUF, 0);
                if (r > 0) {
                    c->len = (size_t)r;
                    c->off = 0;
                    total += (unsigned long long)r;
                } else if (r == 0) {
                    c->eof = 1;
                } else if (errno != EAGAIN && errno != EINTR) {
                    drop_client(i); // reset by peer
                    served++;
                    continue;
                }
            } else if (c->len > 0 && (re & (POLLOUT | POLLHUP | POLLERR))) {
                ssize_t w = send(c->fd, c->buf + c->off, c->len - c->off, 0);
                if (w > 0) {
                    c->off += (size_t)w;
                    if (c->off == c->len) c->len = c->off = 0;
                } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                    drop_client(i);
                    served++;
                    continue;
                }
            }
            if (c->eof && c->len == 0) {
                drop_client(i);
                served++;
            }
        }

        if (want_accept && (pfds[0].revents & POLLIN)) {
            while (nclients < MAX_CLIENTS && (limit == 0 || accepted < limit)) {
                int fd = accept4(LISTEN_FD, NULL, NULL, SOCK_NONBLOCK);
                if (fd < 0) break; // EAGAIN: no more pending connections
                clients[nclients++] = (struct client){.fd = fd};
                accepted++;
            }
        }
    }
    printf("echo_server: served %ld connections, %llu bytes\n", served, total);
    return 0;
}
