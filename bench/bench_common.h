/* Small helpers shared by the bench's C peers: sizes with binary units, a monotonic clock,
 * and names relative to /dev/shm. Header-only so each peer stays one gcc command. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "4096", "64K", "64KiB", "1G", "16GiB" (binary units) -> bytes; exits on anything else. */
static inline uint64_t parse_size(const char *text)
{
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || end == text || text[0] == '-') {
        fprintf(stderr, "bad size '%s'\n", text);
        exit(2);
    }
    uint64_t unit = 1;
    if (*end == ' ')
        end++;
    switch (*end) {
    case '\0': unit = 1; break;
    case 'K': unit = 1ULL << 10; break;
    case 'M': unit = 1ULL << 20; break;
    case 'G': unit = 1ULL << 30; break;
    case 'T': unit = 1ULL << 40; break;
    default: fprintf(stderr, "bad size unit in '%s'\n", text); exit(2);
    }
    if (*end != '\0') {
        end++;
        if (strcmp(end, "iB") != 0 && *end != '\0') {
            fprintf(stderr, "bad size unit in '%s'\n", text);
            exit(2);
        }
    }
    if (value > UINT64_MAX / unit) {
        fprintf(stderr, "size '%s' too large\n", text);
        exit(2);
    }
    return (uint64_t)value * unit;
}

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A bare shm name ("orders") means /dev/shm/orders; anything with a '/' is a path. */
static inline const char *shm_path(const char *name, char *buf, size_t buflen)
{
    if (strchr(name, '/') != NULL)
        return name;
    snprintf(buf, buflen, "/dev/shm/%s", name);
    return buf;
}

#endif
