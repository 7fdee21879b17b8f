// kernels_wasm.c - the WebAssembly SIMD128 kernel set: kernels_wasm.inc's tiles for every type,
// kernels_wasm_iq.inc's for the grid, ternary and microscaled formats, kernels_wasm_x8.inc's GEMV
// over X8 Q4_K, kernels_wasm_x8_q5.inc's over X8 Q5_K, kernels_wasm_x8_q6.inc's over X8 Q6_K,
// kernels_wasm_x8_q3.inc's over X8 Q3_K and Q2_K (and the other kernels_wasm_x8_*.inc: IQ4_XS;
// Q4_0, IQ4_NL, Q5_0, Q4_1, Q5_1, Q8_0; the grid types IQ3_XXS, IQ2_XXS;
// IQ2_XS, IQ2_S, IQ3_S: kernels_wasm_x8_grid_s.inc; IQ1_S, IQ1_M: kernels_wasm_x8_iq1.inc), the packed prefill GEMM of
// kernels_wasm_packed.inc for the integer block types, kernels_wasm_x8_gemm.inc's prefill GEMM
// over X8 Q4_K and Q6_K (the packed engine fed from the groups), and the activation quantizers.
#include "kernels/kernels_wasm.inc"
#include "kernels/kernels_wasm_kgemv.inc"
#define WX8_RELAXED 0
#include "kernels/kernels_wasm_x8.inc"
#include "kernels/kernels_wasm_x8_q5.inc"
#include "kernels/kernels_wasm_x8_q6.inc"
#include "kernels/kernels_wasm_x8_q3.inc"
#include "kernels/kernels_wasm_x8_iq4.inc"
#include "kernels/kernels_wasm_x8_b32.inc"
#include "kernels/kernels_wasm_iq.inc"
#include "kernels/kernels_wasm_x8_grid.inc"
#include "kernels/kernels_wasm_x8_grid_s.inc"
#include "kernels/kernels_wasm_x8_iq1.inc"
#define WPK_RELAXED 0
#include "kernels/kernels_wasm_packed.inc"
#include "kernels/kernels_wasm_x8_gemm.inc"

int8_t kite__iq1m_vals[4096][8] __attribute__((aligned(8)));

// Fills kite__iq1m_vals from the IQ1 grid (once, when the kernel set is built).
static void iq1m_vals_init(void) {
    for (int i = 0; i < 2048; i++)
        for (int j = 0; j < 8; j++) {
            const int g = (int8_t)(kite__iq1s_grid[i] >> (8 * j));
            kite__iq1m_vals[2 * i][j] = (int8_t)(8 * g + 1), kite__iq1m_vals[2 * i + 1][j] = (int8_t)(8 * g - 1);
        }
}

// ---- tile drivers ----------------------------------------------------------------------------

#define WASM_TILE(name, tiler, kind)                                                                          \
    static void name(int n, const void *w, size_t ws, int nr, const void *a, size_t as, int nt, float *y,     \
                     size_t ys) {                                                                             \
        tiler(kind, n, (const uint8_t *)w, ws, nr, (const uint8_t *)a, as, nt, y, ys);                        \
    }

WASM_TILE(tile_q4_0, tile32, K_Q4_0)
WASM_TILE(tile_q4_1, tile32, K_Q4_1)
WASM_TILE(tile_q5_0, tile32, K_Q5_0)
WASM_TILE(tile_q5_1, tile32, K_Q5_1)
WASM_TILE(tile_q8_0, tile32, K_Q8_0)
WASM_TILE(tile_iq4_nl, tile32, K_IQ4_NL)
WASM_TILE(tile_q4_K, tile_k, K_Q4_K)
WASM_TILE(tile_q5_K, tile_k, K_Q5_K)
WASM_TILE(tile_q6_K, tile_k, K_Q6_K)
WASM_TILE(tile_q2_K, tile_k, K_Q2_K)
WASM_TILE(tile_q3_K, tile_k, K_Q3_K)
WASM_TILE(tile_iq4_xs, tile_k, K_IQ4_XS)
WASM_TILE(tile_f32, tile_f, K_F32)
WASM_TILE(tile_f16, tile_f, K_F16)
WASM_TILE(tile_bf16, tile_f, K_BF16)
WASM_TILE(tile_iq2_xxs, tile_iq, K_IQ2_XXS)
WASM_TILE(tile_iq2_xs, tile_iq, K_IQ2_XS)
WASM_TILE(tile_iq2_s, tile_iq, K_IQ2_S)
WASM_TILE(tile_iq3_xxs, tile_iq, K_IQ3_XXS)
WASM_TILE(tile_iq3_s, tile_iq, K_IQ3_S)
WASM_TILE(tile_iq1_s, tile_iq, K_IQ1_S)
WASM_TILE(tile_iq1_m, tile_iq, K_IQ1_M)
WASM_TILE(tile_tq1_0, tile_iq, K_TQ1_0)
WASM_TILE(tile_tq2_0, tile_iq, K_TQ2_0)

