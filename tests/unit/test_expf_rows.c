// test_expf_rows.c - the vector expf of x86 (x86_expf.h) and of NEON (neon_expf.h) through their
// row ops gives this libm's expf bits: on float patterns from a stride through all 2^32 (both
// zeros, subnormals, |x| >= 88, inf, nan) and densely over the softmax's arguments near 0;
// KITE_EXPF_ALL=1 checks every one of the 2^32 patterns instead (natively about 15 s per ISA).
// Also: the vector path is in use (its check at first use passed), so the comparison is not libm
// against itself.
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "kernels/kernels_internal.h"
#include "kernels/neon_expf.h"
#include "kernels/x86_expf.h"

#if defined(__x86_64__) || defined(_M_X64) || defined(__aarch64__)
enum { BATCH = 4096 };

typedef void (*row_fn)(float *x, int32_t n);

// patterns lo, lo + step, ... below hi (64-bit counts, so that hi can be 2^32)
static void check_range(const char *what, row_fn row, uint64_t lo, uint64_t hi, uint64_t step) {
    static float x[BATCH], y[BATCH];
    uint64_t bad = 0, n_all = 0;
    for (uint64_t b = lo; b < hi;) {
        int32_t n = 0;
        for (; n < BATCH && b < hi; n++, b += step) {
            const uint32_t u = (uint32_t)b;
            memcpy(x + n, &u, 4);
        }
        memcpy(y, x, sizeof(float) * (size_t)n);
        // odd lengths too: the row ops' tails
        const int32_t cut = n > 7 ? n - 7 : n;
        row(y, cut);
        row(y + cut, n - cut);
        for (int32_t i = 0; i < n; i++) {
            const float want = expf(x[i]);
            if (memcmp(&want, y + i, 4) != 0 && bad++ < 5) {
                uint32_t a, w, g;
                memcpy(&a, x + i, 4);
                memcpy(&w, &want, 4);
                memcpy(&g, y + i, 4);
                fprintf(stderr, "%s: expf(%08x) gives %08x, libm %08x\n", what, (unsigned)a, (unsigned)g, (unsigned)w);
            }
        }
        n_all += (uint64_t)n;
    }
    CHECK(bad == 0, "%s: %llu of %llu patterns differ from libm's expf", what, (unsigned long long)bad,
          (unsigned long long)n_all);
}

static void check_isa(const char *what, row_fn row, bool (*ok)(void)) {
    CHECK(ok(), "%s: the vector expf disagrees with libm's on its check (rows fall back to libm)", what);
    const char *all = getenv("KITE_EXPF_ALL");
    if (all && strcmp(all, "1") == 0) {
        check_range(what, row, 0, 1ull << 32, 1);
        return;
    }
    check_range(what, row, 0, 1ull << 32, 997);                // every pattern class
    check_range(what, row, 0xbf800000u, 0xbf800000u + (1u << 22), 1); // [-2, -1]: all
    check_range(what, row, 0xb3000000u, 0xb3000000u + (1u << 23), 1); // tiny negatives: all
    check_range(what, row, 0xc2a00000u, 0xc2d00000u, 1);          // [-80, -104]: the edge, all
}
#endif

int main(void) {
#if defined(__x86_64__) || defined(_M_X64)
    if (kite__kernels_get("avx2"))
        check_isa("kite__expf_row_avx2", kite__expf_row_avx2, kite__expf_vec_ok_avx2);
    else
        fprintf(stderr, "skip: no AVX2 on this host\n");
    if (kite__kernels_get("avx512"))
        check_isa("kite__expf_row_avx512", kite__expf_row_avx512, kite__expf_vec_ok_avx512);
    else
        fprintf(stderr, "skip: no AVX-512 on this host\n");
#elif defined(__aarch64__)
    if (kite__kernels_get("neon"))
        check_isa("kite__expf_row_neon", kite__expf_row_neon, kite__expf_vec_ok_neon);
    else
        fprintf(stderr, "skip: no NEON set on this host\n");
#else
    fprintf(stderr, "skip: no vector expf on this architecture\n");
#endif
    return check_done("test_expf_rows");
}
