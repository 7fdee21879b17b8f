// x86_tanh.h - the method and constants of (float)tanh((double)y) for float y on double vector
// lanes, with libm's bits by construction: each lane's tanh is computed in double to well within
// KITE_XTANH_ERR (relative), and a lane is kept only where every double within that bound of it
// rounds to the same float; the others (near a float rounding boundary, or nan) are flagged for
// libm's tanh. libm's tanh is itself within a few double ulps of tanh, so a kept lane's float is
// what rounding libm's double gives. Checked over all 2^32 inputs by test_softcap
// (KITE_TANH_ALL=1). The lanes' tanh is tanh_pos.inc, a template the soft-cap rows instantiate
// (softcap_avx2.c, softcap_avx512.c, softcap_wasm.c on f64x2, softcap_neon.c on float64x2).
#ifndef KITE_X86_TANH_H
#define KITE_X86_TANH_H

// The bound the lanes' tanh keeps to, relative: 2^-44 (tanh_pos.inc's lanes are within about
// 2^-49, libm's tanh within 2^-51; the margin costs a fallback in about 2^-19 of the lanes).
#define KITE_XTANH_ERR 0x1p-44
// Below this |y| the odd Taylor polynomial; at and above it (1 - e) / (1 + e), e = exp(-2|y|).
#define KITE_XTANH_SMALL 0.125
// |y| at and above this is taken as this: tanh is 1 - 2^-57 or closer to 1 (one float, 1.0f).
#define KITE_XTANH_BIG 20.0

// tanh's Taylor coefficients (x^3 .. x^13)
#define KITE_XTANH_T3 (-1.0 / 3.0)
#define KITE_XTANH_T5 (2.0 / 15.0)
#define KITE_XTANH_T7 (-17.0 / 315.0)
#define KITE_XTANH_T9 (62.0 / 2835.0)
#define KITE_XTANH_T11 (-1382.0 / 155925.0)
#define KITE_XTANH_T13 (21844.0 / 6081075.0)

// exp(x) for x = -2a: x = k ln2 + r with k = round(x log2(e)) and ln2 in two parts (the high
// part's low bits zero, so that k times it is exact), exp(r) by its Taylor series to r^13
#define KITE_XTANH_LOG2E 1.4426950408889634
#define KITE_XTANH_LN2_HI 0x1.62e42fefa3800p-1
#define KITE_XTANH_LN2_LO 0x1.ef35793c76730p-45
// exp's Taylor coefficients 1/k!, k = 13 down to 0 (Horner's order)
static const double kite__xtanh_exp_q[14] = {
    1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0,
    1.0 / 40320.0,      1.0 / 5040.0,      1.0 / 720.0,      1.0 / 120.0,     1.0 / 24.0,
    1.0 / 6.0,          0.5,               1.0,              1.0,
};

#endif
