// mixture.c - which type each tensor gets for a file type: llama-quantize's names and mixture
// rules (src/llama-quant.cpp, no importance matrix), as one pure function over the tensor list.
#include "quant/kite_quantize.h"

#include <stdio.h>
#include <strings.h>

#include "base/internal.h"
#include "quant/kite_quant.h"
#include "quant/tensor_pattern.h"

// ---- file type names -----------------------------------------------------------------------

typedef struct ftype_name {
    const char *name;
    int ftype;
} ftype_name;

// llama-quantize's QUANT_OPTIONS, in its order (a number resolves to the first entry with that
// value, as there). COPY (only copy tensors) is left out: it is not a quantization.
static const ftype_name ftype_names[] = {
    {"Q1_0", KITE_FTYPE_MOSTLY_Q1_0},       {"Q2_0", KITE_FTYPE_MOSTLY_Q2_0},
    {"Q4_0", KITE_FTYPE_MOSTLY_Q4_0},       {"Q4_1", KITE_FTYPE_MOSTLY_Q4_1},
    {"MXFP4_MOE", KITE_FTYPE_MOSTLY_MXFP4_MOE}, {"Q5_0", KITE_FTYPE_MOSTLY_Q5_0},
    {"Q5_1", KITE_FTYPE_MOSTLY_Q5_1},       {"IQ2_XXS", KITE_FTYPE_MOSTLY_IQ2_XXS},
    {"IQ2_XS", KITE_FTYPE_MOSTLY_IQ2_XS},   {"IQ2_S", KITE_FTYPE_MOSTLY_IQ2_S},
    {"IQ2_M", KITE_FTYPE_MOSTLY_IQ2_M},     {"IQ1_S", KITE_FTYPE_MOSTLY_IQ1_S},
    {"IQ1_M", KITE_FTYPE_MOSTLY_IQ1_M},     {"TQ1_0", KITE_FTYPE_MOSTLY_TQ1_0},
    {"TQ2_0", KITE_FTYPE_MOSTLY_TQ2_0},     {"Q2_K", KITE_FTYPE_MOSTLY_Q2_K},
    {"Q2_K_S", KITE_FTYPE_MOSTLY_Q2_K_S},   {"IQ3_XXS", KITE_FTYPE_MOSTLY_IQ3_XXS},
    {"IQ3_S", KITE_FTYPE_MOSTLY_IQ3_S},     {"IQ3_M", KITE_FTYPE_MOSTLY_IQ3_M},
    {"Q3_K", KITE_FTYPE_MOSTLY_Q3_K_M},     {"IQ3_XS", KITE_FTYPE_MOSTLY_IQ3_XS},
    {"Q3_K_S", KITE_FTYPE_MOSTLY_Q3_K_S},   {"Q3_K_M", KITE_FTYPE_MOSTLY_Q3_K_M},
    {"Q3_K_L", KITE_FTYPE_MOSTLY_Q3_K_L},   {"IQ4_NL", KITE_FTYPE_MOSTLY_IQ4_NL},
    {"IQ4_XS", KITE_FTYPE_MOSTLY_IQ4_XS},   {"Q4_K", KITE_FTYPE_MOSTLY_Q4_K_M},
    {"Q4_K_S", KITE_FTYPE_MOSTLY_Q4_K_S},   {"Q4_K_M", KITE_FTYPE_MOSTLY_Q4_K_M},
    {"Q5_K", KITE_FTYPE_MOSTLY_Q5_K_M},     {"Q5_K_S", KITE_FTYPE_MOSTLY_Q5_K_S},
    {"Q5_K_M", KITE_FTYPE_MOSTLY_Q5_K_M},   {"Q6_K", KITE_FTYPE_MOSTLY_Q6_K},
    {"Q8_0", KITE_FTYPE_MOSTLY_Q8_0},       {"F16", KITE_FTYPE_MOSTLY_F16},
    {"BF16", KITE_FTYPE_MOSTLY_BF16},       {"F32", KITE_FTYPE_ALL_F32},
};
#define N_FTYPE_NAMES (sizeof ftype_names / sizeof ftype_names[0])

bool kite_quantize_ftype_from_name(const char *name, int *ftype) {
    if (!name || !*name) return false;
    for (size_t i = 0; i < N_FTYPE_NAMES; i++) {
        if (strcasecmp(ftype_names[i].name, name) == 0) {
            *ftype = ftype_names[i].ftype;
            return true;
        }
    }
    // a plain decimal number names the file type by value
    int v = 0;
    for (const char *c = name; *c; c++) {
        if (*c < '0' || *c > '9' || v > 1000) return false;
        v = v * 10 + (*c - '0');
    }
    for (size_t i = 0; i < N_FTYPE_NAMES; i++) {
        if (ftype_names[i].ftype == v) {
            *ftype = v;
            return true;
        }
    }
    return false;
}

