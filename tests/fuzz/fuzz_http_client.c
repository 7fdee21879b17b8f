// fuzz_http_client.c - libFuzzer target for the download client's response parsing
// (native/http_client.c's read_response and redirect_target): what a hostile or broken server
// behind a model URL sends. Input: a byte choosing how many bytes each socket read gives, then the
// response (status line, headers, body: Content-Length, chunked, or up to the end).
// Invariants: no crash; the response is read whole or refused with a message; a body is
// delivered only for a 2xx status, never more bytes than the input holds, and exactly
// Content-Length bytes when a complete unchunked response gave one; the ETag is a C string of
// its field; the outcome (result, status, lengths, body bytes) does not depend on how the
// socket cut the bytes; a redirect leads to an http(s):// URL with no space or control byte (or
// is refused with a message), on the same host when the Location was a path.
#define _GNU_SOURCE // as http_client.c
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.c"

typedef struct got {
    size_t bytes;
    uint64_t hash;
} got;

static bool on_body(void *user, const http_response *r, const void *data, size_t n) {
    got *g = user;
    if (r->status / 100 != 2 || n == 0) abort();
    for (size_t i = 0; i < n; i++) g->hash = (g->hash ^ ((const uint8_t *)data)[i]) * 1099511628211ull;
    g->bytes += n;
    return true;
}

typedef struct outcome {
    bool ok;
    http_response r;
    char location[4096];
    got body;
} outcome;

static void read_all(const char *resp, size_t n, size_t step, outcome *o) {
    memset(o, 0, sizeof *o);
    o->r.length = o->r.total = -1;
    o->body.hash = 14695981039346656037ull;
    conn *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->fd = -1;
    c->mem = resp;
    c->mem_len = n;
    c->mem_step = step;
    char err[256] = "";
    o->ok = read_response(c, "http://example.com/m.gguf", on_body, &o->body, &o->r, o->location, sizeof o->location,
                          err, sizeof err);
    if (!o->ok && !err[0]) abort();
    if (o->body.bytes > n || memchr(o->r.etag, 0, sizeof o->r.etag) == NULL) abort();
    free(c);
}

// Whether "chunked" is anywhere in s[0..n) (NUL bytes included), any case: then the body may be
// chunked, whatever Content-Length said.
static bool has_chunked(const char *s, size_t n) {
    for (size_t i = 0; i + 7 <= n; i++)
        if (!strncasecmp(s + i, "chunked", 7)) return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 1 << 18) return 0;
    const size_t step = 1 + data[0] % 32;
    const size_t n = size - 1;
    char *resp = malloc(n + 1); // a C string for the checks (the reader takes n bytes)
    if (!resp) abort();
    memcpy(resp, data + 1, n);
    resp[n] = 0;
    outcome *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    if (!a || !b) abort();
    read_all(resp, n, 0, a);
    read_all(resp, n, step, b);
    if (a->ok != b->ok || a->r.status != b->r.status || a->r.length != b->r.length || a->r.total != b->r.total ||
        a->r.range_start != b->r.range_start || strcmp(a->r.etag, b->r.etag) || strcmp(a->location, b->location) ||
        a->body.bytes != b->body.bytes || a->body.hash != b->body.hash)
        abort();
    if (a->ok && a->r.status / 100 == 2 && a->r.length >= 0 && !has_chunked(resp, n) &&
        a->body.bytes != (size_t)a->r.length)
        abort();
    if (a->r.status / 100 != 2 && a->body.bytes) abort();
    if (a->ok && a->r.status / 100 == 3 && a->location[0]) {
        static const char *const from[] = {"http://example.com:8080/a/b?c=d", "http://example.com"};
        for (int k = 0; k < 2; k++) {
            char next[4096], err[256] = "";
            if (!redirect_target(from[k], a->location, next, sizeof next, err, sizeof err)) {
                if (!err[0]) abort();
                continue;
            }
            for (const char *p = next; *p; p++)
                if ((unsigned char)*p <= ' ' || (unsigned char)*p == 127) abort();
            if (strncmp(next, "http://", 7) && strncmp(next, "https://", 8)) abort();
            const char *host = k == 0 ? "http://example.com:8080/" : "http://example.com/";
            if (a->location[0] == '/' && strncmp(next, host, strlen(host))) abort();
        }
    }
    free(a);
    free(b);
    free(resp);
    return 0;
}
