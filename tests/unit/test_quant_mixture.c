// test_quant_mixture.c - the per-tensor type choice (kite_quantize_choose_types): a table of
// llama-quantize's rules, each row checked against llama.cpp's own chooser
// (llama_quant_compute_types in libllama) where that library loads, plus a grid of models x file
// types x options compared tensor by tensor, and the --tensor-type pattern syntax.
#include "check.h"
#include "kite.h"
#include "llama_quant_ref.h"
#include "quant/tensor_pattern.h"

#define MAXT 1024
#define GGML_TYPE_COUNT_REF 43 // llama.h's "default" marker for output/token-embedding types

// ---- synthetic models ----------------------------------------------------------------------

typedef struct model_spec {
    const char *arch;
    int n_layer;
    int64_t n_embd, n_ff, n_vocab;
    int n_head, n_head_kv, n_expert;
    bool tied;      // no output.weight
    bool fused_qkv; // attn_qkv instead of q/k/v
    kite_type wtype; // type of the 2D weights in the "file"
} model_spec;

typedef struct tlist {
    kite_quant_tensor t[MAXT];
    char names[MAXT][64];
    size_t n;
} tlist;

static void add(tlist *l, const char *name, kite_type ty, int64_t ne0, int64_t ne1, int64_t ne2) {
    if (l->n == MAXT) return;
    snprintf(l->names[l->n], 64, "%s", name);
    kite_quant_tensor *t = &l->t[l->n];
    t->name = l->names[l->n];
    t->type = ty;
    t->ne[0] = ne0, t->ne[1] = ne1, t->ne[2] = ne2, t->ne[3] = 1;
    l->n++;
}

// Tensors of a llama-style model in llama-quantize's order (non-layer ones first, then by layer).
static void make_model(tlist *l, const model_spec *s) {
    l->n = 0;
    int64_t e = s->n_embd, hd = s->n_embd / s->n_head, kv = hd * s->n_head_kv;
    if (!s->tied) add(l, "output.weight", s->wtype, e, s->n_vocab, 1);
    add(l, "output_norm.weight", KITE_TYPE_F32, e, 1, 1);
    add(l, "token_embd.weight", s->wtype, e, s->n_vocab, 1);
    char n[64];
    for (int i = 0; i < s->n_layer; i++) {
        int64_t ex = s->n_expert > 1 ? s->n_expert : 1;
        const char *sfx = s->n_expert > 1 ? "_exps" : "";
#define T(fmt, ...) (snprintf(n, sizeof n, "blk.%d." fmt, i), add(l, n, __VA_ARGS__))
        if (s->fused_qkv) {
            T("attn_qkv.weight", s->wtype, e, e + 2 * kv, 1);
        } else {
            T("attn_k.weight", s->wtype, e, kv, 1);
        }
        T("attn_norm.weight", KITE_TYPE_F32, e, 1, 1);
        T("attn_output.weight", s->wtype, e, e, 1);
        if (!s->fused_qkv) {
            T("attn_q.weight", s->wtype, e, e, 1);
            T("attn_v.weight", s->wtype, e, kv, 1);
        }
        if (s->n_expert > 1) T("ffn_gate_inp.weight", KITE_TYPE_F32, e, s->n_expert, 1);
        snprintf(n, sizeof n, "blk.%d.ffn_down%s.weight", i, sfx), add(l, n, s->wtype, s->n_ff, e, ex);
        snprintf(n, sizeof n, "blk.%d.ffn_gate%s.weight", i, sfx), add(l, n, s->wtype, e, s->n_ff, ex);
        T("ffn_norm.weight", KITE_TYPE_F32, e, 1, 1);
        snprintf(n, sizeof n, "blk.%d.ffn_up%s.weight", i, sfx), add(l, n, s->wtype, e, s->n_ff, ex);
#undef T
    }
}

