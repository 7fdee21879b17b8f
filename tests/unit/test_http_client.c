// test_http_client.c - the download client's response parsing (native/http_client.c's
// read_response, fed from memory in pieces as a socket gives them) and redirects
// (redirect_target), with the inputs fuzz_http_client found or checks.
#define _GNU_SOURCE
#include <string.h>

#include "check.h"

#if defined(__wasi__)
int main(void) { return 0; } // no sockets, no client: the WASI build only refuses URLs
#else
#include "../../native/http_client.c"

typedef struct body {
    char text[256];
    size_t len;
} body;

static bool on_body(void *user, const http_response *r, const void *data, size_t n) {
    body *b = user;
    (void)r;
    if (b->len + n >= sizeof b->text) return false;
    memcpy(b->text + b->len, data, n);
    b->len += n;
    b->text[b->len] = 0;
    return true;
}

// Reads resp in pieces of step bytes; the result, *r and the body.
static bool read_mem(const char *resp, size_t step, http_response *r, char *location, body *b, char *err) {
    static conn c;
    memset(&c, 0, sizeof c);
    c.fd = -1;
    c.mem = resp;
    c.mem_len = strlen(resp);
    c.mem_step = step;
    memset(r, 0, sizeof *r);
    r->length = r->total = -1;
    memset(b, 0, sizeof *b);
    location[0] = err[0] = 0;
    return read_response(&c, "http://h/m", on_body, b, r, location, 4096, err, 256);
}

static void test_responses(void) {
    // RFC 9112's chunked example (with a chunk extension), and a sized 206 with its Content-Range
    static const char chunked[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;a=b\r\npedia\r\n"
                                  "E\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n";
    static const char partial[] = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 10-14/100\r\nContent-Length: 5\r\n"
                                  "ETag: W/\"v1\"\r\n\r\n01234";
    for (size_t step = 1; step <= 40; step += 13) {
        http_response r;
        body b;
        char loc[4096], err[256];
        CHECK(read_mem(chunked, step, &r, loc, &b, err), "chunked, pieces of %zu: %s", step, err);
        CHECK(r.status == 200 && !strcmp(b.text, "Wikipedia in\r\n\r\nchunks."), "chunked: %d '%s'", r.status, b.text);
        CHECK(read_mem(partial, step, &r, loc, &b, err), "206: %s", err);
        CHECK(r.status == 206 && r.range_start == 10 && r.total == 100 && r.length == 5 && !strcmp(b.text, "01234") &&
                  r.etag_weak && !strcmp(r.etag, "v1"),
              "206: status %d start %lld total %lld etag %s", r.status, (long long)r.range_start, (long long)r.total, r.etag);
    }
    // cut short, a bad chunk size, no status line: refused with a message
    static const char *const bad[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWi",
        "SSH-2.0-OpenSSH\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http_response r;
        body b;
        char loc[4096], err[256];
        CHECK(!read_mem(bad[i], 3, &r, loc, &b, err) && err[0], "bad response %zu read (err '%s')", i, err);
    }
    // a redirect: its Location, no body
    http_response r;
    body b;
    char loc[4096], err[256];
    CHECK(read_mem("HTTP/1.1 302 Found\r\nLocation: /a/b?c\r\n\r\n", 5, &r, loc, &b, err) && r.status == 302 &&
              !strcmp(loc, "/a/b?c") && b.len == 0,
          "302: status %d location '%s'", r.status, loc);
    // a Location that does not fit is refused, not followed cut short
    static char long_loc[4200 + 64];
    int n = snprintf(long_loc, sizeof long_loc, "HTTP/1.1 301 Moved\r\nLocation: /");
    memset(long_loc + n, 'a', 4200);
    snprintf(long_loc + n + 4200, sizeof long_loc - (size_t)n - 4200, "\r\n\r\n");
    CHECK(!read_mem(long_loc, 64, &r, loc, &b, err) && strstr(err, "Location header longer"), "long Location: %s", err);
}

static void test_redirects(void) {
    char next[64], err[256];
    CHECK(redirect_target("http://h:8080/x/y", "/z?q=1", next, sizeof next, err, sizeof err) &&
              !strcmp(next, "http://h:8080/z?q=1"),
          "a path: %s", next);
    CHECK(redirect_target("http://h", "/z", next, sizeof next, err, sizeof err) && !strcmp(next, "http://h/z"), "%s", next);
    CHECK(redirect_target("http://h/x", "https://cdn.example/b", next, sizeof next, err, sizeof err) &&
              !strcmp(next, "https://cdn.example/b"),
          "absolute: %s", next);
    // refused: what would end the next request line early (a hostile server's header
    // injection), a scheme the client does not speak, a relative path, a URL that does not fit
    static const char *const refused[] = {
        "/a\rX-Injected: 1", "http://h/a b", "/a\x7f", "ftp://h/f", "f.gguf",
        "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        err[0] = 0;
        CHECK(!redirect_target("http://h/x", refused[i], next, sizeof next, err, sizeof err) && err[0],
              "redirect to '%s' taken", refused[i]);
    }
}

int main(void) {
    test_responses();
    test_redirects();
    return check_done("test_http_client");
}
#endif
