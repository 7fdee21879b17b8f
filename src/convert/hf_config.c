// hf_config.c - config.json -> the architecture and its GGUF hyperparameter keys, as
// llama.cpp's convert_hf_to_gguf.py (TextModel.set_gguf_parameters, LlamaModel's additions)
// writes them for the architectures Kite converts.
#include "convert/convert_internal.h"
#include "base/internal.h"

#include <math.h>
#include <stdio.h>

typedef struct arch_entry {
    const char *hf;   // config.json "architectures"[0]
    const char *gguf; // general.architecture
    kite__hf_family family;
    bool llama_like;
    bool base; // a base model (LlamaModel...): tensor names without "model.", no lm_head
} arch_entry;

static const arch_entry arches[] = {
    {"LlamaForCausalLM", "llama", KITE__HF_LLAMA, true, false},
    {"LLaMAForCausalLM", "llama", KITE__HF_LLAMA, true, false},
    {"MistralForCausalLM", "llama", KITE__HF_LLAMA, true, false}, // llama.cpp converts Mistral as llama
    {"SmolLM3ForCausalLM", "smollm3", KITE__HF_LLAMA, true, false},
    {"Qwen2ForCausalLM", "qwen2", KITE__HF_LLAMA, false, false},
    {"Qwen3ForCausalLM", "qwen3", KITE__HF_LLAMA, false, false},
    {"Qwen3MoeForCausalLM", "qwen3moe", KITE__HF_LLAMA, false, false},
    {"Gemma2ForCausalLM", "gemma2", KITE__HF_GEMMA2, false, false},
    {"Gemma3ForCausalLM", "gemma3", KITE__HF_GEMMA3, false, false},
    {"Phi3ForCausalLM", "phi3", KITE__HF_PHI3, false, false},
    // the base models llama.cpp registers with these (LlamaModel, Qwen2Model, Qwen3Model)
    {"LlamaModel", "llama", KITE__HF_LLAMA, true, true},
    {"Qwen2Model", "qwen2", KITE__HF_LLAMA, false, true},
    {"Qwen3Model", "qwen3", KITE__HF_LLAMA, false, true},
};

kite_status kite__hf_json(const char *what, const uint8_t *text, uint64_t len, kite__jval **out) {
    kite_status s = kite__json_parse((const char *)text, (size_t)len, out);
    if (s == KITE_OK) return KITE_OK;
    char why[256];
    const char *e = kite_last_error();
    if (!strncmp(e, "json schema: ", 13)) e += 13;
    snprintf(why, sizeof why, "%s", e);
    return kite__fail(s, "%s: %s", what, why);
}

int kite__hf_num(const kite__jval *obj, const char *key, double *out) {
    const kite__jval *v = kite__json_get(obj, key);
    if (!v || v->type == KITE__J_NULL) return 0;
    if (v->type != KITE__J_NUM || !isfinite(v->d)) {
        kite__fail(KITE_ERR_INVALID, "config.json: \"%s\" is not a number", key);
        return -1;
    }
    *out = v->is_int ? (double)v->i : v->d;
    return 1;
}

int kite__hf_u32(const kite__jval *obj, const char *key, uint32_t *out) {
    const kite__jval *v = kite__json_get(obj, key);
    if (!v || v->type == KITE__J_NULL) return 0;
    if (v->type != KITE__J_NUM || !v->is_int || v->i < 0 || v->i > UINT32_MAX) {
        kite__fail(KITE_ERR_INVALID, "config.json: \"%s\" is not an integer in 0..4294967295", key);
        return -1;
    }
    *out = (uint32_t)v->i;
    return 1;
}

// The first of keys that config.json has (llama.cpp's find_hparam): 1 found, 0 none, -1 bad.
static int find_u32(const kite__jval *cfg, const char *const *keys, uint32_t *out) {
    for (; *keys; keys++) {
        int r = kite__hf_u32(cfg, *keys, out);
        if (r) return r;
    }
    return 0;
}

// "<arch>.<suffix>" into buf.
static const char *akey(char *buf, size_t n, const char *arch, const char *suffix) {
    snprintf(buf, n, "%s.%s", arch, suffix);
    return buf;
}

kite_status kite__hf_put_hparam(const kite__jval *cfg, kite_gguf_writer *w, const char *arch, const char *suffix,
                                const char *const *keys, bool required, uint32_t *out) {
    uint32_t x = 0;
    int r = find_u32(cfg, keys, &x);
    if (r < 0) return KITE_ERR_INVALID;
    if (r == 0) {
        if (required) return kite__fail(KITE_ERR_INVALID, "config.json: missing \"%s\"", keys[0]);
        return KITE_OK;
    }
    char k[96];
    if (out) *out = x;
    return kite_gguf_writer_set_u32(w, akey(k, sizeof k, arch, suffix), x);
}

