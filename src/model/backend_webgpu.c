// backend_webgpu.c - the C half of the WebGPU backend (Emscripten builds with KITE_WEBGPU
// only; elsewhere this file is empty). Every op of the seam's table calls an import that
// wasm/library_kite_webgpu.js forwards to the JS half (web/webgpu/backend.js), which records
// WGSL dispatches into the step's command stream. end() submits the step and returns at once:
// the logits reach the host rows given to bind_output when the JS side's settle() resolves,
// so the caller (the worker) awaits that before it samples. See web/webgpu/README.md.
//
// What stays in C: placement, shapes, the step's positions and the RoPE tables (made here with
// kite__rope_cache, the CPU's bits); JS only maps ops to dispatches.
#include "model/backend.h"

#if defined(__EMSCRIPTEN__) && defined(KITE_WEBGPU)
#include <stdlib.h>
#include <string.h>

#include "model/ops.h"

// ---- imports (wasm/library_kite_webgpu.js); h is the JS instance's handle ------------------
extern int kite_wgpu_create(int n_ctx, int n_seq, int n_batch, const int32_t *act_widths, int kv_dim,
                            int layer_first, int layer_last, int n_rot);
extern int kite_wgpu_weight(int h, const void *data, int type, int n_in, int n_out);
extern void kite_wgpu_free(int h);
extern void kite_wgpu_begin(int h, int n, const int32_t *pos, const int32_t *seq);
extern int kite_wgpu_end(int h);
extern void kite_wgpu_error(int h, char *buf, int cap);
extern void kite_wgpu_write(int h, int act, int off, int stride, int n, int width, const float *host);
extern void kite_wgpu_read(int h);
extern void kite_wgpu_bind_output(int h, float *out, int rows, int width);
extern void kite_wgpu_embed(int h, const void *w, const int32_t *tokens, int n, int act, int off, int stride);
extern int kite_wgpu_weight_glu(int h, const void *gate, const void *up, int type, int n_in, int f);
extern int kite_wgpu_weight_cat(int h, int type, int n_in, const void *w0, int n0, const void *w1, int n1,
                                const void *w2, int n2);
extern void kite_wgpu_matmul(int h, const void *w, int x_act, int x_off, int n, int y_act, int y_off, int y_stride,
                             int epi, int cat, const float *bias);
extern void kite_wgpu_rmsnorm(int h, int d_act, int d_off, int d_stride, int s_act, int s_off, int s_stride,
                              const float *w, int n, int width, float eps, int add);
extern void kite_wgpu_add(int h, int d_act, int d_off, int d_stride, int s_act, int s_off, int s_stride, int n,
                          int width);
extern void kite_wgpu_add_bias(int h, int act, int off, int stride, const float *bias, int n, int width);
extern void kite_wgpu_scale(int h, int act, int off, int stride, int n, int width, float s);
extern void kite_wgpu_swiglu(int h, int d_act, int d_off, int d_stride, int g_act, int g_off, int g_stride, int u_act,
                             int u_off, int u_stride, int n, int width);
extern void kite_wgpu_gather(int h, int d_act, int d_off, int d_stride, int s_act, int s_off, int s_stride,
                             const int32_t *rows, int n, int width);
extern void kite_wgpu_rope_table(int h, int slot, const float *cs, int n, int n_rot);
extern void kite_wgpu_rope(int h, int act, int off, int stride, int n, int n_heads, int head_dim, int n_rot, int neox,
                           int slot);
extern void kite_wgpu_rope_qk(int h, int q_act, int q_off, int q_stride, int k_act, int k_off, int k_stride, int n,
                              int n_head, int n_head_kv, int head_dim, int n_rot, int neox, int slot,
                              const float *q_norm, const float *k_norm, float eps);
extern void kite_wgpu_kv_store(int h, int layer, int k_act, int k_off, int k_stride, int v_act, int v_off,
                               int v_stride, int n);
extern void kite_wgpu_attention(int h, int layer, int q_act, int q_off, int q_stride, int o_act, int o_off,
                                int o_stride, int n, const int32_t *rows, int n_head, int n_head_kv, int head_dim,
                                float scale, int window, float softcap);