static kite_quant_model model_of(const model_spec *s) {
    kite_quant_model m = {s->arch, (uint32_t)s->n_layer, (uint32_t)s->n_head, (uint32_t)s->n_head_kv,
                          (uint32_t)s->n_expert, false};
    // as llama_quant_model_from_metadata classes the mock model
    m.is_70b = !strcmp(s->arch, "llama") && s->n_layer == 80 && s->n_head != s->n_head_kv;
    return m;
}

static int find(const tlist *l, const char *name) {
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->names[i], name)) return (int)i;
    return -1;
}

// ---- llama.cpp's chooser ---------------------------------------------------------------------

static lq_ref ref;
static bool have_ref;

// llama's choice for every tensor of l (those it would not quantize keep their type), or false
// when the reference is unavailable.
static bool llama_types(const model_spec *s, const tlist *l, const kite_quantize_params *p, kite_type *out) {
    if (!have_ref) return false;
    lq_model_desc d = {s->arch, (uint32_t)s->n_embd, (uint32_t)s->n_ff, (uint32_t)s->n_layer, (uint32_t)s->n_head,
                       (uint32_t)s->n_head_kv, (uint32_t)s->n_expert, (uint32_t)(s->n_embd / s->n_head),
                       (uint32_t)(s->n_embd / s->n_head)};
    void *model = ref.model_from_metadata(&d);
    lq_params lp = ref.default_params();
    lp.ftype = p->ftype;
    lp.pure = p->pure;
    lp.quantize_output_tensor = !p->leave_output_tensor;
    lp.output_tensor_type = p->output_tensor_type >= 0 ? p->output_tensor_type : GGML_TYPE_COUNT_REF;
    lp.token_embedding_type = p->token_embedding_type >= 0 ? p->token_embedding_type : GGML_TYPE_COUNT_REF;
    lq_tensor_override ov[8] = {{0}};
    for (size_t i = 0; i < p->n_tensor_types && i < 7; i++) ov[i] = (lq_tensor_override){p->tensor_types[i].pattern, (int)p->tensor_types[i].type};
    lp.tt_overrides = p->n_tensor_types ? ov : NULL;
    void *qs = ref.quant_init(model, &lp);
    lq_ggml_init_params ip = {(size_t)MAXT * 512 + 4096, NULL, true};
    void *ctx = ref.ggml_init(ip);
    void *gt[MAXT];
    for (size_t i = 0; i < l->n; i++) {
        gt[i] = ref.ggml_new_tensor(ctx, (int)l->t[i].type, 3, l->t[i].ne);
        ref.ggml_set_name(gt[i], l->names[i]);
    }
    // All tensors go in, as llama_model_quantize counts them all (a tensor it does not quantize
    // comes back with its own type): passing only the quantizable ones would hide a kept
    // output.weight and make the embeddings look tied.
    int res[MAXT];
    ref.compute_types(qs, p->ftype, gt, res, l->n);
    for (size_t i = 0; i < l->n; i++) out[i] = (kite_type)res[i];
    ref.ggml_free(ctx);
    ref.quant_free(qs);
    ref.model_free(model);
    return true;
}

// ---- the table -------------------------------------------------------------------------------

// rand-llama-spm-f16's shape (2 layers, GQA 2, tied embeddings), stories260K's (64-wide rows,
// 172-wide ffn_down, separate output), a 32-layer GQA-4 model, a 70B-class one, an 8-expert
// one, and Falcon.
static const model_spec M_RAND = {"llama", 2, 256, 768, 32000, 8, 4, 0, true, false, KITE_TYPE_F16};
static const model_spec M_STORIES = {"llama", 5, 64, 172, 512, 8, 4, 0, false, false, KITE_TYPE_F32};
static const model_spec M_32 = {"llama", 32, 512, 1024, 1000, 8, 2, 0, false, false, KITE_TYPE_F16};
static const model_spec M_70B = {"llama", 80, 256, 512, 1000, 8, 1, 0, false, false, KITE_TYPE_F16};
static const model_spec M_MOE8 = {"llama", 4, 256, 512, 1000, 8, 8, 8, false, false, KITE_TYPE_F16};
static const model_spec M_FALCON = {"falcon", 8, 256, 1024, 1000, 8, 8, 0, false, true, KITE_TYPE_F16};

