// model_load.c - builds a kite_model from GGUF bytes: architecture, hparams and weight views
// (every tensor checked for presence, shape and type before the forward pass may touch it).
#include "model/model_internal.h"

#include <math.h>
#include <stdio.h>

#include "kernels/kite_kernels.h"
#include "tokenizer/kite_tokenizer.h"

// Sanity bounds on shapes: far above any real model, low enough that products of two of them
// fit comfortably in int64 and allocation sizes cannot overflow.
#define MAX_DIM (1 << 20)
#define MAX_VOCAB (1 << 24)
#define MAX_LAYERS 4096

typedef struct arch_info {
    const char *name;
    kite_arch arch;
    bool neox; // rope pairing as llama.cpp's llama_model_rope_type gives for the arch
} arch_info;

static const arch_info arches[] = {
    {"llama", KITE_ARCH_LLAMA, false},     {"phi3", KITE_ARCH_PHI3, true},     {"qwen2", KITE_ARCH_QWEN2, true},
    {"qwen3", KITE_ARCH_QWEN3, true},      {"qwen3moe", KITE_ARCH_QWEN3MOE, true}, {"gemma2", KITE_ARCH_GEMMA2, true},
    {"gemma3", KITE_ARCH_GEMMA3, true},    {"smollm3", KITE_ARCH_SMOLLM3, false},
};
#define ARCH_NAMES "llama, phi3, qwen2, qwen3, qwen3moe, gemma2, gemma3, smollm3"

static bool is_gemma(kite_arch a) { return a == KITE_ARCH_GEMMA2 || a == KITE_ARCH_GEMMA3; }
static bool has_qk_norm(kite_arch a) {
    return a == KITE_ARCH_QWEN3 || a == KITE_ARCH_QWEN3MOE || a == KITE_ARCH_GEMMA3;
}

// ---- metadata ---------------------------------------------------------------------------

static kite_status get_dim(const kite_gguf *g, const char *arch, const char *suffix, bool required,
                           int32_t def, int32_t lo, int32_t hi, int32_t *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    uint64_t v;
    if (!kite_gguf_get_u64(g, key, &v)) {
        if (kite_gguf_find(g, key))
            return kite__fail(KITE_ERR_UNSUPPORTED, "metadata %s: expected one unsigned integer", key);
        if (required) return kite__fail(KITE_ERR_INVALID, "metadata %s is missing", key);
        *out = def;
        return KITE_OK;
    }
    if (v < (uint64_t)lo || v > (uint64_t)hi)
        return kite__fail(KITE_ERR_INVALID, "metadata %s = %llu is out of range [%d, %d]", key,
                          (unsigned long long)v, lo, hi);
    *out = (int32_t)v;
    return KITE_OK;
}

static float get_f32(const kite_gguf *g, const char *arch, const char *suffix, float def) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    float v;
    return kite_gguf_get_f32(g, key, &v) ? v : def;
}

// Which layers slide (llama.cpp's load_swa_pattern): an array of bools, one per layer, or a
// period n where layer il slides unless il % n == n - 1 (n = 0: all slide), default_period when
// the key is absent.
static kite_status swa_pattern(const kite_gguf *g, const kite_hparams *hp, int32_t default_period, bool *swa) {
    char key[128];
    snprintf(key, sizeof key, "%s.attention.sliding_window_pattern", hp->arch_name);
    const kite_gguf_value *arr = kite_gguf_get_arr(g, key, -1);
    if (arr) {
        if (arr->arr.elem != KITE_GGUF_BOOL || arr->arr.n < (uint64_t)hp->n_layer)
            return kite__fail(KITE_ERR_INVALID, "metadata %s: expected %d bools", key, hp->n_layer);
        for (int32_t il = 0; il < hp->n_layer; il++) swa[il] = kite_gguf_arr_i64(arr, (uint64_t)il) != 0;
        return KITE_OK;
    }
    int32_t period = default_period; // get_dim sets it; gcc 12 for aarch64 cannot tell
    KITE_TRY(get_dim(g, hp->arch_name, "attention.sliding_window_pattern", false, default_period, 0, MAX_LAYERS,
                     &period));
    for (int32_t il = 0; il < hp->n_layer; il++) swa[il] = period == 0 || il % period < period - 1;
    return KITE_OK;
}

