// webgpu_ref.c - reference values for the WebGPU kernel tests (tests/node/webgpu.test.mjs):
// writes inputs and the C core's outputs for them into a directory, as raw little-endian files
// plus manifest.json. Not a ctest: the Node test runs it at test time, so no expected value is
// ever stored. Every output comes from the CPU code paths (kite_quantize_rows,
// kite_dequantize_row, the ops of src/model/ops.h and kernels/attend.h). Routed experts: the
// routing is kite__moe_route's, the expert FFNs are computed here in double from the
// C-dequantized weights (the CPU backend's op needs a whole model).
//   webgpu_ref OUTDIR
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kite_f16.h"
#include "base/kite_types.h"
#include "model/ops.h"
#include "quant/kite_quant.h"

static const char *g_dir;
static FILE *g_manifest;
static uint32_t g_rng = 0x2545F491u;

static float frand(void) { // uniform in [-1, 1)
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 17;
    g_rng ^= g_rng << 5;
    return (float)((double)g_rng / 2147483648.0 - 1.0);
}

// Writes n bytes to DIR/name; exits with a message on failure.
static void put(const char *name, const void *data, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "webgpu_ref: cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "webgpu_ref: out of memory\n");
        exit(1);
    }
    return p;
}

static float *frands(size_t n, float scale) {
    float *x = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = frand() * scale;
    return x;
}

// One weight matrix per type: rows x cols random values (row scales vary over three decades,
// a few outliers), quantized by the reference quantizer and dequantized back by the reference
// dequantizer. Files: q_<name>.bin (the GGUF blocks), dq_<name>.bin (f32 rows), name the type's
// (with _<cols> appended when tail is set: float rows of a length that is no multiple of 32,
// MXFP4 rows of an odd byte count).
static void weights(kite_type t, int rows, int cols, int first, int tail) {
    float *w = xmalloc((size_t)rows * cols * sizeof(float));
    for (int r = 0; r < rows; r++) {
        const float s = powf(10.0f, (float)(r % 7) / 3.0f - 1.0f);
        for (int c = 0; c < cols; c++) w[(size_t)r * cols + c] = frand() * s * ((c * 7 + r) % 97 == 0 ? 6.0f : 1.0f);
    }
    const uint64_t rb = kite_type_row_bytes(t, (uint64_t)cols);
    uint8_t *q = xmalloc((size_t)(rb * rows));
    float *dq = xmalloc((size_t)rows * cols * sizeof(float));
    // the types that need an importance matrix get random column weights (any imatrix gives
    // valid blocks; the decoders are what is checked)
    float *imx = NULL;
    if (kite_quant_needs_imatrix(t)) {
        imx = xmalloc((size_t)cols * sizeof(float));
        for (int c = 0; c < cols; c++) imx[c] = 0.5f + fabsf(frand());
    }
    if (kite_quantize_rows_imatrix(t, w, q, rows, cols, imx) != KITE_OK) {
        fprintf(stderr, "webgpu_ref: cannot quantize %s\n", kite_type_name(t));
        exit(1);
    }
    free(imx);
    for (int r = 0; r < rows; r++) {
        if (t == KITE_TYPE_F32)
            memcpy(dq + (size_t)r * cols, q + rb * r, cols * sizeof(float));
        else if (kite_dequantize_row(t, q + rb * r, dq + (size_t)r * cols, cols) != KITE_OK) {
            fprintf(stderr, "webgpu_ref: cannot dequantize %s\n", kite_type_name(t));
            exit(1);
        }
    }
    char file[48], name[64];
    if (tail)
        snprintf(file, sizeof file, "%s_%d", kite_type_name(t), cols);
    else
        snprintf(file, sizeof file, "%s", kite_type_name(t));
    snprintf(name, sizeof name, "q_%s.bin", file);
    put(name, q, (size_t)(rb * rows));
    snprintf(name, sizeof name, "dq_%s.bin", file);
    put(name, dq, (size_t)rows * cols * sizeof(float));
    fprintf(g_manifest,
            "%s    {\"type\": \"%s\", \"file\": \"%s\", \"id\": %d, \"rows\": %d, \"cols\": %d, \"rowBytes\": %llu}",
            first ? "" : ",\n", kite_type_name(t), file, (int)t, rows, cols, (unsigned long long)rb);
    free(w);
    free(q);
    free(dq);
}

