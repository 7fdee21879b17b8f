// exports_quant.c - quantize a GGUF held in the wasm heap; the new file streams to JS
// through Module.kiteSink, progress and abort through Module.kiteProgress.
#include <stdio.h>

#include "exports.h"

// Quantizes the GGUF in a->buf[0..a->len) to the llama-quantize type a->type on a->n_threads
// threads (kite_quantize_gguf), with the importance matrix file a->imatrix[0..a->imatrix_len)
// when given (kite_imatrix_parse, then kite_imatrix_filter by the include/exclude lists, as
// kite quantize --imatrix does); a's inputs start from kw_quant_args_init's defaults, and its
// out fields get the run's counts and sizes.
EMSCRIPTEN_KEEPALIVE int kw_quantize(kw_quant_args *a) {
    int ftype = 0;
    if (!a->type || !kite_quantize_ftype_from_name(a->type, &ftype))
        return kite_set_error(KITE_ERR_INVALID, "unknown quantization type '%s' (e.g. Q4_K_M, Q8_0, Q6_K, IQ4_NL)",
                          a->type ? a->type : "");
    kite_imatrix *im = NULL;
    if (a->imatrix) {
        if (a->n_include < 0 || a->n_exclude < 0 || (a->n_include && !a->include_weights) ||
            (a->n_exclude && !a->exclude_weights))
            return kite_set_error(KITE_ERR_INVALID, "bad include/exclude weight lists");
        kite_status s = kite_imatrix_parse(a->imatrix, a->imatrix_len, &im);
        if (s != KITE_OK) {
            char why[256];
            snprintf(why, sizeof why, "%s", kite_last_error());
            return kite_set_error(s, "importance matrix %s: %s", a->imatrix_file ? a->imatrix_file : "", why);
        }
        kite_imatrix_filter(im, a->include_weights, (size_t)a->n_include, a->exclude_weights, (size_t)a->n_exclude);
    }
    kite_gguf *g = NULL;
    kite_status ps = kite_gguf_parse(a->buf, a->len, &g);
    if (ps != KITE_OK) {
        kite_imatrix_free(im);
        return ps;
    }
    kite_quantize_params p = kite_quantize_default_params();
    kite_quantize_stats st = {0};
    p.ftype = ftype;
    p.n_threads = a->n_threads < 1 ? 1 : a->n_threads;
    p.allow_requantize = a->allow_requantize != 0;
    p.pure = a->pure != 0;
    p.leave_output_tensor = a->leave_output_tensor != 0;
    p.stats = &st;
    p.imatrix = im;
    p.imatrix_file = a->imatrix_file;
    kite_status s = kite_quantize_gguf(g, &kw__js_sink, &p, kw__js_progress, NULL);
    kite_gguf_free(g);
    kite_imatrix_free(im);
    a->n_tensors = (double)st.n_tensors;
    a->n_quantized = (double)st.n_quantized;
    a->n_fallback = (double)st.n_fallback;
    a->bytes_in = (double)st.bytes_in;
    a->bytes_out = (double)st.bytes_out;
    a->n_elements = (double)st.n_elements;
    return s;
}
