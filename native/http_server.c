// http_server.c - the HTTP/1.1 plumbing of `kite serve`: listen, accept, read one bounded
// request, write responses and Server-Sent Events. POSIX sockets only.
#if !defined(__wasi__) && !defined(__EMSCRIPTEN__)
#include "http_server.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

int http_listen(const char *host, int port, int *bound_port, char *err, size_t err_size) {
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host, port_s, &hints, &res);
    if (rc != 0) {
        snprintf(err, err_size, "cannot resolve host '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1, last_errno = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        // 64: a burst of clients waits in the kernel while one request is being served
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 64) == 0) break;
        last_errno = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, err_size, "cannot listen on %s:%d: %s", host, port, strerror(last_errno));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    *bound_port = port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        char h[64], p[16];
        if (getnameinfo((struct sockaddr *)&ss, sl, h, sizeof h, p, sizeof p, NI_NUMERICHOST | NI_NUMERICSERV) == 0)
            *bound_port = atoi(p);
    }
    return fd;
}

int http_accept(int listen_fd) {
    int fd = accept(listen_fd, NULL, NULL);
    if (fd < 0) return -1;
    struct timeval tv = {HTTP_IO_TIMEOUT_S, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

bool http_write(int fd, const void *data, size_t n) {
    const char *p = data;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

const char *http_reason(int status) {
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    }
    return "Unknown";
}

// Headers every response carries: no keep-alive, and open to browser pages on other origins.
#define COMMON_HEADERS                                                                              \
    "Connection: close\r\nAccess-Control-Allow-Origin: *\r\n"                                       \
    "Access-Control-Allow-Headers: Content-Type, Authorization\r\n"                                 \
    "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"

bool http_respond(int fd, int status, const char *content_type, const char *body, size_t len) {
    char head[512];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\n" COMMON_HEADERS "Content-Length: %zu\r\n%s%s%s\r\n",
                     status, http_reason(status), len, content_type ? "Content-Type: " : "",
                     content_type ? content_type : "", content_type ? "\r\n" : "");
    return http_write(fd, head, (size_t)n) && http_write(fd, body, len);
}

bool http_sse_begin(int fd) {
    static const char head[] = "HTTP/1.1 200 OK\r\n" COMMON_HEADERS
                               "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n";
    return http_write(fd, head, sizeof head - 1);
}

bool http_sse_data(int fd, const char *data, size_t len) {
    // Our payloads are single-line JSON, so one "data:" line per event suffices.
    return http_write(fd, "data: ", 6) && http_write(fd, data, len) && http_write(fd, "\n\n", 2);
}

// ---- reading a request ----------------------------------------------------------------------

// Reads more bytes; returns the count, 0 on close, -1 on error, -2 on timeout.
static ssize_t read_some(int fd, char *buf, size_t n) {
    for (;;) {
        ssize_t r = recv(fd, buf, n, 0);
        if (r >= 0) return r;
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? -2 : -1;
    }
}

static int failf(char *err, size_t err_size, int status, const char *msg) {
    snprintf(err, err_size, "%s", msg);
    return status;
}

// Parses "Name: value" header lines in [p, end); fills the fields the server cares about.
static int parse_headers(char *p, char *end, long long *content_length, bool *chunked, bool *expect_continue,
                         char *err, size_t err_size) {
    *content_length = -1;
    while (p < end) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        char *line_end = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
        if (line_end == p) break; // blank line: end of headers
        char *colon = memchr(p, ':', (size_t)(line_end - p));
        if (!colon || colon == p) return failf(err, err_size, 400, "malformed header line (no 'Name:')");
        for (char *c = p; c < colon; c++)
            if (*c <= ' ' || *c >= 0x7F) return failf(err, err_size, 400, "malformed header name");
        char *v = colon + 1;
        while (v < line_end && (*v == ' ' || *v == '\t')) v++;
        char *ve = line_end;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        size_t name_len = (size_t)(colon - p), vlen = (size_t)(ve - v);
        if (name_len == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
            if (vlen == 0 || vlen > 18) return failf(err, err_size, 400, "invalid Content-Length");
            long long n = 0;
            for (size_t i = 0; i < vlen; i++) {
                if (v[i] < '0' || v[i] > '9') return failf(err, err_size, 400, "invalid Content-Length");
                n = n * 10 + (v[i] - '0');
            }
            if (*content_length >= 0 && *content_length != n)
                return failf(err, err_size, 400, "conflicting Content-Length headers");
            *content_length = n;
        } else if (name_len == 17 && strncasecmp(p, "Transfer-Encoding", 17) == 0) {
            *chunked = true;
        } else if (name_len == 6 && strncasecmp(p, "Expect", 6) == 0) {
            *expect_continue = vlen == 12 && strncasecmp(v, "100-continue", 12) == 0;
        }
        p = eol + 1;
    }
    return 0;
}