const char *kite_quantize_ftype_name(int ftype) {
    // skip the aliases (Q4_K...) so the canonical name comes back
    for (size_t i = 0; i < N_FTYPE_NAMES; i++) {
        const char *n = ftype_names[i].name;
        if (ftype_names[i].ftype == ftype && strcmp(n, "Q3_K") && strcmp(n, "Q4_K") && strcmp(n, "Q5_K")) return n;
    }
    return NULL;
}

// The type most tensors get for a file type (llama_ftype_get_default_type); COUNT if unknown.
static kite_type ftype_default_type(int ftype) {
    switch (ftype) {
    case KITE_FTYPE_MOSTLY_Q4_0: return KITE_TYPE_Q4_0;
    case KITE_FTYPE_MOSTLY_Q4_1: return KITE_TYPE_Q4_1;
    case KITE_FTYPE_MOSTLY_Q5_0: return KITE_TYPE_Q5_0;
    case KITE_FTYPE_MOSTLY_Q5_1: return KITE_TYPE_Q5_1;
    case KITE_FTYPE_MOSTLY_Q8_0: return KITE_TYPE_Q8_0;
    case KITE_FTYPE_MOSTLY_F16: return KITE_TYPE_F16;
    case KITE_FTYPE_MOSTLY_BF16: return KITE_TYPE_BF16;
    case KITE_FTYPE_ALL_F32: return KITE_TYPE_F32;
    case KITE_FTYPE_MOSTLY_Q1_0: return KITE_TYPE_Q1_0;
    case KITE_FTYPE_MOSTLY_Q2_0: return KITE_TYPE_Q2_0;
    case KITE_FTYPE_MOSTLY_MXFP4_MOE: return KITE_TYPE_MXFP4;
    case KITE_FTYPE_MOSTLY_Q2_K_S:
    case KITE_FTYPE_MOSTLY_Q2_K: return KITE_TYPE_Q2_K;
    case KITE_FTYPE_MOSTLY_IQ3_XS: return KITE_TYPE_IQ3_S;
    case KITE_FTYPE_MOSTLY_Q3_K_S:
    case KITE_FTYPE_MOSTLY_Q3_K_M:
    case KITE_FTYPE_MOSTLY_Q3_K_L: return KITE_TYPE_Q3_K;
    case KITE_FTYPE_MOSTLY_Q4_K_S:
    case KITE_FTYPE_MOSTLY_Q4_K_M: return KITE_TYPE_Q4_K;
    case KITE_FTYPE_MOSTLY_Q5_K_S:
    case KITE_FTYPE_MOSTLY_Q5_K_M: return KITE_TYPE_Q5_K;
    case KITE_FTYPE_MOSTLY_Q6_K: return KITE_TYPE_Q6_K;
    case KITE_FTYPE_MOSTLY_TQ1_0: return KITE_TYPE_TQ1_0;
    case KITE_FTYPE_MOSTLY_TQ2_0: return KITE_TYPE_TQ2_0;
    case KITE_FTYPE_MOSTLY_IQ2_XXS: return KITE_TYPE_IQ2_XXS;
    case KITE_FTYPE_MOSTLY_IQ2_XS: return KITE_TYPE_IQ2_XS;
    case KITE_FTYPE_MOSTLY_IQ2_S: return KITE_TYPE_IQ2_XS;
    case KITE_FTYPE_MOSTLY_IQ2_M: return KITE_TYPE_IQ2_S;
    case KITE_FTYPE_MOSTLY_IQ3_XXS: return KITE_TYPE_IQ3_XXS;
    case KITE_FTYPE_MOSTLY_IQ1_S: return KITE_TYPE_IQ1_S;
    case KITE_FTYPE_MOSTLY_IQ1_M: return KITE_TYPE_IQ1_M;
    case KITE_FTYPE_MOSTLY_IQ4_NL: return KITE_TYPE_IQ4_NL;
    case KITE_FTYPE_MOSTLY_IQ4_XS: return KITE_TYPE_IQ4_XS;
    case KITE_FTYPE_MOSTLY_IQ3_S:
    case KITE_FTYPE_MOSTLY_IQ3_M: return KITE_TYPE_IQ3_S;
    default: return KITE_TYPE_COUNT;
    }
}

const char *kite_quantize_ftype_at(size_t i, int *ftype) {
    if (i >= N_FTYPE_NAMES) return NULL;
    if (ftype) *ftype = ftype_names[i].ftype;
    return ftype_names[i].name;
}

kite_status kite_quantize_ftype_check_for(int ftype, bool with_imatrix) {
    kite_type def = ftype_default_type(ftype);
    const char *name = kite_quantize_ftype_name(ftype);
    if (def == KITE_TYPE_COUNT || !name) return kite__fail(KITE_ERR_INVALID, "unknown quantization file type %d", ftype);
    // llama.cpp's rule is per tensor (never the embedding or the output); a layer matrix stands
    // for the bulk of the model, which is what the file type is about
    if (!with_imatrix && kite_quantize_needs_imatrix("blk.0.ffn_down.weight", def, ftype))
        return kite__fail(KITE_ERR_UNSUPPORTED,
                          "%s needs an importance matrix (--imatrix FILE, from llama-imatrix): llama-quantize refuses it "
                          "without one, the result would be garbage",
                          name);
    if (!kite_quant_can_quantize(def))
        return kite__fail(KITE_ERR_UNSUPPORTED, "kite cannot quantize to %s yet (no %s quantizer)", name,
                          kite_type_name(def));
    return KITE_OK;
}

