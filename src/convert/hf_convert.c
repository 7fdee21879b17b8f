// hf_convert.c - kite_convert_hf: reads the safetensors headers, maps the tensors to llama.cpp's
// names, types and row order, and streams them into a GGUF a block of rows at a time.
#include "convert/convert_internal.h"
#include "base/internal.h"
#include "base/kite_f16.h"
#include "quant/kite_quant.h"

#include <stdio.h>

typedef struct shard {
    char *name;
    kite_safetensors *st;
} shard;

// A source tensor and the shard that holds it.
typedef struct part {
    const kite_st_tensor *src;
    const char *file;
} part;

typedef struct item {
    char name[64];              // GGUF name
    part one;                   // the source of a 2-D or 1-D tensor (src NULL: generated or stacked)
    part *experts;              // a stacked expert tensor's ne[2] sources (expert e's src NULL until seen)
    float *gen;                 // generated data (rope_freqs), F32
    uint32_t n_dims;
    uint64_t ne[4];             // GGUF order (ne[0] innermost; ne[2] the expert for a stacked tensor)
    uint32_t perm_heads;        // llama's q/k row permutation over this many heads (0: none)
    bool plus_one;              // gemma norm: written as 1 + w (llama.cpp adds it at convert time)
    kite_type type;
} item;

typedef struct conv {
    const kite_hf_files *f;
    kite__hf_model m;
    shard *shards;
    size_t n_shards;
    item *items;
    size_t n_items;
} conv;

// HF's per-layer names -> llama.cpp's, for the llama / qwen2 / qwen3 / smollm3 layouts.
static const char *const llama_layers[][2] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.q_proj.bias", "attn_q.bias"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.v_proj.bias", "attn_v.bias"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"self_attn.q_norm.weight", "attn_q_norm.weight"},
    {"self_attn.k_norm.weight", "attn_k_norm.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
    {"mlp.gate.weight", "ffn_gate_inp.weight"}, // qwen3moe's router (n_expert > 0 only)
};

// Gemma 2 / 3: norms after attention and around the feed-forward block; q/k norms (Gemma 3).
static const char *const gemma_layers[][2] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"self_attn.q_norm.weight", "attn_q_norm.weight"},
    {"self_attn.k_norm.weight", "attn_k_norm.weight"},
    {"post_attention_layernorm.weight", "post_attention_norm.weight"},
    {"pre_feedforward_layernorm.weight", "ffn_norm.weight"},
    {"post_feedforward_layernorm.weight", "post_ffw_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
};

// Phi-3 / Phi-4-mini: q, k, v in one matrix and gate, up in one, kept fused as llama.cpp does.
static const char *const phi3_layers[][2] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.qkv_proj.weight", "attn_qkv.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"mlp.gate_up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
};

// The decimal index at *p in a tensor name (1..7 digits, no leading zero), then a '.': true when
// it is below limit, with *out its value and *p moved to the '.'.
static bool read_index(const char **p, uint32_t limit, uint32_t *out) {
    const char *s = *p;
    uint32_t v = 0;
    int digits = 0;
    for (; *s >= '0' && *s <= '9' && digits < 7; s++, digits++) v = v * 10 + (uint32_t)(*s - '0');
    if (!digits || *s != '.' || v >= limit || (digits > 1 && **p == '0')) return false;
    *p = s;
    *out = v;
    return true;
}

// An expert's matrix, "experts.E.{gate,up,down}_proj.weight" (after "model.layers.L.mlp."), as
// the stacked GGUF name into out and E into *expert: 1, else 0 (-1: E not below n_expert).
static int map_expert(const char *p, uint32_t layer, const kite__hf_model *m, char *out, size_t n, uint32_t *expert) {
    static const char prefix[] = "experts.";
    if (!m->n_expert || strncmp(p, prefix, sizeof prefix - 1)) return 0;
    p += sizeof prefix - 1;
    uint32_t e = 0;
    if (!read_index(&p, m->n_expert, &e)) return -1;
    static const char *const proj[] = {"gate", "up", "down"};
    for (size_t i = 0; i < 3; i++) {
        size_t k = strlen(proj[i]);
        if (!strncmp(p + 1, proj[i], k) && !strcmp(p + 1 + k, "_proj.weight")) {
            *expert = e;
            return snprintf(out, n, "blk.%u.ffn_%s_exps.weight", layer, proj[i]), 1;
        }
    }
    return -1;
}

