#ifndef CSHM_LINUX_H
#define CSHM_LINUX_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// The GNU-only Linux calls Swift's Glibc module hides, as prefixed fixed-argument wrappers.
/// Each returns what the kernel call returns (-1 with errno set on failure).

/// fallocate(fd, 0, offset, length): allocate pages and extend the size if needed.
int cshm_fallocate(int fd, int64_t offset, int64_t length);
/// fallocate(fd, FALLOC_FL_KEEP_SIZE, ...): allocate pages without changing the size.
int cshm_fallocate_keep_size(int fd, int64_t offset, int64_t length);
/// fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, ...): discard pages, read as zeros.
int cshm_punch_hole(int fd, int64_t offset, int64_t length);
/// lseek(fd, offset, SEEK_DATA).
int64_t cshm_seek_data(int fd, int64_t offset);
/// lseek(fd, offset, SEEK_HOLE).
int64_t cshm_seek_hole(int fd, int64_t offset);
/// mremap(old, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, new_address).
void *cshm_mremap_fixed(void *old_address, size_t old_size, size_t new_size, void *new_address);
/// mremap(old, old_size, new_size, MREMAP_MAYMOVE): the kernel picks the new address.
void *cshm_mremap_maymove(void *old_address, size_t old_size, size_t new_size);
/// process_vm_readv on the calling process: copies from `remote` (an address of ours) into `local`,
/// failing with EFAULT instead of raising SIGBUS when the pages are gone (a truncated object).
ssize_t cshm_self_read(void *local, const void *remote, size_t length);
/// process_vm_writev on the calling process: copies `local` into `remote`, EFAULT instead of SIGBUS.
ssize_t cshm_self_write(void *remote, const void *local, size_t length);
/// fcntl(fd, F_OFD_SETLK or F_OFD_SETLKW, {type, SEEK_SET, 0, 0}); exclusive: F_WRLCK else F_RDLCK.
int cshm_ofd_lock(int fd, int exclusive, int wait);
/// fcntl(fd, F_OFD_SETLK, {F_UNLCK, SEEK_SET, 0, 0}).
int cshm_ofd_unlock(int fd);
/// fcntl(fd, F_OFD_GETLK): 0 if nobody holds a conflicting lock, 1 if someone does, -1 on error.
int cshm_ofd_probe(int fd, int exclusive);

/// mmap(address, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE): claims a free
/// range at exactly `address`, failing with EEXIST when anything is mapped there. NULL: kernel's choice.
void *cshm_reserve_range(void *address, size_t length);
/// renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE): publishes an object under its final name
/// only if that name is free.
int cshm_rename_noreplace(int dirfd, const char *from, const char *to);
/// renameat2(from_dir, from, to_dir, to, RENAME_NOREPLACE): moves an entry between two directories
/// of one file system only if the target name is free (reclaim's quarantine and restore).
int cshm_rename_between(int from_dir, const char *from, int to_dir, const char *to);
/// memmem(haystack, haystack_length, needle, needle_length) != NULL: whether the bytes occur (the
/// /proc/PID/maps files of a scan are searched for the shared-memory device this way).
int cshm_contains(const void *haystack, size_t haystack_length, const void *needle, size_t needle_length);
/// inotify_init1(IN_NONBLOCK | IN_CLOEXEC) and a watch of `path` for entries created, deleted,
/// modified, renamed and their attributes. Returns the inotify descriptor.
int cshm_watch_directory(const char *path);
/// The mask bit of a queue overflow (IN_Q_OVERFLOW) and the bits of the events we report.
enum {
    CSHM_IN_CREATE = 0x100, CSHM_IN_DELETE = 0x200, CSHM_IN_MODIFY = 0x2, CSHM_IN_ATTRIB = 0x4,
    CSHM_IN_MOVED_FROM = 0x40, CSHM_IN_MOVED_TO = 0x80, CSHM_IN_Q_OVERFLOW = 0x4000,
    CSHM_IN_CLOSE_WRITE = 0x8
};

/// mallopt(M_ARENA_MAX, arenas), mallopt(M_MMAP_THRESHOLD, mmap_threshold) and
/// mallopt(M_TRIM_THRESHOLD, trim_threshold): at most `arenas` malloc arenas for all threads, every
/// allocation of `mmap_threshold` bytes or more mapped on its own (and unmapped when freed), and
/// free memory at the top of an arena given back once it exceeds `trim_threshold`. Setting the
/// thresholds also stops glibc from moving them. Returns 1 when all three were accepted.
int cshm_tune_malloc(int arenas, int mmap_threshold, int trim_threshold);

/// Whether `fd` is the only open file description of its file, in any process, counting the file
/// references mappings keep after their descriptor is closed: 1 yes, 0 no, -1 unknown (errno set).
/// Asks the kernel for a write lease (granted only then) and gives it back at once.
int cshm_sole_open(int fd);
/// Whether the file system of `fd` loses its files with the kernel (tmpfs, ramfs, hugetlbfs: a power
/// loss or a reboot empties it): 1 yes, 0 no, -1 unknown (errno set by fstatfs).
int cshm_volatile_file_system(int fd);

/// How many CPUs the calling thread may run on (its affinity mask: taskset, systemd's CPUAffinity=,
/// docker --cpuset-cpus), else the online CPUs when the mask cannot be read; at least 1.
int cshm_usable_cpus(void);

/// setns(fd, CLONE_NEWIPC): moves the calling thread (only it) into the IPC namespace of `fd` (a
/// /proc/PID/ns/ipc descriptor). Only ever called on a thread made for it (HostScan's IPC thread).
int cshm_enter_ipc_namespace(int fd);

#endif
