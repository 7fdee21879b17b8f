// exports_gguf.c - GGUF files for JS: parse a streamed buffer, describe it as JSON.
#include "exports.h"

// Parses buf[0..len) (a kw_alloc block holding the whole file) into *out; buf must outlive
// it. Returns a kite_status; the reader's message is in kw_last_error().
EMSCRIPTEN_KEEPALIVE int kw_gguf_parse(const uint8_t *buf, size_t len, kite_gguf **out) {
    return kite_gguf_parse(buf, len, out);
}

EMSCRIPTEN_KEEPALIVE void kw_gguf_free(kite_gguf *g) { kite_gguf_free(g); }

// Sets *out to the JSON description of g (kite_gguf_info_json), a NUL-terminated string to
// free with kw_free.
EMSCRIPTEN_KEEPALIVE int kw_gguf_info_json(const kite_gguf *g, char **out) {
    kw_membuf b = {0};
    kite_sink sink = kw__membuf_sink(&b);
    kite_status s = kite_gguf_info_json(g, &sink);
    if (s != KITE_OK) {
        free(b.ptr);
        return s;
    }
    *out = kw__membuf_take(&b);
    return *out ? KITE_OK : KITE_ERR_NOMEM;
}