// The keys that only some architectures have: sliding windows, soft-caps, experts, scales.
static kite_status load_arch_hparams(const kite_gguf *g, kite_hparams *hp) {
    const char *a = hp->arch_name;
    hp->ffn_act = is_gemma(hp->arch) ? KITE_FFN_GELU : KITE_FFN_SILU;
    hp->embd_scale = is_gemma(hp->arch) ? sqrtf((float)hp->n_embd) : 1.0f;
    hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim);
    // llama.cpp scales gemma's 27B queries by 1/sqrt(n_embd / n_head), the others' by 1/sqrt(head_dim)
    if ((hp->arch == KITE_ARCH_GEMMA2 && hp->n_layer == 46) || (hp->arch == KITE_ARCH_GEMMA3 && hp->n_layer == 62))
        hp->attn_scale = 1.0f / sqrtf((float)(hp->n_embd / hp->n_head));
    hp->rope_freq_base_swa = hp->rope_freq_base;
    hp->rope_freq_scale_swa = hp->rope_freq_scale;
    if (hp->arch == KITE_ARCH_GEMMA2) {
        KITE_TRY(get_dim(g, a, "attention.sliding_window", false, 4096, 0, 1 << 24, &hp->n_swa));
        hp->attn_softcap = get_f32(g, a, "attn_logit_softcapping", 50.0f);
        hp->final_softcap = get_f32(g, a, "final_logit_softcapping", 30.0f);
        hp->rope_freq_base_swa = get_f32(g, a, "rope.freq_base_swa", hp->rope_freq_base);
    } else if (hp->arch == KITE_ARCH_GEMMA3) {
        KITE_TRY(get_dim(g, a, "attention.sliding_window", false, 0, 0, 1 << 24, &hp->n_swa));
        hp->final_softcap = get_f32(g, a, "final_logit_softcapping", 0.0f);
        // local layers: their own base (10000 unless given), never scaled
        hp->rope_freq_base_swa = get_f32(g, a, "rope.freq_base_swa", 10000.0f);
        hp->rope_freq_scale_swa = 1.0f;
    }
    if (!(hp->attn_softcap >= 0.0f) || !(hp->final_softcap >= 0.0f) || !(hp->rope_freq_base_swa > 0.0f))
        return kite__fail(KITE_ERR_INVALID, "bad soft-cap or sliding-window rope constants (%g, %g, %g)",
                          hp->attn_softcap, hp->final_softcap, hp->rope_freq_base_swa);
    if (hp->arch == KITE_ARCH_QWEN3MOE) {
        KITE_TRY(get_dim(g, a, "expert_count", true, 0, 1, 4096, &hp->n_expert));
        KITE_TRY(get_dim(g, a, "expert_used_count", true, 0, 1, hp->n_expert, &hp->n_expert_used));
        KITE_TRY(get_dim(g, a, "expert_feed_forward_length", false, hp->n_ff / hp->n_expert_used, 1, MAX_DIM,
                         &hp->n_ff_exp));
        if (hp->n_ff_exp < 1) return kite__fail(KITE_ERR_INVALID, "expert feed-forward width is 0");
    }
    if ((hp->arch == KITE_ARCH_QWEN3 || hp->arch == KITE_ARCH_QWEN3MOE || hp->arch == KITE_ARCH_SMOLLM3) &&
        hp->n_rot != hp->head_dim)
        return kite__fail(KITE_ERR_UNSUPPORTED, "%s needs rope.dimension_count %d = head size %d", a, hp->n_rot,
                          hp->head_dim);
    return KITE_OK;
}

