// test_http.c - the server's incremental HTTP/1.1 request parser (native/http_server.c) against
// RFC 9112: the message format (request line, header fields, Content-Length framing, bare-LF
// line ends tolerated as section 2.2 allows), persistence (section 9.3: 1.1 persists unless
// "close"; 1.0 only with "keep-alive"), pipelining (section 9.3.2), and the refusals the server
// needs with their status codes (411 / 413 / 431 / 501 / 400).
#include <string.h>

#include "check.h"
#if defined(__wasi__) // the server is native only (sockets): nothing to test in WASI builds
int main(void) { return 0; }
#else
#include "../../native/http_server.c"

#define MAX_BODY 1000

static int parse(const char *s, http_request *req, size_t *used, char *err) {
    return http_parse_request(s, strlen(s), MAX_BODY, req, used, err, 256);
}

static void test_rfc_example(void) {
    // RFC 9112 section 3 / RFC 9110 section 6.2's example request
    const char *msg = "GET /hello.txt HTTP/1.1\r\nUser-Agent: curl/7.64.1\r\nHost: www.example.com\r\n"
                      "Accept-Language: en, mi\r\n\r\n";
    http_request r;
    size_t used;
    char err[256];
    CHECK(parse(msg, &r, &used, err) == 1, "%s", err);
    CHECK(used == strlen(msg), "used %zu", used);
    CHECK(!strcmp(r.method, "GET") && !strcmp(r.path, "/hello.txt"), "%s %s", r.method, r.path);
    CHECK(r.keep_alive && !r.http10 && r.body_len == 0 && r.body && r.body[0] == 0, "1.1 persists, empty body");
    http_request_free(&r);

    // every proper prefix asks for more
    size_t n = strlen(msg), need_more = 0;
    for (size_t k = 0; k < n; k++) {
        int st = http_parse_request(msg, k, MAX_BODY, &r, &used, err, sizeof err);
        need_more += st == 0;
        if (st == 1) http_request_free(&r);
    }
    CHECK(need_more == n, "%zu of %zu prefixes asked for more", need_more, n);
}

static void test_body_and_pipelining(void) {
    const char *two = "POST /v1/completions?x=1 HTTP/1.1\r\nContent-Length: 5\r\nOrigin: http://a.example\r\n"
                      "Authorization: Bearer k1\r\n\r\nhelloGET /health HTTP/1.0\r\n\r\n";
    http_request r;
    size_t used;
    char err[256];
    CHECK(parse(two, &r, &used, err) == 1, "%s", err);
    CHECK(!strcmp(r.path, "/v1/completions"), "the query string is not part of the path: %s", r.path);
    CHECK(r.body_len == 5 && !memcmp(r.body, "hello", 6), "body");
    CHECK(!strcmp(r.origin, "http://a.example") && !strcmp(r.auth, "Bearer k1"), "origin %s auth %s", r.origin, r.auth);
    http_request_free(&r);
    const char *next = two + used;
    CHECK(!strncmp(next, "GET /health", 11), "the next request starts right after the body");
    CHECK(parse(next, &r, &used, err) == 1 && r.http10 && !r.keep_alive, "1.0 does not persist by default");
    http_request_free(&r);

    // a body not all here yet: 0, with the total it will take once the headers are complete
    const char *part = "POST /x HTTP/1.1\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\nabc";
    CHECK(parse(part, &r, &used, err) == 0, "incomplete body");
    CHECK(used == strlen(part) - 3 + 10 && r.expect_continue, "used %zu", used);
    // bare LF line ends (RFC 9112 section 2.2 lets a recipient accept them)
    CHECK(parse("GET /a HTTP/1.1\nHost: x\n\n", &r, &used, err) == 1 && used == 25 && !strcmp(r.path, "/a"), "bare LF");
    http_request_free(&r);
    // X-Api-Key stands in for Authorization only when that is absent
    CHECK(parse("GET / HTTP/1.1\r\nX-Api-Key: k2\r\n\r\n", &r, &used, err) == 1 && !strcmp(r.auth, "k2"), "x-api-key");
    http_request_free(&r);
    CHECK(parse("GET / HTTP/1.1\r\nAuthorization: Bearer a\r\nX-Api-Key: b\r\n\r\n", &r, &used, err) == 1 &&
              !strcmp(r.auth, "Bearer a"),
          "Authorization wins: %s", r.auth);
    http_request_free(&r);
}

static void test_persistence(void) {
    static const struct {
        const char *msg;
        bool keep;
    } cases[] = {
        {"GET / HTTP/1.1\r\n\r\n", true},
        {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false},
        {"GET / HTTP/1.1\r\nconnection: Upgrade, CLOSE\r\n\r\n", false},
        {"GET / HTTP/1.0\r\n\r\n", false},
        {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
        {"GET / HTTP/1.1\r\nConnection: closed\r\n\r\n", true}, // a token, not a prefix
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_request r;
        size_t used;
        char err[256];
        CHECK(parse(cases[i].msg, &r, &used, err) == 1 && r.keep_alive == cases[i].keep, "case %zu", i);
        http_request_free(&r);
    }
}

static void test_refusals(void) {
    static char big[HTTP_MAX_HEADER + 64];
    memset(big, 'a', sizeof big - 1);
    memcpy(big, "GET /", 5);
    static const struct {
        const char *msg;
        int status;
        const char *says;
    } cases[] = {
        {"POST /x HTTP/1.1\r\n\r\n", 411, "Content-Length"},
        {"POST /x HTTP/1.1\r\nContent-Length: 1001\r\n\r\n", 413, "limit of 1000 bytes"},
        {"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501, "chunked"},
        {"POST /x HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400, "conflicting"},
        {"POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "Content-Length"},
        {"POST /x HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", 400, "Content-Length"},
        {"get /x HTTP/1.1\r\n\r\n", 400, "method"},
        {"GET x HTTP/1.1\r\n\r\n", 400, "'/'"},
        {"GET /x HTTP/2.0\r\n\r\n", 400, "HTTP/1.x"},
        {"GET /x\r\n\r\n", 400, "request line"},
        {"GET /x HTTP/1.1\r\nNo colon here\r\n\r\n", 400, "header"},
        {"GET /x HTTP/1.1\r\nBad Name: v\r\n\r\n", 400, "header name"},
        {big, 431, "16384 bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_request r;
        size_t used;
        char err[256] = "";
        int st = parse(cases[i].msg, &r, &used, err);
        CHECK(st == cases[i].status && strstr(err, cases[i].says), "case %zu: %d '%s'", i, st, err);
        if (st == 1) http_request_free(&r);
    }
    // a NUL byte in the headers
    http_request r;
    size_t used;
    char err[256] = "";
    int st = http_parse_request("GET /x HTTP/1.1\r\nA: \0b\r\n\r\n", 26, MAX_BODY, &r, &used, err, sizeof err);
    CHECK(st == 400 && strstr(err, "NUL"), "NUL: %d %s", st, err);
}

int main(void) {
    test_rfc_example();
    test_body_and_pipelining();
    test_persistence();
    test_refusals();
    return check_done("http");
}
#endif