// The GGUF name of an HF tensor into out: 1 mapped, 0 skipped (llama.cpp drops it), -1 unknown.
// *expert: the expert an expert's matrix is (stacked into out), else UINT32_MAX.
static int map_name(const char *hf, const kite__hf_model *m, char *out, size_t n, uint32_t *expert) {
    *expert = UINT32_MAX;
    char full[256];
    if (m->base && strncmp(hf, "model.", 6)) { // a base model's names: as the ForCausalLM's (llama.cpp adds "model.")
        if (snprintf(full, sizeof full, "model.%s", hf) >= (int)sizeof full) return -1;
        hf = full;
    }
    if (kite__ends_with(hf, ".rotary_emb.inv_freq") || kite__ends_with(hf, ".attention.masked_bias") ||
        kite__ends_with(hf, ".attention.bias") ||
        (m->family == KITE__HF_GEMMA2 && !strcmp(hf, "lm_head.weight"))) // Gemma2Model skips lm_head (tied)
        return 0;
    if (!strcmp(hf, "model.embed_tokens.weight")) return snprintf(out, n, "token_embd.weight"), 1;
    if (!strcmp(hf, "model.norm.weight")) return snprintf(out, n, "output_norm.weight"), 1;
    if (!strcmp(hf, "lm_head.weight")) return snprintf(out, n, "output.weight"), 1;
    static const char prefix[] = "model.layers.";
    if (strncmp(hf, prefix, sizeof prefix - 1)) return -1;
    const char *p = hf + sizeof prefix - 1;
    uint32_t layer = 0;
    if (!read_index(&p, m->n_layer, &layer)) return -1;
    static const char mlp[] = ".mlp.";
    if (!strncmp(p, mlp, sizeof mlp - 1)) {
        int r = map_expert(p + sizeof mlp - 1, layer, m, out, n, expert);
        if (r) return r;
    }
    const char *const(*map)[2] = llama_layers;
    size_t n_map = sizeof llama_layers / sizeof llama_layers[0] - (m->n_expert ? 0 : 1); // the router last
    if (m->family == KITE__HF_GEMMA2 || m->family == KITE__HF_GEMMA3)
        map = gemma_layers, n_map = sizeof gemma_layers / sizeof gemma_layers[0];
    else if (m->family == KITE__HF_PHI3)
        map = phi3_layers, n_map = sizeof phi3_layers / sizeof phi3_layers[0];
    for (size_t i = 0; i < n_map; i++)
        if (!strcmp(p + 1, map[i][0])) return snprintf(out, n, "blk.%u.%s", layer, map[i][1]), 1;
    return -1;
}

// A shard name from the index must be a plain file name inside the folder.
static bool plain_name(const char *s) { return *s && *s != '.' && !strchr(s, '/') && !strchr(s, '\\'); }

static kite_status add_shard(conv *c, const char *name) {
    for (size_t i = 0; i < c->n_shards; i++)
        if (!strcmp(c->shards[i].name, name)) return KITE_OK;
    if (!plain_name(name)) return kite__fail(KITE_ERR_INVALID, "model.safetensors.index.json: shard \"%s\" is not a file name", name);
    shard *s = realloc(c->shards, (c->n_shards + 1) * sizeof *s);
    if (!s) return kite__fail(KITE_ERR_NOMEM, "convert: out of memory");
    c->shards = s;
    c->shards[c->n_shards] = (shard){strdup(name), NULL};
    if (!c->shards[c->n_shards].name) return kite__fail(KITE_ERR_NOMEM, "convert: out of memory");
    c->n_shards++;
    return KITE_OK;
}