extern void kite_wgpu_geglu(int h, int d_act, int d_off, int d_stride, int g_act, int g_off, int g_stride, int u_act,
                            int u_off, int u_stride, int n, int width);
extern void kite_wgpu_softcap(int h, int act, int off, int stride, int n, int width, float cap);
extern void kite_wgpu_rmsnorm_heads(int h, int act, int off, int stride, int n, int n_heads, int head_dim,
                                    const float *w, float eps);
extern void kite_wgpu_moe(int h, const void *gate_inp, const void *gate, const void *up, const void *down,
                          int n_expert, int n_used, int n_ff, int x_act, int x_off, int o_act, int o_off, int n);

#define ROPE_SLOTS 4 // backend.js's ROPE_SLOTS: distinct ropes in one step

typedef struct wgpu_backend {
    kite_backend b;
    kite_backend_config cfg;
    int h;           // the JS instance
    kite_step step;  // the current step (its arrays live until end())
    float *cs;       // (n_batch, n_rot) a table being handed over
    kite_rope ropes[ROPE_SLOTS]; // the rope of each table made this step
    bool picked[ROPE_SLOTS];     // a table for some of the step's tokens (not reused)
    int n_ropes;     // tables made this step
    float **cat_bias; // (2 n_layer) per layer whose q, k, v are cat_fused with a bias: at 2 il
                      // bq|bk|bv, at 2 il + 1 bk|bv (the last layer's k|v), zeros where one is
                      // absent: the bias of their one product; else NULL
} wgpu_backend;

static wgpu_backend *wg(kite_backend *b) { return (wgpu_backend *)b; }

static void wg_begin(kite_backend *b, const kite_step *st) {
    wgpu_backend *w = wg(b);
    KITE_ASSERT(st->n > 0 && st->n <= w->cfg.n_batch);
    w->step = *st;
    w->n_ropes = 0;
    kite_wgpu_begin(w->h, st->n, st->pos, st->seq);
}

static kite_status wg_end(kite_backend *b) {
    wgpu_backend *w = wg(b);
    const int s = kite_wgpu_end(w->h);
    if (s == KITE_OK) return KITE_OK;
    char msg[256];
    kite_wgpu_error(w->h, msg, sizeof msg);
    return kite__fail((kite_status)s, "%s", msg);
}

static void wg_write(kite_backend *b, kite_view dst, int32_t n, int32_t width, const float *host) {
    kite_wgpu_write(wg(b)->h, dst.act, dst.off, dst.stride, n, width, host);
}

static void wg_read(kite_backend *b, kite_view src, int32_t n, int32_t width, float *host) {
    (void)src, (void)n, (void)width, (void)host;
    kite_wgpu_read(wg(b)->h); // fails the step: see backend.js
}

static void wg_bind_output(kite_backend *b, float *out, int32_t n_rows, int32_t width) {
    kite_wgpu_bind_output(wg(b)->h, out, n_rows, width);
}

static void wg_embed(kite_backend *b, const kite_weight *w, const int32_t *tokens, int32_t n, kite_view dst) {
    kite_wgpu_embed(wg(b)->h, w->data, tokens, n, dst.act, dst.off, dst.stride);
}

// kite_wgpu_matmul's epilogues (wgsl_matmul.js's EPI_*): y = W x, y += W x, y = SwiGLU or
// GeGLU of an interleaved gate|up weight (kite_wgpu_weight_glu), y = W x + bias
enum { EPI_STORE = 0, EPI_ADD = 1, EPI_GLU = 2, EPI_GEGLU = 3, EPI_BIAS = 4 };

static void wg_matmul(kite_backend *b, const kite_weight *w, kite_view x, int32_t n, kite_view y) {
    KITE_ASSERT(x.stride == w->n_in && y.stride == w->n_out);
    kite_wgpu_matmul(wg(b)->h, w->data, x.act, x.off, n, y.act, y.off, y.stride, EPI_STORE, 0, NULL);
}

// The residual add in the matmul's epilogue: one dispatch.
static void wg_matmul_add(kite_backend *b, const kite_weight *w, kite_view x, int32_t n, kite_view y) {
    KITE_ASSERT(x.stride == w->n_in && y.stride == w->n_out && x.act != y.act);
    kite_wgpu_matmul(wg(b)->h, w->data, x.act, x.off, n, y.act, y.off, y.stride, EPI_ADD, 0, NULL);
}

