// http_server.h - a minimal single-threaded HTTP/1.1 server over plain sockets: one request per
// connection (Connection: close), bounded header and body sizes, read/write timeouts, and
// Server-Sent Events for streaming.
#ifndef KITE_NATIVE_HTTP_SERVER_H
#define KITE_NATIVE_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_HEADER (16 * 1024)      // request line + headers
#define HTTP_MAX_BODY (8 * 1024 * 1024)  // request body
#define HTTP_IO_TIMEOUT_S 30             // a client silent this long is dropped

typedef struct http_request {
    char method[16];
    char path[1024]; // without the query string
    char *body;      // NUL-terminated (malloc'd; http_request_free)
    size_t body_len;
    char *raw; // header bytes read (internal)
} http_request;

// Opens a listening TCP socket on host:port (port 0: any free port). Returns the socket or
// -1 with a message in err. *bound_port gets the actual port.
int http_listen(const char *host, int port, int *bound_port, char *err, size_t err_size);

// Waits for a connection; returns its socket with I/O timeouts set, or -1 (error or signal).
int http_accept(int listen_fd);

// Reads one request from fd. Returns 0 on success, else the HTTP status to answer with
// (400, 408, 411, 413, 431, 501) and a message in err; -1 when the client closed the
// connection without sending anything.
int http_read_request(int fd, http_request *req, char *err, size_t err_size);
void http_request_free(http_request *req);

// Writes all n bytes (false when the client is gone or the write timed out).
bool http_write(int fd, const void *data, size_t n);

// A complete response with Content-Length and Connection: close.
bool http_respond(int fd, int status, const char *content_type, const char *body, size_t len);

// Starts a text/event-stream response; then http_sse_data sends one "data: ..." event.
bool http_sse_begin(int fd);
bool http_sse_data(int fd, const char *data, size_t len);

// The reason phrase of a status code ("OK", "Bad Request", ...).
const char *http_reason(int status);

#endif
