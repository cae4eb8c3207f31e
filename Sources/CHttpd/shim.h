#ifndef CHTTPD_SHIM_H
#define CHTTPD_SHIM_H
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <microhttpd.h>

/// MHD_start_daemon is variadic and cannot be called from Swift: this fixed-argument wrapper
/// passes the completion callback explicitly and every other option through MHD_OPTION_ARRAY.
static inline struct MHD_Daemon *chttpd_start_daemon(
    unsigned int flags, uint16_t port,
    MHD_AccessHandlerCallback handler, void *handler_cls,
    MHD_RequestCompletedCallback completed, void *completed_cls,
    struct MHD_OptionItem *options)
{
    return MHD_start_daemon(flags, port, NULL, NULL, handler, handler_cls,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, completed_cls,
                            MHD_OPTION_ARRAY, options,
                            MHD_OPTION_END);
}

/// Like chttpd_start_daemon, and also installs the URI log callback (its return value becomes the
/// request's initial `*req_cls`, so per-request state is allocated exactly once per request and
/// freed in the completion callback) and an external logger for the library's own messages.
static inline struct MHD_Daemon *chttpd_start_daemon_full(
    unsigned int flags,
    MHD_AccessHandlerCallback handler, void *handler_cls,
    MHD_RequestCompletedCallback completed, void *completed_cls,
    void *(*uri_log)(void *cls, const char *uri, struct MHD_Connection *connection), void *uri_log_cls,
    MHD_LogCallback logger, void *logger_cls,
    struct MHD_OptionItem *options)
{
    return MHD_start_daemon(flags, 0, NULL, NULL, handler, handler_cls,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, completed_cls,
                            MHD_OPTION_URI_LOG_CALLBACK, uri_log, uri_log_cls,
                            MHD_OPTION_EXTERNAL_LOGGER, logger, logger_cls,
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

#endif
