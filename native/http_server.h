// http_server.h - the HTTP/1.1 plumbing of `kite serve` over plain sockets: an incremental
// request parser (bounded header and body sizes; the caller owns the bytes and the clock),
// responses with keep-alive, and Server-Sent Events sent with chunked transfer encoding.
// Sockets are non-blocking; writes wait with poll() and give up on shutdown or a stalled client.
#ifndef KITE_NATIVE_HTTP_SERVER_H
#define KITE_NATIVE_HTTP_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_HEADER (16 * 1024)      // request line + headers
#define HTTP_MAX_BODY (8 * 1024 * 1024)  // request body

// Set (by a signal handler) when the server shuts down: pending writes give up at once.
// Atomic: threads read it, and a lock-free atomic is safe to store from a signal handler.
extern atomic_int http_stop;

typedef struct http_request {
    char method[16];
    char path[1024]; // without the query string
    char *body;      // NUL-terminated (malloc'd; http_request_free)
    size_t body_len;
    bool keep_alive;      // HTTP/1.1 without "Connection: close" (or 1.0 with keep-alive)
    bool http10;          // an HTTP/1.0 request (no chunked responses)
    bool expect_continue; // "Expect: 100-continue"
    char origin[256];     // the Origin header ("" when absent; cut at 255 bytes)
    char auth[512];       // the Authorization header, else X-Api-Key ("" when absent; cut at 511 bytes)
} http_request;

// Parses one request from buf[0..have). Returns 1 when it is complete: *req is filled (the body
// malloc'd) and *used is the byte count it took (bytes after it are a pipelined next request).
// Returns 0 when more bytes are needed: once the headers are complete, *used is then the total
// the request will take and req's header fields are filled (so the caller can answer
// "100 Continue"). Returns an HTTP status (400, 411, 413, 431, 501) with a message naming the
// problem and the limit in err on a request that cannot be served. max_body bounds the body.
int http_parse_request(const char *buf, size_t have, size_t max_body, http_request *req, size_t *used, char *err,
                       size_t err_size);
void http_request_free(http_request *req);

// Opens a listening TCP socket on host:port (port 0: any free port). Returns the socket
// (non-blocking) or -1 with a message in err. *bound_port gets the actual port.
int http_listen(const char *host, int port, int *bound_port, char *err, size_t err_size);

// Accepts a waiting connection as a non-blocking socket; -1 when none is waiting or on error.
int http_accept(int listen_fd);

// Where a response goes, and how it is framed.
typedef struct http_out {
    int fd;
    bool keep_alive;          // "Connection: keep-alive" (else "close": the caller closes)
    const char *allow_origin; // when set, echoed in Access-Control-Allow-Origin (CORS)
    int stall_ms;             // a write that makes no progress this long fails (client stuck)
    int idle_s;               // announced in "Keep-Alive: timeout=N" (0: not announced)
    bool http10;              // the client speaks HTTP/1.0: streams end by closing, not chunked
    bool failed;              // a write failed: the client is gone; nothing more is sent
} http_out;

// Writes all n bytes, waiting for the socket as needed. false (and o->failed) when the client
// is gone, stalls for o->stall_ms, or the server shuts down.
bool http_write(http_out *o, const void *data, size_t n);

// A complete response with Content-Length. extra_headers: NULL or whole "Name: value\r\n" lines.
bool http_respond(http_out *o, int status, const char *content_type, const char *body, size_t len,
                  const char *extra_headers);

// Starts a text/event-stream response (chunked; for HTTP/1.0 unframed, ended by closing the
// connection); http_sse_data sends one "data: ..." event; http_sse_end sends the last chunk
// (the connection can then carry the next request).
bool http_sse_begin(http_out *o);
bool http_sse_data(http_out *o, const char *data, size_t len);
bool http_sse_end(http_out *o);

// True when the connection failed or was reset (a write after the peer closed brings that
// about), or, with fin_is_gone, when the peer has shut its sending side: a server cannot tell a
// closed socket from a half-closed one without writing, so a request that writes nothing until
// it is done (not streamed) counts a FIN as the client leaving. Bytes of a pipelined next
// request waiting to be read do not count as closed. Never blocks.
bool http_client_gone(int fd, bool fin_is_gone);

// The reason phrase of a status code ("OK", "Bad Request", ...).
const char *http_reason(int status);

#endif
