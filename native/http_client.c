// http_client.c - a small HTTP/1.1 client over sockets for http:// (one request per connection),
// and libcurl for https:// where the build has it.
#define _GNU_SOURCE
#include "http_client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *g_bearer_prefix, *g_bearer;

void http_set_bearer(const char *url_prefix, const char *token) {
    g_bearer_prefix = url_prefix;
    g_bearer = token && *token ? token : NULL;
}

// The token to send with url, or NULL.
static const char *bearer_for(const char *url) {
    if (!g_bearer || !g_bearer_prefix) return NULL;
    size_t n = strlen(g_bearer_prefix);
    // the prefix must end at a path boundary: http://a.b must not match http://a.b.evil
    return !strncmp(url, g_bearer_prefix, n) && (url[n] == '/' || url[n] == 0) ? g_bearer : NULL;
}

#if defined(__wasi__) // no sockets in WASI preview 1: models by URL are a native-only feature

bool http_has_tls(void) { return false; }
const char *http_tls_version(void) { return NULL; }

bool http_get(const char *url, int64_t from, const char *if_range, http_body_fn body, void *user, http_response *r, char *err,
              size_t en) {
    (void)from, (void)if_range, (void)body, (void)user, (void)bearer_for;
    memset(r, 0, sizeof *r);
    snprintf(err, en, "%s: the WASI build cannot download (no sockets); download the file and pass its path", url);
    return false;
}

#else
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#ifdef KITE_HAVE_CURL
#include <curl/curl.h>
#endif

#define MAX_REDIRECTS 5
#define MAX_HEADER_BYTES (64 * 1024)
#define IO_TIMEOUT_S 60 // a server silent this long is treated as gone

static bool fail(char *err, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return false;
}

// Reads "ETag: value" style header values: surrounding quotes and a weak W/ prefix removed.
static void set_etag(http_response *r, const char *v, size_t n) {
    r->etag_weak = n >= 2 && v[0] == 'W' && v[1] == '/';
    if (r->etag_weak) v += 2, n -= 2;
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') v++, n -= 2;
    if (n >= sizeof r->etag) n = sizeof r->etag - 1;
    memcpy(r->etag, v, n);
    r->etag[n] = 0;
}

// Parses one header line (no CR LF) into r; sets *location for a Location header. false when
// the Location does not fit in loc_size (a redirect to a URL cut short must not be followed).
static bool parse_header(http_response *r, const char *line, size_t n, char *location, size_t loc_size) {
    const char *colon = memchr(line, ':', n);
    if (!colon) return true;
    size_t klen = (size_t)(colon - line);
    const char *v = colon + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) end--;
    size_t vlen = (size_t)(end - v);
#define IS(name) (klen == sizeof(name) - 1 && !strncasecmp(line, name, klen))
    if (IS("content-length")) {
        r->length = strtoll(v, NULL, 10);
    } else if (IS("content-range")) { // bytes START-END/TOTAL
        long long a = 0, b = 0, t = -1;
        char tbuf[32] = {0};
        if (sscanf(v, "bytes %lld-%lld/%31s", &a, &b, tbuf) >= 2) {
            r->range_start = a;
            if (tbuf[0] && tbuf[0] != '*') t = strtoll(tbuf, NULL, 10);
            r->total = t;
        }
    } else if (IS("x-linked-etag")) {
        set_etag(r, v, vlen); // Hugging Face: the LFS object's sha256 (the plain ETag is the redirect's)
    } else if (IS("etag")) {
        if (!r->etag[0]) set_etag(r, v, vlen);
    } else if (IS("location") && location) {
        if (vlen >= loc_size) return false;
        snprintf(location, loc_size, "%.*s", (int)vlen, v);
    }
#undef IS
    return true;
}

bool http_has_tls(void) {
#ifdef KITE_HAVE_CURL
    return true;
#else
    return false;
#endif
}

const char *http_tls_version(void) {
#ifdef KITE_HAVE_CURL
    return curl_version();
#else
    return NULL;
#endif
}

// ---- plain http over sockets ----------------------------------------------------------------

typedef struct conn {
    int fd;               // the socket; -1: the bytes come from mem instead
    const char *mem;      // fd -1: the whole response (tests/fuzz/fuzz_http_client.c feeds it)
    size_t mem_len, mem_pos, mem_step; // ... and how many bytes a fill takes (pieces as a socket gives them)
    char buf[16384];
    size_t pos, len; // unread bytes buf[pos..len)
} conn;

