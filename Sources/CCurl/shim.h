// libcurl for shm-admin's remote mode. curl_easy_setopt and curl_easy_getinfo are variadic, which
// Swift cannot call: these typed wrappers (ccurl_…) are the only C glue.
#ifndef CCURL_SHIM_H
#define CCURL_SHIM_H

#include <curl/curl.h>

typedef size_t (*ccurl_data_callback)(char *data, size_t size, size_t count, void *context);
typedef int (*ccurl_progress_callback)(void *context, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                                       curl_off_t ulnow);

static inline CURLcode ccurl_set_string(CURL *curl, CURLoption option, const char *value) {
    return curl_easy_setopt(curl, option, value);
}

static inline CURLcode ccurl_set_long(CURL *curl, CURLoption option, long value) {
    return curl_easy_setopt(curl, option, value);
}

static inline CURLcode ccurl_set_headers(CURL *curl, struct curl_slist *headers) {
    return curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
}

/// The request body: `length` bytes at `data`, which must outlive the transfer (not copied).
static inline CURLcode ccurl_set_body(CURL *curl, const void *data, curl_off_t length) {
    CURLcode code = curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, length);
    if (code != CURLE_OK) return code;
    return curl_easy_setopt(curl, CURLOPT_POSTFIELDS, data);
}

static inline CURLcode ccurl_set_receiver(CURL *curl, ccurl_data_callback callback, void *context) {
    CURLcode code = curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, callback);
    if (code != CURLE_OK) return code;
    return curl_easy_setopt(curl, CURLOPT_WRITEDATA, context);
}

static inline CURLcode ccurl_set_header_receiver(CURL *curl, ccurl_data_callback callback, void *context) {
    CURLcode code = curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, callback);
    if (code != CURLE_OK) return code;
    return curl_easy_setopt(curl, CURLOPT_HEADERDATA, context);
}

/// Called about once a second, and whenever data moves: a non-zero answer aborts the transfer.
static inline CURLcode ccurl_set_progress(CURL *curl, ccurl_progress_callback callback, void *context) {
    CURLcode code = curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, callback);
    if (code != CURLE_OK) return code;
    code = curl_easy_setopt(curl, CURLOPT_XFERINFODATA, context);
    if (code != CURLE_OK) return code;
    return curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
}

static inline long ccurl_response_code(CURL *curl) {
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

#endif
