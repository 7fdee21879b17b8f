// exports_abi.c - the numbers JS and C must agree on, described once, by C: the status codes
// and names (kite_base.h), what the JS callbacks return, the layout of every parameter block
// (abi.h, with offsetof; and kite_chat_msg, the array kw_chat_apply reads) and the defaults
// that fill them. web/worker.js reads this table when
// the module loads and hard-codes none of it; tests/node/wasm_abi.test.mjs checks it against
// the headers and the documented defaults.
#include "exports.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct abi_field {
    const char *name;
    size_t offset;
    const char *type; // i32 u32 u64 f32 f64
} abi_field;

#define F(S, f, t) {#f, offsetof(S, f), t}
// Pointers and size_t: 4 bytes in wasm32, 8 in the memory64 builds.
#if UINTPTR_MAX > 0xFFFFFFFFu
#define P "u64"
#else
#define P "u32"
#endif

static const abi_field load_fields[] = {
    F(kw_load_args, buf, P),       F(kw_load_args, len, P),        F(kw_load_args, n_ctx, "i32"),
    F(kw_load_args, n_threads, "i32"), F(kw_load_args, vocab_only, "i32"), F(kw_load_args, model, P),
    F(kw_load_args, more, P),      F(kw_load_args, more_lens, P),  F(kw_load_args, n_more, "i32"),
    F(kw_load_args, offload_layers, "i32"),
};
static const abi_field offload_fields[] = {
    F(kw_offload_args, model, P),        F(kw_offload_args, n_ctx, "i32"),
    F(kw_offload_args, n_gpu_layers, "i32"), F(kw_offload_args, backend, P),
};
static const abi_field eval_fields[] = {
    F(kw_eval_args, model, P),  F(kw_eval_args, tokens, P),  F(kw_eval_args, n, "i32"),
    F(kw_eval_args, logits, P), F(kw_eval_args, n_vocab, "i32"),
};
static const abi_field tokenize_fields[] = {
    F(kw_tokenize_args, model, P),         F(kw_tokenize_args, text, P),
    F(kw_tokenize_args, add_special, "i32"),   F(kw_tokenize_args, parse_special, "i32"),
    F(kw_tokenize_args, ids, P),           F(kw_tokenize_args, n_ids, "i32"),
};
static const abi_field gen_fields[] = {
    F(kw_gen_args, model, P),          F(kw_gen_args, prompt, P),
    F(kw_gen_args, stops, P),          F(kw_gen_args, n_stop, "i32"),
    F(kw_gen_args, n_predict, "i32"),      F(kw_gen_args, temp, "f32"),
    F(kw_gen_args, top_k, "i32"),          F(kw_gen_args, top_p, "f32"),
    F(kw_gen_args, min_p, "f32"),          F(kw_gen_args, repeat_penalty, "f32"),
    F(kw_gen_args, repeat_last_n, "i32"),  F(kw_gen_args, seed, "f64"),
    F(kw_gen_args, no_bos, "i32"),         F(kw_gen_args, keep_context, "i32"),
    F(kw_gen_args, parse_special, "i32"),  F(kw_gen_args, grammar, P),
    F(kw_gen_args, json_schema, P),    F(kw_gen_args, reasoning_budget, "i32"),
    F(kw_gen_args, reasoning_message, P), F(kw_gen_args, no_thinking, "i32"),
    F(kw_gen_args, n_prompt, "f64"),
    F(kw_gen_args, n_generated, "f64"),    F(kw_gen_args, prefill_s, "f64"),
    F(kw_gen_args, decode_s, "f64"),       F(kw_gen_args, stopped_eog, "i32"),
    F(kw_gen_args, stopped_string, "i32"), F(kw_gen_args, n_eval, "i32"),
    F(kw_gen_args, grammar_trigger, P),   F(kw_gen_args, tool_reply, "i32"),
    F(kw_gen_args, reply_at, "i32"),      F(kw_gen_args, reuse_prefix, "i32"),
    F(kw_gen_args, n_cached, "f64"),       F(kw_gen_args, sampling_given, "i32"),
    F(kw_gen_args, typical_p, "f32"),      F(kw_gen_args, top_n_sigma, "f32"),
    F(kw_gen_args, xtc_probability, "f32"), F(kw_gen_args, xtc_threshold, "f32"),
    F(kw_gen_args, mirostat, "i32"),       F(kw_gen_args, mirostat_tau, "f32"),
    F(kw_gen_args, mirostat_eta, "f32"),
    F(kw_gen_args, dry_multiplier, "f32"), F(kw_gen_args, dry_base, "f32"),
    F(kw_gen_args, dry_allowed_length, "i32"), F(kw_gen_args, dry_penalty_last_n, "i32"),
    F(kw_gen_args, dry_breakers, P),       F(kw_gen_args, n_dry_breakers, "i32"),
};
static const abi_field quant_fields[] = {
    F(kw_quant_args, buf, P),           F(kw_quant_args, len, P),
    F(kw_quant_args, type, P),          F(kw_quant_args, n_threads, "i32"),
    F(kw_quant_args, allow_requantize, "i32"), F(kw_quant_args, pure, "i32"),
    F(kw_quant_args, leave_output_tensor, "i32"), F(kw_quant_args, imatrix, P),
    F(kw_quant_args, imatrix_len, P),   F(kw_quant_args, imatrix_file, P),
    F(kw_quant_args, include_weights, P), F(kw_quant_args, n_include, "i32"),
    F(kw_quant_args, exclude_weights, P), F(kw_quant_args, n_exclude, "i32"),
    F(kw_quant_args, n_tensors, "f64"),
    F(kw_quant_args, n_quantized, "f64"),   F(kw_quant_args, n_fallback, "f64"),
    F(kw_quant_args, bytes_in, "f64"),      F(kw_quant_args, bytes_out, "f64"),
    F(kw_quant_args, n_elements, "f64"),
};