static int by_shard_name(const void *a, const void *b) { return strcmp(((const shard *)a)->name, ((const shard *)b)->name); }

// The safetensors reader's error with its "safetensors: " prefix replaced by the file's name.
static kite_status with_file(kite_status s, const char *file) {
    char why[512];
    const char *e = kite_last_error();
    snprintf(why, sizeof why, "%s", strncmp(e, "safetensors: ", 13) ? e : e + 13);
    return kite__fail(s, "%s: %s", file, why);
}

// Reads and checks one shard's header.
static kite_status load_shard(conv *c, shard *sh) {
    uint64_t size = 0, n = 0;
    uint8_t first8[8];
    KITE_TRY(c->f->size(c->f->user, sh->name, &size));
    if (size < 8) return kite__fail(KITE_ERR_INVALID, "%s: %llu bytes, too short for a safetensors file", sh->name, (unsigned long long)size);
    KITE_TRY(c->f->read_at(c->f->user, sh->name, 0, first8, 8));
    kite_status s = kite_safetensors_header_len(first8, 8, size, &n);
    if (s != KITE_OK) return with_file(s, sh->name);
    uint8_t *hdr = malloc(n);
    if (!hdr) return kite__fail(KITE_ERR_NOMEM, "%s: out of memory for a %llu-byte header", sh->name, (unsigned long long)n);
    s = c->f->read_at(c->f->user, sh->name, 8, hdr, n);
    if (s == KITE_OK && (s = kite_safetensors_parse(hdr, n, size, &sh->st)) != KITE_OK) s = with_file(s, sh->name);
    free(hdr);
    return s;
}

// The shard list: the index's weight_map files (sorted, as llama.cpp reads them), else
// model.safetensors. Each index entry must be in the shard it names.
static kite_status find_shards(conv *c) {
    kite__jval *idx = NULL;
    KITE_TRY(kite__hf_read_json(c->f, "model.safetensors.index.json", &idx));
    if (!idx) {
        if (!c->f->exists(c->f->user, "model.safetensors")) {
            bool bin = c->f->exists(c->f->user, "pytorch_model.bin") || c->f->exists(c->f->user, "pytorch_model.bin.index.json");
            return kite__fail(bin ? KITE_ERR_UNSUPPORTED : KITE_ERR_INVALID,
                              bin ? "PyTorch .bin checkpoints are not supported (safetensors only)"
                                  : "no model.safetensors or model.safetensors.index.json");
        }
        KITE_TRY(add_shard(c, "model.safetensors"));
        return load_shard(c, &c->shards[0]);
    }
    kite_status s = KITE_OK;
    const kite__jval *map = kite__json_get(idx, "weight_map");
    if (!map || map->type != KITE__J_OBJ || map->n == 0)
        s = kite__fail(KITE_ERR_INVALID, "model.safetensors.index.json: no \"weight_map\"");
    for (size_t i = 0; s == KITE_OK && i < map->n; i++) {
        if (map->items[i]->type != KITE__J_STR)
            s = kite__fail(KITE_ERR_INVALID, "model.safetensors.index.json: %s maps to no file name", map->items[i]->key);
        else
            s = add_shard(c, map->items[i]->s);
    }
    if (s == KITE_OK) qsort(c->shards, c->n_shards, sizeof *c->shards, by_shard_name);
    for (size_t i = 0; s == KITE_OK && i < c->n_shards; i++) s = load_shard(c, &c->shards[i]);
    for (size_t i = 0; s == KITE_OK && i < map->n; i++) {
        const shard *sh = bsearch(&(shard){(char *)map->items[i]->s, NULL}, c->shards, c->n_shards, sizeof *sh, by_shard_name);
        bool found = false;
        for (uint64_t k = 0; sh && k < sh->st->n && !found; k++) found = !strcmp(sh->st->tensors[k].name, map->items[i]->key);
        if (!found)
            s = kite__fail(KITE_ERR_INVALID, "model.safetensors.index.json: %s is listed in %s, which lacks it", map->items[i]->key,
                           map->items[i]->s);
    }
    kite__json_free(idx);
    return s;
}