kite_status kite_quantize_ftype_check(int ftype) { return kite_quantize_ftype_check_for(ftype, false); }

kite_quantize_params kite_quantize_default_params(void) {
    kite_quantize_params p;
    memset(&p, 0, sizeof p);
    p.ftype = KITE_FTYPE_MOSTLY_Q8_0;
    p.n_threads = 1;
    p.output_tensor_type = -1;
    p.token_embedding_type = -1;
    return p;
}

static bool type_param_ok(int t) { return t == -1 || (t >= 0 && kite_type_get((uint32_t)t) != NULL); }

kite_status kite_quantize_params_check(const kite_quantize_params *p) {
    if (ftype_default_type(p->ftype) == KITE_TYPE_COUNT)
        return kite__fail(KITE_ERR_INVALID, "unknown quantization file type %d", p->ftype);
    if (!type_param_ok(p->output_tensor_type))
        return kite__fail(KITE_ERR_INVALID, "unknown output tensor type %d", p->output_tensor_type);
    if (!type_param_ok(p->token_embedding_type))
        return kite__fail(KITE_ERR_INVALID, "unknown token embedding type %d", p->token_embedding_type);
    if (p->n_tensor_types && !p->tensor_types) return kite__fail(KITE_ERR_INVALID, "tensor type overrides: NULL list");
    for (size_t i = 0; i < p->n_tensor_types; i++) {
        const kite_quantize_tensor_type *tt = &p->tensor_types[i];
        if (!tt->pattern || !*tt->pattern) return kite__fail(KITE_ERR_INVALID, "tensor type override %zu: empty pattern", i);
        if (!kite_type_get((uint32_t)tt->type))
            return kite__fail(KITE_ERR_INVALID, "tensor type override '%s': unknown type %d", tt->pattern, (int)tt->type);
        kite__pattern *pat;
        KITE_TRY(kite__pattern_compile(tt->pattern, &pat));
        kite__pattern_free(pat);
    }
    return KITE_OK;
}

// ---- tensor categories -----------------------------------------------------------------------

// Broad roles by name (any architecture's naming), tested in this order: the first that fits.
typedef enum category {
    CAT_TOKEN_EMBD,
    CAT_ATTN_Q,
    CAT_ATTN_V,
    CAT_ATTN_K,
    CAT_ATTN_QKV,
    CAT_ATTN_KV_B,
    CAT_ATTN_OUTPUT,
    CAT_FFN_UP,
    CAT_FFN_GATE,
    CAT_FFN_DOWN,
    CAT_OUTPUT,
    CAT_OTHER,
} category;

static bool has(const char *name, const char *part) { return strstr(name, part) != NULL; }

static category tensor_category(const char *name) {
    if (!strcmp(name, "output.weight")) return CAT_OUTPUT;
    if (!strcmp(name, "token_embd.weight") || !strcmp(name, "per_layer_token_embd.weight")) return CAT_TOKEN_EMBD;
    if (has(name, "attn_qkv.weight")) return CAT_ATTN_QKV;
    if (has(name, "attn_kv_b.weight")) return CAT_ATTN_KV_B;
    if (has(name, "attn_v.weight")) return CAT_ATTN_V;
    if (has(name, "attn_k.weight")) return CAT_ATTN_K;
    if (has(name, "attn_q.weight")) return CAT_ATTN_Q;
    if (has(name, "attn_output.weight")) return CAT_ATTN_OUTPUT;
    if (has(name, "ffn_up")) return CAT_FFN_UP;
    if (has(name, "ffn_gate")) return CAT_FFN_GATE;
    if (has(name, "ffn_down")) return CAT_FFN_DOWN;
    return CAT_OTHER;
}

// The value projection (alone or fused) is the part of attention most hurt by quantization, so
// several rules give it more bits.
static bool is_attn_v(category c) { return c == CAT_ATTN_V || c == CAT_ATTN_QKV || c == CAT_ATTN_KV_B; }

// ggml_n_dims: trailing dimensions of size 1 do not count.
static int n_dims_of(const int64_t *ne) {
    for (int i = KITE_GGUF_MAX_DIMS - 1; i >= 1; i--)
        if (ne[i] > 1) return i + 1;
    return 1;
}

