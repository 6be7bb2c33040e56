// fs_tour: what an ordinary C program does with a preopened directory (`waitset run --dir
// HOST::/data`), one `name: value` line per step:
//   create a file, write, lseek/ftell, read back, list the directory, rename, unlink,
//   mkdir/rmdir, and lseek(0, 0, SEEK_CUR) on stdin (ESPIPE on a pipe, a position on a file).
// Then the escapes a guest may try: "..", an absolute host path, a symlink pointing out.
// Exits 0 when every step ran (the values tell whether each did what it should).
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void line(const char *name, const char *value) { printf("%s: %s\n", name, value); }
static void num(const char *name, long v) { printf("%s: %ld\n", name, v); }
static void err(const char *name, int ok) {
    if (ok) line(name, "ok");
    else printf("%s: %s\n", name, strerror(errno));
}

int main(void) {
    off_t pos = lseek(0, 0, SEEK_CUR);
    if (pos < 0) printf("stdin_tell: %s\n", strerror(errno));
    else num("stdin_tell", (long)pos);

    FILE *f = fopen("/data/hello.txt", "w+");
    err("fopen_w+", f != NULL);
    if (!f) return 1;
    fputs("hello, preopen\n", f);
    fflush(f);
    num("ftell_after_write", ftell(f));
    rewind(f);
    char buf[64] = {0};
    fgets(buf, sizeof buf, f);
    printf("read_back: %s", buf);
    num("lseek_cur", (long)lseek(fileno(f), 0, SEEK_CUR));
    fclose(f);

    err("mkdir", mkdir("/data/sub", 0755) == 0);
    err("rename", rename("/data/hello.txt", "/data/sub/moved.txt") == 0);
    struct stat st;
    err("stat_moved", stat("/data/sub/moved.txt", &st) == 0);
    num("size_moved", (long)st.st_size);

    DIR *d = opendir("/data/sub");
    err("opendir", d != NULL);
    int entries = 0;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                printf("entry: %s\n", e->d_name);
            }
            entries++;
        }
        closedir(d);
    }
    num("entries_with_dots", entries);

    err("unlink", unlink("/data/sub/moved.txt") == 0);
    err("rmdir", rmdir("/data/sub") == 0);

    // Escapes: each must fail.
    int fd = open("/data/../secret", O_RDONLY);
    printf("escape_dotdot: %s\n", fd < 0 ? strerror(errno) : "OPENED");
    fd = open("/etc/passwd", O_RDONLY);
    printf("escape_absolute: %s\n", fd < 0 ? strerror(errno) : "OPENED");
    fd = open("/data/link_out/secret", O_RDONLY);
    printf("escape_symlink: %s\n", fd < 0 ? strerror(errno) : "OPENED");
    line("done", "yes");
    return 0;
}
