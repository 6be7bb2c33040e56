// block_io: blocks in one host call so that a test can signal the run.
//
//   block_io read    read(0): blocks while stdin (a pipe or a pty) has nothing to read
//   block_io write   writes stdout forever: blocks once a pipe nobody reads is full
//
// "blocking\n" goes to stderr just before the call that blocks. Exits 0 when the read returns
// (or the write fails); SIGINT / SIGTERM must end the run with 130 / 143 wherever it blocks.
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char buf[65536];

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: block_io read|write\n");
        return 2;
    }
    if (strcmp(argv[1], "read") == 0) {
        fprintf(stderr, "blocking\n");
        ssize_t n = read(0, buf, sizeof buf);
        printf("read returned %zd\n", n);
        return 0;
    }
    if (strcmp(argv[1], "write") == 0) {
        memset(buf, 'x', sizeof buf);
        fprintf(stderr, "blocking\n");
        for (;;) {
            if (write(1, buf, sizeof buf) < 0) {
                perror("write");
                return 0;
            }
        }
    }
    fprintf(stderr, "block_io: unknown mode %s\n", argv[1]);
    return 2;
}