static void tile_mxfp4(int n, const void *w, size_t ws, int nr, const void *a, size_t as, int nt, float *y, size_t ys) {
    tile_mx(n, (const uint8_t *)w, ws, nr, (const uint8_t *)a, as, nt, y, ys);
}

// ---- activation quantizers: the _ref bytes, four lanes at a time ---------------------------

// max |x| over n floats (n a multiple of 4); *finite = 0 when any is inf / nan (those blocks
// go to _ref, whose comparison order decides how a nan propagates).
AI float amax_n(const float *x, int n, int *finite) {
    v128_t m = wasm_f32x4_splat(0.0f), ok = wasm_i32x4_splat(-1);
    const v128_t inf = wasm_f32x4_splat(INFINITY);
    for (int j = 0; j < n; j += 4) {
        const v128_t a = wasm_f32x4_abs(ld(x + j));
        m = wasm_f32x4_pmax(m, a);
        ok = wasm_v128_and(ok, wasm_f32x4_lt(a, inf));
    }
    *finite = wasm_i32x4_all_true(ok);
    m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 2, 3, 0, 1));
    m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2));
    return wasm_f32x4_extract_lane(m, 0);
}

// roundf (half away from zero) of v, exactly: truncate, then step away from zero when the
// dropped fraction is >= 0.5 (both steps exact for |v| < 2^23).
AI v128_t round_away(v128_t v) {
    const v128_t t = wasm_f32x4_trunc(v);
    const v128_t half = wasm_f32x4_ge(wasm_f32x4_abs(wasm_f32x4_sub(v, t)), wasm_f32x4_splat(0.5f));
    const v128_t step = wasm_v128_or(wasm_f32x4_splat(1.0f), wasm_v128_and(v, wasm_f32x4_splat(-0.0f)));
    return wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_add(t, wasm_v128_and(half, step)));
}

// 16 int32 within int8 (four vectors) -> 16 int8 in order
AI v128_t pack16(v128_t a, v128_t b, v128_t c, v128_t d) {
    return wasm_i8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(a, b), wasm_i16x8_narrow_i32x4(c, d));
}

AI void quant_q8_x(const float *x, void *yv, int64_t n, int with_sum) {
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        int finite;
        const float amax = amax_n(x, 32, &finite);
        if (!finite) {
            if (with_sum) kite_quantize_row_q8_1_ref(x, (block_q8_1 *)yv + i, 32);
            else kite_quantize_row_q8_0_ref(x, (block_q8_0 *)yv + i, 32);
            continue;
        }
        const float d = amax / 127.0f;
        const v128_t id = wasm_f32x4_splat(d != 0.0f ? 1.0f / d : 0.0f);
        v128_t q[8];
        for (int k = 0; k < 8; k++) q[k] = round_away(wasm_f32x4_mul(ld(x + 4 * k), id));
        int8_t *qs = with_sum ? ((block_q8_1 *)yv + i)->qs : ((block_q8_0 *)yv + i)->qs;
        wasm_v128_store(qs, pack16(q[0], q[1], q[2], q[3]));
        wasm_v128_store(qs + 16, pack16(q[4], q[5], q[6], q[7]));
        if (with_sum) {
            block_q8_1 *y = (block_q8_1 *)yv + i;
            v128_t s = wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_add(q[0], q[1]), wasm_i32x4_add(q[2], q[3])),
                                      wasm_i32x4_add(wasm_i32x4_add(q[4], q[5]), wasm_i32x4_add(q[6], q[7])));
            y->d = kite_f32_to_f16(d);
            y->s = kite_f32_to_f16((float)hsum_i32(s) * d);
        } else {
            ((block_q8_0 *)yv + i)->d = kite_f32_to_f16(d);
        }
    }
}
static void quant_q8_0_wasm(const float *x, block_q8_0 *y, int64_t n) { quant_q8_x(x, y, n, 0); }
static void quant_q8_1_wasm(const float *x, block_q8_1 *y, int64_t n) { quant_q8_x(x, y, n, 1); }

