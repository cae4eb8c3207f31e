/*
 * shmtool: sets up what the benchmarks measure, straight on /dev/shm (never through the API).
 *
 *   shmtool create  PATH SIZE                 make (or truncate up) one object, mode 0600
 *   shmtool mkmany  DIR PREFIX COUNT SIZE     make COUNT objects DIR/PREFIX00000.. (foreign to shm-admin)
 *   shmtool fill    PATH OFFSET LENGTH random|hexmix [SEED]
 *                                              write deterministic bytes; hexmix mixes random
 *                                              blocks, zero blocks (hexdump's '*') and text
 *   shmtool scatter PATH SPAN NPAGES [SEED]   write NPAGES distinct random pages inside [0, SPAN)
 *   shmtool mappers DIR PREFIX NPROCS PER_PROC MAX_SECONDS
 *                                              fork NPROCS processes, each mapping PER_PROC objects
 *                                              (process i maps objects i*PER_PROC ..); prints
 *                                              "ready PIDS..." once all are mapped, then waits for
 *                                              SIGTERM/SIGINT or MAX_SECONDS and ends them all
 */
#define _GNU_SOURCE
#include "bench_common.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t rng_state;

static uint64_t xorshift64(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static void seed(uint64_t s)
{
    rng_state = s ? s * 0x9E3779B97F4A7C15ULL : 0x9E3779B97F4A7C15ULL;
}

static int open_object(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "shmtool: open %s: %s\n", path, strerror(errno));
        exit(1);
    }
    return fd;
}

static void write_all(int fd, const void *buf, size_t len, uint64_t offset, const char *path)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "shmtool: pwrite %s at %llu: %s\n", path, (unsigned long long)offset,
                    n < 0 ? strerror(errno) : "wrote nothing");
            exit(1);
        }
        p += n;
        len -= (size_t)n;
        offset += (uint64_t)n;
    }
}

static int cmd_create(const char *path, uint64_t size)
{
    int fd = open_object(path, O_RDWR | O_CREAT);
    struct stat st;
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_size < size && ftruncate(fd, (off_t)size) != 0) {
        fprintf(stderr, "shmtool: ftruncate %s: %s\n", path, strerror(errno));
        return 1;
    }
    close(fd);
    return 0;
}

static int cmd_mkmany(const char *dir, const char *prefix, long count, uint64_t size)
{
    char path[4096];
    for (long i = 0; i < count; i++) {
        snprintf(path, sizeof path, "%s/%s%05ld", dir, prefix, i);
        int fd = open_object(path, O_RDWR | O_CREAT);
        if (size > 0 && ftruncate(fd, (off_t)size) != 0) {
            fprintf(stderr, "shmtool: ftruncate %s: %s\n", path, strerror(errno));
            return 1;
        }
        close(fd);
    }
    printf("created=%ld\n", count);
    return 0;
}

static void fill_block(unsigned char *buf, size_t len, uint64_t block, int hexmix)
{
    static const char text[] = "shm-admin bench: the quick brown fox jumps over the lazy dog. ";
    if (hexmix && block % 16 == 5) {
        memset(buf, 0, len); /* repeated lines: hexdump prints '*' */
        return;
    }
    if (hexmix && block % 16 == 9) {
        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)text[i % (sizeof text - 1)];
        return;
    }
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t r = xorshift64();
        memcpy(buf + i, &r, 8);
    }
    for (; i < len; i++)
        buf[i] = (unsigned char)xorshift64();
}

static int cmd_fill(const char *path, uint64_t offset, uint64_t length, const char *pattern, uint64_t s)
{
    int hexmix = strcmp(pattern, "hexmix") == 0;
    if (!hexmix && strcmp(pattern, "random") != 0) {
        fprintf(stderr, "shmtool: unknown pattern '%s' (random, hexmix)\n", pattern);
        return 2;
    }
    seed(s);
    int fd = open_object(path, O_RDWR);
    enum { CHUNK = 1 << 20, BLOCK = 4096 };
    unsigned char *buf = malloc(CHUNK);
    if (buf == NULL)
        return 1;
    uint64_t done = 0;
    while (done < length) {
        size_t n = length - done < CHUNK ? (size_t)(length - done) : CHUNK;
        for (size_t b = 0; b < n; b += BLOCK)
            fill_block(buf + b, n - b < BLOCK ? n - b : BLOCK, (done + b) / BLOCK, hexmix);
        write_all(fd, buf, n, offset + done, path);
        done += n;
    }
    free(buf);
    close(fd);
    printf("filled=%llu\n", (unsigned long long)length);
    return 0;
}

