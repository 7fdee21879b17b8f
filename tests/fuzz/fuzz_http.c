// fuzz_http.c - libFuzzer target for the server's HTTP request parser (native/http_server.c):
// any bytes must give "need more", one whole request, or an HTTP error status with a message,
// never a crash; a whole request must parse the same from exactly the bytes it used, and every
// shorter prefix of them must ask for more (or fail the same way).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_server.c"

#define MAX_BODY (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *buf = (const char *)data;
    http_request req;
    size_t used = 0;
    char err[256] = "";
    int r = http_parse_request(buf, size, MAX_BODY, &req, &used, err, sizeof err);
    if (r == 0) {
        if (used != 0 && used <= size) abort(); // "need more" with all it needs at hand
        return 0;
    }
    if (r != 1) {
        if (r < 400 || r > 599 || !err[0]) abort();
        return 0;
    }
    if (used > size || req.body_len > MAX_BODY || req.body_len > used || req.body[req.body_len] != 0) abort();
    if (memcmp(req.body, buf + used - req.body_len, req.body_len) != 0) abort();
    if (req.path[0] != '/' || !req.method[0]) abort();
    // the same request from exactly its bytes, and "need more" from a prefix of them
    http_request again;
    size_t used2 = 0;
    if (http_parse_request(buf, used, MAX_BODY, &again, &used2, err, sizeof err) != 1 || used2 != used ||
        again.body_len != req.body_len || strcmp(again.path, req.path) != 0 || again.keep_alive != req.keep_alive)
        abort();
    http_request_free(&again);
    if (used > 0) {
        int rp = http_parse_request(buf, used - 1, MAX_BODY, &again, &used2, err, sizeof err);
        if (rp == 1) abort();
        if (rp == 0 && used2 != 0 && used2 != used) abort(); // the headers promised another length
        http_request_free(&again);
    }
    http_request_free(&req);
    return 0;
}
