// http_server.c - the HTTP/1.1 plumbing of `kite serve`: listen, accept, parse bounded requests
// incrementally, write responses (keep-alive) and Server-Sent Events (chunked). POSIX sockets.
#if !defined(__wasi__) && !defined(__EMSCRIPTEN__)
#define _GNU_SOURCE // POLLRDHUP
#include "http_server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif
#ifndef POLLRDHUP
#define POLLRDHUP 0
#endif

atomic_int http_stop;

static void set_nonblocking(int fd) {
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

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
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 128) == 0) break;
        last_errno = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, err_size, "cannot listen on %s:%d: %s", host, port, strerror(last_errno));
        return -1;
    }
    set_nonblocking(fd);
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
    set_nonblocking(fd);
    // Each response and event goes out in one write; Nagle's algorithm would hold the next one
    // back until the client's delayed ACK (~40 ms per keep-alive request or streamed token).
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool http_write(http_out *o, const void *data, size_t n) {
    const char *p = data;
    long long last_progress = now_ms();
    while (n > 0 && !o->failed) {
        if (http_stop) {
            o->failed = true;
            break;
        }
        ssize_t w = send(o->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            last_progress = now_ms();
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (now_ms() - last_progress >= o->stall_ms) {
                o->failed = true;
                break;
            }
            // short waits: a shutdown is noticed within 100 ms
            struct pollfd pf = {.fd = o->fd, .events = POLLOUT};
            poll(&pf, 1, 100);
            continue;
        }
        o->failed = true;
    }
    return !o->failed;
}

const char *http_reason(int status) {
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
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

// The status line and the headers every response carries; returns the length written to head.
static int common_head(const http_out *o, int status, char *head, size_t size) {
    int n = snprintf(head, size, "HTTP/1.1 %d %s\r\nConnection: %s\r\n", status, http_reason(status),
                     o->keep_alive ? "keep-alive" : "close");
    if (o->keep_alive && o->idle_s > 0 && n > 0 && (size_t)n < size)
        n += snprintf(head + n, size - (size_t)n, "Keep-Alive: timeout=%d\r\n", o->idle_s);
    if (o->allow_origin && n > 0 && (size_t)n < size)
        n += snprintf(head + n, size - (size_t)n,
                      "Access-Control-Allow-Origin: %.255s\r\nVary: Origin\r\n"
                      "Access-Control-Allow-Headers: Content-Type, Authorization\r\n"
                      "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n",
                      o->allow_origin);
    return n > 0 && (size_t)n < size ? n : 0;
}

bool http_respond(http_out *o, int status, const char *content_type, const char *body, size_t len,
                  const char *extra_headers) {
    char head[1024];
    int n = common_head(o, status, head, sizeof head);
    n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n%s%s%s%s\r\n", len,
                  content_type ? "Content-Type: " : "", content_type ? content_type : "", content_type ? "\r\n" : "",
                  extra_headers ? extra_headers : "");
    if ((size_t)n >= sizeof head) return false;
    char one[4096]; // small answers in one write (one TCP segment)
    if ((size_t)n + len <= sizeof one) {
        memcpy(one, head, (size_t)n);
        if (len) memcpy(one + n, body, len);
        return http_write(o, one, (size_t)n + len);
    }
    return http_write(o, head, (size_t)n) && http_write(o, body, len);
}

bool http_sse_begin(http_out *o) {
    char head[1024];
    if (o->http10) o->keep_alive = false; // no chunked encoding: the end of the body is the close
    int n = common_head(o, 200, head, sizeof head);
    n += snprintf(head + n, sizeof head - (size_t)n, "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\n%s\r\n",
                  o->http10 ? "" : "Transfer-Encoding: chunked\r\n");
    if ((size_t)n >= sizeof head) return false;
    return http_write(o, head, (size_t)n);
}