// Is this tensor quantized at all? Only matrices named *weight, minus the small or
// precision-critical ones llama.cpp keeps as they are.
static bool allows_quantization(const kite_quantize_params *p, const kite_quant_tensor *t) {
    // vectors (norms, biases) stay: tiny, and errors in them hit every activation
    if (n_dims_of(t->ne) < 2) return false;
    const char *name = t->name;
    // llama.cpp tests rfind("weight") == size - 6, which also holds for a 5-byte name without
    // "weight" (npos == 5 - 6 in size_t arithmetic); kept so the same tensors are quantized
    if (!kite__ends_with(name, "weight") && !(strlen(name) == 5)) return false;
    if (has(name, "_norm.weight")) return false;
    if (p->leave_output_tensor && !strcmp(name, "output.weight")) return false;
    // names kept in their type: expert routers, tiny or positional tables, conv kernels, and
    // multimodal / audio parts whose precision matters more than their size
    static const char *const keep[] = {
        "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel", "per_layer_model_proj",
        "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight",
        "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
        "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight",
        "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight",
        "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
        "attn_rel_b.weight", ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos",
        ".patch_embd", ".patch_merger", "a.rvq.codebook", "mm.a.code_embd",
    };
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        if (has(name, keep[i])) return false;
    // absolute position embeddings and BERT token types are looked up, not multiplied
    if (!strcmp(name, "position_embd.weight") || !strcmp(name, "token_types.weight")) return false;
    return true;
}

// ---- the rules -----------------------------------------------------------------------------

typedef struct mix {
    const kite_quant_model *m;
    const kite_quantize_params *p;
    kite__pattern **pats;
    int n_attention_wv, i_attention_wv; // value projections: total and seen so far
    int n_layer_ffn, i_ffn_down, i_ffn_gate, i_ffn_up;
    uint32_t n_fallback;
    bool tied; // no output.weight: token_embd doubles as the output matrix
    bool falcon, bailingmoe3;
    bool has_imatrix; // an importance matrix with entries was given (llama.cpp's qs.has_imatrix)
} mix;

static uint32_t n_gqa(const kite_quant_model *m) { return m->n_head_kv ? m->n_head / m->n_head_kv : 0; }

// The first and last eighth of the layers, and every third in between, get more bits: errors
// there (input embedding side, final logits side) spread the most.
static bool use_more_bits(int i_layer, int n_layer) {
    return i_layer < n_layer / 8 || i_layer >= 7 * n_layer / 8 || (i_layer - n_layer / 8) % 3 == 2;
}

static bool ft_in(int f, const int *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (list[i] == f) return true;
    return false;
}
// True when file type f is one of the listed ones.
#define IS_FT(f, ...) ft_in(f, (const int[]){__VA_ARGS__}, sizeof((const int[]){__VA_ARGS__}) / sizeof(int))

// Layer index of an FFN tensor: with experts, the tensors of a layer are not consecutive, so
// the layer comes from the name; otherwise it is the running count of that kind.
static kite_status layer_of(const mix *x, const char *name, int counter, int *i_layer) {
    *i_layer = counter;
    if (x->m->n_expert <= 1) return KITE_OK;
    int v = -1;
    if (sscanf(name, "blk.%d.", &v) != 1)
        return kite__fail(KITE_ERR_INVALID, "tensor %s: cannot read its layer number from the name", name);
    if (v < 0 || v >= (int)x->m->n_layer)
        return kite__fail(KITE_ERR_INVALID, "tensor %s: layer %d out of range [0, %u)", name, v, x->m->n_layer);
    *i_layer = v;
    return KITE_OK;
}