// Whether a layer's q, k and v matrices (3 weights; k and v: 2) go to the GPU as one weight of
// their rows one after another (kite_wgpu_weight_cat): one type and input width.
static bool cat_fused(const kite_weight *const *ws, int32_t count) {
    if (count < 2 || count > 3) return false;
    for (int32_t i = 0; i < count; i++)
        if (!ws[i]->data || ws[i]->type != ws[0]->type || ws[i]->n_in != ws[0]->n_in) return false;
    return true;
}

// Whether any of count biases is set.
static bool any_bias(const float *const *bias, int32_t count) {
    for (int32_t i = 0; bias && i < count; i++)
        if (bias[i]) return true;
    return false;
}

// The concatenated bias (cat_bias) of the product whose first matrix is ws0 (a layer's wq:
// q|k|v, or wk: k|v), or NULL.
static const float *cat_bias_of(const wgpu_backend *w, const kite_weight *ws0) {
    for (int32_t il = w->cfg.layer_first; il < w->cfg.layer_last; il++) {
        const kite_layer *L = &w->cfg.m->layers[il];
        if (ws0 == &L->wq || ws0 == &L->wk) return w->cat_bias[2 * il + (ws0 == &L->wk)];
    }
    return NULL;
}

// Whether ws were uploaded as one weight at create: a layer's q|k|v where cat_fused, and the
// last layer's k|v too.
static bool cat_uploaded(const wgpu_backend *w, const kite_weight *const *ws, int32_t count) {
    if (count == 3) return cat_fused(ws, count);
    const int32_t il = w->cfg.m->hp.n_layer - 1;
    const kite_layer *L = &w->cfg.m->layers[il];
    const kite_weight *qkv[] = {&L->wq, &L->wk, &L->wv};
    return count == 2 && il >= w->cfg.layer_first && il < w->cfg.layer_last && ws[0] == &L->wk && ws[1] == &L->wv &&
           cat_fused(qkv, 3);
}

// One dispatch where the weights were concatenated at create (cat_uploaded), the biases in its
// epilogue (the layer's bq|bk|bv made at create); else a matmul of each into its columns of
// y with its bias in the epilogue.
static void wg_matmul_cat(kite_backend *b, const kite_weight *const *ws, const float *const *bias, int32_t count,
                          kite_view x, int32_t n, kite_view y) {
    wgpu_backend *w = wg(b);
    int32_t width = 0;
    for (int32_t i = 0; i < count; i++) width += ws[i]->n_out;
    KITE_ASSERT(x.stride == ws[0]->n_in && y.stride >= width);
    if (cat_uploaded(w, ws, count)) {
        // create made the biases of every uploaded product one vector (cat_bias) where it has any
        const float *cb = any_bias(bias, count) ? cat_bias_of(w, ws[0]) : NULL;
        KITE_ASSERT(cb || !any_bias(bias, count));
        kite_wgpu_matmul(w->h, ws[0]->data, x.act, x.off, n, y.act, y.off, y.stride, cb ? EPI_BIAS : EPI_STORE, 1, cb);
        return;
    }
    for (int32_t i = 0, col = 0; i < count; col += ws[i]->n_out, i++) {
        const bool bi = bias && bias[i];
        kite_wgpu_matmul(w->h, ws[i]->data, x.act, x.off, n, y.act, y.off + col, y.stride, bi ? EPI_BIAS : EPI_STORE, 0,
                         bi ? bias[i] : NULL);
    }
}

// Whether a layer's gate and up (up NULL: gate is a fused gate|up) go to the GPU as one
// interleaved weight (kite_wgpu_weight_glu) whose matmul writes the SwiGLU: one type, an even
// width (the rows pair up), the rows of a fused one split in two.
static bool glu_fused(const kite_weight *gate, const kite_weight *up) {
    if (!gate->data) return false;
    if (!up) return gate->n_out % 4 == 0;
    return up->data && gate->type == up->type && gate->n_in == up->n_in && gate->n_out == up->n_out &&
           gate->n_out % 2 == 0;
}

