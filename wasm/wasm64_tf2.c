// wasm64_tf2.c - the long double (IEEE binary128) comparisons for the memory64 build only.
// Emscripten 3.1.6's wasm64 compiler-rt defines them returning long (i64 on wasm64) while its
// libc calls them returning int, so wasm-ld turns every libc call (printf's and strtod's
// long double code) into a trap. These definitions, with the int return clang expects, keep
// compiler-rt's out of the link. Semantics as compiler-rt's: __letf2 and its aliases return
// -1, 0 or 1 (1 when unordered), __getf2 and __gttf2 the same but -1 when unordered,
// __unordtf2 non-zero when either is NaN.
#include <stdint.h>
#include <string.h>

#if UINTPTR_MAX > 0xFFFFFFFFu

typedef struct q128 {
    uint64_t lo, hi;
} q128;

static q128 q_bits(long double x) {
    q128 q;
    memcpy(&q, &x, sizeof q);
    return q;
}

static int q_nan(q128 q) { return ((q.hi >> 48) & 0x7fff) == 0x7fff && ((q.hi & 0xffffffffffffull) | q.lo) != 0; }

// -1, 0, 1, or `unordered` when either is NaN.
static int q_cmp(long double a, long double b, int unordered) {
    const q128 x = q_bits(a), y = q_bits(b);
    if (q_nan(x) || q_nan(y)) return unordered;
    const uint64_t sign = 1ull << 63;
    if (((x.hi & ~sign) | x.lo | (y.hi & ~sign) | y.lo) == 0) return 0; // +0 == -0
    const int xs = (int)(x.hi >> 63), ys = (int)(y.hi >> 63);
    if (xs != ys) return xs ? -1 : 1;
    int m = x.hi != y.hi ? (x.hi < y.hi ? -1 : 1) : x.lo != y.lo ? (x.lo < y.lo ? -1 : 1) : 0;
    return xs ? -m : m;
}

int __letf2(long double a, long double b) { return q_cmp(a, b, 1); }
int __lttf2(long double a, long double b) { return q_cmp(a, b, 1); }
int __eqtf2(long double a, long double b) { return q_cmp(a, b, 1); }
int __netf2(long double a, long double b) { return q_cmp(a, b, 1); }
int __cmptf2(long double a, long double b) { return q_cmp(a, b, 1); }
int __getf2(long double a, long double b) { return q_cmp(a, b, -1); }
int __gttf2(long double a, long double b) { return q_cmp(a, b, -1); }
int __unordtf2(long double a, long double b) { return q_nan(q_bits(a)) || q_nan(q_bits(b)); }

#endif