// ASCII case-insensitive equality (llama.cpp lowercases the rope type before comparing).
static bool eq_nocase(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if ((*a | 0x20) != (*b | 0x20)) return false;
    return *a == *b;
}

// The first number of keys (NULL-terminated) that obj has: 1 found, 0 none, -1 bad.
static int find_num(const kite__jval *obj, const char *const *keys, double *out) {
    for (; *keys; keys++) {
        int r = kite__hf_num(obj, *keys, out);
        if (r) return r;
    }
    return 0;
}

kite_status kite__hf_put_rope(const kite__jval *cfg, kite_gguf_writer *w, kite__hf_model *m) {
    // TextModel: rope_parameters (transformers >= 5) or rope_scaling, either flat (top-level
    // rope_theta / local theta names mirrored into it) or per attention type, where the
    // full_attention entry gives the scaling and base, sliding_attention's the local base.
    const kite__jval *all = kite__json_get(cfg, "rope_parameters");
    if (!all || all->type == KITE__J_NULL) all = kite__json_get(cfg, "rope_scaling");
    if (all && all->type == KITE__J_NULL) all = NULL;
    if (all && all->type != KITE__J_OBJ) return kite__fail(KITE_ERR_INVALID, "config.json: \"rope_scaling\" is not an object");
    const kite__jval *full = all ? kite__json_get(all, "full_attention") : NULL;
    const kite__jval *swa = all ? kite__json_get(all, "sliding_attention") : NULL;
    const bool per_type = full || swa;
    if ((full && full->type != KITE__J_OBJ) || (swa && swa->type != KITE__J_OBJ))
        return kite__fail(KITE_ERR_INVALID, "config.json: rope parameters per attention type are not objects");
    const kite__jval *rp = full ? full : all;
    char k[96];
    const char *arch = m->arch;
    double theta = 0;
    static const char *const k_theta[] = {"global_rope_theta", "rope_global_theta", "rope_theta_global", "rope_theta",
                                          "rotary_emb_base", NULL};
    int r = rp ? kite__hf_num(rp, "rope_theta", &theta) : 0;
    if (r == 0 && !per_type) r = find_num(cfg, k_theta, &theta);
    if (r < 0) return KITE_ERR_INVALID;
    m->rope_theta = r ? (float)theta : 10000.0f;
    m->rope_theta_set = r;
    const kite__jval *type = rp ? kite__json_get(rp, "rope_type") : NULL;
    if ((!type || type->type == KITE__J_NULL) && !per_type) type = rp ? kite__json_get(rp, "type") : NULL;
    if (type && type->type == KITE__J_NULL) type = NULL;
    if (type && type->type != KITE__J_STR) return kite__fail(KITE_ERR_INVALID, "config.json: rope type is not a string");
    const char *t = type ? type->s : "default";
    double factor = 0, low = 1.0, high = 4.0, orig = 8192;
    int has_factor = rp ? kite__hf_num(rp, "factor", &factor) : 0;
    if (has_factor < 0) return KITE_ERR_INVALID;
    if (!strcmp(t, "default")) {
        // no scaling keys
    } else if (!strcmp(t, "linear") || !strcmp(t, "yarn")) {
        if (has_factor) {
            KITE_TRY(kite_gguf_writer_set_str(w, akey(k, sizeof k, arch, "rope.scaling.type"), t));
            KITE_TRY(kite_gguf_writer_set_f32(w, akey(k, sizeof k, arch, "rope.scaling.factor"), (float)factor));
        }
        if (has_factor && !strcmp(t, "yarn")) {
            uint32_t o = 0;
            int ro = kite__hf_u32(rp, "original_max_position_embeddings", &o);
            if (ro <= 0) return ro < 0 ? KITE_ERR_INVALID
                                       : kite__fail(KITE_ERR_INVALID, "config.json: yarn rope without original_max_position_embeddings");
            KITE_TRY(kite_gguf_writer_set_u32(w, akey(k, sizeof k, arch, "rope.scaling.original_context_length"), o));
            static const char *const yk[][2] = {{"extrapolation_factor", "rope.scaling.yarn_ext_factor"},
                                                {"attention_factor", "rope.scaling.yarn_attn_factor"},
                                                {"attn_factor", "rope.scaling.yarn_attn_factor"},
                                                {"beta_fast", "rope.scaling.yarn_beta_fast"},
                                                {"beta_slow", "rope.scaling.yarn_beta_slow"}};
            for (size_t i = 0; i < sizeof yk / sizeof yk[0]; i++) {
                double v = 0;
                int rv = kite__hf_num(rp, yk[i][0], &v);
                if (rv < 0) return KITE_ERR_INVALID;
                if (i == 2 && kite__json_get(rp, "attention_factor")) continue; // attention_factor wins
                if (rv) KITE_TRY(kite_gguf_writer_set_f32(w, akey(k, sizeof k, arch, yk[i][1]), (float)v));
            }
        }
    } else if (eq_nocase(t, "llama3") && m->llama_like) {
        m->rope_llama3 = true;
        if (!has_factor) factor = 8.0;
        if (kite__hf_num(rp, "low_freq_factor", &low) < 0 || kite__hf_num(rp, "high_freq_factor", &high) < 0 ||
            kite__hf_num(rp, "original_max_position_embeddings", &orig) < 0)
            return KITE_ERR_INVALID;
        m->rope_factor = (float)factor;
        m->rope_low = (float)low;
        m->rope_high = (float)high;
        if (orig <= 0 || orig > UINT32_MAX || low == high)
            return kite__fail(KITE_ERR_INVALID, "config.json: llama3 rope parameters out of range");
        m->rope_orig_ctx = (uint32_t)orig;
    } else {
        return kite__fail(KITE_ERR_UNSUPPORTED, "config.json: rope type \"%s\" is not supported for %s", t, arch);
    }
    if (r) KITE_TRY(kite_gguf_writer_set_f32(w, akey(k, sizeof k, arch, "rope.freq_base"), (float)theta));
    // the sliding-window layers' base (Gemma 3's): sliding_attention's, or in the flat form
    // rope_local_base_freq under the names llama.cpp's TextModel looks for
    static const char *const k_local[] = {"local_rope_theta", "rope_local_theta", "rope_theta_local", "swa_rope_theta",
                                          "rope_local_base_freq", NULL};
    double local = 0;
    int rl = per_type ? (swa ? kite__hf_num(swa, "rope_theta", &local) : 0) : find_num(cfg, k_local, &local);
    if (rl < 0) return KITE_ERR_INVALID;
    if (rl) return kite_gguf_writer_set_f32(w, akey(k, sizeof k, arch, "rope.freq_base_swa"), (float)local);
    return KITE_OK;
}