// Fills the buffer when empty; returns bytes available, 0 at EOF, -1 on error.
static ssize_t conn_fill(conn *c) {
    if (c->pos < c->len) return (ssize_t)(c->len - c->pos);
    ssize_t k;
    if (c->fd < 0) {
        size_t step = c->mem_step && c->mem_step < sizeof c->buf ? c->mem_step : sizeof c->buf;
        k = (ssize_t)(c->mem_len - c->mem_pos < step ? c->mem_len - c->mem_pos : step);
        memcpy(c->buf, c->mem + c->mem_pos, (size_t)k);
        c->mem_pos += (size_t)k;
    } else {
        do k = recv(c->fd, c->buf, sizeof c->buf, 0);
        while (k < 0 && errno == EINTR);
    }
    if (k <= 0) return k;
    c->pos = 0;
    c->len = (size_t)k;
    return k;
}

// One line up to LF into line (CR LF stripped); false at EOF / error / too long.
static bool conn_line(conn *c, char *line, size_t cap, size_t *n) {
    *n = 0;
    for (;;) {
        if (conn_fill(c) <= 0) return false;
        char ch = c->buf[c->pos++];
        if (ch == '\n') break;
        if (*n + 1 >= cap) return false;
        line[(*n)++] = ch;
    }
    if (*n > 0 && line[*n - 1] == '\r') (*n)--;
    line[*n] = 0;
    return true;
}

typedef struct url_parts {
    char host[256];
    char port[8];
    const char *path; // from the first '/' (points into the URL)
} url_parts;

static bool split_url(const char *url, url_parts *u, char *err, size_t en) {
    const char *p = url + strlen("http://");
    const char *slash = strchr(p, '/');
    size_t hl = slash ? (size_t)(slash - p) : strlen(p);
    u->path = slash ? slash : "/";
    const char *colon = memchr(p, ':', hl);
    size_t name_len = colon ? (size_t)(colon - p) : hl;
    if (name_len == 0 || name_len >= sizeof u->host) return fail(err, en, "bad URL '%s': no host", url);
    memcpy(u->host, p, name_len);
    u->host[name_len] = 0;
    snprintf(u->port, sizeof u->port, "80");
    if (colon) {
        size_t pl = hl - name_len - 1;
        if (pl == 0 || pl >= sizeof u->port) return fail(err, en, "bad URL '%s': bad port", url);
        memcpy(u->port, colon + 1, pl);
        u->port[pl] = 0;
        for (size_t i = 0; i < pl; i++)
            if (u->port[i] < '0' || u->port[i] > '9') return fail(err, en, "bad URL '%s': bad port", url);
    }
    return true;
}

static int connect_to(const url_parts *u, char *err, size_t en) {
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(u->host, u->port, &hints, &res);
    if (rc != 0) {
        fail(err, en, "cannot resolve %s: %s", u->host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        struct timeval tv = {IO_TIMEOUT_S, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) fail(err, en, "cannot connect to %s:%s: %s", u->host, u->port, strerror(errno));
    return fd;
}

static bool send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        p += k, n -= (size_t)k;
    }
    return true;
}

// Delivers up to `want` bytes (-1: until EOF) of the body; false if cut short or stopped.
static bool read_body(conn *c, int64_t want, http_body_fn body, void *user, const http_response *r, bool *stopped) {
    while (want != 0) {
        ssize_t k = conn_fill(c);
        if (k <= 0) return want < 0 && k == 0; // EOF ends an unsized body normally
        size_t take = (size_t)k;
        if (want > 0 && (int64_t)take > want) take = (size_t)want;
        if (!body(user, r, c->buf + c->pos, take)) {
            *stopped = true;
            return false;
        }
        c->pos += take;
        if (want > 0) want -= (int64_t)take;
    }
    return true;
}

// Reads one response from c: the status line, the headers into *r (*location set, non-empty, for
// a redirect with a Location), then for a 2xx status the body through body() (Content-Length,
// chunked, or up to EOF). True when the response was read whole (a non-2xx status or a redirect:
// no body delivered); false with a message in err on a malformed status line or headers, a body
// cut short or a malformed chunk, or body() returning false. Never reads beyond what c gives.
static bool read_response(conn *c, const char *url, http_body_fn body, void *user, http_response *r, char *location,
                          size_t loc_size, char *err, size_t en) {
    char line[8192];
    size_t ll, header_bytes = 0;
    if (!conn_line(c, line, sizeof line, &ll) || sscanf(line, "HTTP/%*d.%*d %d", &r->status) != 1) {
        return fail(err, en, "%s: no HTTP response (%s)", url, errno ? strerror(errno) : "connection closed");
    }
    bool chunked = false;
    for (;;) {
        if (!conn_line(c, line, sizeof line, &ll) || (header_bytes += ll) > MAX_HEADER_BYTES) {
            return fail(err, en, "%s: malformed or oversized response headers", url);
        }
        if (ll == 0) break;
        if (!parse_header(r, line, ll, location, loc_size))
            return fail(err, en, "%s: a Location header longer than %zu bytes", url, loc_size - 1);
        if (!strncasecmp(line, "transfer-encoding:", 18) && strcasestr(line + 18, "chunked")) chunked = true;
    }
    if (r->status / 100 == 3 && location[0]) return true;
    if (r->status == 200 && r->length >= 0) r->total = r->length;
    if (r->status / 100 != 2) return true; // no body delivered for errors
    bool ok = false, stopped = false;
    if (chunked) {
        for (;;) {
            if (!conn_line(c, line, sizeof line, &ll)) break;
            char *end;
            long long sz = strtoll(line, &end, 16);
            if (end == line || sz < 0) break;
            if (sz == 0) {
                ok = true;
                break;
            }
            if (!read_body(c, sz, body, user, r, &stopped)) break;
            if (!conn_line(c, line, sizeof line, &ll)) break; // the CR LF after the chunk
        }
    } else {
        ok = read_body(c, r->length, body, user, r, &stopped);
    }
    if (!ok) fail(err, en, stopped ? "%s: transfer stopped" : "%s: the connection closed before the whole body came", url);
    return ok;
}