// One dispatch where the weights were fused at create (glu_fused); else the matmuls into
// KITE_ACT_FF (gate|up) and SwiGLU (GeGLU where gelu), as forward.c runs them.
static void ffn_glu(kite_backend *b, const kite_weight *gate, const kite_weight *up, kite_view x, int32_t n,
                    kite_view dst, bool gelu) {
    const int32_t f = up ? gate->n_out : gate->n_out / 2;
    KITE_ASSERT(x.stride == gate->n_in && dst.stride == f && dst.act != KITE_ACT_FF);
    if (glu_fused(gate, up)) {
        kite_wgpu_matmul(wg(b)->h, gate->data, x.act, x.off, n, dst.act, dst.off, f, gelu ? EPI_GEGLU : EPI_GLU, 0, NULL);
        return;
    }
    const kite_view g = {KITE_ACT_FF, 0, 2 * f}, u = {KITE_ACT_FF, f, 2 * f};
    if (up) {
        const kite_view u1 = {KITE_ACT_FF, 0, f};
        kite_wgpu_matmul(wg(b)->h, gate->data, x.act, x.off, n, dst.act, dst.off, f, EPI_STORE, 0, NULL);
        kite_wgpu_matmul(wg(b)->h, up->data, x.act, x.off, n, KITE_ACT_FF, 0, f, EPI_STORE, 0, NULL);
        if (gelu)
            b->geglu(b, dst, dst, u1, n, f);
        else
            b->swiglu(b, dst, dst, u1, n, f);
    } else {
        kite_wgpu_matmul(wg(b)->h, gate->data, x.act, x.off, n, g.act, g.off, 2 * f, EPI_STORE, 0, NULL);
        b->swiglu(b, dst, g, u, n, f);
    }
}

static void wg_ffn_swiglu(kite_backend *b, const kite_weight *gate, const kite_weight *up, kite_view x, int32_t n,
                          kite_view dst) {
    ffn_glu(b, gate, up, x, n, dst, false);
}

static void wg_ffn_geglu(kite_backend *b, const kite_weight *gate, const kite_weight *up, kite_view x, int32_t n,
                         kite_view dst) {
    KITE_ASSERT(up);
    ffn_glu(b, gate, up, x, n, dst, true);
}

static void wg_rmsnorm(kite_backend *b, kite_view dst, kite_view src, const float *w, int32_t n, int32_t width,
                       float eps) {
    kite_wgpu_rmsnorm(wg(b)->h, dst.act, dst.off, dst.stride, src.act, src.off, src.stride, w, n, width, eps, 0);
}

// The norm with the add in its store: one dispatch.
static void wg_rmsnorm_add(kite_backend *b, kite_view dst, kite_view src, const float *w, int32_t n, int32_t width,
                           float eps) {
    KITE_ASSERT(dst.act != src.act);
    kite_wgpu_rmsnorm(wg(b)->h, dst.act, dst.off, dst.stride, src.act, src.off, src.stride, w, n, width, eps, 1);
}

static void wg_add(kite_backend *b, kite_view dst, kite_view src, int32_t n, int32_t width) {
    kite_wgpu_add(wg(b)->h, dst.act, dst.off, dst.stride, src.act, src.off, src.stride, n, width);
}

static void wg_add_bias(kite_backend *b, kite_view dst, const float *bias, int32_t n, int32_t width) {
    kite_wgpu_add_bias(wg(b)->h, dst.act, dst.off, dst.stride, bias, n, width);
}

static void wg_scale(kite_backend *b, kite_view x, int32_t n, int32_t width, float s) {
    kite_wgpu_scale(wg(b)->h, x.act, x.off, x.stride, n, width, s);
}

static void wg_swiglu(kite_backend *b, kite_view dst, kite_view gate, kite_view up, int32_t n, int32_t width) {
    kite_wgpu_swiglu(wg(b)->h, dst.act, dst.off, dst.stride, gate.act, gate.off, gate.stride, up.act, up.off,
                     up.stride, n, width);
}