// A KV cache of n values each: K random in +-2 and V in +-1 (drawn in that order), their f16 bits
// (k, v: what the cache holds) and the f32 values those bits are (kr, vr).
typedef struct kv16 {
    float *kf, *vf, *kr, *vr;
    uint16_t *k, *v;
} kv16;

static kv16 kv16_random(size_t n) {
    kv16 c;
    c.kf = frands(n, 2.0f);
    c.vf = frands(n, 1.0f);
    c.k = xmalloc(n * 2), c.v = xmalloc(n * 2), c.kr = xmalloc(n * 4), c.vr = xmalloc(n * 4);
    for (size_t i = 0; i < n; i++) {
        c.k[i] = kite_f32_to_f16(c.kf[i]);
        c.v[i] = kite_f32_to_f16(c.vf[i]);
        c.kr[i] = kite_f16_to_f32(c.k[i]);
        c.vr[i] = kite_f16_to_f32(c.v[i]);
    }
    return c;
}

static void kv16_free(kv16 *c) { free(c->kf), free(c->vf), free(c->kr), free(c->vr), free(c->k), free(c->v); }

// Attention of a prompt step: n_tok query tokens (n_head heads of hd) at positions
// pos0 .. pos0 + n_tok - 1 over a cache of n_kv positions (n_kv_head heads; causal), scale
// 1/sqrt(hd), in f32 over the f16 cache (KITE_ATTN_FA_F32); then again with a sliding window of
// 16 and scores soft-capped at 2 (kite__attend_head_capped). Files <name>_q, _k16, _v16, _k32,
// _v32 (the cache as f16 bits and as their f32 values), _out, _swa_cap_out (.bin).
static void attn_prompt(const char *name, int n_head, int n_kv_head, int hd, int n_kv, int n_tok, int pos0) {
    const int stride = n_kv_head * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    float *q = frands((size_t)n_tok * n_head * hd, 2.0f);
    kv16 c = kv16_random((size_t)n_kv * stride);
    const uint16_t *k = c.k, *v = c.v;
    float *out = xmalloc((size_t)n_tok * n_head * hd * 4);
    float *cap = xmalloc((size_t)n_tok * n_head * hd * 4), *scores = xmalloc((size_t)n_kv * 4);
    for (int t = 0; t < n_tok; t++)
        for (int h = 0; h < n_head; h++) {
            const int kvh = h / (n_head / n_kv_head), end = pos0 + t + 1, start = end > 16 ? end - 16 : 0;
            const size_t o = ((size_t)t * n_head + h) * hd;
            kite__attend_head_ref(KITE_ATTN_FA_F32, q + o, k + kvh * hd, v + kvh * hd, stride, end, hd, scale, scores,
                                  out + o);
            kite__attend_head_capped(KITE_ATTN_FA_F32, q + o, k + (size_t)start * stride + kvh * hd,
                                     v + (size_t)start * stride + kvh * hd, stride, end - start, hd, scale, 2.0f,
                                     scores, cap + o);
        }
    char file[64];
    const struct { const char *suffix; const void *data; size_t bytes; } files[] = {
        {"q", q, (size_t)n_tok * n_head * hd * 4}, {"k16", k, (size_t)n_kv * stride * 2},
        {"v16", v, (size_t)n_kv * stride * 2},     {"k32", c.kr, (size_t)n_kv * stride * 4},
        {"v32", c.vr, (size_t)n_kv * stride * 4},    {"out", out, (size_t)n_tok * n_head * hd * 4},
        {"swa_cap_out", cap, (size_t)n_tok * n_head * hd * 4},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(file, sizeof file, "%s_%s.bin", name, files[i].suffix);
        put(file, files[i].data, files[i].bytes);
    }
    free(q), free(out), free(cap), free(scores);
    kv16_free(&c);
}