static item *new_item(conv *c) {
    item *t = realloc(c->items, (c->n_items + 1) * sizeof *t);
    if (!t) return NULL;
    c->items = t;
    t = &c->items[c->n_items++];
    memset(t, 0, sizeof *t);
    return t;
}

// The output type of a tensor (llama.cpp's prepare_tensors): vectors, norms, non-weights and the
// MoE router F32; matrices the chosen type, Q8_0 falling back to F16 for rows that are not whole
// blocks.
static kite_type out_type(const item *t, kite_type want) {
    if (t->n_dims <= 1 || kite__ends_with(t->name, "_norm.weight") || !kite__ends_with(t->name, ".weight") ||
        kite__ends_with(t->name, ".ffn_gate_inp.weight"))
        return KITE_TYPE_F32;
    if (want == KITE_TYPE_Q8_0 && t->ne[0] % 32) return KITE_TYPE_F16;
    return want;
}

// Expert e's matrix st into the stacked tensor t (made on the first expert seen): every expert
// of the same shape, each once.
static kite_status plan_expert(conv *c, item *t, const char *name, const shard *sh, const kite_st_tensor *st, uint32_t e) {
    if (st->n_dims != 2)
        return kite__fail(KITE_ERR_INVALID, "%s: tensor %s has %u dimensions (2 expected)", sh->name, st->name, st->n_dims);
    if (!t) {
        if (!(t = new_item(c)) || !(t->experts = calloc(c->m.n_expert, sizeof *t->experts)))
            return kite__fail(KITE_ERR_NOMEM, "convert: out of memory");
        snprintf(t->name, sizeof t->name, "%s", name);
        t->n_dims = 3;
        t->ne[0] = st->shape[1];
        t->ne[1] = st->shape[0];
        t->ne[2] = c->m.n_expert;
        t->ne[3] = 1;
    } else if (t->ne[0] != st->shape[1] || t->ne[1] != st->shape[0]) {
        return kite__fail(KITE_ERR_INVALID, "%s: tensor %s is %llu x %llu, another expert's is %llu x %llu", sh->name, st->name,
                          (unsigned long long)st->shape[0], (unsigned long long)st->shape[1], (unsigned long long)t->ne[1],
                          (unsigned long long)t->ne[0]);
    }
    if (t->experts[e].src) return kite__fail(KITE_ERR_INVALID, "%s: tensor %s appears twice", sh->name, st->name);
    t->experts[e] = (part){st, sh->name};
    if (t->ne[0] == 0 || t->ne[1] == 0) return kite__fail(KITE_ERR_INVALID, "%s: tensor %s is empty", sh->name, st->name);
    return KITE_OK;
}

