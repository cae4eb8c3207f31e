/* hostfarm: a busy host for the whole-host comparison (issue 12's "2,000 processes").
 *
 *   hostfarm PREFIX NAMESPACES OBJECTS PROCESSES SYSV MEMFDS
 *
 * Makes NAMESPACES mount namespaces, each with its own 64 MiB tmpfs at /dev/shm holding
 * OBJECTS/NAMESPACES objects of one page (PREFIX00000 …); PROCESSES processes spread over them,
 * each mapping 5 of its namespace's objects; the first SYSV processes attach one System V segment
 * each (made here with IPC_PRIVATE and marked IPC_RMID once attached, so they go with their
 * processes); the first MEMFDS processes hold a memfd of one page. Prints "ready" when every
 * process is in place, then waits for a signal (TERM), and everything goes with it.
 *
 * Nothing outlives it: every child dies with its parent (PR_SET_PDEATHSIG), a namespace's tmpfs
 * goes with its last process, and the segments are already marked for removal. Needs root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what) {
    fprintf(stderr, "hostfarm: %s: %s\n", what, strerror(errno));
    _exit(1);
}

static void follow_parent(pid_t parent) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) die("prctl");
    if (getppid() != parent) _exit(0); /* the parent died before prctl */
}

static int ready_pipe[2];

static void signal_ready(void) {
    char c = 1;
    if (write(ready_pipe[1], &c, 1) != 1) die("write ready");
}

/* One process of a namespace: maps 5 objects, maybe attaches a segment and holds a memfd. */
static void member(const char *prefix, int first, int per_ns, int global, int sysv_id, int memfd) {
    char name[256];
    for (int k = 0; k < 5; k++) {
        snprintf(name, sizeof name, "/dev/shm/%s%05d", prefix, first + (global * 5 + k) % per_ns);
        int fd = open(name, O_RDWR);
        if (fd < 0) die(name);
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) die("mmap");
        close(fd);
    }
    if (sysv_id >= 0 && shmat(sysv_id, NULL, 0) == (void *)-1) die("shmat");
    if (memfd) {
        snprintf(name, sizeof name, "hostfarm-%d", global);
        int fd = memfd_create(name, 0);
        if (fd < 0 || ftruncate(fd, 4096) != 0 || write(fd, "m", 1) != 1) die("memfd");
    }
    signal_ready();
    for (;;) pause();
}

/* A namespace's first process: a private mount namespace with its own tmpfs at /dev/shm. */
static void leader(const char *prefix, int ns, int per_ns, int procs_per_ns, int first_proc,
                   const int *sysv, int nsysv, int nmemfd) {
    if (unshare(CLONE_NEWNS) != 0) die("unshare");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("make / private");
    if (mount("tmpfs", "/dev/shm", "tmpfs", 0, "size=64m,mode=1777") != 0) die("mount tmpfs");
    int first = ns * per_ns;
    char name[256];
    for (int i = 0; i < per_ns; i++) {
        snprintf(name, sizeof name, "/dev/shm/%s%05d", prefix, first + i);
        int fd = open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd < 0 || ftruncate(fd, 4096) != 0 || write(fd, "o", 1) != 1) die(name);
        close(fd);
    }
    pid_t self = getpid();
    for (int j = 0; j < procs_per_ns; j++) {
        int global = first_proc + j;
        pid_t pid = fork();
        if (pid < 0) die("fork");
        if (pid == 0) {
            follow_parent(self);
            /* objects are numbered across namespaces; member() wants this namespace's first */
            member(prefix, first, per_ns, global, global < nsysv ? sysv[global] : -1, global < nmemfd);
        }
    }
    for (;;) pause();
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: hostfarm PREFIX NAMESPACES OBJECTS PROCESSES SYSV MEMFDS\n");
        return 2;
    }
    const char *prefix = argv[1];
    int namespaces = atoi(argv[2]), objects = atoi(argv[3]), processes = atoi(argv[4]);
    int nsysv = atoi(argv[5]), nmemfd = atoi(argv[6]);
    if (namespaces < 1 || objects < namespaces || processes < namespaces || nsysv < 0 || nmemfd < 0 ||
        nsysv > processes || nmemfd > processes || strlen(prefix) > 200) {
        fprintf(stderr, "hostfarm: bad sizes\n");
        return 2;
    }
    int per_ns = objects / namespaces, procs_per_ns = processes / namespaces;
    int *sysv = calloc((size_t)nsysv + 1, sizeof(int));
    for (int i = 0; i < nsysv; i++) {
        sysv[i] = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        if (sysv[i] < 0) {
            int saved = errno;
            for (int j = 0; j < i; j++) shmctl(sysv[j], IPC_RMID, NULL);
            errno = saved;
            die("shmget");
        }
    }
    if (pipe(ready_pipe) != 0) die("pipe");
    pid_t self = getpid();
    for (int ns = 0; ns < namespaces; ns++) {
        pid_t pid = fork();
        if (pid < 0) die("fork");
        if (pid == 0) {
            follow_parent(self);
            close(ready_pipe[0]);
            leader(prefix, ns, per_ns, procs_per_ns, ns * procs_per_ns, sysv, nsysv, nmemfd);
        }
    }
    close(ready_pipe[1]);
    int expected = procs_per_ns * namespaces, got = 0;
    char buf[512];
    /* Bounded: a child that failed never writes (and the others keep the pipe open). */
    for (int waited = 0; got < expected && waited < 300; ) {
        struct pollfd p = {.fd = ready_pipe[0], .events = POLLIN};
        int r = poll(&p, 1, 1000);
        if (r == 0) { waited++; continue; }
        ssize_t n = read(ready_pipe[0], buf, sizeof buf);
        if (n <= 0) break;
        got += (int)n;
    }
    for (int i = 0; i < nsysv; i++) shmctl(sysv[i], IPC_RMID, NULL); /* they go with their processes */
    if (got < expected) {
        fprintf(stderr, "hostfarm: only %d of %d processes started\n", got, expected);
        return 1; /* every child follows (PR_SET_PDEATHSIG) */
    }
    printf("ready %d processes in %d namespaces, %d objects, %d segments, %d memfds\n", expected + namespaces,
           namespaces, per_ns * namespaces, nsysv, nmemfd);
    fflush(stdout);
    for (;;) pause(); /* TERM ends it; every child follows (PR_SET_PDEATHSIG) */
}
