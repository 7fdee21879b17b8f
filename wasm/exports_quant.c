// exports_quant.c - quantize a GGUF held in the wasm heap; the new file streams to JS
// through Module.kiteSink, progress and abort through Module.kiteProgress.
#include "exports.h"

// *out = the llama_ftype number of a llama-quantize type name ("Q4_K_M", "q8_0", "15").
EMSCRIPTEN_KEEPALIVE int kw_ftype_from_name(const char *name, int *out) {
    if (!kite_quantize_ftype_from_name(name, out))
        return kite__fail(KITE_ERR_INVALID, "unknown quantization type '%s' (e.g. Q4_K_M, Q8_0, Q6_K, IQ4_NL)", name);
    return KITE_OK;
}

// Quantizes the GGUF in buf[0..len) to ftype on n_threads threads (kite_quantize_gguf).
// flags: 1 allow requantizing, 2 pure (no mixture rules), 4 leave output.weight as it is.
// stats_out gets 6 doubles: tensors, quantized, fallbacks, bytes in, bytes out, elements.
EMSCRIPTEN_KEEPALIVE int kw_quantize(const uint8_t *buf, size_t len, int ftype, int n_threads, int flags,
                                     double *stats_out) {
    kite_gguf *g = NULL;
    KITE_TRY(kite_gguf_parse(buf, len, &g));
    kite_quantize_params p = kite_quantize_default_params();
    kite_quantize_stats st = {0};
    p.ftype = ftype;
    p.n_threads = n_threads < 1 ? 1 : n_threads;
    p.allow_requantize = (flags & 1) != 0;
    p.pure = (flags & 2) != 0;
    p.leave_output_tensor = (flags & 4) != 0;
    p.stats = &st;
    kite_status s = kite_quantize_gguf(g, &kw__js_sink, &p, kw__js_progress, NULL);
    kite_gguf_free(g);
    stats_out[0] = (double)st.n_tensors;
    stats_out[1] = (double)st.n_quantized;
    stats_out[2] = (double)st.n_fallback;
    stats_out[3] = (double)st.bytes_in;
    stats_out[4] = (double)st.bytes_out;
    stats_out[5] = (double)st.n_elements;
    return s;
}