static int cmd_scatter(const char *path, uint64_t span, uint64_t npages, uint64_t s)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t slots = span / page;
    if (npages > slots) {
        fprintf(stderr, "shmtool: %llu pages do not fit in %llu bytes\n", (unsigned long long)npages,
                (unsigned long long)span);
        return 2;
    }
    int fd = open_object(path, O_RDWR);
    struct stat st;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size < span) {
        fprintf(stderr, "shmtool: %s is smaller than the span %llu\n", path, (unsigned long long)span);
        return 1;
    }
    unsigned char *used = calloc(slots / 8 + 1, 1);
    unsigned char *buf = malloc(page);
    if (used == NULL || buf == NULL)
        return 1;
    seed(s);
    for (uint64_t written = 0; written < npages;) {
        uint64_t slot = xorshift64() % slots;
        if (used[slot / 8] & (1u << (slot % 8)))
            continue;
        used[slot / 8] |= (unsigned char)(1u << (slot % 8));
        for (uint64_t i = 0; i < page; i += 8) {
            uint64_t r = xorshift64() | 1; /* never a zero page */
            memcpy(buf + i, &r, 8);
        }
        write_all(fd, buf, page, slot * page, path);
        written++;
    }
    free(buf);
    free(used);
    close(fd);
    printf("pages=%llu\n", (unsigned long long)npages);
    return 0;
}

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int cmd_mappers(const char *dir, const char *prefix, long nprocs, long per_proc, long max_seconds)
{
    if (nprocs < 1 || nprocs > 4096 || per_proc < 1 || max_seconds < 1) {
        fprintf(stderr, "shmtool: bad mappers arguments\n");
        return 2;
    }
    pid_t *pids = calloc((size_t)nprocs, sizeof *pids);
    int ready[2];
    if (pids == NULL || pipe(ready) != 0)
        return 1;
    pid_t parent = getpid();
    for (long p = 0; p < nprocs; p++) {
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "shmtool: fork: %s\n", strerror(errno));
            for (long q = 0; q < p; q++)
                kill(pids[q], SIGKILL);
            return 1;
        }
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(1);
            close(ready[0]);
            char path[4096];
            for (long i = 0; i < per_proc; i++) {
                snprintf(path, sizeof path, "%s/%s%05ld", dir, prefix, p * per_proc + i);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                    fprintf(stderr, "shmtool: mapper open %s: %s\n", path, strerror(errno));
                    _exit(1);
                }
                struct stat st;
                size_t len = fstat(fd, &st) == 0 && st.st_size > 0 ? (size_t)st.st_size : 4096;
                if (mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED) {
                    fprintf(stderr, "shmtool: mapper mmap %s: %s\n", path, strerror(errno));
                    _exit(1);
                }
                close(fd); /* mapped, not held open: what a typical user of a section looks like */
            }
            char ok = 'k';
            if (write(ready[1], &ok, 1) != 1)
                _exit(1);
            close(ready[1]);
            alarm((unsigned)max_seconds + 5); /* bounded even if the parent's signal never comes */
            for (;;)
                pause();
        }
        pids[p] = pid;
    }
    close(ready[1]);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    alarm((unsigned)max_seconds);

    long got = 0;
    char c;
    while (got < nprocs && !stop_requested) {
        ssize_t n = read(ready[0], &c, 1);
        if (n == 1)
            got++;
        else if (n == 0 || (n < 0 && errno != EINTR))
            break;
    }
    int rc = 0;
    if (got == nprocs) {
        printf("ready");
        for (long p = 0; p < nprocs; p++)
            printf(" %d", (int)pids[p]);
        printf("\n");
        fflush(stdout);
        while (!stop_requested)
            pause();
    } else {
        fprintf(stderr, "shmtool: only %ld of %ld mappers came up\n", got, nprocs);
        rc = 1;
    }
    for (long p = 0; p < nprocs; p++)
        kill(pids[p], SIGKILL);
    for (long p = 0; p < nprocs; p++)
        waitpid(pids[p], NULL, 0);
    free(pids);
    return rc;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    if (strcmp(cmd, "create") == 0 && argc == 4)
        return cmd_create(argv[2], parse_size(argv[3]));
    if (strcmp(cmd, "mkmany") == 0 && argc == 6)
        return cmd_mkmany(argv[2], argv[3], strtol(argv[4], NULL, 10), parse_size(argv[5]));
    if (strcmp(cmd, "fill") == 0 && (argc == 6 || argc == 7))
        return cmd_fill(argv[2], parse_size(argv[3]), parse_size(argv[4]), argv[5],
                        argc == 7 ? strtoull(argv[6], NULL, 10) : 1);
    if (strcmp(cmd, "scatter") == 0 && (argc == 5 || argc == 6))
        return cmd_scatter(argv[2], parse_size(argv[3]), parse_size(argv[4]),
                           argc == 6 ? strtoull(argv[5], NULL, 10) : 1);
    if (strcmp(cmd, "mappers") == 0 && argc == 7)
        return cmd_mappers(argv[2], argv[3], strtol(argv[4], NULL, 10), strtol(argv[5], NULL, 10),
                           strtol(argv[6], NULL, 10));
    fprintf(stderr, "usage: shmtool create PATH SIZE\n"
                    "       shmtool mkmany DIR PREFIX COUNT SIZE\n"
                    "       shmtool fill PATH OFFSET LENGTH random|hexmix [SEED]\n"
                    "       shmtool scatter PATH SPAN NPAGES [SEED]\n"
                    "       shmtool mappers DIR PREFIX NPROCS PER_PROC MAX_SECONDS\n");
    return 2;
}
