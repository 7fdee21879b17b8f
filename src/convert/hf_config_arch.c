// hf_config_arch.c - config.json -> GGUF keys for the architectures whose llama.cpp converter
// classes write their own key set instead of TextModel's: Gemma2Model, Gemma3Model (which does
// start from TextModel's rope keys) and Phi3MiniModel.
#include "convert/convert_internal.h"
#include "base/internal.h"

#include <math.h>
#include <stdio.h>

// Sets <arch>.<suffix> = config.json's key as u32 (also into *out when out is not NULL); when
// the key is absent: def when def >= 0, else refused naming the key.
static kite_status put_u32(const kite__jval *cfg, kite_gguf_writer *w, const char *arch, const char *suffix, const char *key,
                           int64_t def, uint32_t *out) {
    uint32_t x = 0;
    int r = kite__hf_u32(cfg, key, &x);
    if (r < 0) return KITE_ERR_INVALID;
    if (r == 0) {
        if (def < 0) return kite__fail(KITE_ERR_INVALID, "config.json: missing \"%s\" (%s needs it)", key, arch);
        x = (uint32_t)def;
    }
    if (out) *out = x;
    char k[96];
    snprintf(k, sizeof k, "%s.%s", arch, suffix);
    return kite_gguf_writer_set_u32(w, k, x);
}

// As put_u32 for a float key; def NAN: required.
static kite_status put_f32(const kite__jval *cfg, kite_gguf_writer *w, const char *arch, const char *suffix, const char *key,
                           double def) {
    double x = 0;
    int r = kite__hf_num(cfg, key, &x);
    if (r < 0) return KITE_ERR_INVALID;
    if (r == 0) {
        if (isnan(def)) return kite__fail(KITE_ERR_INVALID, "config.json: missing \"%s\" (%s needs it)", key, arch);
        x = def;
    }
    char k[96];
    snprintf(k, sizeof k, "%s.%s", arch, suffix);
    return kite_gguf_writer_set_f32(w, k, (float)x);
}

static kite_status check_heads(const kite__hf_model *m) {
    if (m->n_layer == 0 || m->n_head == 0 || m->n_head_kv == 0 || m->n_head % m->n_head_kv || m->head_dim == 0 ||
        m->head_dim % 2)
        return kite__fail(KITE_ERR_INVALID, "config.json: %u layers, %u heads, %u kv heads, head dimension %u", m->n_layer,
                          m->n_head, m->n_head_kv, m->head_dim);
    return KITE_OK;
}

// llama.cpp's gemma2 / gemma3 scale queries by 1/sqrt(n_embd / n_head) for the 27B shapes
// (46 / 62 layers) and 1/sqrt(head_dim) otherwise; config.json's query_pre_attn_scalar says
// what the model was trained with, so a checkpoint whose value differs would run wrong.
static kite_status check_query_scale(const kite__jval *cfg, const kite__hf_model *m) {
    uint32_t q = 0;
    int r = kite__hf_u32(cfg, "query_pre_attn_scalar", &q);
    if (r <= 0) return r < 0 ? KITE_ERR_INVALID : KITE_OK;
    bool big = m->n_layer == (m->family == KITE__HF_GEMMA2 ? 46u : 62u);
    uint32_t used = big ? m->n_embd / m->n_head : m->head_dim;
    if (q != used)
        return kite__fail(KITE_ERR_UNSUPPORTED, "config.json: query_pre_attn_scalar %u is not the %u llama.cpp's %s uses for %u layers",
                          q, used, m->arch, m->n_layer);
    return KITE_OK;
}

// The keys Gemma 2 and Gemma 3 share (Gemma3Model's defaults for absent ones when defaults).
static kite_status gemma_common(const kite__jval *cfg, kite_gguf_writer *w, kite__hf_model *m, bool defaults) {
    const char *a = m->arch;
    KITE_TRY(put_u32(cfg, w, a, "context_length", "max_position_embeddings", defaults ? 131072 : -1, NULL));
    KITE_TRY(put_u32(cfg, w, a, "embedding_length", "hidden_size", -1, &m->n_embd));
    KITE_TRY(put_u32(cfg, w, a, "block_count", "num_hidden_layers", -1, &m->n_layer));
    KITE_TRY(put_u32(cfg, w, a, "feed_forward_length", "intermediate_size", -1, NULL));
    KITE_TRY(put_u32(cfg, w, a, "attention.head_count", "num_attention_heads", defaults ? 8 : -1, &m->n_head));
    // Gemma2Model: the head count when absent; Gemma3Model: 4
    uint32_t kv_def = defaults ? 4 : m->n_head;
    KITE_TRY(put_u32(cfg, w, a, "attention.head_count_kv", "num_key_value_heads", kv_def, &m->n_head_kv));
    KITE_TRY(put_f32(cfg, w, a, "attention.layer_norm_rms_epsilon", "rms_norm_eps", defaults ? 1e-6 : NAN));
    KITE_TRY(put_u32(cfg, w, a, "attention.key_length", "head_dim", defaults ? 256 : -1, &m->head_dim));
    KITE_TRY(put_u32(cfg, w, a, "attention.value_length", "head_dim", defaults ? 256 : -1, NULL));
    KITE_TRY(check_heads(m));
    return check_query_scale(cfg, m);
}