static void wg_gather(kite_backend *b, kite_view dst, kite_view src, const int32_t *rows, int32_t n, int32_t width) {
    kite_wgpu_gather(wg(b)->h, dst.act, dst.off, dst.stride, src.act, src.off, src.stride, rows, n, width);
}

static void wg_geglu(kite_backend *b, kite_view dst, kite_view gate, kite_view up, int32_t n, int32_t width) {
    kite_wgpu_geglu(wg(b)->h, dst.act, dst.off, dst.stride, gate.act, gate.off, gate.stride, up.act, up.off, up.stride,
                    n, width);
}

static void wg_softcap(kite_backend *b, kite_view x, int32_t n, int32_t width, float cap) {
    kite_wgpu_softcap(wg(b)->h, x.act, x.off, x.stride, n, width, cap);
}

static void wg_rmsnorm_heads(kite_backend *b, kite_view x, int32_t n, int32_t n_heads, int32_t head_dim,
                             const float *w, float eps) {
    kite_wgpu_rmsnorm_heads(wg(b)->h, x.act, x.off, x.stride, n, n_heads, head_dim, w, eps);
}

static void wg_moe(kite_backend *b, const kite_moe *moe, kite_view x, kite_view out, int32_t n) {
    KITE_ASSERT(x.stride == moe->gate_inp->n_in && out.stride == moe->gate_inp->n_in);
    kite_wgpu_moe(wg(b)->h, moe->gate_inp->data, moe->gate->data, moe->up->data, moe->down->data, moe->n_expert,
                  moe->n_used, moe->n_ff, x.act, x.off, out.act, out.off, n);
}

static bool same_rope(const kite_rope *a, const kite_rope *r) {
    return a->n_rot == r->n_rot && a->freq_base == r->freq_base && a->freq_scale == r->freq_scale &&
           a->attn_factor == r->attn_factor && a->factors == r->factors;
}

// A table of the step's tokens per distinct rope, made at its first use; rows (some tokens)
// get a table of their own each time. Returns its slot.
static int rope_slot(wgpu_backend *w, int32_t n, const int32_t *rows, const kite_rope *r) {
    int slot = 0;
    while (slot < w->n_ropes && (rows || w->picked[slot] || !same_rope(&w->ropes[slot], r))) slot++;
    if (slot == w->n_ropes) { // a new table for this step (JS fails the step past ROPE_SLOTS)
        const int32_t m = rows ? n : w->step.n;
        for (int32_t t = 0; t < m; t++)
            kite__rope_cache(w->cs + (size_t)t * r->n_rot, w->step.pos[rows ? rows[t] : t], r->n_rot, r->freq_base,
                             r->freq_scale, r->attn_factor, r->factors);
        kite_wgpu_rope_table(w->h, slot, w->cs, m, r->n_rot);
        if (slot < ROPE_SLOTS) {
            w->ropes[slot] = *r;
            w->picked[slot] = rows != NULL;
            w->n_ropes++;
        }
    }
    return slot;
}

static void wg_rope(kite_backend *b, kite_view x, int32_t n, int32_t n_heads, int32_t head_dim, const int32_t *rows,
                    const kite_rope *r) {
    wgpu_backend *w = wg(b);
    if (r->n_rot == 0) return;
    const int slot = rope_slot(w, n, rows, r);
    kite_wgpu_rope(w->h, x.act, x.off, x.stride, n, n_heads, head_dim, r->n_rot, r->neox, slot);
}

// q and k in one dispatch, their per-head norms with them (backend.js's ropeQk).
static void wg_rope_qk(kite_backend *b, kite_view q, kite_view k, int32_t n, int32_t n_head, int32_t n_head_kv,
                       int32_t head_dim, const int32_t *rows, const kite_rope *r, const float *q_norm,
                       const float *k_norm, float eps) {
    wgpu_backend *w = wg(b);
    if (r->n_rot == 0 && !q_norm && !k_norm) return;
    const int slot = r->n_rot ? rope_slot(w, n, rows, r) : 0;
    kite_wgpu_rope_qk(w->h, q.act, q.off, q.stride, k.act, k.off, k.stride, n, n_head, n_head_kv, head_dim, r->n_rot,
                      r->neox, slot, q_norm, k_norm, eps);
}