// One request on a new connection. *location is set (non-empty) for a redirect.
static bool get_once(const char *url, int64_t from, const char *if_range, http_body_fn body, void *user, http_response *r, char *location,
                     size_t loc_size, char *err, size_t en) {
    url_parts u;
    if (!split_url(url, &u, err, en)) return false;
    int fd = connect_to(&u, err, en);
    if (fd < 0) return false;
    char req[8192];
    // the request target: the path and query; RFC 9112 3.2.1 origin-form has no fragment
    int n = snprintf(req, sizeof req,
                     "GET %.*s HTTP/1.1\r\nHost: %s%s%s\r\nUser-Agent: kite\r\nAccept: */*\r\nConnection: close\r\n",
                     (int)strcspn(u.path, "#"), u.path, u.host, strcmp(u.port, "80") ? ":" : "", strcmp(u.port, "80") ? u.port : "");
    if (from > 0 && n > 0 && (size_t)n < sizeof req) n += snprintf(req + n, sizeof req - (size_t)n, "Range: bytes=%lld-\r\n", (long long)from);
    if (from > 0 && if_range && n > 0 && (size_t)n < sizeof req)
        n += snprintf(req + n, sizeof req - (size_t)n, "If-Range: \"%s\"\r\n", if_range);
    const char *token = bearer_for(url);
    if (token && n > 0 && (size_t)n < sizeof req)
        n += snprintf(req + n, sizeof req - (size_t)n, "Authorization: Bearer %s\r\n", token);
    if (n > 0 && (size_t)n < sizeof req) n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    bool ok = false;
    conn *c = calloc(1, sizeof *c);
    if (n <= 0 || (size_t)n >= sizeof req) {
        fail(err, en, "URL too long: %s", url);
        goto done;
    }
    if (!c) {
        fail(err, en, "out of memory");
        goto done;
    }
    c->fd = fd;
    if (!send_all(fd, req, (size_t)n)) {
        fail(err, en, "sending the request to %s: %s", u.host, strerror(errno));
        goto done;
    }
    ok = read_response(c, url, body, user, r, location, loc_size, err, en);
done:
    free(c);
    close(fd);
    return ok;
}

// The URL a redirect from cur (an http:// URL) to location (a Location header's value) leads
// to: location itself when absolute (http:// or https://), else cur's scheme and host with
// location's path (one starting with '/'), written to next (cap bytes). false with a message for
// any other location, one with a space or control byte (it would end the next request line
// early), or a URL that does not fit.
static bool redirect_target(const char *cur, const char *location, char *next, size_t cap, char *err, size_t en) {
    for (const char *p = location; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p == 127)
            return fail(err, en, "%s: redirect to a URL with a space or control character", cur);
    int n;
    if (!strncmp(location, "https://", 8) || !strncmp(location, "http://", 7)) {
        n = snprintf(next, cap, "%s", location);
    } else if (location[0] == '/') { // same host, new path
        const char *p = strchr(cur + 7, '/');
        size_t hl = p ? (size_t)(p - cur) : strlen(cur);
        n = snprintf(next, cap, "%.*s%s", (int)hl, cur, location);
    } else {
        return fail(err, en, "%s: unsupported redirect to '%s'", cur, location);
    }
    if (n < 0 || (size_t)n >= cap) return fail(err, en, "%s: redirect to a URL longer than %zu bytes", cur, cap - 1);
    return true;
}