// SmolLM3 skips RoPE on every 4th layer, which llama.cpp's smollm3 hard-codes; a checkpoint
// with another pattern would run wrong, so it is refused.
static kite_status check_nope_layers(const kite__jval *cfg, const kite__hf_model *m) {
    const kite__jval *v = kite__json_get(cfg, "no_rope_layers");
    if (!v || v->type == KITE__J_NULL) return KITE_OK;
    bool ok = v->type == KITE__J_ARR && v->n == m->n_layer;
    for (size_t i = 0; ok && i < v->n; i++) {
        const kite__jval *x = v->items[i];
        ok = x->type == KITE__J_NUM && x->is_int && x->i == (int64_t)((i + 1) % 4 != 0);
    }
    if (!ok)
        return kite__fail(KITE_ERR_UNSUPPORTED, "config.json: \"no_rope_layers\" is not RoPE skipped on every 4th layer "
                                                "(the only pattern llama.cpp's smollm3 runs)");
    return KITE_OK;
}

// Qwen3MoeModel's expert keys (TextModel's expert_count / expert_used_count, Qwen2MoeModel's
// expert_feed_forward_length). llama.cpp's qwen3moe runs routed experts on every layer with the
// top-k weights renormalised and no shared expert, so a config saying otherwise is refused.
static kite_status put_moe(const kite__jval *cfg, kite_gguf_writer *w, kite__hf_model *m) {
    static const char *const k_count[] = {"num_local_experts", "num_experts", "n_routed_experts", NULL};
    static const char *const k_used[] = {"num_experts_per_tok", "num_experts_per_token", "top_k_experts", NULL};
    static const char *const k_ff[] = {"moe_intermediate_size", NULL};
    uint32_t used = 0, shared = 0, step = 1;
    KITE_TRY(kite__hf_put_hparam(cfg, w, m->arch, "expert_count", k_count, true, &m->n_expert));
    KITE_TRY(kite__hf_put_hparam(cfg, w, m->arch, "expert_used_count", k_used, true, &used));
    KITE_TRY(kite__hf_put_hparam(cfg, w, m->arch, "expert_feed_forward_length", k_ff, true, NULL));
    if (m->n_expert == 0 || m->n_expert > KITE__HF_MAX_EXPERTS || used == 0 || used > m->n_expert)
        return kite__fail(KITE_ERR_INVALID, "config.json: %u experts, %u used per token (1..%u experts, at most all used)", m->n_expert,
                          used, KITE__HF_MAX_EXPERTS);
    int r = kite__hf_u32(cfg, "shared_expert_intermediate_size", &shared);
    if (r < 0) return KITE_ERR_INVALID;
    if (shared)
        return kite__fail(KITE_ERR_UNSUPPORTED, "config.json: shared experts (shared_expert_intermediate_size %u) are not supported "
                                                "for qwen3moe", shared);
    if ((r = kite__hf_u32(cfg, "decoder_sparse_step", &step)) < 0) return KITE_ERR_INVALID;
    const kite__jval *dense = kite__json_get(cfg, "mlp_only_layers");
    if (step != 1 || (dense && dense->type == KITE__J_ARR && dense->n))
        return kite__fail(KITE_ERR_UNSUPPORTED, "config.json: dense layers (decoder_sparse_step %u, mlp_only_layers) are not "
                                                "supported: llama.cpp's qwen3moe has experts on every layer", step);
    if (!kite__hf_bool(cfg, "norm_topk_prob", true))
        return kite__fail(KITE_ERR_UNSUPPORTED, "config.json: norm_topk_prob false is not supported: llama.cpp's qwen3moe "
                                                "renormalises the top-k expert weights");
    return KITE_OK;
}