static void wg_kv_store(kite_backend *b, int32_t layer, kite_view k, kite_view v, int32_t n) {
    kite_wgpu_kv_store(wg(b)->h, layer, k.act, k.off, k.stride, v.act, v.off, v.stride, n);
}

// The cache keeps every position (no ring), so a sliding window is only where the keys start.
// rows (the step's token of each query row, or NULL) go to JS, which binds their positions.
static void wg_attention(kite_backend *b, int32_t layer, kite_view q, kite_view out, int32_t n, const int32_t *rows,
                         const kite_attn *a) {
    kite_wgpu_attention(wg(b)->h, layer, q.act, q.off, q.stride, out.act, out.off, out.stride, n, rows, a->n_head,
                        a->n_head_kv, a->head_dim, a->scale, a->window, a->softcap);
}

static void wg_free(kite_backend *b) {
    wgpu_backend *w = wg(b);
    if (!w) return;
    if (w->h >= 0) kite_wgpu_free(w->h);
    for (int32_t i = 0; w->cat_bias && i < 2 * w->cfg.m->hp.n_layer; i++) free(w->cat_bias[i]);
    free(w->cat_bias);
    free(w->cs);
    free(w);
}

// A status from the JS side as a kite_status (a failure with its message).
static kite_status js_status(wgpu_backend *w, int s) {
    if (s == KITE_OK) return KITE_OK;
    char msg[256];
    kite_wgpu_error(w->h, msg, sizeof msg);
    return kite__fail((kite_status)s, "%s", msg);
}

// Uploads w to the GPU when it exists, with n_mat matrices of its shape one after another (the
// experts of a 3-D tensor; 1 for a plain weight); returns the JS side's status.
static kite_status upload_n(wgpu_backend *w, const kite_weight *wt, int32_t n_mat) {
    if (!wt->data) return KITE_OK;
    return js_status(w, kite_wgpu_weight(w->h, wt->data, (int)wt->type, wt->n_in, wt->n_out * n_mat));
}

static kite_status upload(wgpu_backend *w, const kite_weight *wt) { return upload_n(w, wt, 1); }

// Uploads a layer's gate and up (up NULL: gate is a fused gate|up) as one interleaved weight
// (glu_fused says when), else each as it is.
static kite_status upload_ffn(wgpu_backend *w, const kite_weight *gate, const kite_weight *up) {
    if (!glu_fused(gate, up)) {
        const kite_status s = upload(w, gate);
        return s == KITE_OK && up ? upload(w, up) : s;
    }
    const int32_t f = up ? gate->n_out : gate->n_out / 2;
    const uint64_t rb = kite_type_row_bytes(gate->type, (uint64_t)gate->n_in);
    const void *ud = up ? up->data : (const uint8_t *)gate->data + rb * (uint64_t)f;
    return js_status(w, kite_wgpu_weight_glu(w->h, gate->data, ud, (int)gate->type, gate->n_in, f));
}

// The GPU kernels read the file's row layout: a matrix the load repacked for the host's kernels
// (kite_matmul_prefers_x8) cannot be uploaded as it lies. The load leaves the layers (and the
// head) an offload backend takes in rows when told (kite_model_params.offload_layers); this
// backend never rewrites the model's memory, which another context of the model may be reading.
static kite_status check_rows(const kite_weight *w, const char *what, int32_t layer) {
    if (!w->data || w->layout != KITE_LAYOUT_X8) return KITE_OK;
    if (layer < 0)
        return kite__fail(KITE_ERR_UNSUPPORTED, "the webgpu backend reads the file's layout, but the load repacked the %s "
                                                "(load with kite_model_params.offload_layers >= the layers it takes)", what);
    return kite__fail(KITE_ERR_UNSUPPORTED, "the webgpu backend reads the file's layout, but the load repacked layer %d's "
                                            "matrices (load with kite_model_params.offload_layers >= the layers it takes)",
                      (int)layer);
}