static kite_status plan_tensor(conv *c, const shard *sh, const kite_st_tensor *st, kite_type *want) {
    char name[64];
    uint32_t expert = UINT32_MAX;
    int r = map_name(st->name, &c->m, name, sizeof name, &expert);
    if (r == 0) return KITE_OK;
    if (r < 0) return kite__fail(KITE_ERR_INVALID, "%s: cannot map tensor %s to a %s GGUF name", sh->name, st->name, c->m.arch);
    if (strcmp(st->dtype, "F32") && strcmp(st->dtype, "F16") && strcmp(st->dtype, "BF16"))
        return kite__fail(KITE_ERR_UNSUPPORTED, "%s: tensor %s has dtype %s (F32, F16, BF16 are supported)", sh->name, st->name, st->dtype);
    if (st->n_dims < 1 || st->n_dims > 2)
        return kite__fail(KITE_ERR_INVALID, "%s: tensor %s has %u dimensions (1 or 2 expected)", sh->name, st->name, st->n_dims);
    if ((int)*want < 0 && st->n_dims >= 2) *want = strcmp(st->dtype, "BF16") ? KITE_TYPE_F16 : KITE_TYPE_BF16;
    item *same = NULL;
    for (size_t i = 0; i < c->n_items && !same; i++)
        if (!strcmp(c->items[i].name, name)) same = &c->items[i];
    if (expert != UINT32_MAX) return plan_expert(c, same, name, sh, st, expert);
    if (same) return kite__fail(KITE_ERR_INVALID, "%s: tensor %s appears twice", sh->name, st->name);
    item *t = new_item(c);
    if (!t) return kite__fail(KITE_ERR_NOMEM, "convert: out of memory");
    snprintf(t->name, sizeof t->name, "%s", name);
    t->one = (part){st, sh->name};
    t->n_dims = st->n_dims;
    for (uint32_t d = 0; d < 4; d++) t->ne[d] = d < st->n_dims ? st->shape[st->n_dims - 1 - d] : 1;
    if (c->m.llama_like && (kite__ends_with(st->name, "q_proj.weight") || kite__ends_with(st->name, "q_proj.bias")))
        t->perm_heads = c->m.n_head;
    if (c->m.llama_like && (kite__ends_with(st->name, "k_proj.weight") || kite__ends_with(st->name, "k_proj.bias")))
        t->perm_heads = c->m.n_head_kv;
    // Gemma's RMS norms scale by 1 + w (Gemma2Model / Gemma3Model add the 1 at convert time)
    t->plus_one = (c->m.family == KITE__HF_GEMMA2 || c->m.family == KITE__HF_GEMMA3) && kite__ends_with(st->name, "norm.weight");
    if (t->perm_heads && st->shape[0] % (2 * (uint64_t)t->perm_heads))
        return kite__fail(KITE_ERR_INVALID, "%s: tensor %s has %llu rows, not a multiple of 2 x %u heads", sh->name, st->name,
                          (unsigned long long)st->shape[0], t->perm_heads);
    if (t->ne[0] == 0 || t->ne[1] == 0) return kite__fail(KITE_ERR_INVALID, "%s: tensor %s is empty", sh->name, st->name);
    return KITE_OK;
}

// A generated 1-D F32 tensor of n elements; *data to fill.
static kite_status add_generated(conv *c, const char *name, uint64_t n, float **data) {
    item *t = new_item(c);
    if (!t || !(t->gen = malloc(n * sizeof(float)))) return kite__fail(KITE_ERR_NOMEM, "convert: out of memory");
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = 1;
    t->ne[0] = n;
    t->ne[1] = t->ne[2] = t->ne[3] = 1;
    *data = t->gen;
    return KITE_OK;
}

// A MoE checkpoint: every layer has its router and its three stacked tensors, each with every
// expert (llama.cpp's Qwen2MoeModel stacks a layer only once it has all of them).
static kite_status check_moe_layers(const conv *c) {
    if (!c->m.n_expert) return KITE_OK;
    static const char *const proj[] = {NULL, "gate", "up", "down"}; // the router, then the experts' matrices
    for (uint32_t l = 0; l < c->m.n_layer; l++)
        for (size_t k = 0; k < 4; k++) {
            char want[64], hf_name[96];
            if (k) snprintf(want, sizeof want, "blk.%u.ffn_%s_exps.weight", l, proj[k]);
            else snprintf(want, sizeof want, "blk.%u.ffn_gate_inp.weight", l);
            const item *t = NULL;
            for (size_t i = 0; i < c->n_items && !t; i++)
                if (!strcmp(c->items[i].name, want)) t = &c->items[i];
            uint32_t missing = 0;
            while (t && t->experts && missing < c->m.n_expert && t->experts[missing].src) missing++;
            if (t && (!t->experts || missing == c->m.n_expert)) continue;
            if (k) snprintf(hf_name, sizeof hf_name, "model.layers.%u.mlp.experts.%u.%s_proj.weight", l, missing, proj[k]);
            else snprintf(hf_name, sizeof hf_name, "model.layers.%u.mlp.gate.weight", l);
            return kite__fail(KITE_ERR_INVALID, "the checkpoint lacks %s (%s needs %s)", hf_name, want,
                              k ? "every expert" : "the router of each layer");
        }
    return KITE_OK;
}

