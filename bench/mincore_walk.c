/*
 * mincore_walk: the other way to see a section's pages without the API.
 *
 * Maps the whole reserve read-only (MAP_SHARED; nothing past the object's end is touched),
 * asks mincore() which pages are resident, and classifies [0, reserve) like the page map:
 * resident pages inside the size are "data", the other pages inside the size "committed",
 * the rest "reserved". On tmpfs a page fallocated but never written is not resident, so
 * this agrees with SEEK_DATA for written pages (a swapped-out page would differ).
 *
 * usage: mincore_walk NAME|PATH [RESERVE]
 * prints: runs=N data_runs=D data_bytes=B size=S reserve=R elapsed_ns=T
 *   elapsed_ns covers open() to munmap()/close().
 */
#define _GNU_SOURCE
#include "bench_common.h"

#include <fcntl.h>
#include <sys/mman.h>
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
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

    uint64_t start = now_ns();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "mincore_walk: open %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        fprintf(stderr, "mincore_walk: fstat %s: %s\n", path, strerror(errno));
        return 1;
    }
    uint64_t size = (uint64_t)st.st_size;
    uint64_t reserve = argc > 2 ? parse_size(argv[2]) : size;
    if (reserve < size)
        reserve = size;
    uint64_t map_len = (reserve + page - 1) / page * page;
    uint64_t size_pages = (size + page - 1) / page;
    uint64_t pages = map_len / page;

    uint64_t runs = 0, data_runs = 0, data_bytes = 0;
    if (map_len > 0) {
        void *base = mmap(NULL, map_len, PROT_READ, MAP_SHARED, fd, 0);
        if (base == MAP_FAILED) {
            fprintf(stderr, "mincore_walk: mmap %llu bytes: %s\n", (unsigned long long)map_len, strerror(errno));
            return 1;
        }
        unsigned char *vec = malloc(size_pages ? size_pages : 1);
        if (vec == NULL) {
            fprintf(stderr, "mincore_walk: out of memory\n");
            return 1;
        }
        if (size_pages > 0 && mincore(base, size_pages * page, vec) != 0) {
            fprintf(stderr, "mincore_walk: mincore: %s\n", strerror(errno));
            return 1;
        }
        int prev = -1; /* 0 committed, 1 data */
        for (uint64_t i = 0; i < size_pages; i++) {
            int state = vec[i] & 1;
            if (state != prev) {
                runs++;
                if (state)
                    data_runs++;
                prev = state;
            }
            if (state) {
                uint64_t end = (i + 1) * page < size ? (i + 1) * page : size;
                data_bytes += end - i * page;
            }
        }
        if (pages > size_pages)
            runs++; /* reserved run */
        free(vec);
        munmap(base, map_len);
    }
    close(fd);
    uint64_t elapsed = now_ns() - start;

    printf("runs=%llu data_runs=%llu data_bytes=%llu size=%llu reserve=%llu elapsed_ns=%llu\n",
           (unsigned long long)runs, (unsigned long long)data_runs, (unsigned long long)data_bytes,
           (unsigned long long)size, (unsigned long long)reserve, (unsigned long long)elapsed);
    return 0;
}