typedef struct row {
    const model_spec *m;
    const char *ftype;
    const char *opts; // "pure", "leave", "out=q8_0", "emb=q4_K", "tt=PATTERN=TYPE"
    const char *tensor;
    kite_type want;
    const char *why;
} row;

static const row table[] = {
    {&M_RAND, "Q4_K_M", "", "token_embd.weight", KITE_TYPE_Q6_K, "tied embeddings are the output matrix: Q6_K"},
    {&M_RAND, "Q4_K_M", "", "blk.0.attn_v.weight", KITE_TYPE_Q4_K, "use_more_bits(0 of 2) is false"},
    {&M_RAND, "Q4_K_M", "", "blk.1.attn_v.weight", KITE_TYPE_Q6_K, "last eighth of the layers gets Q6_K"},
    {&M_RAND, "Q4_K_M", "", "blk.1.ffn_down.weight", KITE_TYPE_Q6_K, "ffn_down of a use_more_bits layer"},
    {&M_RAND, "Q4_K_M", "", "blk.0.ffn_down.weight", KITE_TYPE_Q4_K, "ffn_down elsewhere stays Q4_K"},
    {&M_RAND, "Q4_K_M", "", "blk.0.attn_norm.weight", KITE_TYPE_F32, "1D tensors are never quantized"},
    {&M_RAND, "Q4_K_M", "pure", "token_embd.weight", KITE_TYPE_Q4_K, "--pure: no output rule"},
    {&M_RAND, "Q4_K_M", "emb=q8_0", "token_embd.weight", KITE_TYPE_Q8_0, "--token-embedding-type wins"},
    {&M_RAND, "Q8_0", "", "token_embd.weight", KITE_TYPE_Q8_0, "Q8_0 output stays Q8_0"},
    {&M_RAND, "Q4_0", "", "token_embd.weight", KITE_TYPE_Q6_K, "Q4_0 files still get a Q6_K output"},
    {&M_RAND, "F16", "", "blk.0.attn_q.weight", KITE_TYPE_F16, "plain file types convert, no mixture"},
    {&M_RAND, "F32", "", "token_embd.weight", KITE_TYPE_F32, "F32 file: embeddings to F32"},
    {&M_RAND, "BF16", "", "blk.1.ffn_up.weight", KITE_TYPE_BF16, "BF16 file"},
    {&M_RAND, "Q3_K_M", "", "blk.0.attn_v.weight", KITE_TYPE_Q5_K, "Q3_K_M: first two attn_v get Q5_K"},
    {&M_RAND, "Q3_K_M", "", "blk.0.attn_output.weight", KITE_TYPE_Q4_K, "Q3_K_M lifts attn_output"},
    {&M_RAND, "Q3_K_L", "", "blk.1.ffn_down.weight", KITE_TYPE_Q5_K, "Q3_K_L: ffn_down Q5_K"},
    {&M_RAND, "Q3_K_S", "", "blk.0.attn_v.weight", KITE_TYPE_Q3_K, "Q3_K_S: no upgrades"},
    {&M_RAND, "Q2_K", "", "blk.0.attn_v.weight", KITE_TYPE_Q3_K, "Q2_K attn_v with GQA < 4: Q3_K"},
    {&M_RAND, "Q2_K", "", "blk.0.ffn_down.weight", KITE_TYPE_Q3_K, "Q2_K ffn_down: Q3_K"},
    {&M_RAND, "Q2_K", "", "blk.0.attn_q.weight", KITE_TYPE_Q2_K, "Q2_K elsewhere"},
    {&M_RAND, "Q4_K_S", "", "blk.1.attn_v.weight", KITE_TYPE_Q5_K, "Q4_K_S: first four attn_v Q5_K"},
    {&M_RAND, "Q5_K_M", "", "blk.1.attn_v.weight", KITE_TYPE_Q6_K, "Q5_K_M: use_more_bits attn_v"},
    {&M_RAND, "Q5_K_S", "", "blk.1.attn_v.weight", KITE_TYPE_Q5_K, "Q5_K_S: no upgrades"},
    {&M_RAND, "Q6_K", "", "blk.1.attn_v.weight", KITE_TYPE_Q6_K, "Q6_K everywhere"},
    {&M_RAND, "IQ4_NL", "", "blk.0.attn_v.weight", KITE_TYPE_IQ4_NL, "IQ4_NL attn_v needs GQA >= 4"},
    {&M_RAND, "IQ4_XS", "", "token_embd.weight", KITE_TYPE_Q6_K, "IQ4_XS output: Q6_K"},
    {&M_RAND, "Q4_K_M", "tt=attn_v=q8_0", "blk.0.attn_v.weight", KITE_TYPE_Q8_0, "--tensor-type override"},
    {&M_RAND, "Q4_K_M", "tt=^blk\\.1\\.=q5_0", "blk.1.ffn_up.weight", KITE_TYPE_Q5_0, "anchored regex override"},
    {&M_RAND, "Q4_K_M", "tt=^blk\\.1\\.=q5_0", "blk.0.ffn_up.weight", KITE_TYPE_Q4_K, "regex does not match layer 0"},
    {&M_STORIES, "Q4_K_M", "", "output.weight", KITE_TYPE_Q8_0, "output row 64 < 256: Q8_0 instead of Q6_K"},
    {&M_STORIES, "Q4_K_M", "", "token_embd.weight", KITE_TYPE_Q5_0, "untied embeddings: Q4_K falls back to Q5_0"},
    {&M_STORIES, "Q4_K_M", "", "blk.0.attn_q.weight", KITE_TYPE_Q5_0, "Q4_K -> Q5_0 for 64-wide rows"},
    {&M_STORIES, "Q4_K_M", "", "blk.0.ffn_down.weight", KITE_TYPE_F16, "172-wide rows fit no block: F16"},
    {&M_STORIES, "Q5_K_S", "", "blk.0.attn_q.weight", KITE_TYPE_Q5_1, "Q5_K -> Q5_1"},
    {&M_STORIES, "Q6_K", "", "blk.2.attn_k.weight", KITE_TYPE_Q8_0, "Q6_K -> Q8_0"},
    {&M_STORIES, "Q2_K", "", "blk.2.attn_q.weight", KITE_TYPE_Q4_0, "Q2_K -> Q4_0"},
    {&M_STORIES, "IQ4_XS", "", "blk.2.attn_q.weight", KITE_TYPE_IQ4_NL, "IQ4_XS -> IQ4_NL"},
    {&M_STORIES, "Q4_0", "", "blk.2.ffn_down.weight", KITE_TYPE_F16, "even 32-blocks do not fit 172"},
    {&M_STORIES, "Q4_K_M", "leave", "output.weight", KITE_TYPE_F32, "--leave-output-tensor"},
    {&M_STORIES, "Q4_K_M", "out=q4_0", "output.weight", KITE_TYPE_Q4_0, "--output-tensor-type"},
    {&M_32, "Q4_K_M", "", "blk.4.ffn_down.weight", KITE_TYPE_Q4_K, "(4-4)%3 != 2"},
    {&M_32, "Q4_K_M", "", "blk.6.ffn_down.weight", KITE_TYPE_Q6_K, "(6-4)%3 == 2: every third layer"},
    {&M_32, "Q4_K_M", "", "blk.28.ffn_down.weight", KITE_TYPE_Q6_K, "last eighth"},
    {&M_32, "IQ4_NL", "", "blk.3.ffn_down.weight", KITE_TYPE_Q5_K, "IQ4_NL: first eighth ffn_down Q5_K"},
    {&M_32, "IQ4_NL", "", "blk.4.attn_v.weight", KITE_TYPE_Q5_K, "IQ4_NL with GQA 4: attn_v Q5_K"},
    {&M_32, "Q2_K", "", "blk.9.attn_v.weight", KITE_TYPE_Q4_K, "Q2_K with GQA 4: attn_v Q4_K"},
    {&M_32, "Q3_K_M", "", "blk.1.ffn_down.weight", KITE_TYPE_Q5_K, "Q3_K_M: first sixteenth ffn_down Q5_K"},
    {&M_32, "Q3_K_M", "", "blk.9.ffn_down.weight", KITE_TYPE_Q4_K, "Q3_K_M ffn_down otherwise Q4_K"},
    {&M_70B, "Q3_K_S", "", "blk.40.attn_v.weight", KITE_TYPE_Q5_K, "70B: attn_v Q3_K -> Q5_K"},
    {&M_MOE8, "Q4_K_M", "", "blk.0.attn_v.weight", KITE_TYPE_Q8_0, "8 experts: attn_v Q8_0"},
    {&M_MOE8, "Q4_K_M", "", "blk.2.attn_k.weight", KITE_TYPE_Q8_0, "8 experts: attn_k Q8_0"},
    {&M_MOE8, "Q4_K_M", "", "blk.2.ffn_gate_inp.weight", KITE_TYPE_F32, "expert router kept"},
    {&M_MOE8, "Q3_K_S", "", "blk.1.attn_output.weight", KITE_TYPE_Q5_K, "8 experts: attn_output Q5_K"},
    {&M_FALCON, "Q4_K_M", "", "output.weight", KITE_TYPE_Q8_0, "Falcon output: Q8_0"},
    {&M_FALCON, "Q4_K_M", "", "blk.0.attn_qkv.weight", KITE_TYPE_Q6_K, "fused QKV takes the attn_v path: layer 0 of 8 gets more bits"},
    {&M_FALCON, "Q4_K_M", "", "blk.2.attn_qkv.weight", KITE_TYPE_Q4_K, "fused QKV, (2-1)%3 != 2: default"},
    {&M_FALCON, "Q3_K_L", "", "blk.2.attn_output.weight", KITE_TYPE_Q4_K, "Falcon Q3_K_L attn_output Q4_K"},
};