static kite_status load_hparams(const kite_gguf *g, kite_hparams *hp) {
    kite_str an;
    if (!kite_gguf_get_str(g, "general.architecture", &an))
        return kite__fail(KITE_ERR_INVALID, "metadata general.architecture is missing");
    const arch_info *ai = NULL;
    for (size_t i = 0; i < sizeof arches / sizeof arches[0]; i++)
        if (kite_str_eq(an, arches[i].name)) ai = &arches[i];
    if (!ai)
        return kite__fail(KITE_ERR_UNSUPPORTED, "architecture '%.*s' is not supported (supported: " ARCH_NAMES ")",
                          (int)KITE_MIN(an.len, 64), an.ptr);
    const char *a = ai->name;
    hp->arch = ai->arch;
    hp->arch_name = ai->name;
    hp->rope_neox = ai->neox;

    KITE_TRY(get_dim(g, a, "context_length", false, 2048, 1, 1 << 24, &hp->n_ctx_train));
    KITE_TRY(get_dim(g, a, "embedding_length", true, 0, 1, MAX_DIM, &hp->n_embd));
    KITE_TRY(get_dim(g, a, "block_count", true, 0, 1, MAX_LAYERS, &hp->n_layer));
    KITE_TRY(get_dim(g, a, "feed_forward_length", true, 0, 1, MAX_DIM, &hp->n_ff));
    KITE_TRY(get_dim(g, a, "attention.head_count", true, 0, 1, MAX_DIM, &hp->n_head));
    KITE_TRY(get_dim(g, a, "attention.head_count_kv", false, hp->n_head, 1, hp->n_head, &hp->n_head_kv));
    if (hp->n_head % hp->n_head_kv != 0)
        return kite__fail(KITE_ERR_INVALID, "head_count %d is not a multiple of head_count_kv %d", hp->n_head,
                          hp->n_head_kv);
    KITE_TRY(get_dim(g, a, "attention.key_length", false, hp->n_embd / hp->n_head, 1, MAX_DIM, &hp->head_dim));
    int32_t vlen = 0;
    KITE_TRY(get_dim(g, a, "attention.value_length", false, hp->head_dim, 1, MAX_DIM, &vlen));
    if (vlen != hp->head_dim)
        return kite__fail(KITE_ERR_UNSUPPORTED, "attention.value_length %d differs from key_length %d", vlen,
                          hp->head_dim);
    if (hp->head_dim < 1) // the default n_embd / n_head is 0 when there are more heads than dims
        return kite__fail(KITE_ERR_INVALID, "head_count %d exceeds embedding_length %d", hp->n_head, hp->n_embd);
    if ((int64_t)hp->head_dim * hp->n_head > MAX_DIM)
        return kite__fail(KITE_ERR_INVALID, "head_count * head size %lld is too large",
                          (long long)hp->head_dim * hp->n_head);
    KITE_TRY(get_dim(g, a, "rope.dimension_count", false, hp->head_dim, 0, hp->head_dim, &hp->n_rot));
    if (hp->n_rot % 2 != 0) return kite__fail(KITE_ERR_INVALID, "rope.dimension_count %d is odd", hp->n_rot);

    hp->norm_eps = get_f32(g, a, "attention.layer_norm_rms_epsilon", 1e-5f);
    hp->rope_freq_base = get_f32(g, a, "rope.freq_base", 10000.0f);
    // rope.scaling.factor is the context stretch; llama.cpp rotates by its inverse
    float factor = get_f32(g, a, "rope.scaling.factor", 0.0f);
    if (factor == 0.0f) factor = get_f32(g, a, "rope.scale_linear", 0.0f);
    hp->rope_freq_scale = factor == 0.0f ? 1.0f : 1.0f / factor;
    hp->rope_attn_factor = get_f32(g, a, "rope.scaling.attn_factor", 1.0f);
    KITE_TRY(get_dim(g, a, "rope.scaling.original_context_length", false, hp->n_ctx_train, 1, 1 << 24,
                     &hp->n_ctx_orig));
    if (!(hp->norm_eps > 0.0f && hp->norm_eps < 1.0f) || !(hp->rope_freq_base > 0.0f) ||
        !(hp->rope_freq_scale > 0.0f) || !(hp->rope_attn_factor > 0.0f))
        return kite__fail(KITE_ERR_INVALID, "bad norm epsilon or rope constants (eps %g, base %g, scale %g)",
                          hp->norm_eps, hp->rope_freq_base, hp->rope_freq_scale);

    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", a);
    kite_str st;
    if (kite_gguf_get_str(g, key, &st) && !kite_str_eq(st, "none") && !kite_str_eq(st, "linear") &&
        !kite_str_eq(st, "longrope") && !kite_str_eq(st, "su"))
        return kite__fail(KITE_ERR_UNSUPPORTED, "rope scaling '%.*s' is not supported", (int)KITE_MIN(st.len, 32),
                          st.ptr);
    return load_arch_hparams(g, hp);
}