// The mixture: starting from the file type's default `ty`, the type this tensor deserves.
static kite_status mixture_type(mix *x, const kite_quant_tensor *t, category cat, kite_type *io) {
    const int ft = x->p->ftype;
    const kite_quant_model *m = x->m;
    kite_type ty = *io;
    const bool iq_low = IS_FT(ft, KITE_FTYPE_MOSTLY_IQ2_XXS, KITE_FTYPE_MOSTLY_IQ2_XS, KITE_FTYPE_MOSTLY_IQ1_S,
                              KITE_FTYPE_MOSTLY_IQ2_S, KITE_FTYPE_MOSTLY_IQ2_M, KITE_FTYPE_MOSTLY_IQ1_M);
    const bool iq2sm = ft == KITE_FTYPE_MOSTLY_IQ2_S || ft == KITE_FTYPE_MOSTLY_IQ2_M;

    if (cat == CAT_OUTPUT || (x->tied && cat == CAT_TOKEN_EMBD)) {
        // The output matrix turns hidden states into logits: every token depends on it, so it
        // gets Q6_K (or Q8_0 when rows do not fit 256-blocks, or for Falcon / MXFP4 files).
        if (x->p->output_tensor_type >= 0) {
            ty = (kite_type)x->p->output_tensor_type;
        } else {
            const kite_type_traits *tr = kite_type_get(ty);
            int64_t qk = tr ? tr->block_size : 1;
            if (ft == KITE_FTYPE_MOSTLY_MXFP4_MOE) ty = KITE_TYPE_Q8_0;
            else if (x->falcon || t->ne[0] % qk != 0) ty = KITE_TYPE_Q8_0;
            else if (IS_FT(ft, KITE_FTYPE_MOSTLY_IQ2_XXS, KITE_FTYPE_MOSTLY_IQ2_XS, KITE_FTYPE_MOSTLY_IQ3_XXS,
                           KITE_FTYPE_MOSTLY_IQ1_S, KITE_FTYPE_MOSTLY_IQ2_S, KITE_FTYPE_MOSTLY_IQ2_M, KITE_FTYPE_MOSTLY_IQ1_M))
                ty = KITE_TYPE_Q5_K; // very low-bit files cannot afford Q6_K here
            else if (ty != KITE_TYPE_Q8_0) ty = KITE_TYPE_Q6_K;
        }
    } else if (ft == KITE_FTYPE_MOSTLY_MXFP4_MOE) {
        // MXFP4 is meant for expert stacks (3D); everything else is small enough for Q8_0.
        bool expert_role = cat == CAT_FFN_UP || cat == CAT_FFN_GATE || cat == CAT_FFN_DOWN;
        if (t->ne[2] > 1 && (!x->bailingmoe3 || expert_role)) ty = KITE_TYPE_MXFP4;
        else ty = KITE_TYPE_Q8_0;
    } else if (cat == CAT_TOKEN_EMBD) {
        // Embedding rows are only looked up, so the lowest-bit files can use a cheap type for
        // them; otherwise an explicit token embedding type wins, else the default stays.
        if (x->p->token_embedding_type >= 0) ty = (kite_type)x->p->token_embedding_type;
        else if (IS_FT(ft, KITE_FTYPE_MOSTLY_IQ2_XXS, KITE_FTYPE_MOSTLY_IQ2_XS, KITE_FTYPE_MOSTLY_IQ1_S, KITE_FTYPE_MOSTLY_IQ1_M))
            ty = KITE_TYPE_Q2_K;
        else if (iq2sm || ft == KITE_FTYPE_MOSTLY_IQ3_XXS) ty = KITE_TYPE_IQ3_S;
        else if (IS_FT(ft, KITE_FTYPE_MOSTLY_TQ1_0, KITE_FTYPE_MOSTLY_TQ2_0, KITE_FTYPE_MOSTLY_Q2_0)) ty = KITE_TYPE_Q4_K;
    } else if (iq_low) {
        // 1-2 bit files: protect attn_v, attn_k of 8-expert models, the first ffn_down layers
        // and attn_output, which decide whether the model still works at all.
        if (is_attn_v(cat)) {
            if (n_gqa(m) >= 4 || m->n_expert >= 4) ty = KITE_TYPE_Q4_K;
            else ty = iq2sm ? KITE_TYPE_IQ3_S : KITE_TYPE_Q2_K;
            ++x->i_attention_wv;
        } else if (m->n_expert == 8 && cat == CAT_ATTN_K) {
            ty = KITE_TYPE_Q4_K;
        } else if (cat == CAT_FFN_DOWN) {
            if (x->i_ffn_down < x->n_layer_ffn / 8) ty = iq2sm ? KITE_TYPE_IQ3_S : KITE_TYPE_Q2_K;
            ++x->i_ffn_down;
        } else if (cat == CAT_ATTN_OUTPUT) {
            if (m->n_expert == 8) ty = KITE_TYPE_Q5_K;
            else if (ft == KITE_FTYPE_MOSTLY_IQ1_S || ft == KITE_FTYPE_MOSTLY_IQ1_M) ty = KITE_TYPE_IQ2_XXS;
            else if (iq2sm) ty = KITE_TYPE_IQ3_S;
        }
    } else if (is_attn_v(cat)) {
        // attn_v is small (shared by grouped heads: n_gqa times smaller than attn_q) and
        // sensitive, so bits spent here are cheap; more so the more heads share it.
        if (ft == KITE_FTYPE_MOSTLY_Q2_K) ty = n_gqa(m) >= 4 ? KITE_TYPE_Q4_K : KITE_TYPE_Q3_K;
        else if (ft == KITE_FTYPE_MOSTLY_Q2_K_S && n_gqa(m) >= 4) ty = KITE_TYPE_Q4_K;
        else if (ft == KITE_FTYPE_MOSTLY_IQ3_XXS)
            ty = n_gqa(m) >= 4 ? KITE_TYPE_Q4_K : !x->has_imatrix ? KITE_TYPE_IQ3_S : KITE_TYPE_IQ3_XXS;
        else if ((ft == KITE_FTYPE_MOSTLY_IQ3_XS || ft == KITE_FTYPE_MOSTLY_IQ3_S) && n_gqa(m) >= 4) ty = KITE_TYPE_Q4_K;
        else if (ft == KITE_FTYPE_MOSTLY_IQ3_M) ty = KITE_TYPE_Q4_K;
        else if (ft == KITE_FTYPE_MOSTLY_Q3_K_M) ty = x->i_attention_wv < 2 ? KITE_TYPE_Q5_K : KITE_TYPE_Q4_K;
        else if (ft == KITE_FTYPE_MOSTLY_Q3_K_L) ty = KITE_TYPE_Q5_K;
        else if ((ft == KITE_FTYPE_MOSTLY_IQ4_NL || ft == KITE_FTYPE_MOSTLY_IQ4_XS) && n_gqa(m) >= 4) ty = KITE_TYPE_Q5_K;
        else if ((ft == KITE_FTYPE_MOSTLY_Q4_K_M || ft == KITE_FTYPE_MOSTLY_Q5_K_M) &&
                 use_more_bits(x->i_attention_wv, x->n_attention_wv))
            ty = KITE_TYPE_Q6_K;
        else if (ft == KITE_FTYPE_MOSTLY_Q4_K_S && x->i_attention_wv < 4) ty = KITE_TYPE_Q5_K;
        // 70B-class models share attn_v across 8 heads: it is 8x smaller than attn_q, so
        // Q5_K there costs almost nothing and helps measurably.
        if (m->is_70b && (ty == KITE_TYPE_Q3_K || ty == KITE_TYPE_Q4_K)) ty = KITE_TYPE_Q5_K;
        // 8-expert models: attention is a small share of the weights, Q8_0 costs ~128 MB.
        if (m->n_expert == 8) ty = KITE_TYPE_Q8_0;
        ++x->i_attention_wv;
    } else if (cat == CAT_ATTN_K) {
        if (m->n_expert == 8) ty = KITE_TYPE_Q8_0; // same reasoning as attn_v above
        else if (ft == KITE_FTYPE_MOSTLY_IQ3_XS) ty = KITE_TYPE_IQ3_XXS;
        else if (ft == KITE_FTYPE_MOSTLY_IQ3_XXS) ty = KITE_TYPE_IQ2_S;
    } else if (cat == CAT_ATTN_Q) {
        // the IQ3 mixes save their bits on attn_q, the least sensitive projection
        if (ft == KITE_FTYPE_MOSTLY_IQ3_XS) ty = KITE_TYPE_IQ3_XXS;
        else if (ft == KITE_FTYPE_MOSTLY_IQ3_XXS) ty = KITE_TYPE_IQ2_S;
    } else if (cat == CAT_FFN_DOWN) {
        // ffn_down outputs straight into the residual stream and has outliers: the first
        // layers (and use_more_bits layers for the _M mixes) get more bits.
        int il, nl = x->n_layer_ffn;
        KITE_TRY(layer_of(x, t->name, x->i_ffn_down, &il));
        if (ft == KITE_FTYPE_MOSTLY_Q2_K) ty = KITE_TYPE_Q3_K;
        else if (ft == KITE_FTYPE_MOSTLY_Q2_K_S) {
            if (il < nl / 8) ty = KITE_TYPE_Q4_K;
        } else if (ft == KITE_FTYPE_MOSTLY_IQ3_XXS && !x->has_imatrix) {
            ty = il < nl / 8 ? KITE_TYPE_Q4_K : KITE_TYPE_Q3_K;
        } else if (ft == KITE_FTYPE_MOSTLY_Q3_K_M) {
            ty = il < nl / 16 ? KITE_TYPE_Q5_K : !x->falcon || use_more_bits(il, nl) ? KITE_TYPE_Q4_K : KITE_TYPE_Q3_K;
        } else if (ft == KITE_FTYPE_MOSTLY_IQ3_M && (il < nl / 8 || (m->n_expert == 8 && use_more_bits(il, nl)))) {
            ty = KITE_TYPE_Q4_K;
        } else if (ft == KITE_FTYPE_MOSTLY_Q3_K_L) {
            ty = x->falcon ? KITE_TYPE_Q4_K : KITE_TYPE_Q5_K;
        } else if (ft == KITE_FTYPE_MOSTLY_Q4_K_M) {
            if (x->falcon) ty = il < nl / 16 ? KITE_TYPE_Q6_K : use_more_bits(il, nl) ? KITE_TYPE_Q5_K : KITE_TYPE_Q4_K;
            else if (use_more_bits(il, nl)) ty = KITE_TYPE_Q6_K;
        } else if (il < nl / 8 && (ft == KITE_FTYPE_MOSTLY_IQ4_NL || ft == KITE_FTYPE_MOSTLY_IQ4_XS) && !x->has_imatrix) {
            ty = KITE_TYPE_Q5_K;
        } else if (ft == KITE_FTYPE_MOSTLY_Q5_K_M && use_more_bits(il, nl)) {
            ty = KITE_TYPE_Q6_K;
        } else if (ft == KITE_FTYPE_MOSTLY_Q4_K_S && !x->falcon && il < nl / 8) {
            ty = KITE_TYPE_Q5_K;
        } else if ((ft == KITE_FTYPE_MOSTLY_Q4_0 || ft == KITE_FTYPE_MOSTLY_Q5_0) && x->has_imatrix && il < nl / 8) {
            // llama.cpp guards the first ffn_down layers of imatrix Q4_0/Q5_0 files with the
            // min-offset type (only with an imatrix, so files made without one stay as they were)
            ty = ft == KITE_FTYPE_MOSTLY_Q4_0 ? KITE_TYPE_Q4_1 : KITE_TYPE_Q5_1;
        }
        ++x->i_ffn_down;
    } else if (cat == CAT_ATTN_OUTPUT) {
        // attn_output also feeds the residual stream; the low-bit _M/_L mixes lift it a step.
        if (!x->falcon) {
            if (m->n_expert == 8) {
                if (IS_FT(ft, KITE_FTYPE_MOSTLY_Q2_K, KITE_FTYPE_MOSTLY_IQ3_XS, KITE_FTYPE_MOSTLY_IQ3_XXS,
                          KITE_FTYPE_MOSTLY_Q3_K_S, KITE_FTYPE_MOSTLY_Q3_K_M, KITE_FTYPE_MOSTLY_IQ4_NL) ||
                    IS_FT(ft, KITE_FTYPE_MOSTLY_Q4_K_S, KITE_FTYPE_MOSTLY_Q4_K_M, KITE_FTYPE_MOSTLY_IQ3_S,
                          KITE_FTYPE_MOSTLY_IQ3_M, KITE_FTYPE_MOSTLY_IQ4_XS))
                    ty = KITE_TYPE_Q5_K;
            } else {
                if (ft == KITE_FTYPE_MOSTLY_Q2_K) ty = KITE_TYPE_Q3_K;
                else if (ft == KITE_FTYPE_MOSTLY_IQ3_XXS) ty = KITE_TYPE_IQ3_S;
                else if (ft == KITE_FTYPE_MOSTLY_Q3_K_M) ty = KITE_TYPE_Q4_K;
                else if (ft == KITE_FTYPE_MOSTLY_Q3_K_L) ty = KITE_TYPE_Q5_K;
                else if (ft == KITE_FTYPE_MOSTLY_IQ3_M) ty = KITE_TYPE_Q4_K;
            }
        } else if (ft == KITE_FTYPE_MOSTLY_Q3_K_L) {
            ty = KITE_TYPE_Q4_K;
        }
    } else if (cat == CAT_FFN_GATE || cat == CAT_FFN_UP) {
        // IQ3_XS saves bits on the middle layers' gate/up projections (the ends matter more).
        int *counter = cat == CAT_FFN_GATE ? &x->i_ffn_gate : &x->i_ffn_up;
        int il, nl = x->n_layer_ffn;
        KITE_TRY(layer_of(x, t->name, *counter, &il));
        if (ft == KITE_FTYPE_MOSTLY_IQ3_XS && il >= nl / 8 && il < 7 * nl / 8) ty = KITE_TYPE_IQ3_XXS;
        ++*counter;
    }
    // (The fused-QKV rule of llama.cpp sits behind its attn_v branch, which fused QKV already
    // takes, so it never applies; it is left out here.)
    *io = ty;
    return KITE_OK;
}