static void ops(void) {
    // RMS norm: 4 rows of 300, eps 1e-5 (row 3 scaled up a lot)
    {
        const int n = 300, rows = 4;
        float *x = frands((size_t)n * rows, 2.0f), *w = frands(n, 1.5f), *y = xmalloc((size_t)n * rows * sizeof(float));
        for (int i = 0; i < n; i++) x[3 * n + i] *= 1000.0f;
        for (int r = 0; r < rows; r++) kite__rmsnorm(y + r * n, x + r * n, w, n, 1e-5f);
        put("rms_x.bin", x, (size_t)n * rows * 4);
        put("rms_w.bin", w, (size_t)n * 4);
        put("rms_y.bin", y, (size_t)n * rows * 4);
        free(x), free(w), free(y);
    }
    // softmax: 3 rows of 1000 in [-8, 8)
    {
        const int n = 1000, rows = 3;
        float *x = frands((size_t)n * rows, 8.0f);
        put("softmax_x.bin", x, (size_t)n * rows * 4);
        for (int r = 0; r < rows; r++) kite__softmax(x + r * n, n);
        put("softmax_y.bin", x, (size_t)n * rows * 4);
        free(x);
    }
    // SwiGLU, add over 1000 values in [-6, 6)
    {
        const int n = 1000;
        float *g = frands(n, 6.0f), *u = frands(n, 2.0f), *s = xmalloc(n * 4), *a = xmalloc(n * 4);
        memcpy(s, g, n * 4);
        kite__swiglu(s, u, n);
        memcpy(a, g, n * 4);
        kite__add(a, u, n);
        put("glu_g.bin", g, n * 4);
        put("glu_u.bin", u, n * 4);
        put("swiglu_y.bin", s, n * 4);
        put("add_y.bin", a, n * 4);
        free(g), free(u), free(s), free(a);
    }
    // GeGLU (kite__geglu, ggml's tabulated GELU): every finite f16 value as the gate (all table
    // entries and both clamps), then 4000 random values in [-12, 12) (rounded to f16 in the
    // lookup), then 2048 in the halves' subnormal range between two of them (ties and just
    // above, both signs: the lookup's rounding there), up in [-2, 2)
    {
        int n = 0;
        float *g = xmalloc((65536 + 4000 + 2048) * 4);
        for (int i = 0; i < 65536; i++) {
            const float v = kite_f16_to_f32((uint16_t)i);
            if (isfinite(v)) g[n++] = v;
        }
        for (int i = 0; i < 4000; i++) g[n++] = frand() * 12.0f;
        for (int i = 0; i < 1024; i++) {
            const float tie = ((float)i + 0.5f) * 0x1p-24f * (i & 1 ? -1.0f : 1.0f);
            g[n++] = tie;
            g[n++] = nextafterf(tie, tie > 0 ? 1.0f : -1.0f);
        }
        float *u = frands((size_t)n, 2.0f), *y = xmalloc((size_t)n * 4);
        memcpy(y, g, (size_t)n * 4);
        kite__geglu(y, u, n);
        put("geglu_g.bin", g, (size_t)n * 4);
        put("geglu_u.bin", u, (size_t)n * 4);
        put("geglu_y.bin", y, (size_t)n * 4);
        fprintf(g_manifest, ",\n  \"geglu_n\": %d", n);
        free(g), free(u), free(y);
        // kite__gelu_ggml at every f16 value (the fused GeGLU epilogue's reference)
        float *t = xmalloc(65536 * 4);
        for (int i = 0; i < 65536; i++) t[i] = kite__gelu_ggml(kite_f16_to_f32((uint16_t)i));
        put("gelu_tab.bin", t, 65536 * 4);
        free(t);
    }
    // soft-capping (kite__softcap): 2000 values in [-150, 150), cap 30
    {
        const int n = 2000;
        float *x = frands(n, 150.0f);
        for (int i = 0; i < 50; i++) x[i] *= 1e-4f; // tiny ones: tanh's small-argument branch
        put("softcap_x.bin", x, n * 4);
        kite__softcap(x, n, 30.0f);
        put("softcap_y.bin", x, n * 4);
        free(x);
    }
    // per-head RMS norms (kite__rmsnorm_heads): 3 tokens of 4 heads of 48, eps 1e-6
    {
        const int n = 3 * 4 * 48;
        float *x = frands(n, 3.0f), *w = frands(48, 1.5f);
        put("rmsh_x.bin", x, n * 4);
        put("rmsh_w.bin", w, 48 * 4);
        for (int t = 0; t < 3; t++) kite__rmsnorm_heads(x + t * 4 * 48, 4, 48, w, 1e-6f);
        put("rmsh_y.bin", x, n * 4);
        free(x), free(w);
    }
    // RoPE: 3 tokens at positions 0, 7, 1000; 4 heads of 64, n_rot 32 (partial), base 10000,
    // freq_scale 0.5, attn_factor 1.1, with and without frequency factors; normal and neox.
    {
        const int n_tok = 3, n_head = 4, hd = 64, n_rot = 32, pos[3] = {0, 7, 1000};
        float factors[16];
        for (int i = 0; i < 16; i++) factors[i] = 1.0f + (float)i / 5.0f;
        float *x = frands((size_t)n_tok * n_head * hd, 1.0f), *cs = xmalloc((size_t)n_tok * n_rot * 4);
        float *y = xmalloc((size_t)n_tok * n_head * hd * 4);
        put("rope_x.bin", x, (size_t)n_tok * n_head * hd * 4);
        put("rope_factors.bin", factors, sizeof factors);
        put("rope_pos.bin", pos, sizeof pos);
        for (int with_f = 0; with_f < 2; with_f++) {
            for (int t = 0; t < n_tok; t++)
                kite__rope_cache(cs + t * n_rot, pos[t], n_rot, 10000.0f, 0.5f, 1.1f, with_f ? factors : NULL);
            char name[64];
            snprintf(name, sizeof name, "rope_cs%d.bin", with_f);
            put(name, cs, (size_t)n_tok * n_rot * 4);
            for (int neox = 0; neox < 2; neox++) {
                memcpy(y, x, (size_t)n_tok * n_head * hd * 4);
                for (int t = 0; t < n_tok; t++) kite__rope_apply(y + (size_t)t * n_head * hd, n_head, hd, n_rot, cs + t * n_rot, neox);
                snprintf(name, sizeof name, "rope_y%d%d.bin", with_f, neox);
                put(name, y, (size_t)n_tok * n_head * hd * 4);
            }
        }
        // each head RMS-normed (kite__rmsnorm_heads, eps 1e-6), then rotated with the last
        // table (with factors): the q and k norms before RoPE (qwen3, gemma3)
        float *w = frands((size_t)hd, 1.5f);
        put("ropen_w.bin", w, (size_t)hd * 4);
        for (int neox = 0; neox < 2; neox++) {
            memcpy(y, x, (size_t)n_tok * n_head * hd * 4);
            for (int t = 0; t < n_tok; t++) {
                kite__rmsnorm_heads(y + (size_t)t * n_head * hd, n_head, hd, w, 1e-6f);
                kite__rope_apply(y + (size_t)t * n_head * hd, n_head, hd, n_rot, cs + t * n_rot, neox);
            }
            char name[64];
            snprintf(name, sizeof name, "ropen_y%d.bin", neox);
            put(name, y, (size_t)n_tok * n_head * hd * 4);
        }
        free(x), free(cs), free(y), free(w);
    }
    // Attention: 8 query heads over 2 KV heads (GQA 4) of 64; 40 cached positions; 5 query
    // tokens at positions 35..39 (causal: token i sees 0..35+i); scale 1/8. All in f32 over the
    // f16 cache (KITE_ATTN_FA_F32). The cache as f16 bits and as the f32 values they hold.
    {
        const int n_head = 8, n_kv_head = 2, hd = 64, n_kv = 40, n_tok = 5, pos0 = 35;
        const int stride = n_kv_head * hd;
        float *q = frands((size_t)n_tok * n_head * hd, 2.0f);
        kv16 c = kv16_random((size_t)n_kv * stride);
        const uint16_t *k = c.k, *v = c.v;
        float *out = xmalloc((size_t)n_tok * n_head * hd * 4), scores[64];
        for (int t = 0; t < n_tok; t++)
            for (int h = 0; h < n_head; h++) {
                const int kvh = h / (n_head / n_kv_head);
                kite__attend_head_ref(KITE_ATTN_FA_F32, q + ((size_t)t * n_head + h) * hd, k + kvh * hd, v + kvh * hd, stride,
                                  pos0 + t + 1, hd, 0.125f, scores, out + ((size_t)t * n_head + h) * hd);
            }
        put("attn_q.bin", q, (size_t)n_tok * n_head * hd * 4);
        put("attn_kraw.bin", c.kf, (size_t)n_kv * stride * 4); // before rounding (the kv-write input)
        put("attn_vraw.bin", c.vf, (size_t)n_kv * stride * 4);
        put("attn_k16.bin", k, (size_t)n_kv * stride * 2);
        put("attn_v16.bin", v, (size_t)n_kv * stride * 2);
        put("attn_k32.bin", c.kr, (size_t)n_kv * stride * 4);
        put("attn_v32.bin", c.vr, (size_t)n_kv * stride * 4);
        put("attn_out.bin", out, (size_t)n_tok * n_head * hd * 4);
        // f16 rounding's edge cases (the KV write's; kite_f32_to_f16 the reference): ties to
        // even both ways and one f32 ulp either side of them, at several exponents and in the
        // halves' subnormal range, the largest half and the first value that overflows, zeros;
        // each value also negated. f16_edge_h.bin: the bits, f16_edge_r.bin: their f32 values.
        {
            float e[256];
            int n = 0;
            const float scales[] = {0x1p-24f, 0x1p-15f, 0x1p-14f, 0x1p-1f, 1.0f, 0x1p10f, 0x1p15f};
            for (int si = 0; si < 7; si++) {
                const float ulp = scales[si] < 0x1p-14f ? 0x1p-24f : scales[si] * 0x1p-10f; // a half's ulp there
                for (int m = 0; m < 2; m++) { // an even and an odd last bit below the tie
                    const float base = si == 0 ? (float)(m + 1) * ulp : scales[si] + (float)m * ulp;
                    const float tie = base + 0.5f * ulp;
                    e[n++] = tie;
                    e[n++] = nextafterf(tie, 0.0f);
                    e[n++] = nextafterf(tie, 1e30f);
                }
            }
            const float special[] = {0.0f, 0x1p-25f, 0x1.8p-25f, 0x1p-14f - 0x1p-25f, 65504.0f, 65519.99f, 65520.0f, 0x1.ffcp15f - 1.0f, 1e-8f, 3e-5f};
            for (int i = 0; i < (int)(sizeof special / sizeof special[0]); i++) e[n++] = special[i];
            const int half = n;
            for (int i = 0; i < half; i++) e[n++] = -e[i];
            uint16_t h[256];
            float r[256];
            for (int i = 0; i < n; i++) {
                h[i] = kite_f32_to_f16(e[i]);
                r[i] = kite_f16_to_f32(h[i]);
            }
            put("f16_edge_x.bin", e, (size_t)n * 4);
            put("f16_edge_h.bin", h, (size_t)n * 2);
            put("f16_edge_r.bin", r, (size_t)n * 4);
        }
        // a sliding window of 16 (token at p sees p-15..p) with scores soft-capped at 2 (scale
        // 0.125 / 2 inside the tanh: the flash path's form, kite__attend_head_capped FA_F32)
        for (int t = 0; t < n_tok; t++)
            for (int h = 0; h < n_head; h++) {
                const int kvh = h / (n_head / n_kv_head), end = pos0 + t + 1, start = end - 16;
                kite__attend_head_capped(KITE_ATTN_FA_F32, q + ((size_t)t * n_head + h) * hd,
                                         k + (size_t)start * stride + kvh * hd, v + (size_t)start * stride + kvh * hd,
                                         stride, end - start, hd, 0.125f, 2.0f, scores,
                                         out + ((size_t)t * n_head + h) * hd);
            }
        put("attn_swa_cap_out.bin", out, (size_t)n_tok * n_head * hd * 4);
        free(q), free(out);
        kv16_free(&c);
    }
    // Prompt steps for the tiled attention (several query tiles and key chunks): heads of 64
    // (GQA 4, 40 tokens at positions 0..39: a whole prompt), of 128 (2 heads over one, 37
    // tokens at positions 3..39: a prompt after 3 cached positions), of 32 (4 over 4, 33 at
    // 7..39) and of 8 (8 over 4, 40 at 0..39: stories260K's), each plain and with a sliding
    // window of 16 and scores soft-capped at 2.
    attn_prompt("attn_p64", 8, 2, 64, 40, 40, 0);
    attn_prompt("attn_p128", 2, 1, 128, 40, 37, 3);
    attn_prompt("attn_p32", 4, 4, 32, 40, 33, 7);
    attn_prompt("attn_p8", 8, 4, 8, 40, 40, 0);
}