// ---- tensors ----------------------------------------------------------------------------

// The tensors of a model: those of every file of a split set (llama-gguf-split), else of one.
typedef struct tensor_set {
    kite_gguf *const *parts;
    int32_t n;
} tensor_set;

static const kite_gguf_tensor *lookup(const tensor_set *ts, const char *name) {
    for (int32_t p = 0; p < ts->n; p++) {
        int64_t i = kite_gguf_find_tensor(ts->parts[p], name);
        if (i >= 0) return &ts->parts[p]->tensors[i];
    }
    return NULL;
}

// Looks up a tensor and checks its shape (ne1 = 0 for a vector, ne2 = 1 unless 3-D). Missing:
// error if required, else *out = NULL.
static kite_status find3(const tensor_set *g, const char *name, int64_t ne0, int64_t ne1, int64_t ne2, bool required,
                         const kite_gguf_tensor **out) {
    *out = NULL;
    const kite_gguf_tensor *t = lookup(g, name);
    if (!t) {
        if (required) return kite__fail(KITE_ERR_INVALID, "tensor %s is missing", name);
        return KITE_OK;
    }
    uint64_t want1 = ne1 ? (uint64_t)ne1 : 1;
    if (t->ne[0] != (uint64_t)ne0 || t->ne[1] != want1 || t->ne[2] != (uint64_t)ne2 || t->ne[3] != 1)
        return kite__fail(KITE_ERR_INVALID,
                          "tensor %s has shape [%llu, %llu, %llu, %llu], expected [%lld, %llu, %lld]", name,
                          (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], (unsigned long long)t->ne[2],
                          (unsigned long long)t->ne[3], (long long)ne0, (unsigned long long)want1, (long long)ne2);
    *out = t;
    return KITE_OK;
}

static kite_status find(const tensor_set *g, const char *name, int64_t ne0, int64_t ne1, bool required,
                        const kite_gguf_tensor **out) {
    return find3(g, name, ne0, ne1, 1, required, out);
}

static kite_status vec(const tensor_set *g, const char *name, int64_t n, bool required, const float **out) {
    const kite_gguf_tensor *t;
    *out = NULL;
    KITE_TRY(find(g, name, n, 0, required, &t));
    if (!t) return KITE_OK;
    if (t->type != KITE_TYPE_F32)
        return kite__fail(KITE_ERR_UNSUPPORTED, "tensor %s has type %s; vectors must be f32", name,
                          kite_type_name(t->type));
    if (((uintptr_t)t->data & 3) != 0) return kite__fail(KITE_ERR_INVALID, "tensor %s is not 4-byte aligned", name);
    *out = (const float *)t->data;
    return KITE_OK;
}

// A matrix, or n_mat matrices stacked along the third dimension (MoE experts; the view is the
// first, the others follow every row_bytes * n_out bytes).
static kite_status mats(const tensor_set *g, const char *name, int64_t n_in, int64_t n_out, int64_t n_mat,
                        bool required, kite_weight *w) {
    const kite_gguf_tensor *t;
    memset(w, 0, sizeof *w);
    KITE_TRY(find3(g, name, n_in, n_out, n_mat, required, &t));
    if (!t) return KITE_OK;
    if (!kite_matmul_supports(t->type))
        return kite__fail(KITE_ERR_UNSUPPORTED, "tensor %s has type %s, which has no matmul kernel", name,
                          kite_type_name(t->type));
    if (kite_type_row_bytes(t->type, (uint64_t)n_in) == 0)
        return kite__fail(KITE_ERR_INVALID, "tensor %s: rows of %lld are not whole %s blocks", name, (long long)n_in,
                          kite_type_name(t->type));
    w->data = t->data;
    w->type = t->type;
    w->n_in = (int32_t)n_in;
    w->n_out = (int32_t)n_out;
    snprintf(w->name, sizeof w->name, "%s", name);
    return KITE_OK;
}