kite_status kite__hf_config_gemma2(const kite__jval *cfg, kite_gguf_writer *w, kite__hf_model *m) {
    KITE_TRY(gemma_common(cfg, w, m, false));
    KITE_TRY(put_f32(cfg, w, m->arch, "attn_logit_softcapping", "attn_logit_softcapping", NAN));
    KITE_TRY(put_f32(cfg, w, m->arch, "final_logit_softcapping", "final_logit_softcapping", NAN));
    // (Gemma2Model writes no rope keys: llama.cpp's gemma2 runs with base 10000)
    return put_u32(cfg, w, m->arch, "attention.sliding_window", "sliding_window", -1, NULL);
}

kite_status kite__hf_config_gemma3(const kite__jval *cfg, kite_gguf_writer *w, kite__hf_model *m) {
    KITE_TRY(gemma_common(cfg, w, m, true));
    KITE_TRY(kite__hf_put_rope(cfg, w, m)); // TextModel's: linear scaling, rope_local_base_freq
    if (!m->rope_theta_set) {
        m->rope_theta = 1e6f;
        KITE_TRY(kite_gguf_writer_set_f32(w, "gemma3.rope.freq_base", m->rope_theta));
    }
    double cap = 0;
    int r = kite__hf_num(cfg, "attn_logit_softcapping", &cap);
    if (r) return r < 0 ? KITE_ERR_INVALID
                        : kite__fail(KITE_ERR_UNSUPPORTED, "config.json: gemma3 has no attention soft-cap (attn_logit_softcapping)");
    if ((r = kite__hf_num(cfg, "final_logit_softcapping", &cap)) < 0) return KITE_ERR_INVALID;
    if (r && cap != 0) KITE_TRY(kite_gguf_writer_set_f32(w, "gemma3.final_logit_softcapping", (float)cap));
    // every 6th layer global, the rest sliding: the pattern llama.cpp's gemma3 assumes when the
    // GGUF names none (the converter writes none); pattern 1 (all global) means no window
    uint32_t pattern = 6;
    if ((r = kite__hf_u32(cfg, "sliding_window_pattern", &pattern)) < 0) return KITE_ERR_INVALID;
    if (pattern == 1) return KITE_OK;
    if (pattern != 6)
        return kite__fail(KITE_ERR_UNSUPPORTED, "config.json: sliding_window_pattern %u is not 6 (the pattern llama.cpp's gemma3 runs)",
                          pattern);
    return put_u32(cfg, w, m->arch, "attention.sliding_window", "sliding_window", -1, NULL);
}

// A rope parameter: from rope_parameters / rope_scaling (rp), else config.json's top level
// (llama.cpp's TextModel mirrors the top-level names into rope_parameters).
static int rope_num(const kite__jval *cfg, const kite__jval *rp, const char *key, double *out) {
    int r = rp ? kite__hf_num(rp, key, out) : 0;
    return r ? r : kite__hf_num(cfg, key, out);
}

// A longrope factor list: an array of n numbers.
static kite_status check_factors(const kite__jval *v, const char *key, uint32_t n) {
    bool ok = v && v->type == KITE__J_ARR && v->n == n;
    for (size_t i = 0; ok && i < v->n; i++) ok = v->items[i]->type == KITE__J_NUM && isfinite(v->items[i]->d);
    if (!ok) return kite__fail(KITE_ERR_INVALID, "config.json: rope_scaling \"%s\" is not %u numbers (rope dimensions / 2)", key, n);
    return KITE_OK;
}

