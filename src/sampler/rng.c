// rng.c - MT19937, the sampler's seeded random source (same numbers on every platform).
#include "sampler/sampler_stages.h"

// The generator's published constants (Matsumoto & Nishimura 1998; C++ [rand.predef]).
#define MT_N 624
#define MT_M 397
#define MT_MATRIX 0x9908b0dfu
#define MT_UPPER 0x80000000u
#define MT_LOWER 0x7fffffffu
#define MT_INIT_MULT 1812433253u

void kite__mt_seed(kite__mt19937 *r, uint32_t seed) {
    r->mt[0] = seed;
    for (uint32_t i = 1; i < MT_N; i++) r->mt[i] = MT_INIT_MULT * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + i;
    r->idx = MT_N;
}

// Regenerates the whole state block (the "twist").
static void twist(kite__mt19937 *r) {
    for (uint32_t i = 0; i < MT_N; i++) {
        uint32_t y = (r->mt[i] & MT_UPPER) | (r->mt[(i + 1) % MT_N] & MT_LOWER);
        r->mt[i] = r->mt[(i + MT_M) % MT_N] ^ (y >> 1) ^ ((y & 1u) ? MT_MATRIX : 0u);
    }
    r->idx = 0;
}

uint32_t kite__mt_next(kite__mt19937 *r) {
    if (r->idx >= MT_N) twist(r);
    uint32_t y = r->mt[r->idx++];
    // tempering
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

double kite__mt_uniform(kite__mt19937 *r) {
    // 53 mantissa bits need two 32-bit draws: sum = d0 + d1 * 2^32, scaled by 2^-64, in the
    // same operation order as libstdc++ so the double rounds identically.
    double sum = 0.0, scale = 1.0;
    for (int k = 0; k < 2; k++) {
        sum += (double)kite__mt_next(r) * scale;
        scale *= 4294967296.0;
    }
    double u = sum / scale;
    if (u >= 1.0) u = 0x1.fffffffffffffp-1; // the largest double below 1
    return u;
}

float kite__mt_uniform_f32(kite__mt19937 *r) {
    // 24 mantissa bits fit one 32-bit draw: d / 2^32 in float (rounded when converted), as
    // libstdc++'s generate_canonical<float, 24> computes it, with its clamp below 1.
    float u = (float)kite__mt_next(r) / 4294967296.0f;
    if (u >= 1.0f) u = 0x1.fffffep-1f; // the largest float below 1
    return u;
}