// A row length the chosen type cannot hold: step down to a type with smaller blocks, as
// llama.cpp does (256-blocks -> a 32-block type of similar quality), then to F16.
static kite_status fallback_type(mix *x, const kite_quant_tensor *t, kite_type *io) {
    kite_type ty = *io;
    const kite_type_traits *tr = kite_type_get(ty);
    int64_t qk = tr->block_size;
    if (t->ne[0] % qk == 0) return KITE_OK;
    ++x->n_fallback;
    kite_type fb;
    switch (ty) {
    case KITE_TYPE_IQ1_S: case KITE_TYPE_IQ1_M: case KITE_TYPE_IQ2_XXS: case KITE_TYPE_IQ2_XS:
    case KITE_TYPE_IQ2_S: case KITE_TYPE_IQ3_XXS: case KITE_TYPE_IQ3_S: case KITE_TYPE_IQ4_XS:
        fb = KITE_TYPE_IQ4_NL;
        break;
    case KITE_TYPE_Q2_0: case KITE_TYPE_Q2_K: case KITE_TYPE_Q3_K: case KITE_TYPE_TQ1_0: case KITE_TYPE_TQ2_0:
        fb = KITE_TYPE_Q4_0;
        break;
    case KITE_TYPE_Q4_K: fb = KITE_TYPE_Q5_0; break;
    case KITE_TYPE_Q5_K: fb = KITE_TYPE_Q5_1; break;
    case KITE_TYPE_Q6_K: fb = KITE_TYPE_Q8_0; break;
    default:
        // a 32-block type has nothing smaller to step down to: F16 below
        if (qk > 32)
            return kite__fail(KITE_ERR_INVALID, "tensor %s: row length %lld does not fit type %s and it has no fallback",
                              t->name, (long long)t->ne[0], kite_type_name(ty));
        fb = ty;
        break;
    }
    // still no fit (row length not a multiple of 32): only a plain type holds it
    if (t->ne[0] % kite_type_get(fb)->block_size != 0) fb = KITE_TYPE_F16;
    *io = fb;
    return KITE_OK;
}