static kite_status plan(conv *c, int outtype, kite_type *want) {
    *want = outtype == KITE_TYPE_F32 || outtype == KITE_TYPE_F16 || outtype == KITE_TYPE_BF16 || outtype == KITE_TYPE_Q8_0
                ? (kite_type)outtype
                : (kite_type)-1;
    // generated tensors first, as llama.cpp's generate_extra_tensors
    if (c->m.rope_llama3) {
        float *f = NULL;
        KITE_TRY(add_generated(c, "rope_freqs.weight", c->m.head_dim / 2, &f));
        kite__hf_llama3_rope_factors(&c->m, f);
    }
    const kite__jval *factors[2] = {c->m.rope_long, c->m.rope_short};
    static const char *const factor_names[2] = {"rope_factors_long.weight", "rope_factors_short.weight"};
    for (int k = 0; k < 2 && factors[0]; k++) { // phi3 longrope: config.json's numbers as float32
        float *f = NULL;
        KITE_TRY(add_generated(c, factor_names[k], factors[k]->n, &f));
        for (size_t i = 0; i < factors[k]->n; i++) {
            const kite__jval *x = factors[k]->items[i];
            f[i] = (float)(x->is_int ? (double)x->i : x->d);
        }
    }
    for (size_t i = 0; i < c->n_shards; i++)
        for (uint64_t k = 0; k < c->shards[i].st->n; k++) KITE_TRY(plan_tensor(c, &c->shards[i], &c->shards[i].st->tensors[k], want));
    if ((int)*want < 0) *want = KITE_TYPE_F16;
    bool embd = false;
    for (size_t i = 0; i < c->n_items; i++) {
        c->items[i].type = out_type(&c->items[i], *want);
        embd |= !strcmp(c->items[i].name, "token_embd.weight");
    }
    if (!embd) return kite__fail(KITE_ERR_INVALID, "the checkpoint has no model.embed_tokens.weight");
    return check_moe_layers(c);
}

// HF row (or element) of output row r under llama's permutation: HF keeps each head's
// rotary pairs as two halves, llama.cpp interleaves them.
static uint64_t perm_src(uint64_t r, uint64_t rows, uint32_t heads) {
    uint64_t hd = rows / heads, half = hd / 2, h = r / hd, j = r % hd;
    return h * hd + (j % 2) * half + j / 2;
}

static void to_f32(const char *dtype, const uint8_t *src, float *dst, uint64_t n) {
    if (!strcmp(dtype, "F32")) {
        memcpy(dst, src, n * 4);
    } else {
        bool bf = !strcmp(dtype, "BF16");
        for (uint64_t i = 0; i < n; i++) {
            uint16_t h = (uint16_t)(src[2 * i] | src[2 * i + 1] << 8);
            dst[i] = bf ? kite_bf16_to_f32(h) : kite_f16_to_f32(h);
        }
    }
}