// Fills params from a table row's options; pattern storage lives in `pat`.
static void apply_opts(kite_quantize_params *p, const char *opts, kite_quantize_tensor_type *tt, char *pat, size_t cap) {
    if (!strcmp(opts, "pure")) p->pure = true;
    if (!strcmp(opts, "leave")) p->leave_output_tensor = true;
    kite_type t;
    if (!strncmp(opts, "out=", 4) && kite_type_from_name(opts + 4, &t)) p->output_tensor_type = (int)t;
    if (!strncmp(opts, "emb=", 4) && kite_type_from_name(opts + 4, &t)) p->token_embedding_type = (int)t;
    if (!strncmp(opts, "tt=", 3)) {
        snprintf(pat, cap, "%s", opts + 3);
        char *eq = strrchr(pat, '=');
        *eq = 0;
        kite_type_from_name(eq + 1, &t);
        tt->pattern = pat;
        tt->type = t;
        p->tensor_types = tt;
        p->n_tensor_types = 1;
    }
}

static void test_table(void) {
    static tlist l;
    for (size_t r = 0; r < sizeof table / sizeof table[0]; r++) {
        const row *w = &table[r];
        make_model(&l, w->m);
        kite_quantize_params p = kite_quantize_default_params();
        CHECK(kite_quantize_ftype_from_name(w->ftype, &p.ftype), "ftype %s", w->ftype);
        kite_quantize_tensor_type tt;
        char pat[128];
        apply_opts(&p, w->opts, &tt, pat, sizeof pat);
        kite_quant_model m = model_of(w->m);
        kite_type got[MAXT], want_llama[MAXT];
        kite_status s = kite_quantize_choose_types(&m, &p, l.t, l.n, got, NULL);
        CHECK(s == KITE_OK, "row %zu: %s", r, kite_last_error());
        int i = find(&l, w->tensor);
        CHECK(i >= 0, "row %zu: no tensor %s", r, w->tensor);
        if (s != KITE_OK || i < 0) continue;
        CHECK(got[i] == w->want, "row %zu (%s %s %s): %s -> %s, want %s (%s)", r, w->m->arch, w->ftype, w->opts, w->tensor,
              kite_type_name(got[i]), kite_type_name(w->want), w->why);
        if (llama_types(w->m, &l, &p, want_llama))
            CHECK(want_llama[i] == w->want, "row %zu: llama.cpp gives %s for %s, the table says %s", r,
                  kite_type_name(want_llama[i]), w->tensor, kite_type_name(w->want));
    }
}