static kite_status mat(const tensor_set *g, const char *name, int64_t n_in, int64_t n_out, bool required,
                       kite_weight *w) {
    return mats(g, name, n_in, n_out, 1, required, w);
}

static uint64_t wbytes(const kite_weight *w) {
    return w->data ? kite_type_row_bytes(w->type, (uint64_t)w->n_in) * (uint64_t)w->n_out : 0;
}

static kite_status load_layer(const tensor_set *g, const kite_hparams *hp, int il, kite_layer *L) {
    char n[96];
    const int64_t E = hp->n_embd, q_dim = (int64_t)hp->n_head * hp->head_dim,
                  kv_dim = (int64_t)hp->n_head_kv * hp->head_dim, F = hp->n_ff;
#define NAME(s) (snprintf(n, sizeof n, "blk.%d." s, il), n)
    KITE_TRY(vec(g, NAME("attn_norm.weight"), E, true, &L->attn_norm));
    KITE_TRY(mat(g, NAME("attn_qkv.weight"), E, q_dim + 2 * kv_dim, false, &L->wqkv));
    if (!L->wqkv.data) {
        KITE_TRY(mat(g, NAME("attn_q.weight"), E, q_dim, true, &L->wq));
        KITE_TRY(mat(g, NAME("attn_k.weight"), E, kv_dim, true, &L->wk));
        KITE_TRY(mat(g, NAME("attn_v.weight"), E, kv_dim, true, &L->wv));
        KITE_TRY(vec(g, NAME("attn_q.bias"), q_dim, hp->arch == KITE_ARCH_QWEN2, &L->bq));
        KITE_TRY(vec(g, NAME("attn_k.bias"), kv_dim, hp->arch == KITE_ARCH_QWEN2, &L->bk));
        KITE_TRY(vec(g, NAME("attn_v.bias"), kv_dim, hp->arch == KITE_ARCH_QWEN2, &L->bv));
    }
    KITE_TRY(mat(g, NAME("attn_output.weight"), q_dim, E, true, &L->wo));
    const bool qk_norm = has_qk_norm(hp->arch), gemma = is_gemma(hp->arch);
    KITE_TRY(vec(g, NAME("attn_q_norm.weight"), hp->head_dim, qk_norm, &L->attn_q_norm));
    KITE_TRY(vec(g, NAME("attn_k_norm.weight"), hp->head_dim, qk_norm, &L->attn_k_norm));
    if (!qk_norm) L->attn_q_norm = L->attn_k_norm = NULL; // llama.cpp ignores them on the other arches
    if (gemma) {
        KITE_TRY(vec(g, NAME("post_attention_norm.weight"), E, true, &L->attn_post_norm));
        KITE_TRY(vec(g, NAME("post_ffw_norm.weight"), E, true, &L->ffn_post_norm));
    }
    KITE_TRY(vec(g, NAME("ffn_norm.weight"), E, true, &L->ffn_norm));
    if (hp->n_expert > 0) {
        const int64_t X = hp->n_expert, FE = hp->n_ff_exp;
        KITE_TRY(mat(g, NAME("ffn_gate_inp.weight"), E, X, true, &L->ffn_gate_inp));
        KITE_TRY(mats(g, NAME("ffn_gate_exps.weight"), E, FE, X, true, &L->gate_exps));
        KITE_TRY(mats(g, NAME("ffn_up_exps.weight"), E, FE, X, true, &L->up_exps));
        KITE_TRY(mats(g, NAME("ffn_down_exps.weight"), FE, E, X, true, &L->down_exps));
        L->gate_exps_stride = wbytes(&L->gate_exps);
        L->up_exps_stride = wbytes(&L->up_exps);
        L->down_exps_stride = wbytes(&L->down_exps);
    } else if (lookup(g, NAME("ffn_gate.weight"))) {
        KITE_TRY(mat(g, NAME("ffn_gate.weight"), E, F, true, &L->w_gate));
        KITE_TRY(mat(g, NAME("ffn_up.weight"), E, F, true, &L->w_up));
    } else {
        // no separate gate: ffn_up holds gate and up stacked (phi3)
        KITE_TRY(mat(g, NAME("ffn_up.weight"), E, 2 * F, true, &L->w_gate_up));
    }
    if (hp->n_expert == 0) KITE_TRY(mat(g, NAME("ffn_down.weight"), F, E, true, &L->w_down));
#undef NAME
    // rope: smollm3 skips it on every 4th layer; sliding-window layers may have their own base
    L->use_rope = !(hp->arch == KITE_ARCH_SMOLLM3 && (il + 1) % 4 == 0);
    L->rope_base = L->swa ? hp->rope_freq_base_swa : hp->rope_freq_base;
    L->rope_scale = L->swa ? hp->rope_freq_scale_swa : hp->rope_freq_scale;
    return KITE_OK;
}