static const abi_field chat_request_fields[] = {
    F(kw_chat_request_args, model, P),   F(kw_chat_request_args, request, P),
    F(kw_chat_request_args, flags, "i32"), F(kw_chat_request_args, prompt, P),
    F(kw_chat_request_args, grammar, P), F(kw_chat_request_args, lazy, "i32"),
    F(kw_chat_request_args, tool_reply, "i32"), F(kw_chat_request_args, reply_at, "i32"),
};
// The message array kw_chat_apply reads (src/chat/kite_chat.h).
static const abi_field chat_msg_fields[] = {F(kite_chat_msg, role, P), F(kite_chat_msg, content, P)};

static void put_struct(kw_membuf *b, const char *name, size_t size, const abi_field *f, size_t n, bool last) {
    kite_buf_printf(b, "\"%s\":{\"size\":%zu,\"fields\":{", name, size);
    for (size_t i = 0; i < n; i++)
        kite_buf_printf(b, "\"%s\":{\"offset\":%zu,\"type\":\"%s\"}%s", f[i].name, f[i].offset, f[i].type, i + 1 < n ? "," : "");
    kite_buf_printf(b, "}}%s", last ? "" : ",");
}

#define PUT_STRUCT(b, S, fields, last) put_struct(b, #S, sizeof(S), fields, sizeof fields / sizeof fields[0], last)

// Fills a with the core's generation defaults (kite_gen_default_params) and no outputs.
EMSCRIPTEN_KEEPALIVE void kw_gen_args_init(kw_gen_args *a) {
    kite_gen_params p = kite_gen_default_params();
    *a = (kw_gen_args){
        .n_predict = p.n_predict,
        .temp = p.sampling.temp,
        .top_k = p.sampling.top_k,
        .top_p = p.sampling.top_p,
        .min_p = p.sampling.min_p,
        .repeat_penalty = p.sampling.repeat_penalty,
        .repeat_last_n = p.sampling.penalty_last_n,
        .typical_p = p.sampling.typical_p,
        .top_n_sigma = p.sampling.top_n_sigma,
        .xtc_probability = p.sampling.xtc_probability,
        .xtc_threshold = p.sampling.xtc_threshold,
        .mirostat = p.sampling.mirostat,
        .mirostat_tau = p.sampling.mirostat_tau,
        .mirostat_eta = p.sampling.mirostat_eta,
        .dry_multiplier = p.sampling.dry_multiplier,
        .dry_base = p.sampling.dry_base,
        .dry_allowed_length = p.sampling.dry_allowed_length,
        .dry_penalty_last_n = p.sampling.dry_penalty_last_n,
        .n_dry_breakers = -1,
        .seed = p.sampling.seed,
        .no_bos = p.no_bos,
        .keep_context = p.keep_context,
        .reuse_prefix = p.reuse_prefix,
        .parse_special = p.parse_special,
        .reasoning_budget = -1,
        .reply_at = -1,
    };
}

// Fills a with the core's quantize defaults (kite_quantize_default_params) and no outputs.
EMSCRIPTEN_KEEPALIVE void kw_quant_args_init(kw_quant_args *a) {
    kite_quantize_params p = kite_quantize_default_params();
    *a = (kw_quant_args){
        .type = NULL,
        .n_threads = p.n_threads,
        .allow_requantize = p.allow_requantize,
        .pure = p.pure,
        .leave_output_tensor = p.leave_output_tensor,
    };
}