// Types that give garbage without an importance matrix; llama.cpp refuses them, so do we.
bool kite_quantize_needs_imatrix(const char *name, kite_type ty, int ftype) {
    if (tensor_category(name) == CAT_OUTPUT || tensor_category(name) == CAT_TOKEN_EMBD) return false;
    switch (ty) {
    case KITE_TYPE_IQ3_XXS: case KITE_TYPE_IQ2_XXS: case KITE_TYPE_IQ2_XS: case KITE_TYPE_IQ2_S:
    case KITE_TYPE_IQ1_M: case KITE_TYPE_IQ1_S:
        return true;
    case KITE_TYPE_Q2_K: return ftype == KITE_FTYPE_MOSTLY_Q2_K_S; // Q2_K_S is tuned for an imatrix
    default: return false;
    }
}

// First override whose pattern is found in the name: its index, -1 if none; -2 on give-up.
static int override_for(const mix *x, const char *name) {
    for (size_t i = 0; i < x->p->n_tensor_types; i++) {
        int r = kite__pattern_search(x->pats[i], name);
        if (r < 0) return -2;
        if (r) return (int)i;
    }
    return -1;
}

static kite_status pattern_gave_up(const char *name) {
    return kite__fail(KITE_ERR_INVALID, "tensor %s: a --tensor-type pattern needs too much backtracking", name);
}