static bool http_get_plain(const char *url, int64_t from, const char *if_range, http_body_fn body, void *user, http_response *r, char *err,
                           size_t en) {
    char cur[4096], location[4096];
    snprintf(cur, sizeof cur, "%s", url);
    for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
        memset(r, 0, sizeof *r);
        r->length = r->total = -1;
        location[0] = 0;
        if (!get_once(cur, from, if_range, body, user, r, location, sizeof location, err, en)) return false;
        if (!(r->status / 100 == 3 && location[0])) return true;
        char next[sizeof cur];
        if (!redirect_target(cur, location, next, sizeof next, err, en)) return false;
        if (!strncmp(next, "https://", 8)) return http_get(next, from, if_range, body, user, r, err, en);
        memcpy(cur, next, sizeof cur);
    }
    return fail(err, en, "%s: more than %d redirects", url, MAX_REDIRECTS);
}

// ---- https through libcurl ------------------------------------------------------------------

#ifdef KITE_HAVE_CURL
typedef struct curl_job {
    http_response *r;
    http_body_fn body;
    void *user;
    bool stopped;
    bool linked; // the etag came from X-Linked-Etag
} curl_job;

static size_t curl_header(char *p, size_t size, size_t n, void *user) {
    curl_job *j = user;
    size_t len = size * n;
    if (len >= 5 && !strncmp(p, "HTTP/", 5)) { // a new response (after a redirect): start over,
        char etag[sizeof j->r->etag];          // keeping an X-Linked-Etag (Hugging Face sends the
        memcpy(etag, j->r->etag, sizeof etag); // LFS sha256 on the redirect only)
        memset(j->r, 0, sizeof *j->r);
        j->r->length = j->r->total = -1;
        if (j->linked) memcpy(j->r->etag, etag, sizeof etag);
        sscanf(p, "HTTP/%*s %d", &j->r->status);
        return len;
    }
    size_t l = len;
    while (l > 0 && (p[l - 1] == '\n' || p[l - 1] == '\r')) l--;
    if (l > 14 && !strncasecmp(p, "x-linked-etag:", 14)) j->linked = true;
    (void)parse_header(j->r, p, l, NULL, 0);
    if (j->r->status == 200 && j->r->length >= 0) j->r->total = j->r->length;
    return len;
}

static size_t curl_write(char *p, size_t size, size_t n, void *user) {
    curl_job *j = user;
    if (j->r->status / 100 != 2) return size * n; // an error page: not delivered
    if (!j->body(j->user, j->r, p, size * n)) {
        j->stopped = true;
        return 0;
    }
    return size * n;
}

static bool http_get_curl(const char *url, int64_t from, const char *if_range, http_body_fn body, void *user, http_response *r, char *err,
                          size_t en) {
    static bool inited;
    if (!inited) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        inited = true;
    }
    CURL *h = curl_easy_init();
    if (!h) return fail(err, en, "libcurl could not start");
    memset(r, 0, sizeof *r);
    r->length = r->total = -1;
    curl_job j = {r, body, user, false, false};
    char range[48];
    snprintf(range, sizeof range, "%lld-", (long long)from);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)MAX_REDIRECTS);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "kite");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)IO_TIMEOUT_S);
    if (from > 0) curl_easy_setopt(h, CURLOPT_RANGE, range);
    const char *token = bearer_for(url);
    if (token) { // libcurl sends it to this host only, not to a redirect's
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
        curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, token);
    }
    struct curl_slist *headers = NULL;
    char if_range_h[200];
    if (from > 0 && if_range) {
        snprintf(if_range_h, sizeof if_range_h, "If-Range: \"%s\"", if_range);
        headers = curl_slist_append(NULL, if_range_h);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    }
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, curl_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &j);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, curl_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &j);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK)
        return fail(err, en, "%s: %s", url, j.stopped ? "transfer stopped" : curl_easy_strerror(rc));
    return true;
}
#endif

bool http_get(const char *url, int64_t from, const char *if_range, http_body_fn body, void *user, http_response *r, char *err,
              size_t en) {
    for (const char *p = url; *p; p++) // a space or control byte would end the request line early
        if ((unsigned char)*p <= ' ' || (unsigned char)*p == 127)
            return fail(err, en, "bad URL '%s': it has a space or control character (percent-encode it)", url);
    const char *via = getenv("KITE_HTTP_CLIENT"); // "curl": libcurl for http:// too (tests run both)
    if (!strncmp(url, "http://", 7) && !(via && !strcmp(via, "curl") && http_has_tls()))
        return http_get_plain(url, from, if_range, body, user, r, err, en);
    if (!strncmp(url, "http://", 7) || !strncmp(url, "https://", 8)) {
#ifdef KITE_HAVE_CURL
        return http_get_curl(url, from, if_range, body, user, r, err, en);
#else
        return fail(err, en,
                    "%s: this kite was built without libcurl, so it cannot fetch https:// URLs (install "
                    "libcurl4-openssl-dev and rebuild, or download the file and pass its path)",
                    url);
#endif
    }
    return fail(err, en, "unsupported URL '%s' (http://, https:// or hf://)", url);
}
#endif // !__wasi__
