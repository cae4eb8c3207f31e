/*
 * falloc: the floor for POST /api/v1/sections/{name}/grow.
 *
 * Commits LENGTH bytes at OFFSET of an existing /dev/shm object with one fallocate(2)
 * (mode 0: the object's size grows to OFFSET+LENGTH when that is past its end, as a grow
 * does). With OFFSET "end" it starts at the object's current size.
 *
 * usage: falloc NAME|PATH OFFSET|end LENGTH
 * prints: offset=O length=L size=S elapsed_ns=T   (open() to close())
 */
#define _GNU_SOURCE
#include "bench_common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s NAME|PATH OFFSET|end LENGTH\n", argv[0]);
        return 2;
    }
    char buf[4096];
    const char *path = shm_path(argv[1], buf, sizeof buf);
    uint64_t length = parse_size(argv[3]);

    uint64_t start = now_ns();
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "falloc: open %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        fprintf(stderr, "falloc: fstat %s: %s\n", path, strerror(errno));
        return 1;
    }
    uint64_t offset = strcmp(argv[2], "end") == 0 ? (uint64_t)st.st_size : parse_size(argv[2]);
    if (fallocate(fd, 0, (off_t)offset, (off_t)length) != 0) {
        fprintf(stderr, "falloc: fallocate(%s, 0, %llu, %llu): %s\n", path, (unsigned long long)offset,
                (unsigned long long)length, strerror(errno));
        return 1;
    }
    if (fstat(fd, &st) != 0) {
        fprintf(stderr, "falloc: fstat %s: %s\n", path, strerror(errno));
        return 1;
    }
    close(fd);
    uint64_t elapsed = now_ns() - start;
    printf("offset=%llu length=%llu size=%lld elapsed_ns=%llu\n", (unsigned long long)offset,
           (unsigned long long)length, (long long)st.st_size, (unsigned long long)elapsed);
    return 0;
}
