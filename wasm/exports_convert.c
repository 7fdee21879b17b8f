// exports_convert.c - a Hugging Face checkpoint to GGUF (kite_convert_hf) for JS: the folder is
// read through Module.kiteHf, a synchronous callback (the worker blocks on the page, which owns
// the Files, the folder or the URLs); the GGUF streams to JS through Module.kiteSink, progress
// and abort through Module.kiteProgress.

#include "exports.h"

// The checkpoint's files, as the worker serves them. op 0: whether name exists (1 or 0); op 1:
// its size; op 2: n bytes at offset into dst (0). A negative result is -(kite_status) with its
// message written to err (err_cap bytes, NUL-terminated). Sizes and offsets cross as doubles
// (exact below 2^53).
EM_JS(double, kw_js_hf, (int op, const char *name, double offset, void *dst, double n, char *err, size_t err_cap), {
    var num = function(x) { return typeof x == 'bigint' ? Number(x) : x >>> 0; };
    return Module.kiteHf(op, UTF8ToString(num(name)), offset, num(dst), n, num(err), num(err_cap));
});

enum { HF_EXISTS = 0, HF_SIZE = 1, HF_READ = 2 };

// Runs one op; *value its result. A failure's message becomes the thread's kite error.
static kite_status hf_call(int op, const char *name, uint64_t offset, void *dst, uint64_t n, double *value) {
    char err[512] = "";
    double r = kw_js_hf(op, name, (double)offset, dst, (double)n, err, sizeof err);
    if (r < 0) return kite_set_error((kite_status)(int)-r, "%s", err[0] ? err : "reading the checkpoint failed");
    *value = r;
    return KITE_OK;
}

static bool hf_exists(void *user, const char *name) {
    (void)user;
    double v = 0;
    return hf_call(HF_EXISTS, name, 0, NULL, 0, &v) == KITE_OK && v == 1;
}

static kite_status hf_size(void *user, const char *name, uint64_t *size) {
    (void)user;
    double v = 0;
    KW_TRY(hf_call(HF_SIZE, name, 0, NULL, 0, &v));
    *size = (uint64_t)v;
    return KITE_OK;
}

static kite_status hf_read_at(void *user, const char *name, uint64_t offset, void *dst, uint64_t n) {
    (void)user;
    double v = 0;
    return n ? hf_call(HF_READ, name, offset, dst, n, &v) : KITE_OK;
}

// Converts the checkpoint Module.kiteHf serves to a GGUF streamed to Module.kiteSink.
// outtype: KITE_TYPE_F32 / F16 / BF16 / Q8_0, or -1 (auto); name: general.name over the
// heuristics' (kite convert --model-name), or NULL; dir: the folder's name (what the name
// heuristics read last), or NULL.
EMSCRIPTEN_KEEPALIVE int kw_convert(int outtype, const char *name, const char *dir) {
    kite_hf_files files = {NULL, hf_exists, NULL, hf_size, hf_read_at}; // small files: exists + size + read_at
    kite_convert_opts o = {outtype, name, kw__js_progress, NULL, dir};
    return kite_convert_hf(&files, &o, &kw__js_sink);
}