bool http_sse_data(http_out *o, const char *data, size_t len) {
    // One chunk per event; our payloads are single-line JSON, so one "data:" line suffices.
    char pre[32], one[4096];
    int n = o->http10 ? snprintf(pre, sizeof pre, "data: ") : snprintf(pre, sizeof pre, "%zx\r\ndata: ", len + 8);
    const char *post = o->http10 ? "\n\n" : "\n\n\r\n";
    size_t np = strlen(post);
    if ((size_t)n + len + np <= sizeof one) { // the usual event: one write, one TCP segment
        memcpy(one, pre, (size_t)n);
        memcpy(one + n, data, len);
        memcpy(one + n + len, post, np);
        return http_write(o, one, (size_t)n + len + np);
    }
    return http_write(o, pre, (size_t)n) && http_write(o, data, len) && http_write(o, post, np);
}

bool http_sse_end(http_out *o) { return o->http10 || http_write(o, "0\r\n\r\n", 5); }

bool http_client_gone(int fd, bool fin_is_gone) {
    struct pollfd pf = {.fd = fd, .events = POLLIN | POLLRDHUP};
    if (poll(&pf, 1, 0) <= 0) return false;
    if (pf.revents & (POLLERR | POLLHUP | POLLNVAL)) return true;
    if (!fin_is_gone) return false;
    if (pf.revents & POLLRDHUP) return true;
    if (pf.revents & POLLIN) {
        char c;
        ssize_t r = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
    }
    return false;
}

// ---- parsing a request ----------------------------------------------------------------------

static int failf(char *err, size_t err_size, int status, const char *msg) {
    snprintf(err, err_size, "%s", msg);
    return status;
}

// Copies a header value into a fixed field (cut to fit, NUL-terminated).
static void copy_value(char *dst, size_t cap, const char *v, size_t vlen) {
    if (vlen >= cap) vlen = cap - 1;
    memcpy(dst, v, vlen);
    dst[vlen] = 0;
}

// True when the comma-separated header value v[0..n) lists token (case-insensitive).
static bool lists_token(const char *v, size_t n, const char *token) {
    size_t tl = strlen(token);
    for (size_t i = 0; i < n;) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
        size_t j = i;
        while (j < n && v[j] != ',') j++;
        size_t e = j;
        while (e > i && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
        if (e - i == tl && strncasecmp(v + i, token, tl) == 0) return true;
        i = j;
    }
    return false;
}

// Parses "Name: value" header lines in [p, end); fills the fields the server cares about.
static int parse_headers(const char *p, const char *end, http_request *req, long long *content_length,
                         bool *chunked, int http_minor, char *err, size_t err_size) {
    *content_length = -1;
    req->keep_alive = http_minor >= 1;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *line_end = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
        if (line_end == p) break; // blank line: end of headers
        const char *colon = memchr(p, ':', (size_t)(line_end - p));
        if (!colon || colon == p) return failf(err, err_size, 400, "malformed header line (no 'Name:')");
        for (const char *c = p; c < colon; c++)
            if (*c <= ' ' || *c >= 0x7F) return failf(err, err_size, 400, "malformed header name");
        const char *v = colon + 1;
        while (v < line_end && (*v == ' ' || *v == '\t')) v++;
        const char *ve = line_end;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        size_t name_len = (size_t)(colon - p), vlen = (size_t)(ve - v);
#define IS(name) (name_len == sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0)
        if (IS("Content-Length")) {
            if (vlen == 0 || vlen > 18) return failf(err, err_size, 400, "invalid Content-Length");
            long long n = 0;
            for (size_t i = 0; i < vlen; i++) {
                if (v[i] < '0' || v[i] > '9') return failf(err, err_size, 400, "invalid Content-Length");
                n = n * 10 + (v[i] - '0');
            }
            if (*content_length >= 0 && *content_length != n)
                return failf(err, err_size, 400, "conflicting Content-Length headers");
            *content_length = n;
        } else if (IS("Transfer-Encoding")) {
            *chunked = true;
        } else if (IS("Expect")) {
            req->expect_continue = vlen == 12 && strncasecmp(v, "100-continue", 12) == 0;
        } else if (IS("Connection")) {
            if (lists_token(v, vlen, "close")) req->keep_alive = false;
            else if (lists_token(v, vlen, "keep-alive")) req->keep_alive = true;
        } else if (IS("Origin")) {
            copy_value(req->origin, sizeof req->origin, v, vlen);
        } else if (IS("Authorization")) {
            copy_value(req->auth, sizeof req->auth, v, vlen);
        } else if (IS("X-Api-Key") && !req->auth[0]) { // Anthropic's header; Authorization wins
            copy_value(req->auth, sizeof req->auth, v, vlen);
        }
#undef IS
        p = eol + 1;
    }
    return 0;
}

