#ifndef CHTTPD_SHIM_H
#define CHTTPD_SHIM_H
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <unistd.h>
#include <stdlib.h>
#include <errno.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <microhttpd.h>

/// MHD_start_daemon is variadic and cannot be called from Swift: this fixed-argument wrapper
/// passes the callbacks explicitly and every other option through MHD_OPTION_ARRAY. It installs
/// the URI log callback (its return value becomes the request's initial `*req_cls`, so
/// per-request state is allocated exactly once per request and freed in the completion
/// callback) and an external logger for the library's own messages.
static inline struct MHD_Daemon *chttpd_start_daemon_full(
    unsigned int flags,
    MHD_AccessHandlerCallback handler, void *handler_cls,
    MHD_RequestCompletedCallback completed, void *completed_cls,
    void *(*uri_log)(void *cls, const char *uri, struct MHD_Connection *connection), void *uri_log_cls,
    MHD_LogCallback logger, void *logger_cls,
    struct MHD_OptionItem *options)
{
    /* The logger goes first: libmicrohttpd complains (through it) when any option precedes it. */
    return MHD_start_daemon(flags, 0, NULL, NULL, handler, handler_cls,
                            MHD_OPTION_EXTERNAL_LOGGER, logger, logger_cls,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, completed_cls,
                            MHD_OPTION_URI_LOG_CALLBACK, uri_log, uri_log_cls,
                            MHD_OPTION_ARRAY, options,
                            MHD_OPTION_END);
}

/// The client's address of a connection (MHD_get_connection_info is variadic); NULL if unknown.
static inline const struct sockaddr *chttpd_connection_client_address(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    return info == NULL ? NULL : info->client_addr;
}

/// The socket descriptor of a connection, or -1 (MHD_get_connection_info is variadic).
static inline int chttpd_connection_socket(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info == NULL ? -1 : info->connect_fd;
}

/// MHD_SIZE_UNKNOWN is a macro cast Swift does not import.
static inline uint64_t chttpd_size_unknown(void) { return MHD_SIZE_UNKNOWN; }

/// Formats a library log message (printf format plus va_list) into `buffer`.
static inline int chttpd_format_message(char *buffer, size_t size, const char *format, va_list args)
{
    return vsnprintf(buffer, size, format, args);
}


/// A file range a response streams: the descriptor is the response's (closed when it is freed).
struct chttpd_fd_source {
    int fd;
    uint64_t offset;
    uint64_t length;
};

/// Reads the next block with pread, straight into libmicrohttpd's buffer. A short file (another
/// process truncated it mid-stream) or an error ends the response with an error, which closes
/// the connection: the client sees a short body instead of a connection that stalls forever, as
/// it did with MHD_create_response_from_fd_at_offset64 when sendfile met the new end of file.
static inline ssize_t chttpd_fd_read(void *cls, uint64_t position, char *buffer, size_t maximum)
{
    struct chttpd_fd_source *source = (struct chttpd_fd_source *)cls;
    if (position >= source->length) return MHD_CONTENT_READER_END_OF_STREAM;
    if (maximum > source->length - position) maximum = (size_t)(source->length - position);
    for (;;) {
        ssize_t count = pread(source->fd, buffer, maximum, (off_t)(source->offset + position));
        if (count > 0) return count;
        if (count < 0 && errno == EINTR) continue;
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
}

static inline void chttpd_fd_free(void *cls)
{
    struct chttpd_fd_source *source = (struct chttpd_fd_source *)cls;
    close(source->fd);
    free(source);
}

/// A response of `length` bytes of `fd` from `offset`; takes ownership of `fd` on success only.
static inline struct MHD_Response *chttpd_response_from_fd(int fd, uint64_t offset, uint64_t length)
{
    struct chttpd_fd_source *source = (struct chttpd_fd_source *)malloc(sizeof *source);
    if (source == NULL) return NULL;
    source->fd = fd;
    source->offset = offset;
    source->length = length;
    struct MHD_Response *response =
        MHD_create_response_from_callback(length, 256 * 1024, chttpd_fd_read, source, chttpd_fd_free);
    if (response == NULL) free(source);
    return response;
}

/// A mapping a response sends from: unmapped when libmicrohttpd frees the response.
struct chttpd_mapping {
    void *base;
    size_t size;
};

static inline void chttpd_mapping_free(void *cls)
{
    struct chttpd_mapping *mapping = (struct chttpd_mapping *)cls;
    munmap(mapping->base, mapping->size);
    free(mapping);
}

/// A response of `length` bytes of `fd` from `offset`, sent from a read-only shared mapping of
/// the range: the kernel copies the pages straight into the socket, with no pread into a buffer
/// first. Only the kernel touches the mapping (libmicrohttpd hands the pointer to send), so if
/// another process truncates the file mid-stream, send fails with EFAULT and libmicrohttpd
/// closes the connection: no SIGBUS, no stall. The descriptor stays the caller's. NULL (errno
/// set) when the range cannot be mapped.
static inline struct MHD_Response *chttpd_response_from_mapping(int fd, uint64_t offset, uint64_t length)
{
    long page = sysconf(_SC_PAGESIZE);
    uint64_t start = offset - offset % (uint64_t)page;
    size_t size = (size_t)(offset - start + length);
    if (length == 0 || (uint64_t)size != offset - start + length) { errno = EINVAL; return NULL; }
    void *base = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, (off_t)start);
    if (base == MAP_FAILED) return NULL;
    struct chttpd_mapping *mapping = (struct chttpd_mapping *)malloc(sizeof *mapping);
    if (mapping == NULL) { munmap(base, size); return NULL; }
    mapping->base = base;
    mapping->size = size;
    struct MHD_Response *response = MHD_create_response_from_buffer_with_free_callback_cls(
        (size_t)length, (char *)base + (offset - start), chttpd_mapping_free, mapping);
    if (response == NULL) chttpd_mapping_free(mapping);
    return response;
}

#endif
