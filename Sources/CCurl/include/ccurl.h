// libcurl for shm-admin's remote mode, loaded at run time (dlopen) on the first remote request: the
// server and the local commands never map libcurl and the twenty libraries it brings (TLS, Kerberos,
// LDAP, SSH: 3.4 MB of a server's resident memory and 3 ms of every command's start, bench/ANALYSIS.md
// "Process start and resident memory"). curl_easy_setopt and curl_easy_getinfo are variadic, which
// Swift cannot call: these typed wrappers (ccurl_…) are the only C glue. Types and constants come
// from <curl/curl.h> (libcurl4-openssl-dev) at build time.
#ifndef CCURL_H
#define CCURL_H

#include <curl/curl.h>
#include <stddef.h>

typedef size_t (*ccurl_data_callback)(char *data, size_t size, size_t count, void *context);
typedef int (*ccurl_progress_callback)(void *context, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                                       curl_off_t ulnow);

/// Loads libcurl.so.4 and runs curl_global_init once for the process; 0 when it is ready, else -1
/// with dlerror's reason copied into `error` (every later call answers the same).
int ccurl_load(char *error, size_t capacity);

/// The calls below need a successful ccurl_load first.
CURL *ccurl_easy_init(void);
void ccurl_easy_cleanup(CURL *curl);
CURLcode ccurl_easy_perform(CURL *curl);
const char *ccurl_easy_strerror(CURLcode code);
struct curl_slist *ccurl_slist_append(struct curl_slist *list, const char *text);
void ccurl_slist_free_all(struct curl_slist *list);

CURLcode ccurl_set_string(CURL *curl, CURLoption option, const char *value);
CURLcode ccurl_set_long(CURL *curl, CURLoption option, long value);
CURLcode ccurl_set_headers(CURL *curl, struct curl_slist *headers);
/// The request body: `length` bytes at `data`, which must outlive the transfer (not copied).
CURLcode ccurl_set_body(CURL *curl, const void *data, curl_off_t length);
CURLcode ccurl_set_receiver(CURL *curl, ccurl_data_callback callback, void *context);
CURLcode ccurl_set_header_receiver(CURL *curl, ccurl_data_callback callback, void *context);
/// Called about once a second, and whenever data moves: a non-zero answer aborts the transfer.
CURLcode ccurl_set_progress(CURL *curl, ccurl_progress_callback callback, void *context);
long ccurl_response_code(CURL *curl);

#endif