int http_parse_request(const char *buf, size_t have, size_t max_body, http_request *req, size_t *used, char *err,
                       size_t err_size) {
    memset(req, 0, sizeof *req);
    *used = 0;
    // the end of the headers: the first blank line (CRLF CRLF, or bare LF LF)
    const char *head_end = NULL;
    size_t scan = have < HTTP_MAX_HEADER ? have : HTTP_MAX_HEADER;
    for (size_t i = 0; i + 1 < scan && !head_end; i++) {
        if (buf[i] == 0) return failf(err, err_size, 400, "NUL byte in the request headers");
        if (buf[i] != '\n') continue;
        if (buf[i + 1] == '\n') head_end = buf + i + 2;
        else if (buf[i + 1] == '\r' && i + 2 < scan && buf[i + 2] == '\n') head_end = buf + i + 3;
    }
    if (!head_end) {
        if (have >= HTTP_MAX_HEADER)
            return failf(err, err_size, 431, "request headers exceed the limit of 16384 bytes");
        return 0;
    }

    // request line: METHOD SP target SP HTTP/1.x
    const char *line_end = memchr(buf, '\n', (size_t)(head_end - buf));
    const char *sp1 = memchr(buf, ' ', (size_t)(line_end - buf));
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1)) : NULL;
    if (!sp1 || !sp2) return failf(err, err_size, 400, "malformed request line");
    size_t mlen = (size_t)(sp1 - buf), tlen = (size_t)(sp2 - sp1 - 1);
    if (mlen == 0 || mlen >= sizeof req->method) return failf(err, err_size, 400, "malformed request method");
    for (size_t i = 0; i < mlen; i++)
        if (buf[i] < 'A' || buf[i] > 'Z') return failf(err, err_size, 400, "malformed request method");
    if (line_end - sp2 < 9 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
        return failf(err, err_size, 400, "not an HTTP/1.x request");
    int http_minor = sp2[8] == '0' ? 0 : 1;
    req->http10 = http_minor == 0;
    if (tlen == 0 || sp1[1] != '/') return failf(err, err_size, 400, "request target must start with '/'");
    if (tlen >= sizeof req->path)
        return failf(err, err_size, 431, "request target exceeds the limit of 1023 bytes");
    memcpy(req->method, buf, mlen);
    req->method[mlen] = 0;
    size_t plen = 0;
    for (const char *t = sp1 + 1; t < sp2 && *t != '?' && *t != '#'; t++) {
        if ((unsigned char)*t <= ' ' || *t == 0x7F) return failf(err, err_size, 400, "control character in the target");
        req->path[plen++] = *t;
    }
    req->path[plen] = 0;

    long long clen;
    bool chunked = false;
    int st = parse_headers(line_end + 1, head_end, req, &clen, &chunked, http_minor, err, err_size);
    if (st) return st;
    if (chunked)
        return failf(err, err_size, 501, "chunked request bodies are not supported: send a Content-Length");
    if (clen < 0) {
        if (strcmp(req->method, "POST") == 0) return failf(err, err_size, 411, "POST needs a Content-Length");
        clen = 0;
    }
    if ((unsigned long long)clen > max_body) {
        snprintf(err, err_size, "request body of %lld bytes exceeds the limit of %zu bytes", clen, max_body);
        return 413;
    }
    size_t head_len = (size_t)(head_end - buf), total = head_len + (size_t)clen;
    *used = total;
    if (have < total) return 0;

    req->body = malloc((size_t)clen + 1);
    if (!req->body) return failf(err, err_size, 500, "out of memory");
    memcpy(req->body, head_end, (size_t)clen);
    req->body[clen] = 0;
    req->body_len = (size_t)clen;
    return 1;
}

void http_request_free(http_request *req) {
    free(req->body);
    req->body = NULL;
}
#endif