// Reads rows [r0, r0 + nr) of t's source p (GGUF rows of ne[0] elements) as floats, permuted as
// llama.cpp.
static kite_status read_rows(conv *c, const item *t, part p, uint64_t r0, uint64_t nr, uint8_t *raw, float *out) {
    const kite_st_tensor *st = p.src;
    const uint64_t es = st->nbytes / (t->ne[0] * t->ne[1]), row = t->ne[0] * es;
    if (t->perm_heads && t->n_dims == 2) {
        for (uint64_t r = 0; r < nr; r++)
            KITE_TRY(c->f->read_at(c->f->user, p.file, st->offset + perm_src(r0 + r, t->ne[1], t->perm_heads) * row,
                                   raw + r * row, row));
    } else {
        KITE_TRY(c->f->read_at(c->f->user, p.file, st->offset + r0 * row, raw, nr * row));
    }
    to_f32(st->dtype, raw, out, nr * t->ne[0]);
    if (t->perm_heads && t->n_dims == 1) { // a bias: permute its elements (nr is 1)
        float *tmp = (float *)(void *)raw; // raw holds at least ne[0] * 4 bytes for a 1-D tensor
        memcpy(tmp, out, t->ne[0] * sizeof *out);
        for (uint64_t i = 0; i < t->ne[0]; i++) out[i] = tmp[perm_src(i, t->ne[0], t->perm_heads)];
    }
    if (t->plus_one) { // torch's w + 1 in the tensor's dtype (BF16 is widened to F32 before it)
        bool half = !strcmp(st->dtype, "F16");
        for (uint64_t i = 0; i < nr * t->ne[0]; i++) {
            float v = out[i] + 1.0f;
            out[i] = half ? kite_f16_to_f32(kite_f32_to_f16(v)) : v;
        }
    }
    return KITE_OK;
}

static kite_status write_tensor(conv *c, kite_gguf_writer *w, const kite_sink *out, uint64_t idx) {
    const item *t = &c->items[idx];
    // a stacked expert tensor: expert by expert, each as a 2-D tensor of ne[1] rows
    const uint64_t cols = t->ne[0], rows = t->n_dims >= 2 ? t->ne[1] : 1, n_parts = t->experts ? t->ne[2] : 1;
    if (t->gen) {
        KITE_TRY(out->write(out->user, t->gen, cols * sizeof(float)));
        return kite_gguf_writer_write_padding(w, out, idx);
    }
    uint64_t chunk = (1u << 22) / cols;
    if (chunk == 0) chunk = 1;
    if (chunk > rows) chunk = rows;
    if (chunk * cols > SIZE_MAX / 4) // a single row too long to buffer (32-bit builds)
        return kite__fail(KITE_ERR_UNSUPPORTED, "tensor %s: rows of %llu elements do not fit this build's memory", t->name,
                          (unsigned long long)cols);
    const uint64_t orow = kite_type_row_bytes(t->type, cols);
    float *f = malloc(chunk * cols * sizeof *f);
    uint8_t *raw = malloc(chunk * cols * 4), *q = malloc(chunk * orow);
    kite_status s = f && raw && q ? KITE_OK : kite__fail(KITE_ERR_NOMEM, "convert: out of memory for tensor %s", t->name);
    for (uint64_t e = 0; s == KITE_OK && e < n_parts; e++)
        for (uint64_t r0 = 0; s == KITE_OK && r0 < rows; r0 += chunk) {
            uint64_t nr = rows - r0 < chunk ? rows - r0 : chunk;
            s = read_rows(c, t, t->experts ? t->experts[e] : t->one, r0, nr, raw, f);
            if (s == KITE_OK) s = kite_quantize_rows(t->type, f, q, (int64_t)nr, (int64_t)cols);
            if (s == KITE_OK) s = out->write(out->user, q, nr * orow);
        }
    free(f);
    free(raw);
    free(q);
    KITE_TRY(s);
    return kite_gguf_writer_write_padding(w, out, idx);
}