static kite_status load_weights(kite_model *m) {
    const tensor_set set = {m->parts, m->n_parts}, *g = &set;
    kite_hparams *hp = &m->hp;
    const kite_gguf_tensor *te = lookup(g, "token_embd.weight");
    if (!te) return kite__fail(KITE_ERR_INVALID, "tensor token_embd.weight is missing");
    uint64_t nv = te->ne[1];
    if (nv < 1 || nv > MAX_VOCAB)
        return kite__fail(KITE_ERR_INVALID, "tensor token_embd.weight has %llu rows", (unsigned long long)nv);
    hp->n_vocab = (int32_t)nv;
    KITE_TRY(mat(g, "token_embd.weight", hp->n_embd, hp->n_vocab, true, &m->tok_embd));
    KITE_TRY(vec(g, "output_norm.weight", hp->n_embd, true, &m->output_norm));
    // gemma2 always ties its output to the embeddings (llama.cpp ignores an output.weight there)
    if (hp->arch != KITE_ARCH_GEMMA2) KITE_TRY(mat(g, "output.weight", hp->n_embd, hp->n_vocab, false, &m->output));
    if (!m->output.data) m->output = m->tok_embd; // tied embeddings
    KITE_TRY(vec(g, "output.bias", hp->n_vocab, false, &m->output_bias));
    if (hp->n_rot > 0) {
        KITE_TRY(vec(g, "rope_factors_short.weight", hp->n_rot / 2, false, &m->rope_short));
        KITE_TRY(vec(g, "rope_factors_long.weight", hp->n_rot / 2, false, &m->rope_long));
        if (!m->rope_short) // some files carry one set only, under the llama name
            KITE_TRY(vec(g, "rope_freqs.weight", hp->n_rot / 2, false, &m->rope_short));
    }
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    bool *swa = calloc((size_t)hp->n_layer, sizeof *swa);
    if (!m->layers || !swa) {
        free(swa);
        return kite__fail(KITE_ERR_NOMEM, "out of memory for %d layers", hp->n_layer);
    }
    kite_status s = KITE_OK;
    if (hp->n_swa > 0) s = swa_pattern(m->gguf, hp, hp->arch == KITE_ARCH_GEMMA2 ? 2 : 6, swa);
    for (int il = 0; il < hp->n_layer && s == KITE_OK; il++) {
        m->layers[il].swa = swa[il];
        s = load_layer(g, hp, il, &m->layers[il]);
    }
    free(swa);
    KITE_TRY(s);
    return KITE_OK;
}

// ---- public -----------------------------------------------------------------------------

