/*
 * bare_mhd: the limit of shm-admin's own HTTP stack.
 *
 * A bare libmicrohttpd server with the same threading as shm-admin
 * (MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, a thread pool: 4 unless told), bound to
 * 127.0.0.1, that answers every GET with one fixed file's bytes, held in memory.
 * It responds only on the second access-handler call, as shm-admin does, so
 * keep-alive is not lost to libmicrohttpd's "early response" rule.
 *
 * usage: bare_mhd FILE [PORT] [CONTENT-TYPE] [THREADS]
 *   PORT 0 (the default) lets the kernel pick one; THREADS is the size of the thread pool
 *   (default 4), so that the bench can run it at its best on the machine at hand. Prints
 *   "bare_mhd listening on http://127.0.0.1:PORT/" once ready, then serves until
 *   SIGINT or SIGTERM.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct MHD_Response *fixed_response;
static struct MHD_Response *not_allowed_response;
static int first_call_marker;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    (void)cls;
    (void)url;
    (void)version;
    (void)upload_data;
    if (*req_cls == NULL) {
        /* First call: headers only. Answering now would be an early response (Connection: close). */
        *req_cls = &first_call_marker;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0; /* discard any body */
        return MHD_YES;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return MHD_queue_response(connection, MHD_HTTP_METHOD_NOT_ALLOWED, not_allowed_response);
    return MHD_queue_response(connection, MHD_HTTP_OK, fixed_response);
}

static void *read_whole_file(const char *path, size_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "bare_mhd: open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        fprintf(stderr, "bare_mhd: fstat %s: %s\n", path, strerror(errno));
        close(fd);
        return NULL;
    }
    size_t want = (size_t)st.st_size;
    char *buf = malloc(want ? want : 1);
    if (buf == NULL) {
        fprintf(stderr, "bare_mhd: out of memory for %zu bytes\n", want);
        close(fd);
        return NULL;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t n = read(fd, buf + got, want - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "bare_mhd: read %s: %s\n", path, n < 0 ? strerror(errno) : "short file");
            free(buf);
            close(fd);
            return NULL;
        }
        got += (size_t)n;
    }
    close(fd);
    *size = got;
    return buf;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 5) {
        fprintf(stderr, "usage: %s FILE [PORT] [CONTENT-TYPE] [THREADS]\n", argv[0]);
        return 2;
    }
    const char *content_type = argc > 3 ? argv[3] : "application/json";
    long port = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
    if (port < 0 || port > 65535) {
        fprintf(stderr, "bare_mhd: bad port %s\n", argv[2]);
        return 2;
    }
    long threads = argc > 4 ? strtol(argv[4], NULL, 10) : 4;
    if (threads < 1 || threads > 256) {
        fprintf(stderr, "bare_mhd: bad thread count %s\n", argv[4]);
        return 2;
    }

    size_t size = 0;
    void *body = read_whole_file(argv[1], &size);
    if (body == NULL)
        return 1;
    fixed_response = MHD_create_response_from_buffer(size, body, MHD_RESPMEM_PERSISTENT);
    static char not_allowed[] = "method not allowed\n";
    not_allowed_response =
        MHD_create_response_from_buffer(sizeof not_allowed - 1, not_allowed, MHD_RESPMEM_PERSISTENT);
    if (fixed_response == NULL || not_allowed_response == NULL) {
        fprintf(stderr, "bare_mhd: cannot create responses\n");
        return 1;
    }
    MHD_add_response_header(fixed_response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(not_allowed_response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");

    /* Block the stop signals before the pool threads start, so only sigwait sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    struct MHD_Daemon *daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, on_request, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1024, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
        MHD_OPTION_END);
    if (daemon == NULL) {
        fprintf(stderr, "bare_mhd: MHD_start_daemon failed (port %ld)\n", port);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    printf("bare_mhd listening on http://127.0.0.1:%u/\n", info ? (unsigned)info->port : 0u);
    fflush(stdout);

    int sig = 0;
    sigwait(&stop, &sig);
    MHD_stop_daemon(daemon);
    MHD_destroy_response(fixed_response);
    MHD_destroy_response(not_allowed_response);
    free(body);
    return 0;
}
