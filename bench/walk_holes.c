/*
 * walk_holes: the floor for shm-admin's page map (GET /api/v1/sections/{name}/pages).
 *
 * Walks a /dev/shm object with lseek(SEEK_DATA) / lseek(SEEK_HOLE) and classifies
 * [0, reserve) as the API does: "data" (SEEK_DATA extents inside the size), "committed"
 * (holes inside the size) and "reserved" (from the size up to RESERVE). Adjacent runs of
 * one state are one run.
 *
 * usage: walk_holes NAME|PATH [RESERVE]
 * prints: runs=N data_runs=D data_bytes=B size=S reserve=R elapsed_ns=T
 *   elapsed_ns covers open() to close(): the work, not the process start.
 */
#define _GNU_SOURCE
#include "bench_common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s NAME|PATH [RESERVE]\n", argv[0]);
        return 2;
    }
    char buf[4096];
    const char *path = shm_path(argv[1], buf, sizeof buf);

    uint64_t start = now_ns();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "walk_holes: open %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        fprintf(stderr, "walk_holes: fstat %s: %s\n", path, strerror(errno));
        return 1;
    }
    off_t size = st.st_size;
    uint64_t reserve = argc > 2 ? parse_size(argv[2]) : (uint64_t)size;

    uint64_t runs = 0, data_runs = 0, data_bytes = 0;
    off_t pos = 0;
    while (pos < size) {
        off_t data = lseek(fd, pos, SEEK_DATA);
        if (data < 0) {
            if (errno != ENXIO) {
                fprintf(stderr, "walk_holes: SEEK_DATA at %lld: %s\n", (long long)pos, strerror(errno));
                return 1;
            }
            data = size; /* no data after pos: one hole to the end */
        }
        if (data > pos)
            runs++; /* committed run [pos, data) */
        if (data >= size)
            break;
        off_t hole = lseek(fd, data, SEEK_HOLE);
        if (hole < 0) {
            fprintf(stderr, "walk_holes: SEEK_HOLE at %lld: %s\n", (long long)data, strerror(errno));
            return 1;
        }
        if (hole > size)
            hole = size;
        runs++;
        data_runs++;
        data_bytes += (uint64_t)(hole - data);
        pos = hole;
    }
    if (reserve > (uint64_t)size)
        runs++; /* reserved run [size, reserve) */
    close(fd);
    uint64_t elapsed = now_ns() - start;

    printf("runs=%llu data_runs=%llu data_bytes=%llu size=%lld reserve=%llu elapsed_ns=%llu\n",
           (unsigned long long)runs, (unsigned long long)data_runs, (unsigned long long)data_bytes,
           (long long)size, (unsigned long long)reserve, (unsigned long long)elapsed);
    return 0;
}
