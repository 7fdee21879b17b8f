// test_quant_simd.c - every ISA set of the quantizers' searches (quant/quant_search.h: AVX2,
// AVX-512 where the CPU runs them, NEON on aarch64, SIMD128 in wasm) against the scalar
// reference set, bit for bit: the searches on their own (scales, mins, codes), every row
// quantizer built on them, with and without importance weights, and the Q8_0 weight quantizer,
// on seeded random and adversarial data (zeros, constants, ties, tiny, huge and subnormal
// values, outliers, sub-blocks of very different size). The reference set itself is checked
// against llama.cpp by test_quant_blocks and test_quant_imatrix.
#include "check.h"

#include <float.h>
#include <math.h>
#include <stdint.h>

#include "kite.h"
#include "quant/kite_quant.h"
#include "quant/quant_search.h"

// ---- seeded data (integer PRNG, exact scalings: the same floats on every host) -------------

static uint64_t rng_state;
static uint32_t rnd(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}
static float rnd_unit(void) { return (float)((int32_t)(rnd() & 0xFFFFFF) - 0x800000) * 0x1p-23f; } // (-1, 1)

enum {
    D_UNIFORM, D_GAUSS, D_ZEROS, D_TINY, D_HUGE, D_SUBNORMAL, D_OUTLIERS, D_POSITIVE, D_NEGATIVE, D_CONSTANT,
    D_TIES, D_SPARSE, D_MIXED_SCALES, D_COUNT
};
static const char *D_NAME[] = {"uniform", "gauss",    "zeros",    "tiny",  "huge",   "subnormal",   "outliers",
                               "positive", "negative", "constant", "ties", "sparse", "mixed-scales"};

static void fill(float *x, int64_t n, int dist, uint64_t seed) {
    rng_state = seed * 0x9E3779B97F4A7C15ull + 3;
    float c = rnd_unit();
    float sub_scale = 1.0f;
    for (int64_t i = 0; i < n; i++) {
        float v = rnd_unit();
        if (i % 16 == 0) sub_scale = ldexpf(1.0f, (int)(rnd() % 41) - 20); // 2^-20 .. 2^20 per 16 values
        switch (dist) {
        case D_UNIFORM: break;
        case D_GAUSS: v = (v + rnd_unit() + rnd_unit() + rnd_unit()) * 0x1p-6f; break;
        case D_ZEROS: if (i < 256 || rnd() % 10 < 4) v = 0.0f; break;
        case D_TINY: v *= 0x1p-40f; break;
        case D_HUGE: v *= 0x1p+14f; break;
        case D_SUBNORMAL: v *= 0x1p-130f; break; // below FLT_MIN: every group counts as zero, or nearly
        case D_OUTLIERS: v = (rnd() % 64 == 0) ? v * 64.0f : v * 0x1p-4f; break;
        case D_POSITIVE: v = 0.75f + 0.25f * v; break;
        case D_NEGATIVE: v = -0.75f + 0.25f * v; break;
        case D_CONSTANT: v = c; break;
        case D_TIES: v = (float)((int)(rnd() % 33) - 16) * 0.5f; break; // halves: exact ties on many grids
        case D_SPARSE: v = rnd() % 16 == 0 ? v : 0.0f; break;
        case D_MIXED_SCALES: v *= sub_scale; break;
        }
        x[i] = v;
    }
}

// Importance weights: spread over orders of magnitude, some zero, all ones, all zero.
enum { W_SPREAD, W_SOME_ZERO, W_ONES, W_ALL_ZERO, W_COUNT };
static void fill_weights(float *w, int64_t n, int kind, uint64_t seed) {
    rng_state = seed * 0x2545F4914F6CDD1Dull + 11;
    for (int64_t i = 0; i < n; i++) {
        float v = ldexpf((float)(1 + rnd() % 255), (int)(rnd() % 24) - 20);
        if (kind == W_SOME_ZERO && rnd() % 4 == 0) v = 0.0f;
        if (kind == W_ONES) v = 1.0f;
        if (kind == W_ALL_ZERO) v = 0.0f;
        w[i] = v;
    }
}