int http_read_request(int fd, http_request *req, char *err, size_t err_size) {
    memset(req, 0, sizeof *req);
    req->raw = malloc(HTTP_MAX_HEADER + 1);
    if (!req->raw) return failf(err, err_size, 500, "out of memory");
    char *buf = req->raw;
    size_t have = 0;
    char *head_end = NULL;
    while (!head_end) {
        if (have == HTTP_MAX_HEADER) return failf(err, err_size, 431, "request headers exceed 16 KiB");
        ssize_t r = read_some(fd, buf + have, HTTP_MAX_HEADER - have);
        if (r == -2) return failf(err, err_size, 408, "timed out reading the request");
        if (r < 0) return -1;
        if (r == 0) {
            if (have == 0) return -1;
            return failf(err, err_size, 400, "connection closed inside the request headers");
        }
        have += (size_t)r;
        buf[have] = 0;
        char *crlf = strstr(buf, "\r\n\r\n"), *lf = strstr(buf, "\n\n");
        if (crlf && (!lf || crlf < lf)) head_end = crlf + 4;
        else if (lf) head_end = lf + 2;
        if (!head_end && memchr(buf, 0, have)) return failf(err, err_size, 400, "NUL byte in the request headers");
    }

    // request line: METHOD SP target SP HTTP/1.x
    char *line_end = strchr(buf, '\n');
    char *sp1 = memchr(buf, ' ', (size_t)(line_end - buf));
    char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1)) : NULL;
    if (!sp1 || !sp2) return failf(err, err_size, 400, "malformed request line");
    size_t mlen = (size_t)(sp1 - buf), tlen = (size_t)(sp2 - sp1 - 1);
    if (mlen == 0 || mlen >= sizeof req->method) return failf(err, err_size, 400, "malformed request method");
    for (size_t i = 0; i < mlen; i++)
        if (buf[i] < 'A' || buf[i] > 'Z') return failf(err, err_size, 400, "malformed request method");
    if (strncmp(sp2 + 1, "HTTP/1.", 7) != 0) return failf(err, err_size, 400, "not an HTTP/1.x request");
    if (tlen == 0 || sp1[1] != '/') return failf(err, err_size, 400, "request target must start with '/'");
    if (tlen >= sizeof req->path) return failf(err, err_size, 431, "request target longer than 1023 bytes");
    memcpy(req->method, buf, mlen);
    req->method[mlen] = 0;
    size_t plen = 0;
    for (const char *t = sp1 + 1; t < sp2 && *t != '?' && *t != '#'; t++) {
        if ((unsigned char)*t <= ' ' || *t == 0x7F) return failf(err, err_size, 400, "control character in the target");
        req->path[plen++] = *t;
    }
    req->path[plen] = 0;

    long long clen;
    bool chunked = false, expect = false;
    int st = parse_headers(line_end + 1, head_end, &clen, &chunked, &expect, err, err_size);
    if (st) return st;
    if (chunked)
        return failf(err, err_size, 501, "chunked request bodies are not supported: send a Content-Length");
    if (clen < 0) {
        if (strcmp(req->method, "POST") == 0) return failf(err, err_size, 411, "POST needs a Content-Length");
        clen = 0;
    }
    if (clen > HTTP_MAX_BODY) return failf(err, err_size, 413, "request body exceeds 8 MiB");

    req->body = malloc((size_t)clen + 1);
    if (!req->body) return failf(err, err_size, 500, "out of memory");
    size_t got = have - (size_t)(head_end - buf);
    if (got > (size_t)clen) got = (size_t)clen; // a pipelined next request is ignored
    memcpy(req->body, head_end, got);
    if (got < (size_t)clen && expect) http_write(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    while (got < (size_t)clen) {
        ssize_t r = read_some(fd, req->body + got, (size_t)clen - got);
        if (r == -2) return failf(err, err_size, 408, "timed out reading the request body");
        if (r <= 0) return failf(err, err_size, 400, "connection closed before the whole body arrived");
        got += (size_t)r;
    }
    req->body[clen] = 0;
    req->body_len = (size_t)clen;
    return 0;
}

void http_request_free(http_request *req) {
    free(req->raw);
    free(req->body);
    req->raw = req->body = NULL;
}
#endif