// The type of one quantizable tensor (llama_tensor_get_type).
static kite_status tensor_type(mix *x, const kite_quant_tensor *t, kite_type def, kite_type *out) {
    const kite_quantize_params *p = x->p;
    category cat = tensor_category(t->name);
    // explicit types for the embedding and output matrices beat everything (and skip the
    // fallback: the user asked for exactly that type)
    if (p->token_embedding_type >= 0 && cat == CAT_TOKEN_EMBD) {
        // per_layer_token_embd is a separate big table: a --tensor-type naming it wins
        bool named = false;
        if (!strcmp(t->name, "per_layer_token_embd.weight")) {
            int o = override_for(x, t->name);
            if (o == -2) return pattern_gave_up(t->name);
            named = o >= 0;
        }
        if (!named) {
            *out = (kite_type)p->token_embedding_type;
            return KITE_OK;
        }
    }
    if (p->output_tensor_type >= 0 && cat == CAT_OUTPUT) {
        *out = (kite_type)p->output_tensor_type;
        return KITE_OK;
    }
    kite_type ty = def;
    // plain file types (F32/F16/BF16) convert every quantizable tensor, no mixture
    if (!kite_type_get(def)->quantized) {
        *out = ty;
        return KITE_OK;
    }
    int o = override_for(x, t->name);
    if (o == -2) return pattern_gave_up(t->name);
    if (o >= 0) ty = p->tensor_types[o].type;
    else if (!p->pure) KITE_TRY(mixture_type(x, t, cat, &ty));
    KITE_TRY(fallback_type(x, t, &ty));
    *out = ty;
    return KITE_OK;
}

kite_status kite_quantize_choose_types(const kite_quant_model *m, const kite_quantize_params *p,
                                       const kite_quant_tensor *t, size_t n, kite_type *out, uint32_t *n_fallback) {
    KITE_TRY(kite_quantize_params_check(p));
    kite_type def = ftype_default_type(p->ftype);
    mix x;
    memset(&x, 0, sizeof x);
    x.m = m;
    x.p = p;
    x.falcon = m->arch && !strcmp(m->arch, "falcon");
    x.bailingmoe3 = m->arch && !strcmp(m->arch, "bailingmoe3");
    x.n_layer_ffn = (int)m->n_layer;
    x.tied = true;
    x.has_imatrix = p->imatrix && p->imatrix->n_entries > 0;
    for (size_t i = 0; i < n; i++) {
        category c = tensor_category(t[i].name);
        if (is_attn_v(c)) x.n_attention_wv++;
        if (c == CAT_OUTPUT) x.tied = false;
    }
    if (p->n_tensor_types) {
        x.pats = calloc(p->n_tensor_types, sizeof *x.pats);
        if (!x.pats) return kite__fail(KITE_ERR_NOMEM, "out of memory");
    }
    kite_status s = KITE_OK;
    for (size_t i = 0; s == KITE_OK && i < p->n_tensor_types; i++) s = kite__pattern_compile(p->tensor_types[i].pattern, &x.pats[i]);
    for (size_t i = 0; s == KITE_OK && i < n; i++) {
        out[i] = t[i].type;
        if (!allows_quantization(p, &t[i])) continue;
        s = tensor_type(&x, &t[i], def, &out[i]);
    }
    for (size_t i = 0; x.pats && i < p->n_tensor_types; i++) kite__pattern_free(x.pats[i]);
    free(x.pats);
    if (s == KITE_OK && n_fallback) *n_fallback = x.n_fallback;
    return s;
}