static void quant_q8_K_wasm(const float *x, block_q8_K *y, int64_t n) {
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        int finite;
        const float amax = amax_n(x, QK_K, &finite);
        if (!finite || amax == 0.0f) {
            kite_quantize_row_q8_K_ref(x, y + i, QK_K);
            continue;
        }
        int j = 0; // the first element of largest magnitude gives the sign
        while (fabsf(x[j]) != amax) j++;
        const float iscale = -127.0f / x[j];
        const v128_t is = wasm_f32x4_splat(iscale), top = wasm_i32x4_splat(127);
        for (int g = 0; g < QK_K / 16; g++) {
            v128_t q[4];
            for (int k = 0; k < 4; k++) // round to nearest even, as kite__nearest_int
                q[k] = wasm_i32x4_min(wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(is, ld(x + 16 * g + 4 * k)))), top);
            wasm_v128_store(y[i].qs + 16 * g, pack16(q[0], q[1], q[2], q[3]));
            y[i].bsums[g] = (int16_t)hsum_i32(wasm_i32x4_add(wasm_i32x4_add(q[0], q[1]), wasm_i32x4_add(q[2], q[3])));
        }
        y[i].d = 1.0f / iscale;
    }
}

void kite__kernels_fill_wasm(kite__kernels *k) {
    k->isa = "wasm-simd128";
    iq1m_vals_init();
    k->attend = kite__attend_head_wasm;
    k->attend_group = kite__attend_group_wasm;
    k->swiglu = kite__swiglu_wasm;
    k->softcap = kite__softcap_wasm;
    k->rmsnorm_rows = kite__rmsnorm_rows_wasm;
    k->attend_group_softcap = true; // kite__attend_group_wasm caps in vector lanes (the scalar op's bits)
    k->quant_q8_0 = quant_q8_0_wasm;
    k->quant_q8_1 = quant_q8_1_wasm;
    k->quant_q8_K = quant_q8_K_wasm;
    KITE_SET_TILES(k);
    KITE_SET_TILES_IQ(k);
    k->gemv_x8[KITE_TYPE_Q4_K] = wx8_gemv_q4_K;
    k->gemv_x8[KITE_TYPE_Q5_K] = wx8_gemv_q5_K;
    k->gemv_x8[KITE_TYPE_Q6_K] = wx8_gemv_q6_K;
    k->gemv_x8[KITE_TYPE_Q3_K] = wx8_gemv_q3_K;
    k->gemv_x8[KITE_TYPE_Q2_K] = wx8_gemv_q2_K;
    k->gemv_x8[KITE_TYPE_IQ4_XS] = wx8_gemv_iq4_xs;
    k->gemv_x8[KITE_TYPE_Q4_0] = wx8_gemv_q4_0;
    k->gemv_x8[KITE_TYPE_IQ4_NL] = wx8_gemv_iq4_nl;
    k->gemv_x8[KITE_TYPE_Q8_0] = wx8_gemv_q8_0;
    k->gemv_x8[KITE_TYPE_Q5_0] = wx8_gemv_q5_0; // (kernels_wasm_x8_b32.inc)
    k->gemv_x8[KITE_TYPE_Q4_1] = wx8_gemv_q4_1;
    k->gemv_x8[KITE_TYPE_Q5_1] = wx8_gemv_q5_1;
    k->gemv_x8[KITE_TYPE_IQ3_XXS] = wx8_gemv_iq3_xxs;
    k->gemv_x8[KITE_TYPE_IQ2_XXS] = wx8_gemv_iq2_xxs;
    k->gemv_x8[KITE_TYPE_IQ2_XS] = wx8_gemv_iq2_xs; // (kernels_wasm_x8_grid_s.inc)
    k->gemv_x8[KITE_TYPE_IQ2_S] = wx8_gemv_iq2_s;
    k->gemv_x8[KITE_TYPE_IQ3_S] = wx8_gemv_iq3_s;
    k->gemv_x8[KITE_TYPE_IQ1_S] = wx8_gemv_iq1_s; // (kernels_wasm_x8_iq1.inc)
    k->gemv_x8[KITE_TYPE_IQ1_M] = wx8_gemv_iq1_m;
    wpk_fill(k);
    k->gemm_x8[KITE_TYPE_Q4_K] = wx8_gemm_q4_K; // (wpk_fill's gemm_rows / gemm_tokens: 8 groups, 256 tokens)
    k->gemm_x8[KITE_TYPE_Q6_K] = wx8_gemm_q6_K;
    k->gemm_x8[KITE_TYPE_Q4_0] = wx8_gemm_q4_0, k->gemm_x8[KITE_TYPE_Q4_1] = wx8_gemm_q4_1;
    k->gemm_x8[KITE_TYPE_Q5_0] = wx8_gemm_q5_0, k->gemm_x8[KITE_TYPE_Q5_1] = wx8_gemm_q5_1;
}