// The parameter count of the tensors written, as GGUFWriter.get_total_parameter_count.
static kite__hf_params count_params(const conv *c) {
    kite__hf_params p = {0};
    uint64_t expert_sum = 0, n_expert_tensors = 0;
    for (size_t i = 0; i < c->n_items; i++) {
        const item *t = &c->items[i];
        uint64_t size = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) size *= t->ne[d];
        if (strstr(t->name, "_exps.") && t->n_dims >= 3) {
            uint64_t n_exp = t->ne[strstr(t->name, ".bias") ? 1 : 2];
            p.expert += size / n_exp;
            expert_sum += n_exp;
            n_expert_tensors++;
        } else {
            p.shared += size;
        }
        p.total += size;
    }
    p.expert_count = n_expert_tensors ? expert_sum / n_expert_tensors : 0;
    return p;
}

static uint32_t file_type(kite_type t) {
    switch (t) {
    case KITE_TYPE_F32: return 0;
    case KITE_TYPE_Q8_0: return 7;
    case KITE_TYPE_BF16: return 32;
    default: return 1;
    }
}

static kite_status run(conv *c, const kite_convert_opts *o, kite_gguf_writer *w, const kite_sink *out) {
    kite__jval *cfg = NULL;
    KITE_TRY(kite__hf_read_json(c->f, "config.json", &cfg));
    if (!cfg) return kite__fail(KITE_ERR_INVALID, "config.json is missing");
    kite_type want = KITE_TYPE_F16;
    kite_status s = kite__hf_config(cfg, w, &c->m);
    if (s == KITE_OK) s = kite__hf_sampling_keys(c->f, w);
    if (s == KITE_OK) s = find_shards(c);
    if (s == KITE_OK) s = plan(c, o->outtype, &want);
    if (s == KITE_OK) s = kite_gguf_writer_set_u32(w, "general.file_type", file_type(want));
    if (s == KITE_OK) s = kite_gguf_writer_set_u32(w, "general.quantization_version", 2);
    uint32_t n_vocab = 0;
    if (s == KITE_OK) s = kite__hf_vocab(c->f, cfg, &c->m, w, &n_vocab);
    // Gemma3Model drops the embedding's rows past the vocabulary (out-of-vocabulary padding)
    for (size_t i = 0; s == KITE_OK && c->m.family == KITE__HF_GEMMA3 && i < c->n_items; i++)
        if (!strcmp(c->items[i].name, "token_embd.weight") && c->items[i].ne[1] > n_vocab) c->items[i].ne[1] = n_vocab;
    if (s == KITE_OK) {
        kite__hf_params p = count_params(c);
        s = kite__hf_identity_keys(c->f, cfg, o->dir_name, o->name, &p, w);
    }
    kite__json_free(cfg);
    for (size_t i = 0; s == KITE_OK && i < c->n_items; i++)
        s = kite_gguf_writer_add_tensor(w, c->items[i].name, c->items[i].type, c->items[i].n_dims, c->items[i].ne);
    if (s == KITE_OK) s = kite_gguf_writer_write_header(w, out);
    for (size_t i = 0; s == KITE_OK && i < c->n_items; i++) {
        s = write_tensor(c, w, out, i);
        if (s == KITE_OK && o->progress && !o->progress(o->progress_user, c->items[i].name, i + 1, c->n_items))
            s = kite__fail(KITE_ERR_ABORTED, "convert: aborted");
    }
    return s;
}

kite_status kite_convert_hf(const kite_hf_files *files, const kite_convert_opts *opts, const kite_sink *out) {
    conv c = {.f = files};
    kite_gguf_writer *w = kite_gguf_writer_new();
    if (!w) return kite__fail(KITE_ERR_NOMEM, "convert: out of memory");
    kite_status s = run(&c, opts, w, out);
    kite_gguf_writer_free(w);
    for (size_t i = 0; i < c.n_shards; i++) {
        free(c.shards[i].name);
        kite_safetensors_free(c.shards[i].st);
    }
    for (size_t i = 0; i < c.n_items; i++) {
        free(c.items[i].gen);
        free(c.items[i].experts);
    }
    free(c.shards);
    free(c.items);
    return s;
}