// ---- the grid: every tensor of many models, compared with llama.cpp -----------------------------

static void test_grid(void) {
    if (!have_ref) return;
    static const char *ftypes[] = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q2_K_S", "Q3_K_S", "Q3_K_M", "Q3_K_L",
                                   "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ4_NL", "IQ4_XS", "F16", "BF16",
                                   "F32", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ1_S", "IQ1_M", "IQ3_XXS", "IQ3_XS",
                                   "IQ3_S", "IQ3_M", "TQ1_0", "TQ2_0", "MXFP4_MOE"};
    static const char *archs[] = {"llama", "falcon", "qwen2", "bailingmoe3"};
    static const int layers[] = {1, 2, 5, 9, 16, 24, 80};
    static const int64_t widths[] = {64, 96, 256, 512, 100};
    static const int gqa[][2] = {{8, 8}, {8, 4}, {8, 2}, {8, 1}};
    static const int experts[] = {0, 4, 8};
    static const char *opts[] = {"", "pure", "leave", "out=q8_0", "emb=q4_K", "tt=ffn_(up|gate)=q5_K", "tt=blk\\.[0-3]\\.attn=q8_0"};
    static tlist l;
    long compared = 0, mismatches = 0;
    unsigned seed = 12345;
    for (size_t a = 0; a < sizeof archs / sizeof *archs; a++)
        for (size_t nl = 0; nl < sizeof layers / sizeof *layers; nl++)
            for (size_t wi = 0; wi < sizeof widths / sizeof *widths; wi++)
                for (size_t g = 0; g < sizeof gqa / sizeof *gqa; g++)
                    for (size_t ex = 0; ex < sizeof experts / sizeof *experts; ex++) {
                        // a deterministic sample of the combinations keeps the test quick
                        seed = seed * 1103515245u + 12345u;
                        if ((seed >> 16) % 4 != 0) continue;
                        model_spec s = {archs[a], layers[nl], widths[wi], widths[wi] * 3, 300, gqa[g][0], gqa[g][1],
                                        experts[ex], (seed >> 20) & 1, !strcmp(archs[a], "falcon"), KITE_TYPE_F16};
                        make_model(&l, &s);
                        kite_quant_model m = model_of(&s);
                        for (size_t f = 0; f < sizeof ftypes / sizeof *ftypes; f++) {
                            kite_quantize_params p = kite_quantize_default_params();
                            kite_quantize_ftype_from_name(ftypes[f], &p.ftype);
                            kite_quantize_tensor_type tt;
                            char pat[128];
                            const char *o = opts[(seed >> 8) % (sizeof opts / sizeof *opts)];
                            apply_opts(&p, o, &tt, pat, sizeof pat);
                            kite_type got[MAXT], want[MAXT];
                            kite_status st = kite_quantize_choose_types(&m, &p, l.t, l.n, got, NULL);
                            if (st != KITE_OK) {
                                CHECK(0, "%s L%d w%lld %s %s: %s", s.arch, s.n_layer, (long long)s.n_embd, ftypes[f], o,
                                      kite_last_error());
                                continue;
                            }
                            llama_types(&s, &l, &p, want);
                            for (size_t i = 0; i < l.n; i++) {
                                compared++;
                                if (got[i] != want[i] && mismatches++ < 20)
                                    CHECK(0, "%s L%d w%lld gqa%d/%d x%d %s [%s]: %s -> kite %s, llama %s", s.arch,
                                          s.n_layer, (long long)s.n_embd, s.n_head, s.n_head_kv, s.n_expert, ftypes[f], o,
                                          l.names[i], kite_type_name(got[i]), kite_type_name(want[i]));
                            }
                        }
                    }
    CHECK(mismatches == 0, "%ld of %ld tensor choices differ from llama.cpp", mismatches, compared);
    printf("grid: %ld tensor choices compared with llama.cpp\n", compared);
}

