#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cshm.h"
#include <fcntl.h>
#include <malloc.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <sched.h>

int cshm_fallocate(int fd, int64_t offset, int64_t length) {
    return fallocate(fd, 0, (off_t)offset, (off_t)length);
}

int cshm_fallocate_keep_size(int fd, int64_t offset, int64_t length) {
    return fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)length);
}

int cshm_punch_hole(int fd, int64_t offset, int64_t length) {
    return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)length);
}

int64_t cshm_seek_data(int fd, int64_t offset) { return (int64_t)lseek(fd, (off_t)offset, SEEK_DATA); }

int64_t cshm_seek_hole(int fd, int64_t offset) { return (int64_t)lseek(fd, (off_t)offset, SEEK_HOLE); }

void *cshm_mremap_fixed(void *old_address, size_t old_size, size_t new_size, void *new_address) {
    return mremap(old_address, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, new_address);
}

void *cshm_mremap_maymove(void *old_address, size_t old_size, size_t new_size) {
    return mremap(old_address, old_size, new_size, MREMAP_MAYMOVE);
}

ssize_t cshm_self_read(void *local, const void *remote, size_t length) {
    struct iovec l = {.iov_base = local, .iov_len = length};
    struct iovec r = {.iov_base = (void *)remote, .iov_len = length};
    return process_vm_readv(getpid(), &l, 1, &r, 1, 0);
}

ssize_t cshm_self_write(void *remote, const void *local, size_t length) {
    struct iovec l = {.iov_base = (void *)local, .iov_len = length};
    struct iovec r = {.iov_base = remote, .iov_len = length};
    return process_vm_writev(getpid(), &l, 1, &r, 1, 0);
}

static struct flock cshm_whole(short type) {
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 0;
    return fl;
}

int cshm_ofd_lock(int fd, int exclusive, int wait) {
    struct flock fl = cshm_whole(exclusive ? F_WRLCK : F_RDLCK);
    return fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
}

int cshm_ofd_unlock(int fd) {
    struct flock fl = cshm_whole(F_UNLCK);
    return fcntl(fd, F_OFD_SETLK, &fl);
}

int cshm_ofd_probe(int fd, int exclusive) {
    struct flock fl = cshm_whole(exclusive ? F_WRLCK : F_RDLCK);
    if (fcntl(fd, F_OFD_GETLK, &fl) != 0) return -1;
    return fl.l_type == F_UNLCK ? 0 : 1;
}

void *cshm_reserve_range(void *address, size_t length) {
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | (address ? MAP_FIXED_NOREPLACE : 0);
    return mmap(address, length, PROT_NONE, flags, -1, 0);
}

int cshm_rename_noreplace(int dirfd, const char *from, const char *to) {
    return renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE);
}

int cshm_rename_between(int from_dir, const char *from, int to_dir, const char *to) {
    return renameat2(from_dir, from, to_dir, to, RENAME_NOREPLACE);
}

int cshm_contains(const void *haystack, size_t haystack_length, const void *needle, size_t needle_length) {
    return memmem(haystack, haystack_length, needle, needle_length) != NULL;
}

int cshm_watch_directory(const char *path) {
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return -1;
    uint32_t mask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE;
    if (inotify_add_watch(fd, path, mask) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

_Static_assert(CSHM_IN_CREATE == IN_CREATE && CSHM_IN_DELETE == IN_DELETE && CSHM_IN_MODIFY == IN_MODIFY &&
                   CSHM_IN_ATTRIB == IN_ATTRIB && CSHM_IN_MOVED_FROM == IN_MOVED_FROM &&
                   CSHM_IN_MOVED_TO == IN_MOVED_TO && CSHM_IN_Q_OVERFLOW == IN_Q_OVERFLOW &&
                   CSHM_IN_CLOSE_WRITE == IN_CLOSE_WRITE,
               "inotify constants");

int cshm_tune_malloc(int arenas, int mmap_threshold, int trim_threshold)
{
    return mallopt(M_ARENA_MAX, arenas) == 1 && mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1 &&
           mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1;
}

int cshm_usable_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int)online : 1;
}

int cshm_sole_open(int fd)
{
    /* Should another process open the file in the moment the lease is held, the kernel tells the
       holder with a signal: SIGURG, ignored by default, instead of SIGIO, which would end us. */
    if (fcntl(fd, F_SETSIG, SIGURG) != 0) return -1;
    if (fcntl(fd, F_SETLEASE, F_WRLCK) != 0) return errno == EAGAIN ? 0 : -1;
    (void)fcntl(fd, F_SETLEASE, F_UNLCK);
    return 1;
}

int cshm_volatile_file_system(int fd) {
    struct statfs info;
    if (fstatfs(fd, &info) != 0) return -1;
    switch (info.f_type) {
    case TMPFS_MAGIC:
    case RAMFS_MAGIC:
    case HUGETLBFS_MAGIC:
        return 1;
    default:
        return 0;
    }
}

int cshm_enter_ipc_namespace(int fd) {
    return setns(fd, CLONE_NEWIPC);
}