// *out: the ABI table as JSON (free with kw_free):
//   {"status":{"KITE_OK":0,...}, "statusNames":{"0":"ok",...}, "callback":{"continue":0,"stop":1},
//    "pointerSize":4,
//    "structs":{"kw_gen_args":{"size":N,"fields":{"temp":{"offset":O,"type":"f32"},...}},...},
//    "samplingBits":{"temp":1,...}, "defaults":{"generate":{...},"quantize":{...}}}
EMSCRIPTEN_KEEPALIVE int kw_abi_json(char **out) {
    kw_membuf b = {0};
    static const struct {
        const char *id;
        kite_status code;
    } st[] = {{"KITE_OK", KITE_OK},
              {"KITE_ERR_INVALID", KITE_ERR_INVALID},
              {"KITE_ERR_IO", KITE_ERR_IO},
              {"KITE_ERR_NOMEM", KITE_ERR_NOMEM},
              {"KITE_ERR_UNSUPPORTED", KITE_ERR_UNSUPPORTED},
              {"KITE_ERR_ABORTED", KITE_ERR_ABORTED}};
    size_t n_st = sizeof st / sizeof st[0];
    kite_buf_printf(&b, "{\"status\":{");
    for (size_t i = 0; i < n_st; i++) kite_buf_printf(&b, "\"%s\":%d%s", st[i].id, (int)st[i].code, i + 1 < n_st ? "," : "");
    kite_buf_printf(&b, "},\"statusNames\":{");
    for (size_t i = 0; i < n_st; i++)
        kite_buf_printf(&b, "\"%d\":\"%s\"%s", (int)st[i].code, kite_status_name(st[i].code), i + 1 < n_st ? "," : "");
    kite_buf_printf(&b, "},\"callback\":{\"continue\":%d,\"stop\":%d},\"pointerSize\":%zu,\"structs\":{", KW_CB_CONTINUE,
            KW_CB_STOP, sizeof(void *));
    PUT_STRUCT(&b, kw_load_args, load_fields, false);
    PUT_STRUCT(&b, kw_offload_args, offload_fields, false);
    PUT_STRUCT(&b, kw_eval_args, eval_fields, false);
    PUT_STRUCT(&b, kw_tokenize_args, tokenize_fields, false);
    PUT_STRUCT(&b, kw_gen_args, gen_fields, false);
    PUT_STRUCT(&b, kw_quant_args, quant_fields, false);
    PUT_STRUCT(&b, kw_chat_request_args, chat_request_fields, false);
    PUT_STRUCT(&b, kite_chat_msg, chat_msg_fields, true);
    // the kw_gen_args field each KITE_SAMPLING_* bit of sampling_given names
    kite_buf_printf(&b, "},\"samplingBits\":{\"temp\":%u,\"top_k\":%u,\"top_p\":%u,\"min_p\":%u,\"repeat_penalty\":%u,"
            "\"repeat_last_n\":%u,\"xtc_probability\":%u,\"xtc_threshold\":%u,\"mirostat\":%u,\"mirostat_tau\":%u,"
            "\"mirostat_eta\":%u", KITE_SAMPLING_TEMP, KITE_SAMPLING_TOP_K, KITE_SAMPLING_TOP_P, KITE_SAMPLING_MIN_P,
            KITE_SAMPLING_REPEAT_PENALTY, KITE_SAMPLING_PENALTY_LAST_N, KITE_SAMPLING_XTC_PROBABILITY,
            KITE_SAMPLING_XTC_THRESHOLD, KITE_SAMPLING_MIROSTAT, KITE_SAMPLING_MIROSTAT_TAU, KITE_SAMPLING_MIROSTAT_ETA);
    kw_gen_args g;
    kw_gen_args_init(&g);
    kite_buf_printf(&b,
            "},\"defaults\":{\"generate\":{\"n_predict\":%d,\"temp\":%.9g,\"top_k\":%d,\"top_p\":%.9g,\"min_p\":%.9g,"
            "\"repeat_penalty\":%.9g,\"repeat_last_n\":%d,\"seed\":%.0f,\"typical_p\":%.9g,\"top_n_sigma\":%.9g,"
            "\"xtc_probability\":%.9g,\"xtc_threshold\":%.9g,\"mirostat\":%d,\"mirostat_tau\":%.9g,"
            "\"mirostat_eta\":%.9g,\"dry_multiplier\":%.9g,\"dry_base\":%.9g,\"dry_allowed_length\":%d,"
            "\"dry_penalty_last_n\":%d},",
            g.n_predict, (double)g.temp, g.top_k, (double)g.top_p, (double)g.min_p, (double)g.repeat_penalty,
            g.repeat_last_n, g.seed, (double)g.typical_p, (double)g.top_n_sigma, (double)g.xtc_probability,
            (double)g.xtc_threshold, g.mirostat, (double)g.mirostat_tau, (double)g.mirostat_eta,
            (double)g.dry_multiplier, (double)g.dry_base, g.dry_allowed_length, g.dry_penalty_last_n);
    kw_quant_args q;
    kw_quant_args_init(&q);
    kite_buf_printf(&b, "\"quantize\":{\"n_threads\":%d,\"allow_requantize\":%d,\"pure\":%d,\"leave_output_tensor\":%d}}}",
            q.n_threads, q.allow_requantize, q.pure, q.leave_output_tensor);
    if (b.nomem) {
        free(b.ptr);
        return kite_set_error(KITE_ERR_NOMEM, "out of wasm memory");
    }
    *out = kw__membuf_take(&b);
    return *out ? KITE_OK : KITE_ERR_NOMEM;
}