// ---- errors, names -------------------------------------------------------------------------------

static void test_errors_and_names(void) {
    int f = -1;
    CHECK(kite_quantize_ftype_from_name("q4_k_m", &f) && f == KITE_FTYPE_MOSTLY_Q4_K_M, "case-insensitive name");
    CHECK(kite_quantize_ftype_from_name("Q4_K", &f) && f == KITE_FTYPE_MOSTLY_Q4_K_M, "alias Q4_K");
    CHECK(kite_quantize_ftype_from_name("15", &f) && f == 15, "number");
    CHECK(!kite_quantize_ftype_from_name("Q4_K_X", &f), "unknown name");
    CHECK(!kite_quantize_ftype_from_name("4", &f), "4 is not a file type (removed Q4_1_SOME_F16)");
    CHECK(!kite_quantize_ftype_from_name("", &f), "empty");
    CHECK(!strcmp(kite_quantize_ftype_name(KITE_FTYPE_MOSTLY_Q4_K_M), "Q4_K_M"), "canonical name");

    static tlist l;
    make_model(&l, &M_RAND);
    kite_quant_model m = model_of(&M_RAND);
    kite_type out[MAXT];
    kite_quantize_params p = kite_quantize_default_params();
    kite_quantize_tensor_type tt = {"attn_(v", KITE_TYPE_Q8_0};
    p.tensor_types = &tt;
    p.n_tensor_types = 1;
    CHECK(kite_quantize_choose_types(&m, &p, l.t, l.n, out, NULL) == KITE_ERR_INVALID, "bad pattern");
    CHECK(strstr(kite_last_error(), "attn_(v") != NULL, "message quotes the pattern: %s", kite_last_error());
    p = kite_quantize_default_params();
    p.ftype = 4;
    CHECK(kite_quantize_choose_types(&m, &p, l.t, l.n, out, NULL) == KITE_ERR_INVALID, "unknown ftype");
    p = kite_quantize_default_params();
    CHECK(kite_quantize_needs_imatrix("blk.0.attn_q.weight", KITE_TYPE_Q2_K, KITE_FTYPE_MOSTLY_Q2_K_S), "Q2_K_S needs an imatrix");
    CHECK(!kite_quantize_needs_imatrix("blk.0.attn_q.weight", KITE_TYPE_Q2_K, KITE_FTYPE_MOSTLY_Q2_K), "Q2_K does not");
    CHECK(!kite_quantize_needs_imatrix("token_embd.weight", KITE_TYPE_IQ2_XXS, KITE_FTYPE_MOSTLY_IQ2_XXS), "embeddings never");
    // an expert model whose FFN tensor has no layer number in its name
    static tlist e;
    e.n = 0;
    add(&e, "ffn_down_exps.weight", KITE_TYPE_F16, 256, 256, 8);
    kite_quant_model me = {"llama", 2, 8, 8, 8, false};
    p = kite_quantize_default_params();
    kite_quantize_ftype_from_name("Q4_K_M", &p.ftype);
    CHECK(kite_quantize_choose_types(&me, &p, e.t, e.n, out, NULL) == KITE_ERR_INVALID, "expert tensor without a layer");
    // --tensor-type with a block type the row cannot hold and no fallback (Q8_K, 256-blocks)
    static tlist s;
    make_model(&s, &M_STORIES);
    kite_quant_model ms = model_of(&M_STORIES);
    tt = (kite_quantize_tensor_type){"attn_q", KITE_TYPE_Q8_K};
    p.tensor_types = &tt;
    p.n_tensor_types = 1;
    CHECK(kite_quantize_choose_types(&ms, &p, s.t, s.n, out, NULL) == KITE_ERR_INVALID, "no fallback for q8_K");
    // fallbacks are counted as llama-quantize counts them
    p = kite_quantize_default_params();
    kite_quantize_ftype_from_name("Q4_K_M", &p.ftype);
    uint32_t nfb = 0;
    CHECK(kite_quantize_choose_types(&ms, &p, s.t, s.n, out, &nfb) == KITE_OK, "stories Q4_K_M");
    // llama_model_quantize on stories260K.gguf logs "WARNING: 36 of 48 tensor(s) required fallback"
    CHECK(nfb == 36, "stories260K Q4_K_M: %u fallbacks, llama-quantize reports 36 of 48", nfb);
}