// A split set (llama-gguf-split): the first file holds the metadata and split.count; every file
// its split.no; the tensors, none twice, add up to split.tensors.count.
static kite_status check_split(kite_model *m) {
    uint64_t count = 1, no, total;
    const kite_gguf *g0 = m->parts[0];
    if (kite_gguf_find(g0, "split.count") && !kite_gguf_get_u64(g0, "split.count", &count))
        return kite__fail(KITE_ERR_INVALID, "metadata split.count: expected an unsigned integer");
    if (count == 0) count = 1;
    if (count != (uint64_t)m->n_parts) {
        if (m->n_parts == 1)
            return kite__fail(KITE_ERR_INVALID,
                              "the model is split into %llu files (split.count): load them all, from the first "
                              "(NAME-00001-of-%05llu.gguf)",
                              (unsigned long long)count, (unsigned long long)count);
        return kite__fail(KITE_ERR_INVALID, "split.count is %llu but %d files were given", (unsigned long long)count,
                          m->n_parts);
    }
    if (m->n_parts == 1) return KITE_OK;
    uint64_t n_tensors = 0;
    for (int32_t p = 0; p < m->n_parts; p++) {
        if (!kite_gguf_get_u64(m->parts[p], "split.no", &no) || no != (uint64_t)p)
            return kite__fail(KITE_ERR_INVALID, "file %d of the split set does not have split.no = %d", p + 1, p);
        n_tensors += m->parts[p]->n_tensors;
        for (uint64_t i = 0; i < m->parts[p]->n_tensors; i++) {
            const kite_gguf_tensor *t = &m->parts[p]->tensors[i];
            for (int32_t q = 0; q < p; q++) {
                char name[256];
                snprintf(name, sizeof name, "%.*s", (int)KITE_MIN(t->name.len, 255), t->name.ptr);
                if (kite_gguf_find_tensor(m->parts[q], name) >= 0)
                    return kite__fail(KITE_ERR_INVALID, "tensor %s is in files %d and %d of the split set", name,
                                      q + 1, p + 1);
            }
        }
    }
    if (kite_gguf_get_u64(g0, "split.tensors.count", &total) && total != n_tensors)
        return kite__fail(KITE_ERR_INVALID, "split.tensors.count is %llu but the %d files hold %llu tensors",
                          (unsigned long long)total, m->n_parts, (unsigned long long)n_tensors);
    return KITE_OK;
}

kite_status kite_model_load_split(const uint8_t *const *bufs, const uint64_t *lens, int32_t n,
                                  const kite_model_params *p, kite_model **out) {
    *out = NULL;
    kite_model_params defaults = {0};
    if (!p) p = &defaults;
    if (n < 1 || n > 9999 || !bufs || !lens) return kite__fail(KITE_ERR_INVALID, "a model needs 1 to 9999 files, not %d", n);
    if (p->offload_layers < 0) return kite__fail(KITE_ERR_INVALID, "offload_layers %d is negative", p->offload_layers);
    kite_model *m = calloc(1, sizeof *m);
    if (!m || !(m->parts = calloc((size_t)n, sizeof *m->parts))) {
        free(m);
        return kite__fail(KITE_ERR_NOMEM, "out of memory");
    }
    kite_status s = KITE_OK;
    for (int32_t i = 0; i < n && s == KITE_OK; i++) {
        s = kite_gguf_parse(bufs[i], lens[i], &m->parts[i]);
        if (s == KITE_OK) m->n_parts = i + 1;
    }
    if (s == KITE_OK) {
        m->gguf = m->parts[0];
        s = check_split(m);
    }
    if (s == KITE_OK) s = load_hparams(m->gguf, &m->hp);
    if (s == KITE_OK && !p->vocab_only) s = load_weights(m);
    if (s == KITE_OK && !p->vocab_only) s = kite__model_repack(m, p);
    if (s == KITE_OK) s = kite_vocab_load(m->gguf, &m->vocab);
    // every id the output can produce needs a text, every token an embedding (llama.cpp
    // refuses the mismatch too, as a wrong token_embd shape)
    if (s == KITE_OK && !p->vocab_only && kite_vocab_n_tokens(m->vocab) != m->hp.n_vocab)
        s = kite__fail(KITE_ERR_INVALID, "the tokenizer has %d tokens but token_embd.weight has %d rows: they must match",
                       kite_vocab_n_tokens(m->vocab), m->hp.n_vocab);
    if (s != KITE_OK) {
        kite_model_free(m);
        return s;
    }
    *out = m;
    return KITE_OK;
}