// longrope: rope.scaling.attn_factor from the context ratio, factor arrays for the tensors.
static kite_status phi3_longrope(const kite__jval *rp, kite_gguf_writer *w, kite__hf_model *m, uint32_t ctx, uint32_t orig,
                                 uint32_t rope_dim) {
    const kite__jval *lf = kite__json_get(rp, "long_factor"), *sf = kite__json_get(rp, "short_factor");
    if (!lf || lf->type == KITE__J_NULL || (lf->type == KITE__J_ARR && lf->n == 0)) return KITE_OK; // no long-context scaling
    const kite__jval *type = kite__json_get(rp, "rope_type");
    if (!type || type->type == KITE__J_NULL) type = kite__json_get(rp, "type");
    if (!type || type->type != KITE__J_STR || !*type->s) return kite__fail(KITE_ERR_INVALID, "config.json: rope_scaling has no type");
    double scale = (double)ctx / orig, attn = 1.0;
    char t[16];
    snprintf(t, sizeof t, "%s", type->s);
    for (char *p = t; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    if (!strcmp(t, "su") || !strcmp(t, "longrope")) {
        if (scale > 1.0) attn = sqrt(1.0 + log(scale) / log((double)orig));
    } else if (!strcmp(t, "yarn")) {
        if (scale > 1.0) attn = 0.1 * log(scale) + 1.0;
    } else {
        return kite__fail(KITE_ERR_UNSUPPORTED, "config.json: rope type \"%s\" is not supported for phi3", type->s);
    }
    KITE_TRY(kite_gguf_writer_set_f32(w, "phi3.rope.scaling.attn_factor", (float)attn));
    KITE_TRY(check_factors(lf, "long_factor", rope_dim / 2));
    KITE_TRY(check_factors(sf, "short_factor", rope_dim / 2));
    m->rope_long = lf;
    m->rope_short = sf;
    return KITE_OK;
}

kite_status kite__hf_config_phi3(const kite__jval *cfg, kite_gguf_writer *w, kite__hf_model *m) {
    static const char *const k_embd[] = {"hidden_size", "n_embd", NULL}, *const k_head[] = {"num_attention_heads", "n_head", NULL},
                             *const k_kv[] = {"num_key_value_heads", "n_head_kv", NULL},
                             *const k_ctx[] = {"n_positions", "max_position_embeddings", NULL},
                             *const k_ff[] = {"intermediate_size", NULL},
                             *const k_layers[] = {"n_layers", "num_hidden_layers", "n_layer", "num_layers", NULL};
    const char *a = m->arch;
    const kite__jval *rp = kite__json_get(cfg, "rope_parameters");
    if (!rp || rp->type == KITE__J_NULL) rp = kite__json_get(cfg, "rope_scaling");
    if (rp && rp->type == KITE__J_NULL) rp = NULL;
    if (rp && rp->type != KITE__J_OBJ) return kite__fail(KITE_ERR_INVALID, "config.json: \"rope_scaling\" is not an object");
    uint32_t ctx = 0;
    double orig = 0, pct = 1.0, theta = 0;
    KITE_TRY(kite__hf_put_hparam(cfg, w, a, "context_length", k_ctx, true, &ctx));
    int r = rope_num(cfg, rp, "original_max_position_embeddings", &orig);
    if (r <= 0)
        return r < 0 ? KITE_ERR_INVALID
                     : kite__fail(KITE_ERR_INVALID, "config.json: missing \"original_max_position_embeddings\" (phi3 needs it)");
    if (orig < 1 || orig > UINT32_MAX || orig != floor(orig))
        return kite__fail(KITE_ERR_INVALID, "config.json: \"original_max_position_embeddings\" is not a positive integer");
    KITE_TRY(kite_gguf_writer_set_u32(w, "phi3.rope.scaling.original_context_length", (uint32_t)orig));
    KITE_TRY(kite__hf_put_hparam(cfg, w, a, "embedding_length", k_embd, true, &m->n_embd));
    KITE_TRY(kite__hf_put_hparam(cfg, w, a, "feed_forward_length", k_ff, true, NULL));
    KITE_TRY(kite__hf_put_hparam(cfg, w, a, "block_count", k_layers, true, &m->n_layer));
    KITE_TRY(kite__hf_put_hparam(cfg, w, a, "attention.head_count", k_head, true, &m->n_head));
    KITE_TRY(kite__hf_put_hparam(cfg, w, a, "attention.head_count_kv", k_kv, true, &m->n_head_kv));
    KITE_TRY(put_f32(cfg, w, a, "attention.layer_norm_rms_epsilon", "rms_norm_eps", NAN));
    m->head_dim = m->n_head ? m->n_embd / m->n_head : 0;
    KITE_TRY(check_heads(m));
    static const char *const k_pct[] = {"partial_rotary_factor", "rope_pct", "rope_percent"};
    for (size_t i = 0; i < 3 && (r = rope_num(cfg, rp, k_pct[i], &pct)) == 0; i++) {}
    if (r < 0) return KITE_ERR_INVALID;
    double rot = floor(pct * m->n_embd); // Python's int(pct * n_embd) // n_head
    if (!(pct > 0) || rot > m->n_embd || (uint32_t)rot / m->n_head == 0 || ((uint32_t)rot / m->n_head) % 2)
        return kite__fail(KITE_ERR_INVALID, "config.json: partial_rotary_factor %g gives no even rope dimension", pct);
    uint32_t rope_dim = (uint32_t)rot / m->n_head;
    KITE_TRY(kite_gguf_writer_set_u32(w, "phi3.rope.dimension_count", rope_dim));
    if ((r = rope_num(cfg, rp, "rope_theta", &theta)) <= 0)
        return r < 0 ? KITE_ERR_INVALID : kite__fail(KITE_ERR_INVALID, "config.json: missing \"rope_theta\" (phi3 needs it)");
    m->rope_theta = (float)theta;
    m->rope_theta_set = true;
    KITE_TRY(kite_gguf_writer_set_f32(w, "phi3.rope.freq_base", m->rope_theta));
    // 0 when absent: llama.cpp tells Phi-4 (no window) from Phi-3 by it
    KITE_TRY(put_u32(cfg, w, a, "attention.sliding_window", "sliding_window", 0, NULL));
    return rp ? phi3_longrope(rp, w, m, ctx, (uint32_t)orig, rope_dim) : KITE_OK;
}