static bool same_bits(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

// ---- the searches on their own -----------------------------------------------------------------

static void check_searches(const kite__quant_search *s) {
    const kite__quant_search *r = &kite__quant_search_ref;
    float x[32], w[32];
    int bad = 0;
    // qkx: the parameter sets the quantizers use, plus random ones
    static const struct { int n, nmax; float rmin, rdelta; int nstep; bool mad; } QKX[] = {
        {16, 3, -0.5f, 0.1f, 15, true},   {32, 15, -1.0f, 0.1f, 20, false}, {32, 31, -0.5f, 0.1f, 15, false},
        {16, 3, -0.9f, 0.05f, 36, false}, {32, 15, -0.9f, 0.05f, 36, false}, {32, 31, -0.9f, 0.05f, 36, false},
    };
    for (int c = 0; c < (int)(sizeof QKX / sizeof *QKX) + 4; c++) {
        int n, nmax, nstep;
        float rmin, rdelta;
        bool mad;
        if (c < (int)(sizeof QKX / sizeof *QKX)) {
            n = QKX[c].n, nmax = QKX[c].nmax, rmin = QKX[c].rmin, rdelta = QKX[c].rdelta, nstep = QKX[c].nstep, mad = QKX[c].mad;
        } else {
            rng_state = (uint64_t)c * 977;
            n = 1 + (int)(rnd() % 32), nmax = 1 + (int)(rnd() % 63), nstep = (int)(rnd() % 40);
            rmin = rnd_unit(), rdelta = 0.2f * rnd_unit(), mad = rnd() & 1;
        }
        for (int dist = 0; dist < D_COUNT; dist++) {
            for (int seed = 0; seed < 40; seed++) {
                fill(x, n, dist, (uint64_t)(c * 10007 + dist * 101 + seed));
                if (seed % 2) fill_weights(w, n, seed / 2 % W_COUNT, (uint64_t)seed);
                else for (int i = 0; i < n; i++) w[i] = fabsf(x[i]);
                uint8_t La[32], Lb[32];
                float ma = 0, mb = 0;
                memset(La, 0xAA, sizeof La);
                memset(Lb, 0x55, sizeof Lb);
                float sa = r->qkx(n, nmax, x, w, La, &ma, rmin, rdelta, nstep, mad);
                float sb = s->qkx(n, nmax, x, w, Lb, &mb, rmin, rdelta, nstep, mad);
                if ((!same_bits(sa, sb) || !same_bits(ma, mb) || memcmp(La, Lb, (size_t)n)) && bad++ < 5)
                    CHECK(0, "%s qkx n=%d nmax=%d nstep=%d mad=%d %s seed %d: scale %a/%a min %a/%a", s->isa, n, nmax, nstep,
                          mad, D_NAME[dist], seed, sa, sb, ma, mb);
            }
        }
    }
    // qkx on groups (8 or 4 at a time in lanes, the rest one by one): flat, tiny and ordinary groups
    // side by side, group counts around the lane width
    {
        float gx[17 * 32], gw[17 * 32], sa[17], sb[17], ma[17], mb[17];
        uint8_t La[17 * 32], Lb[17 * 32];
        for (int c = 0; c < 60; c++) {
            rng_state = (uint64_t)c * 4099 + 5;
            int nsub = 1 + (int)(rnd() % 17), n = c % 3 == 0 ? 16 : c % 3 == 1 ? 32 : 1 + (int)(rnd() % 32);
            int nmax = c % 4 == 0 ? 3 : c % 4 == 1 ? 15 : c % 4 == 2 ? 31 : 1 + (int)(rnd() % 63);
            int nstep = (int)(rnd() % 40);
            float rmin = rnd_unit(), rdelta = 0.2f * rnd_unit();
            bool mad = rnd() & 1;
            for (int g = 0; g < nsub; g++) fill(gx + n * g, n, (c + g) % D_COUNT, (uint64_t)(c * 31 + g));
            if (c % 2) fill_weights(gw, nsub * n, c / 2 % W_COUNT, (uint64_t)c);
            else for (int i = 0; i < nsub * n; i++) gw[i] = fabsf(gx[i]);
            memset(La, 0xAA, sizeof La);
            memset(Lb, 0x55, sizeof Lb);
            r->qkx_groups(nsub, n, nmax, gx, gw, La, sa, ma, rmin, rdelta, nstep, mad);
            s->qkx_groups(nsub, n, nmax, gx, gw, Lb, sb, mb, rmin, rdelta, nstep, mad);
            if ((memcmp(sa, sb, sizeof(float) * nsub) || memcmp(ma, mb, sizeof(float) * nsub) || memcmp(La, Lb, (size_t)(nsub * n))) &&
                bad++ < 8)
                CHECK(0, "%s qkx_groups nsub=%d n=%d nmax=%d nstep=%d mad=%d differ", s->isa, nsub, n, nmax, nstep, mad);
        }
    }
    // qx: the quantizers' (n, nmax) and random ones
    static const int QX[][2] = {{16, 32}, {16, 4}, {32, 8}, {32, 16}};
    for (int c = 0; c < 8; c++) {
        int n = c < 4 ? QX[c][0] : 1 + (int)(rnd() % 32), nmax = c < 4 ? QX[c][1] : 1 + (int)(rnd() % 64);
        for (int dist = 0; dist < D_COUNT; dist++) {
            for (int seed = 0; seed < 40; seed++) {
                fill(x, n, dist, (uint64_t)(c * 7919 + dist * 31 + seed));
                if (seed % 2) fill_weights(w, n, seed / 2 % W_COUNT, (uint64_t)seed);
                else for (int i = 0; i < n; i++) w[i] = x[i] * x[i];
                int8_t La[32], Lb[32];
                memset(La, 0x11, sizeof La);
                memset(Lb, 0x22, sizeof Lb);
                float sa = r->qx(n, nmax, x, La, w), sb = s->qx(n, nmax, x, Lb, w);
                if ((!same_bits(sa, sb) || memcmp(La, Lb, (size_t)n)) && bad++ < 10)
                    CHECK(0, "%s qx n=%d nmax=%d %s seed %d: scale %a/%a", s->isa, n, nmax, D_NAME[dist], seed, sa, sb);
            }
        }
    }
    // qx on groups, as qkx above
    {
        float gx[17 * 32], gw[17 * 32], sa[17], sb[17];
        int8_t La[17 * 32], Lb[17 * 32];
        for (int c = 0; c < 60; c++) {
            rng_state = (uint64_t)c * 8191 + 9;
            int nsub = 1 + (int)(rnd() % 17), n = c % 3 == 0 ? 16 : c % 3 == 1 ? 32 : 1 + (int)(rnd() % 32);
            int nmax = c % 4 == 0 ? 32 : c % 4 == 1 ? 4 : c % 4 == 2 ? 8 : 1 + (int)(rnd() % 64);
            for (int g = 0; g < nsub; g++) fill(gx + n * g, n, (c + g) % D_COUNT, (uint64_t)(c * 37 + g));
            if (c % 2) fill_weights(gw, nsub * n, c / 2 % W_COUNT, (uint64_t)c);
            else for (int i = 0; i < nsub * n; i++) gw[i] = gx[i] * gx[i];
            memset(La, 0x11, sizeof La);
            memset(Lb, 0x22, sizeof Lb);
            r->qx_groups(nsub, n, nmax, gx, La, gw, sa);
            s->qx_groups(nsub, n, nmax, gx, Lb, gw, sb);
            if ((memcmp(sa, sb, sizeof(float) * nsub) || memcmp(La, Lb, (size_t)(nsub * n))) && bad++ < 12)
                CHECK(0, "%s qx_groups nsub=%d n=%d nmax=%d differ", s->isa, nsub, n, nmax);
        }
    }
    // Q3_K's coordinate descent on groups
    {
        float gx[17 * 32], sa[17], sb[17];
        int8_t La[17 * 32], Lb[17 * 32];
        for (int c = 0; c < 80; c++) {
            rng_state = (uint64_t)c * 131 + 17;
            int nsub = c < 40 ? 16 : 1 + (int)(rnd() % 17), n = c % 2 ? 16 : 1 + (int)(rnd() % 32);
            int nmax = c % 3 ? 4 : 1 + (int)(rnd() % 64);
            for (int g = 0; g < nsub; g++) fill(gx + n * g, n, (c + g) % D_COUNT, (uint64_t)(c * 41 + g));
            memset(La, 0x11, sizeof La);
            memset(Lb, 0x22, sizeof Lb);
            r->q3_groups(nsub, n, nmax, gx, La, sa);
            s->q3_groups(nsub, n, nmax, gx, Lb, sb);
            if ((memcmp(sa, sb, sizeof(float) * nsub) || memcmp(La, Lb, (size_t)(nsub * n))) && bad++ < 14)
                CHECK(0, "%s q3_groups nsub=%d n=%d nmax=%d differ", s->isa, nsub, n, nmax);
        }
    }
    // re-rounding: scales from ordinary to extreme (tiny d: quotients past 2^22 wrap as in ggml)
    static const float DS[] = {0.01f, 0.3f, -0.2f, 1e-30f, 3e-39f, 1e30f, 0x1p-20f};
    for (int di = 0; di < (int)(sizeof DS / sizeof *DS); di++) {
        for (int dist = 0; dist < D_COUNT; dist++) {
            fill(x, 32, dist, (uint64_t)(di * 13 + dist));
            for (int n = 16; n <= 32; n += 16) {
                uint8_t a[32], b[32];
                int8_t c8[32], d8[32];
                r->round_min(x, n, DS[di], 0.5f * DS[di], 31, a);
                s->round_min(x, n, DS[di], 0.5f * DS[di], 31, b);
                r->round_sym(x, n, DS[di], -32, 31, c8);
                s->round_sym(x, n, DS[di], -32, 31, d8);
                if ((memcmp(a, b, (size_t)n) || memcmp(c8, d8, (size_t)n)) && bad++ < 15)
                    CHECK(0, "%s re-rounding d=%a %s n=%d differs", s->isa, DS[di], D_NAME[dist], n);
            }
        }
    }
    // IQ4: scale search and codes, including scales whose inverse overflows (NaN lanes)
    static const float PD[] = {0.0f, 0.01f, -0.05f, 1e-45f, 3e-39f, 1e20f};
    for (int dist = 0; dist < D_COUNT; dist++) {
        for (int seed = 0; seed < 40; seed++) {
            fill(x, 32, dist, (uint64_t)(dist * 777 + seed));
            if (seed % 2) fill_weights(w, 32, seed / 2 % W_COUNT, (uint64_t)seed);
            else for (int i = 0; i < 32; i++) w[i] = x[i] * x[i];
            float da = r->iq4_scale(x, w), db = s->iq4_scale(x, w);
            uint8_t qa[16], qb[16];
            r->iq4_pack(x, da, qa);
            s->iq4_pack(x, da, qb);
            if ((!same_bits(da, db) || memcmp(qa, qb, 16)) && bad++ < 20)
                CHECK(0, "%s iq4 %s seed %d: scale %a/%a", s->isa, D_NAME[dist], seed, da, db);
            for (int p = 0; p < (int)(sizeof PD / sizeof *PD); p++) {
                r->iq4_pack(x, PD[p], qa);
                s->iq4_pack(x, PD[p], qb);
                if (memcmp(qa, qb, 16) && bad++ < 25) CHECK(0, "%s iq4 codes %s d=%a differ", s->isa, D_NAME[dist], PD[p]);
            }
        }
    }
    // Q8_0 weights: every distribution (subnormal blocks make 1/d overflow to inf), and blocks
    // of exact halves at scale 1 (amax 127: roundf's ties away from zero, both signs)
    {
        enum { QN = 32 * 64 };
        float *qx = malloc(sizeof(float) * QN);
        block_q8_0 *qa = malloc(sizeof(block_q8_0) * (QN / 32)), *qb = malloc(sizeof(block_q8_0) * (QN / 32));
        for (int dist = 0; dist <= D_COUNT; dist++) {
            for (int seed = 0; seed < 6; seed++) {
                if (dist < D_COUNT) fill(qx, QN, dist, (uint64_t)(dist * 53 + seed));
                else
                    for (int i = 0; i < QN; i++) qx[i] = i % 32 == 0 ? 127.0f : (float)((int)(i * 7 % 255) - 127) + 0.5f;
                memset(qa, 0xAA, sizeof(block_q8_0) * (QN / 32));
                memset(qb, 0x55, sizeof(block_q8_0) * (QN / 32));
                r->q8_0(qx, qa, QN);
                s->q8_0(qx, qb, QN);
                if (memcmp(qa, qb, sizeof(block_q8_0) * (QN / 32)) && bad++ < 28)
                    CHECK(0, "%s q8_0 %s seed %d: bytes differ", s->isa, dist < D_COUNT ? D_NAME[dist] : "halves", seed);
            }
        }
        free(qx), free(qa), free(qb);
    }
    // iq_nearest, 4-value (IQ3) and 8-value (IQ2, IQ1) points: random chunks of levels against
    // term tables with ties (few distinct values), zeros of both signs, infinities, NaNs, FLT_MAX
    // and sums that overflow to infinity
    {
        static const float SPECIAL[] = {0.0f, -0.0f, INFINITY, NAN, FLT_MAX, 0x1p127f, 1.0f, 0.5f};
        uint8_t lanes[64 * 5];
        float tt[8][8];
        for (int c = 0; c < 8000; c++) {
            rng_state = 0x1a3 + (uint64_t)c * 7919;
            const int dim = c < 4000 ? 4 : 8, nlev = dim == 4 ? 8 : 3;
            const int nchunks = 1 + c % 5, mode = c / 5 % 4;
            for (int j = 0; j < 8 * dim * nchunks; j++) lanes[j] = (uint8_t)(rnd() % (uint32_t)nlev);
            for (int i = 0; i < dim; i++)
                for (int l = 0; l < 8; l++) {
                    const uint32_t u = rnd();
                    tt[i][l] = mode == 0   ? fabsf(rnd_unit())
                               : mode == 1 ? (float)(u % 3) * 0.25f
                               : mode == 2 ? SPECIAL[u % 8]
                                           : (u % 4 ? (float)(u % 5) : SPECIAL[u / 4 % 8]);
                }
            const int pa = r->iq_nearest(lanes, dim, nchunks, (const float(*)[8])tt);
            const int pb = s->iq_nearest(lanes, dim, nchunks, (const float(*)[8])tt);
            if (pa != pb && bad++ < 31)
                CHECK(0, "%s iq_nearest dim %d case %d: position %d, the reference %d", s->isa, dim, c, pb, pa);
        }
    }
    // F16 -> F32: all 65536 halves (subnormals, infinities, quiet and signalling NaNs), at
    // offsets that leave a scalar tail
    uint16_t *h = malloc(sizeof(uint16_t) * 65536 + 8);
    float *fa = malloc(sizeof(float) * 65536), *fb = malloc(sizeof(float) * 65536);
    for (int i = 0; i < 65536; i++) h[i] = (uint16_t)i;
    r->f16_to_f32(h, fa, 65536);
    s->f16_to_f32(h, fb, 65536);
    if (memcmp(fa, fb, sizeof(float) * 65536) && bad++ < 30) CHECK(0, "%s f16 -> f32 differs", s->isa);
    s->f16_to_f32(h + 3, fb, 65533 - 4);
    if (memcmp(fa + 3, fb, sizeof(float) * (65533 - 4)) && bad++ < 30) CHECK(0, "%s f16 -> f32 (unaligned, tail) differs", s->isa);
    free(h), free(fa), free(fb);
    CHECK(bad == 0, "%s: %d search results differ from the reference", s->isa, bad);
}

// ---- the row quantizers ------------------------------------------------------------------------

enum { ROW = 4096, NROWS = 2 };

typedef void (*plain_fn)(const float *, void *, int64_t, const kite__quant_search *);
typedef void (*weighted_fn)(const float *, void *, int64_t, const float *, const kite__quant_search *);

static void q2k(const float *x, void *y, int64_t n, const kite__quant_search *s) { kite__quantize_row_q2_K_with(x, y, n, s); }
static void q3k(const float *x, void *y, int64_t n, const kite__quant_search *s) { kite__quantize_row_q3_K_with(x, y, n, s); }
static void q4k(const float *x, void *y, int64_t n, const kite__quant_search *s) { kite__quantize_row_q4_K_with(x, y, n, s); }
static void q5k(const float *x, void *y, int64_t n, const kite__quant_search *s) { kite__quantize_row_q5_K_with(x, y, n, s); }
static void q6k(const float *x, void *y, int64_t n, const kite__quant_search *s) { kite__quantize_row_q6_K_with(x, y, n, s); }
static void inl(const float *x, void *y, int64_t n, const kite__quant_search *s) { kite__quantize_row_iq4_nl_with(x, y, n, NULL, s); }
static void ixs(const float *x, void *y, int64_t n, const kite__quant_search *s) { kite__quantize_row_iq4_xs_with(x, y, n, NULL, s); }

#define W_WRAP(name, fn) \
    static void name(const float *x, void *y, int64_t n, const float *qw, const kite__quant_search *s) { fn(x, y, n, qw, s); }
W_WRAP(wq40, kite__quantize_row_q4_0_w_with)
W_WRAP(wq41, kite__quantize_row_q4_1_w_with)
W_WRAP(wq50, kite__quantize_row_q5_0_w_with)
W_WRAP(wq51, kite__quantize_row_q5_1_w_with)
W_WRAP(wq2k, kite__quantize_row_q2_K_w_with)
W_WRAP(wq3k, kite__quantize_row_q3_K_w_with)
W_WRAP(wq4k, kite__quantize_row_q4_K_w_with)
W_WRAP(wq5k, kite__quantize_row_q5_K_w_with)
W_WRAP(wq6k, kite__quantize_row_q6_K_w_with)
W_WRAP(winl, kite__quantize_row_iq4_nl_with)
W_WRAP(wixs, kite__quantize_row_iq4_xs_with)
W_WRAP(wi3x, kite__quantize_row_iq3_xxs_w_with)
W_WRAP(wi3s, kite__quantize_row_iq3_s_w_with)
W_WRAP(wi2xx, kite__quantize_row_iq2_xxs_w_with)
W_WRAP(wi2x, kite__quantize_row_iq2_xs_w_with)
W_WRAP(wi2s, kite__quantize_row_iq2_s_w_with)
W_WRAP(wi1s, kite__quantize_row_iq1_s_w_with)
W_WRAP(wi1m, kite__quantize_row_iq1_m_w_with)
static void i3x(const float *x, void *y, int64_t n, const kite__quant_search *s) { kite__quantize_row_iq3_xxs_w_with(x, y, n, NULL, s); }
static void i3s(const float *x, void *y, int64_t n, const kite__quant_search *s) { kite__quantize_row_iq3_s_w_with(x, y, n, NULL, s); }
static void i2s(const float *x, void *y, int64_t n, const kite__quant_search *s) { kite__quantize_row_iq2_s_w_with(x, y, n, NULL, s); }
static void i1m(const float *x, void *y, int64_t n, const kite__quant_search *s) { kite__quantize_row_iq1_m_w_with(x, y, n, NULL, s); }

static const struct { kite_type t; plain_fn plain; weighted_fn weighted; } ROWS[] = {
    {KITE_TYPE_Q4_0, NULL, wq40}, {KITE_TYPE_Q4_1, NULL, wq41}, {KITE_TYPE_Q5_0, NULL, wq50}, {KITE_TYPE_Q5_1, NULL, wq51},
    {KITE_TYPE_Q2_K, q2k, wq2k},  {KITE_TYPE_Q3_K, q3k, wq3k},  {KITE_TYPE_Q4_K, q4k, wq4k},  {KITE_TYPE_Q5_K, q5k, wq5k},
    {KITE_TYPE_Q6_K, q6k, wq6k},  {KITE_TYPE_IQ4_NL, inl, winl}, {KITE_TYPE_IQ4_XS, ixs, wixs},
    {KITE_TYPE_IQ3_XXS, i3x, wi3x}, {KITE_TYPE_IQ3_S, i3s, wi3s}, {KITE_TYPE_IQ2_XXS, NULL, wi2xx},
    {KITE_TYPE_IQ2_XS, NULL, wi2x}, {KITE_TYPE_IQ2_S, i2s, wi2s}, {KITE_TYPE_IQ1_S, NULL, wi1s}, {KITE_TYPE_IQ1_M, i1m, wi1m},
};

static void check_rows(const kite__quant_search *s) {
    const kite__quant_search *r = &kite__quant_search_ref;
    float *x = malloc(sizeof(float) * ROW * NROWS), *w = malloc(sizeof(float) * ROW);
    size_t cap = (size_t)ROW * NROWS * 2;
    uint8_t *qa = malloc(cap), *qb = malloc(cap);
    for (size_t c = 0; c < sizeof ROWS / sizeof *ROWS; c++) {
        const size_t rb = (size_t)kite_type_row_bytes(ROWS[c].t, ROW);
        int bad = 0;
        for (int dist = 0; dist < D_COUNT; dist++) {
            fill(x, ROW * NROWS, dist, (uint64_t)(c * 100 + dist));
            if (ROWS[c].plain) {
                memset(qa, 0xAA, rb * NROWS);
                memset(qb, 0x55, rb * NROWS);
                ROWS[c].plain(x, qa, ROW * NROWS, r);
                ROWS[c].plain(x, qb, ROW * NROWS, s);
                if (memcmp(qa, qb, rb * NROWS) && bad++ < 3)
                    CHECK(0, "%s %s %s: bytes differ from the reference", s->isa, kite_type_name(ROWS[c].t), D_NAME[dist]);
            }
            for (int k = 0; k < W_COUNT; k++) {
                fill_weights(w, ROW, k, (uint64_t)(c * 10 + k));
                memset(qa, 0xAA, rb * NROWS);
                memset(qb, 0x55, rb * NROWS);
                for (int row = 0; row < NROWS; row++) {
                    ROWS[c].weighted(x + row * ROW, qa + row * rb, ROW, w, r);
                    ROWS[c].weighted(x + row * ROW, qb + row * rb, ROW, w, s);
                }
                if (memcmp(qa, qb, rb * NROWS) && bad++ < 3)
                    CHECK(0, "%s %s %s, weights %d: bytes differ from the reference", s->isa, kite_type_name(ROWS[c].t),
                          D_NAME[dist], k);
            }
        }
        CHECK(bad == 0, "%s %s: %d row mismatches", s->isa, kite_type_name(ROWS[c].t), bad);
    }
    free(x), free(w), free(qa), free(qb);
}

// The row API runs the active set: its bytes equal the reference quantizers' (kite_quantize_row_<type>_ref).
static void check_row_api(void) {
    float *x = malloc(sizeof(float) * ROW);
    uint8_t *qa = malloc(ROW * 2), *qb = malloc(ROW * 2);
    fill(x, ROW, D_GAUSS, 99);
    kite_quantize_row_q4_K_ref(x, (block_q4_K *)qa, ROW);
    CHECK(kite_quantize_rows(KITE_TYPE_Q4_K, x, qb, 1, ROW) == KITE_OK && !memcmp(qa, qb, kite_type_row_bytes(KITE_TYPE_Q4_K, ROW)),
          "row API q4_K (set %s) differs from kite_quantize_row_q4_K_ref", kite__quant_search_active()->isa);
    kite_quantize_row_q8_0_ref(x, (block_q8_0 *)qa, ROW);
    CHECK(kite_quantize_rows(KITE_TYPE_Q8_0, x, qb, 1, ROW) == KITE_OK && !memcmp(qa, qb, kite_type_row_bytes(KITE_TYPE_Q8_0, ROW)),
          "row API q8_0 differs from kite_quantize_row_q8_0_ref");
    kite_quantize_row_iq4_xs_ref(x, (block_iq4_xs *)qa, ROW);
    CHECK(kite_quantize_rows(KITE_TYPE_IQ4_XS, x, qb, 1, ROW) == KITE_OK &&
              !memcmp(qa, qb, kite_type_row_bytes(KITE_TYPE_IQ4_XS, ROW)),
          "row API iq4_xs differs from the reference");
    free(x), free(qa), free(qb);
}

int main(void) {
    static const char *ISAS[] = {"avx2", "avx512", "neon", "wasm"};
    CHECK(kite__quant_search_get("scalar") == &kite__quant_search_ref, "the scalar set is the reference");
    int tested = 0;
    for (int i = 0; i < (int)(sizeof ISAS / sizeof *ISAS); i++) {
        const kite__quant_search *s = kite__quant_search_get(ISAS[i]);
        if (!s) {
            fprintf(stderr, "note: no %s set on this build or CPU\n", ISAS[i]);
            continue;
        }
        CHECK(!strcmp(s->isa, ISAS[i]), "set %s calls itself %s", ISAS[i], s->isa);
        check_searches(s);
        check_rows(s);
        fprintf(stderr, "set compared with the reference: %s\n", s->isa);
        tested++;
    }
    // the reference against itself still runs the harness (and the row API) where no ISA set exists
    if (!tested) check_rows(&kite__quant_search_ref);
    check_row_api();
    fprintf(stderr, "ISA sets compared with the reference: %d\n", tested);
    return check_done("test_quant_simd");
}