kite_status kite_model_load(const uint8_t *buf, uint64_t len, const kite_model_params *p, kite_model **out) {
    return kite_model_load_split(&buf, &len, 1, p, out);
}

void kite_model_free(kite_model *m) {
    if (!m) return;
    kite__model_repack_stop(m); // (its thread writes into m->repacked)
    kite_grammar_vocab_free(atomic_load(&m->grammar_vocab));
    kite__model_dry_breakers_free(m);
    kite_vocab_free(m->vocab);
    free(m->layers);
    free(m->repacked);
    for (int32_t i = 0; i < m->n_parts; i++) kite_gguf_free(m->parts[i]);
    free(m->parts);
    free(m);
}

static int32_t grammar_piece(void *user, int32_t id, char *buf, int32_t cap) {
    return kite_token_to_piece(user, id, buf, cap, false);
}

static bool grammar_eog(void *user, int32_t id) { return kite_vocab_is_eog(user, id); }

const kite_grammar_vocab *kite__model_grammar_vocab(const kite_model *m) {
    kite_grammar_vocab *v = atomic_load(&((kite_model *)m)->grammar_vocab);
    if (v) return v;
    // Built once per model (a pass over the vocabulary); a racing builder's copy is dropped.
    if (kite_grammar_vocab_new(kite_vocab_n_tokens(m->vocab), grammar_piece, grammar_eog, m->vocab, &v) != KITE_OK)
        return NULL;
    kite_grammar_vocab *expected = NULL;
    if (!atomic_compare_exchange_strong(&((kite_model *)m)->grammar_vocab, &expected, v)) {
        kite_grammar_vocab_free(v);
        return expected;
    }
    return v;
}

static int32_t grammar_tokenize(void *user, const char *text, size_t len, int32_t *ids, int32_t cap) {
    int32_t n = 0;
    kite_status s = kite_tokenize(user, text, len, false, true, ids, cap, &n);
    return s == KITE_OK || (s == KITE_ERR_INVALID && n > cap) ? n : -1; // too small: the count needed
}

kite_grammar_tokenizer kite_vocab_grammar_tokenizer(const kite_vocab *v) {
    return (kite_grammar_tokenizer){kite_vocab_n_tokens(v), grammar_tokenize, (void *)v};
}

kite_status kite_model_grammar_parse(const kite_model *m, const char *text, const char *root, kite_grammar **out) {
    if (!m) return kite__fail(KITE_ERR_INVALID, "grammar: NULL model");
    kite_grammar_tokenizer tk = kite_vocab_grammar_tokenizer(m->vocab);
    return kite_grammar_parse_tokens(text, root, &tk, out);
}

const kite_gguf *kite_model_gguf(const kite_model *m) { return m->gguf; }
const kite_vocab *kite_model_vocab(const kite_model *m) { return m->vocab; }
const kite_hparams *kite_model_hparams(const kite_model *m) { return &m->hp; }

uint64_t kite_model_weight_bytes(const kite_model *m) {
    uint64_t b = kite_type_row_bytes(m->tok_embd.type, (uint64_t)m->hp.n_embd) + wbytes(&m->output);
    for (int il = 0; il < m->hp.n_layer; il++) {
        const kite_layer *L = &m->layers[il];
        const kite_weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wqkv, &L->wo, &L->w_gate, &L->w_up, &L->w_gate_up,
                                   &L->w_down, &L->ffn_gate_inp};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) b += wbytes(ws[i]);
        // a token reads the experts it is routed to
        b += (wbytes(&L->gate_exps) + wbytes(&L->up_exps) + wbytes(&L->down_exps)) * (uint64_t)m->hp.n_expert_used;
    }
    return b;
}