// ---- pattern syntax ------------------------------------------------------------------------------

typedef struct pcase {
    const char *pattern, *subject;
    int match; // 1, 0, -1 = must not compile, 2 = the search gives up (returns -1)
} pcase;

static void test_patterns(void) {
    // results as ECMAScript regex_search defines them
    static const pcase cases[] = {
        {"attn_v", "blk.0.attn_v.weight", 1},
        {"^attn_v", "blk.0.attn_v.weight", 0},
        {"weight$", "blk.0.attn_v.weight", 1},
        {"^blk\\.1[0-9]\\.", "blk.12.ffn_up.weight", 1},
        {"^blk\\.1[0-9]\\.", "blk.1.ffn_up.weight", 0},
        {"ffn_(up|gate)", "blk.3.ffn_gate.weight", 1},
        {"ffn_(up|gate)", "blk.3.ffn_down.weight", 0},
        {"blk\\.\\d+\\.attn_[qk]\\.", "blk.7.attn_k.weight", 1},
        {"blk\\.\\d+\\.attn_[^qk]\\.", "blk.7.attn_k.weight", 0},
        {"blk\\.\\d+\\.attn_[^qk]\\.", "blk.7.attn_v.weight", 1},
        {"a{2,3}b", "xaab", 1},
        {"a{2,3}b", "xab", 0},
        {"(?:ab)+$", "cabab", 1},
        {"\\bffn", "blk.0.ffn_up", 1},
        {"\\Bffn", "blk.0.ffn_up", 0},
        {"x*", "anything", 1},
        {"(a*)*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac", 2}, // exponential backtracking: gives up
        {".*\\.weight", "output.weight", 1},
        {"[", "x", -1},
        {"(ab", "x", -1},
        {"ab)", "x", -1},
        {"*a", "x", -1},
        {"a**", "x", -1},
        {"a{3,1}", "x", -1},
        {"(a)\\1", "x", -1},
        {"(?=a)", "x", -1},
        {"a\\", "x", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kite__pattern *p = NULL;
        kite_status s = kite__pattern_compile(cases[i].pattern, &p);
        if (cases[i].match < 0) {
            CHECK(s == KITE_ERR_INVALID, "pattern '%s' should not compile", cases[i].pattern);
            continue;
        }
        CHECK(s == KITE_OK, "pattern '%s': %s", cases[i].pattern, kite_last_error());
        if (s != KITE_OK) continue;
        int r = kite__pattern_search(p, cases[i].subject);
        CHECK(r == (cases[i].match == 2 ? -1 : cases[i].match), "'%s' on '%s': %d, want %d", cases[i].pattern, cases[i].subject, r, cases[i].match);
        kite__pattern_free(p);
    }
}

int main(void) {
    int ci_fail = 0;
    have_ref = lq_open(&ref, &ci_fail) && lq_has_chooser(&ref);
    if (ci_fail) check_failed++;
    test_table();
    test_grid();
    test_errors_and_names();
    test_patterns();
    return check_done("test_quant_mixture");
}
