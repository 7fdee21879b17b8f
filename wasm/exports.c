// exports.c - the C ABI the JS worker calls (web/worker.js): heap buffers for streamed
// model bytes, error messages, and the byte sink/progress bridges to JS. Every kw_* function
// is exported; pointers and sizes cross as wasm32 numbers, strings as NUL-terminated UTF-8.
#include "exports.h"

#include <stdlib.h>
#include <string.h>

// ---- JS callbacks (the worker installs Module.kite* handlers) -------------------------

// Pointers and sizes reach these as Numbers (wasm32: signed, hence >>> 0) or, in the memory64
// builds, as BigInts.
// Bytes for the current output sink; returns KW_CB_CONTINUE when JS accepted them.
EM_JS(int, kw_js_sink, (const void *p, size_t n), {
    var num = function(x) { return typeof x == 'bigint' ? Number(x) : x >>> 0; };
    return Module.kiteSink ? Module.kiteSink(num(p), num(n)) : 1;
});

// Progress (done/total as doubles: counts can pass 2^32); returns KW_CB_CONTINUE to go on,
// KW_CB_STOP to stop.
EM_JS(int, kw_js_progress, (const char *what, double done, double total), {
    // A pool thread has no handlers: it never reports, and never stops the work.
    return Module.kiteProgress ? Module.kiteProgress(UTF8ToString(typeof what == 'bigint' ? Number(what) : what), done, total) : 0;
});

// ---- buffers --------------------------------------------------------------------------

// Model bytes are streamed into one block of this alignment: GGUF aligns tensor data to 32
// bytes from the file start, and 64 keeps whole cache lines for the SIMD kernels.
#define KW_BUF_ALIGN 64

EMSCRIPTEN_KEEPALIVE void *kw_alloc(size_t n) {
    if (n == 0) n = 1;
    size_t rounded = (n + KW_BUF_ALIGN - 1) / KW_BUF_ALIGN * KW_BUF_ALIGN;
    if (rounded < n) return NULL;
    void *p = aligned_alloc(KW_BUF_ALIGN, rounded);
    if (!p) kite_set_error(KITE_ERR_NOMEM, "out of wasm memory allocating %zu bytes", n);
    return p;
}

EMSCRIPTEN_KEEPALIVE void kw_free(void *p) { free(p); }

EMSCRIPTEN_KEEPALIVE const char *kw_last_error(void) { return kite_last_error(); }

EMSCRIPTEN_KEEPALIVE const char *kw_version(void) { return KITE_VERSION; }

// 1 in the pthreads build (mt), 0 in the single-threaded one (st).
EMSCRIPTEN_KEEPALIVE int kw_threaded(void) {
#ifdef __EMSCRIPTEN_PTHREADS__
    return 1;
#else
    return 0;
#endif
}

// ---- sinks ----------------------------------------------------------------------------

static kite_status js_sink_write(void *user, const void *data, size_t n) {
    (void)user;
    if (n == 0) return KITE_OK;
    if (kw_js_sink(data, n) != KW_CB_CONTINUE) return kite_set_error(KITE_ERR_ABORTED, "output sink refused the data (aborted)");
    return KITE_OK;
}

const kite_sink kw__js_sink = {js_sink_write, NULL};

bool kw__js_progress(void *user, const char *what, uint64_t done, uint64_t total) {
    (void)user;
    return kw_js_progress(what ? what : "", (double)done, (double)total) == KW_CB_CONTINUE;
}

static kite_status mem_sink_write(void *user, const void *data, size_t n) {
    kw_membuf *b = user;
    if (kite_buf_append(b, data, n)) return KITE_OK;
    return kite_set_error(KITE_ERR_NOMEM, "out of wasm memory (%zu bytes of output)", b->len + n);
}

kite_sink kw__membuf_sink(kw_membuf *b) { return (kite_sink){mem_sink_write, b}; }

char *kw__membuf_take(kw_membuf *b) {
    if (!b->ptr) {
        b->ptr = calloc(1, 1);
        if (!b->ptr) kite_set_error(KITE_ERR_NOMEM, "out of wasm memory");
    }
    char *p = b->ptr;
    *b = (kw_membuf){0};
    return p;
}

EMSCRIPTEN_KEEPALIVE const char *kw_status_name(int s) { return kite_status_name((kite_status)s); }
