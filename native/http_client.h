// http_client.h - HTTP GET for model downloads: plain http:// over sockets (HTTP/1.1, redirects,
// Content-Length or chunked bodies, Range requests); https:// through the system's libcurl when
// the build found it (KITE_HAVE_CURL), else a clear error.
#ifndef KITE_NATIVE_HTTP_CLIENT_H
#define KITE_NATIVE_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// What a response said, filled before its body is delivered.
typedef struct http_response {
    int status;           // the final status (after redirects)
    int64_t length;       // Content-Length of this body, -1 unknown
    int64_t range_start;  // a 206's first byte (Content-Range), else 0
    int64_t total;        // the whole resource's size (Content-Range total, or length of a 200), -1 unknown
    char etag[160];       // ETag (or X-Linked-Etag, which Hugging Face gives for LFS files), quotes removed
    bool etag_weak;       // the ETag was a weak one (W/"..."): not usable in If-Range
} http_response;

// Receives the body in pieces (only for a 2xx status); returning false stops the transfer.
typedef bool (*http_body_fn)(void *user, const http_response *r, const void *data, size_t n);

// GETs url (following up to 5 redirects), asking for bytes from `from` on (a Range request)
// when from > 0; with if_range (a strong ETag), only if the resource still has that ETag (else
// the server sends all of it with 200). Returns true when the transfer completed: *r holds the response (a non-2xx
// status is a completed transfer with no body delivered). False, with a message naming the
// problem in err, on a bad URL, a connection or protocol error, a body cut short (the bytes
// before the cut were delivered), or body() returning false.
bool http_get(const char *url, int64_t from, const char *if_range, http_body_fn body, void *user, http_response *r, char *err, size_t err_size);

// Sends "Authorization: Bearer token" with requests whose URL starts with url_prefix (and not
// to hosts a redirect leads to), e.g. a Hugging Face token for gated repositories. The strings
// must outlive the requests; NULL token: none.
void http_set_bearer(const char *url_prefix, const char *token);

// True when this build can fetch https:// URLs.
bool http_has_tls(void);

// libcurl's version line when built with it, else NULL.
const char *http_tls_version(void);

// $KITE_HTTP_CLIENT=curl sends http:// through libcurl too (where built in), so the tests cover
// both clients against a local server.

#endif