// Quantizes rows x cols of w to type t into a new buffer and dequantizes it back into w.
static uint8_t *quant_dq(kite_type t, float *w, int rows, int cols) {
    const uint64_t rb = kite_type_row_bytes(t, (uint64_t)cols);
    uint8_t *q = xmalloc((size_t)(rb * rows));
    if (kite_quantize_rows(t, w, q, rows, cols) != KITE_OK) {
        fprintf(stderr, "webgpu_ref: cannot quantize %s\n", kite_type_name(t));
        exit(1);
    }
    for (int r = 0; r < rows; r++)
        if (t != KITE_TYPE_F32 && kite_dequantize_row(t, q + rb * r, w + (size_t)r * cols, cols) != KITE_OK) {
            fprintf(stderr, "webgpu_ref: cannot dequantize %s\n", kite_type_name(t));
            exit(1);
        }
    return q;
}

// Routed experts as qwen3moe runs them: 5 tokens of 64, 8 experts, top 2, expert FFN width 32;
// router F32, gate/up Q4_0, down Q8_0 (3-D tensors: the experts' matrices back to back). The
// routing (ids, weights) by kite__moe_route over the router logits (in double, rounded); the
// output per token sum_j w_j down_e(silu(gate_e x) * up_e x) in double from the dequantized
// weights.
static void moe(void) {
    enum { T = 5, E = 64, X = 8, K = 2, FE = 32 };
    float *x = frands((size_t)T * E, 1.0f), *router = frands((size_t)X * E, 0.5f);
    float *gate = frands((size_t)X * FE * E, 0.3f), *up = frands((size_t)X * FE * E, 0.3f);
    float *down = frands((size_t)X * E * FE, 0.3f);
    uint8_t *qg = quant_dq(KITE_TYPE_Q4_0, gate, X * FE, E), *qu = quant_dq(KITE_TYPE_Q4_0, up, X * FE, E);
    uint8_t *qd = quant_dq(KITE_TYPE_Q8_0, down, X * E, FE);
    int32_t ids[T * K];
    float wts[T * K], probs[X], logits[X], *out = xmalloc((size_t)T * E * 4);
    for (int t = 0; t < T; t++) {
        for (int e = 0; e < X; e++) {
            double s = 0;
            for (int c = 0; c < E; c++) s += (double)router[e * E + c] * x[t * E + c];
            logits[e] = (float)s;
        }
        kite__moe_route(logits, X, K, probs, ids + t * K, wts + t * K);
        double acc[E] = {0};
        for (int j = 0; j < K; j++) {
            const int e = ids[t * K + j];
            double hdn[FE];
            for (int f = 0; f < FE; f++) {
                double g = 0, u = 0;
                for (int c = 0; c < E; c++) {
                    g += (double)gate[((size_t)e * FE + f) * E + c] * x[t * E + c];
                    u += (double)up[((size_t)e * FE + f) * E + c] * x[t * E + c];
                }
                hdn[f] = g / (1.0 + exp(-g)) * u;
            }
            for (int i = 0; i < E; i++) {
                double d = 0;
                for (int f = 0; f < FE; f++) d += (double)down[((size_t)e * E + i) * FE + f] * hdn[f];
                acc[i] += wts[t * K + j] * d;
            }
        }
        for (int i = 0; i < E; i++) out[t * E + i] = (float)acc[i];
    }
    put("moe_x.bin", x, (size_t)T * E * 4);
    put("moe_router.bin", router, (size_t)X * E * 4);
    put("moe_gate.bin", qg, (size_t)kite_type_row_bytes(KITE_TYPE_Q4_0, E) * X * FE);
    put("moe_up.bin", qu, (size_t)kite_type_row_bytes(KITE_TYPE_Q4_0, E) * X * FE);
    put("moe_down.bin", qd, (size_t)kite_type_row_bytes(KITE_TYPE_Q8_0, FE) * X * E);
    put("moe_ids.bin", ids, sizeof ids);
    put("moe_w.bin", wts, sizeof wts);
    put("moe_out.bin", out, (size_t)T * E * 4);
    free(x), free(router), free(gate), free(up), free(down), free(qg), free(qu), free(qd), free(out);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: webgpu_ref OUTDIR\n");
        return 2;
    }
    g_dir = argv[1];
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", g_dir);
    g_manifest = fopen(path, "w");
    if (!g_manifest) {
        fprintf(stderr, "webgpu_ref: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    const kite_type types[] = {KITE_TYPE_F32,  KITE_TYPE_F16,  KITE_TYPE_BF16, KITE_TYPE_Q4_0,   KITE_TYPE_Q4_1,
                               KITE_TYPE_Q5_0, KITE_TYPE_Q5_1, KITE_TYPE_Q8_0, KITE_TYPE_Q2_K,   KITE_TYPE_Q3_K,
                               KITE_TYPE_Q4_K, KITE_TYPE_Q5_K, KITE_TYPE_Q6_K, KITE_TYPE_IQ4_NL, KITE_TYPE_IQ4_XS,
                               KITE_TYPE_TQ1_0, KITE_TYPE_TQ2_0, KITE_TYPE_MXFP4, KITE_TYPE_IQ2_XXS, KITE_TYPE_IQ2_XS,
                               KITE_TYPE_IQ2_S, KITE_TYPE_IQ3_XXS, KITE_TYPE_IQ3_S, KITE_TYPE_IQ1_S, KITE_TYPE_IQ1_M};
    fprintf(g_manifest, "{\n  \"weights\": [\n");
    // 70 rows (not a multiple of any tile), 768 columns (3 super-blocks)
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) weights(types[i], 70, 768, i == 0, 0);
    // float rows of 172 (stories260K's n_ff): the last 32-element unit is partial, and F16/BF16
    // rows start at bytes that are not multiples of 4
    weights(KITE_TYPE_F32, 70, 172, 0, 1);
    weights(KITE_TYPE_F16, 70, 172, 0, 1);
    weights(KITE_TYPE_BF16, 70, 172, 0, 1);
    // MXFP4 rows of 25 blocks (425 bytes): rows that start at odd bytes
    weights(KITE_TYPE_MXFP4, 70, 800, 0, 1);
    fprintf(g_manifest, "\n  ]");
    ops();
    moe();
    fprintf(g_manifest, "\n}\n");
    if (fclose(g_manifest) != 0) {
        fprintf(stderr, "webgpu_ref: cannot write %s\n", path);
        return 1;
    }
    return 0;
}