// check_rows for every matrix the backend uploads: the embeddings', the head's, its layers'.
static kite_status layers_in_rows(const kite_backend_config *cfg) {
    kite_status s = cfg->embed ? check_rows(&cfg->m->tok_embd, "token embeddings", -1) : KITE_OK;
    if (s == KITE_OK && cfg->output) s = check_rows(&cfg->m->output, "output head", -1);
    for (int32_t il = cfg->layer_first; il < cfg->layer_last && s == KITE_OK; il++) {
        const kite_layer *L = &cfg->m->layers[il];
        const kite_weight *ws[] = KITE_LAYER_DENSE_WEIGHTS(L);
        for (size_t i = 0; i < sizeof ws / sizeof ws[0] && s == KITE_OK; i++) s = check_rows(ws[i], NULL, il);
    }
    return s;
}

kite_status kite__backend_webgpu_new(const kite_backend_config *cfg, kite_backend **out) {
    *out = NULL;
    // Read-back is asynchronous: a step must end on this backend (it runs the output head), so
    // nothing is read back from it in the middle of a step.
    if (!cfg->output)
        return kite__fail(KITE_ERR_UNSUPPORTED, "the webgpu backend must run the output head (offload more layers than "
                                                "the model has, or place the head on it)");
    KITE_TRY(layers_in_rows(cfg));
    const kite_hparams *hp = &cfg->m->hp;
    // the experts of a layer are uploaded as one tensor of n_expert matrices: they must lie
    // back to back (the file's 3-D tensors do)
    for (int32_t il = cfg->layer_first; il < cfg->layer_last && hp->n_expert > 0; il++) {
        const kite_layer *L = &cfg->m->layers[il];
        const kite_weight *ws[] = {&L->gate_exps, &L->up_exps, &L->down_exps};
        const uint64_t st[] = {L->gate_exps_stride, L->up_exps_stride, L->down_exps_stride};
        for (int i = 0; i < 3; i++)
            if (ws[i]->data && st[i] != kite_type_row_bytes(ws[i]->type, (uint64_t)ws[i]->n_in) * (uint64_t)ws[i]->n_out)
                return kite__fail(KITE_ERR_UNSUPPORTED, "the webgpu backend needs layer %d's experts back to back", (int)il);
    }
    wgpu_backend *w = calloc(1, sizeof *w);
    if (!w) return kite__fail(KITE_ERR_NOMEM, "out of memory");
    w->h = -1;
    w->b = (kite_backend){
        .name = "webgpu",
        .free = wg_free,
        .begin = wg_begin,
        .end = wg_end,
        .write = wg_write,
        .read = wg_read,
        .bind_output = wg_bind_output,
        .embed = wg_embed,
        .matmul = wg_matmul,
        .matmul_add = wg_matmul_add,
        .matmul_cat = wg_matmul_cat,
        .ffn_swiglu = wg_ffn_swiglu,
        .ffn_geglu = wg_ffn_geglu,
        .rmsnorm = wg_rmsnorm,
        .rmsnorm_add = wg_rmsnorm_add,
        .add = wg_add,
        .add_bias = wg_add_bias,
        .scale = wg_scale,
        .swiglu = wg_swiglu,
        .gather = wg_gather,
        .geglu = wg_geglu,
        .softcap = wg_softcap,
        .rmsnorm_heads = wg_rmsnorm_heads,
        .moe = wg_moe,
        .rope = wg_rope,
        .rope_qk = wg_rope_qk,
        .kv_store = wg_kv_store,
        .attention = wg_attention,
    };
    w->cfg = *cfg;
    w->b.kv_bytes = (uint64_t)(cfg->layer_last - cfg->layer_first) * (uint64_t)cfg->n_seq * (uint64_t)cfg->n_ctx *
                    (uint64_t)hp->head_dim * (uint64_t)hp->n_head_kv * 2 * sizeof(uint16_t); // f16 K and V
    const int32_t E = hp->n_embd, hd = hp->head_dim, q_dim = hd * hp->n_head, kv_dim = hd * hp->n_head_kv;
    const int32_t F = hp->n_ff;
    const int32_t widths[KITE_ACT_COUNT] = {
        [KITE_ACT_X] = E,       [KITE_ACT_XN] = KITE_MAX(E, q_dim), [KITE_ACT_QKV] = q_dim + 2 * kv_dim,
        [KITE_ACT_Q] = q_dim,   [KITE_ACT_K] = kv_dim,              [KITE_ACT_V] = kv_dim,
        [KITE_ACT_ATT] = q_dim, [KITE_ACT_FF] = 2 * F,              [KITE_ACT_FF2] = F,
    };
    w->cs = malloc((size_t)cfg->n_batch * (size_t)KITE_MAX(hp->n_rot, 2) * sizeof(float));
    w->cat_bias = calloc(2 * (size_t)hp->n_layer, sizeof *w->cat_bias);
    if (!w->cs || !w->cat_bias) {
        wg_free(&w->b);
        return kite__fail(KITE_ERR_NOMEM, "out of memory");
    }
    w->h = kite_wgpu_create(cfg->n_ctx, cfg->n_seq, cfg->n_batch, widths, kv_dim, cfg->layer_first, cfg->layer_last,
                            hp->n_rot);
    if (w->h < 0) {
        wg_free(&w->b);
        return kite__fail(KITE_ERR_UNSUPPORTED, "no WebGPU device in this worker (Module.kiteWebGpu is not set)");
    }
    kite_status s = cfg->embed ? upload(w, &cfg->m->tok_embd) : KITE_OK;
    if (s == KITE_OK && cfg->output) s = upload(w, &cfg->m->output);
    for (int32_t il = cfg->layer_first; il < cfg->layer_last && s == KITE_OK; il++) {
        const kite_layer *L = &cfg->m->layers[il];
        const kite_weight *ws[] = {&L->wqkv, &L->wo, &L->w_down, &L->ffn_gate_inp};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0] && s == KITE_OK; i++) s = upload(w, ws[i]);
        // q, k and v as forward.c runs them: one matmul_cat where cat_fused, each alone
        // otherwise; in the last layer also q alone and k|v as one (a step that trims projects
        // its output rows' q alone), with their biases as one vector each for the product's
        // epilogue (uploaded at first use)
        const kite_weight *qkv[] = {&L->wq, &L->wk, &L->wv};
        const float *bias[] = {L->bq, L->bk, L->bv};
        const bool fused = cat_fused(qkv, 3), last = il == hp->n_layer - 1;
        for (int c = 0; c < (fused ? 1 + last : 0) && s == KITE_OK; c++) { // c 0: q|k|v, 1: k|v
            const kite_weight *w0 = qkv[c];
            s = js_status(w, kite_wgpu_weight_cat(w->h, (int)w0->type, w0->n_in, w0->data, w0->n_out, qkv[c + 1]->data,
                                                  qkv[c + 1]->n_out, c ? NULL : L->wv.data, c ? 0 : L->wv.n_out));
            if (s != KITE_OK || !any_bias(bias + c, 3 - c)) continue;
            int32_t rows = 0;
            for (int i = c; i < 3; i++) rows += qkv[i]->n_out;
            float *cb = w->cat_bias[2 * il + c] = calloc((size_t)rows, sizeof *cb);
            if (!cb) s = kite__fail(KITE_ERR_NOMEM, "out of memory");
            for (int32_t i = c, col = 0; cb && i < 3; col += qkv[i]->n_out, i++)
                if (bias[i]) memcpy(cb + col, bias[i], (size_t)qkv[i]->n_out * sizeof *cb);
        }
        for (size_t i = 0; i < (fused ? (last ? 1 : 0) : 3) && s == KITE_OK; i++) s = upload(w, qkv[i]);
        // gate and up as forward.c runs them: one ffn_swiglu (fused: phi3's) or ffn_geglu
        if (s == KITE_OK) s = L->w_gate_up.data ? upload_ffn(w, &L->w_gate_up, NULL) : upload_ffn(w, &L->w_gate, &L->w_up);
        const kite_weight *xs[] = {&L->gate_exps, &L->up_exps, &L->down_exps};
        for (size_t i = 0; i < 3 && s == KITE_OK; i++) s = upload_n(w, xs[i], hp->n_expert);
    }
    if (s != KITE_OK) {
        wg_free(&w->b);
        return s;
    }
    *out = &w->b;
    return KITE_OK;
}

#else
// Not an Emscripten build with KITE_WEBGPU: the backend is not built (kite__backend_new says so).
typedef int kite_backend_webgpu_absent;
#endif