kite_status kite__hf_config(const kite__jval *cfg, kite_gguf_writer *w, kite__hf_model *m) {
    memset(m, 0, sizeof *m);
    if (cfg->type != KITE__J_OBJ) return kite__fail(KITE_ERR_INVALID, "config.json: not a JSON object");
    const kite__jval *a = kite__json_get(cfg, "architectures");
    if (!a || a->type != KITE__J_ARR || a->n == 0 || a->items[0]->type != KITE__J_STR)
        return kite__fail(KITE_ERR_INVALID, "config.json: missing \"architectures\"");
    const char *hf = a->items[0]->s;
    for (size_t i = 0; i < sizeof arches / sizeof arches[0] && !m->arch; i++)
        if (!strcmp(arches[i].hf, hf)) {
            m->arch = arches[i].gguf;
            m->family = arches[i].family;
            m->llama_like = arches[i].llama_like;
            m->base = arches[i].base;
        }
    bool multimodal = kite__json_get(cfg, "text_config") || kite__json_get(cfg, "vision_config");
    if (!m->arch)
        return kite__fail(KITE_ERR_UNSUPPORTED, "config.json: architecture %s is not supported (%skite convert knows "
                                                "LlamaForCausalLM, MistralForCausalLM, SmolLM3ForCausalLM, Qwen2ForCausalLM, "
                                                "Qwen3ForCausalLM, Qwen3MoeForCausalLM, Gemma2ForCausalLM, Gemma3ForCausalLM, "
                                                "Phi3ForCausalLM and the base models LlamaModel, Qwen2Model, Qwen3Model)", hf,
                          multimodal ? "a multimodal model: text-only checkpoints are converted; " : "");
    if (kite__json_get(cfg, "text_config"))
        return kite__fail(KITE_ERR_UNSUPPORTED, "config.json: a multimodal config (\"text_config\") is not supported");
    const char *arch = m->arch;
    KITE_TRY(kite_gguf_writer_set_str(w, "general.architecture", arch));
    KITE_TRY(kite_gguf_writer_set_str(w, "general.type", "model"));
    // these write their own keys (llama.cpp's classes do not all start from TextModel's)
    if (m->family == KITE__HF_GEMMA2) return kite__hf_config_gemma2(cfg, w, m);
    if (m->family == KITE__HF_GEMMA3) return kite__hf_config_gemma3(cfg, w, m);
    if (m->family == KITE__HF_PHI3) return kite__hf_config_phi3(cfg, w, m);

    static const char *const k_layers[] = {"n_layers", "num_hidden_layers", "n_layer", "num_layers", NULL};
    static const char *const k_ctx[] = {"max_position_embeddings", "n_ctx", "n_positions", "max_length",
                                        "max_sequence_length", "model_max_length", NULL};
    static const char *const k_embd[] = {"hidden_size", "n_embd", "dim", NULL};
    static const char *const k_ff[] = {"prefix_dense_intermediate_size", "dense_intermediate_size", "intermediate_size",
                                       "n_inner", "hidden_dim", NULL};
    static const char *const k_head[] = {"num_attention_heads", "n_head", "n_heads", NULL};
    static const char *const k_head_kv[] = {"num_key_value_heads", "n_kv_heads", NULL};
    KITE_TRY(kite__hf_put_hparam(cfg, w, arch, "block_count", k_layers, true, &m->n_layer));
    KITE_TRY(kite__hf_put_hparam(cfg, w, arch, "context_length", k_ctx, false, NULL));
    KITE_TRY(kite__hf_put_hparam(cfg, w, arch, "embedding_length", k_embd, true, &m->n_embd));
    KITE_TRY(kite__hf_put_hparam(cfg, w, arch, "feed_forward_length", k_ff, true, NULL));
    KITE_TRY(kite__hf_put_hparam(cfg, w, arch, "attention.head_count", k_head, true, &m->n_head));
    m->n_head_kv = m->n_head;
    KITE_TRY(kite__hf_put_hparam(cfg, w, arch, "attention.head_count_kv", k_head_kv, false, &m->n_head_kv));
    if (m->n_layer == 0 || m->n_head == 0 || m->n_head_kv == 0 || m->n_head % m->n_head_kv)
        return kite__fail(KITE_ERR_INVALID, "config.json: %u layers, %u heads, %u kv heads", m->n_layer, m->n_head, m->n_head_kv);
    KITE_TRY(kite__hf_put_rope(cfg, w, m));

    char k[96];
    double eps = 0;
    int r = kite__hf_num(cfg, "rms_norm_eps", &eps);
    if (r == 0) r = kite__hf_num(cfg, "norm_eps", &eps);
    if (r < 0) return KITE_ERR_INVALID;
    if (r) KITE_TRY(kite_gguf_writer_set_f32(w, akey(k, sizeof k, arch, "attention.layer_norm_rms_epsilon"), (float)eps));

    r = kite__hf_u32(cfg, "head_dim", &m->head_dim);
    if (r < 0) return KITE_ERR_INVALID;
    if (r) {
        KITE_TRY(kite_gguf_writer_set_u32(w, akey(k, sizeof k, arch, "attention.key_length"), m->head_dim));
        KITE_TRY(kite_gguf_writer_set_u32(w, akey(k, sizeof k, arch, "attention.value_length"), m->head_dim));
    } else {
        m->head_dim = m->n_embd / m->n_head;
    }
    if (m->head_dim == 0 || m->head_dim % 2)
        return kite__fail(KITE_ERR_INVALID, "config.json: head dimension %u is not a positive even number", m->head_dim);
    if (m->llama_like) {
        uint32_t nv = 0;
        r = kite__hf_u32(cfg, "vocab_size", &nv);
        if (r <= 0) return r < 0 ? KITE_ERR_INVALID : kite__fail(KITE_ERR_INVALID, "config.json: missing \"vocab_size\"");
        KITE_TRY(kite_gguf_writer_set_u32(w, akey(k, sizeof k, arch, "vocab_size"), nv));
        KITE_TRY(kite_gguf_writer_set_u32(w, akey(k, sizeof k, arch, "rope.dimension_count"), m->head_dim));
    }
    if (!strcmp(arch, "smollm3")) KITE_TRY(check_nope_layers(cfg, m));
    if (!strcmp(arch, "qwen3moe")) KITE_TRY(put_moe(cfg, w, m));
    return KITE_OK;
}

void kite__hf_llama3_rope_factors(const kite__hf_model *m, float *out) {
    // The frequencies in float32 (powf, as the float32 arange they come from); the wavelength
    // and the smoothing in double, as the Python floats of the formula. This gives the bits of
    // the reference made with numpy (tests: arch/llama3.gguf); torch's float32 arithmetic in
    // llama.cpp's converter may differ from it by an ulp inside the smoothing band.
    const uint32_t dim = m->head_dim;
    const double orig = m->rope_orig_ctx, low = m->rope_low, high = m->rope_high, factor = m->rope_factor;
    for (uint32_t i = 0; i < dim / 2; i++) {
        float freq = 1.0f / powf(m->rope_theta, (float)(2 * i) / (float)dim);
        double wavelen = 6.283185307179586 / freq;
        if (wavelen < orig / high) {
            out[i] = 1.0f;
        } else if (wavelen > orig / low) {
            out[i] = (float)factor;
        } else {
            double smooth = (orig / wavelen - low) / (high - low);
            out[i] = (float)(1.0 / ((1.0 - smooth) / factor + smooth));
        }
    }
}
