// test_f16_row.c - kite_kernels_f32_to_f16_row (the KV cache's conversion) gives
// base/kite_f16.h's kite_f32_to_f16 bits in every kernel set: floats of every sign, exponent and
// top mantissa bits with the low bits around each rounding boundary (ties, just above and below,
// subnormal halves, overflow to inf, every nan class), in rows whose lengths leave SIMD tails.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/kite_f16.h"
#include "check.h"
#include "kernels/kite_kernels.h"

int main(void) {
    // bits 0..15 of the float: half's rounding sits at bit 13 (tie 0x1000 below it)
    static const uint16_t lows[] = {0x0000, 0x0001, 0x0fff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x2fff,
                                    0x3000, 0x3001, 0x5000, 0x7000, 0x7fff, 0x8000, 0x9000, 0xafff,
                                    0xb000, 0xb001, 0xe000, 0xefff, 0xf000, 0xf001, 0xffff, 0x4321};
    enum { NL = sizeof lows / sizeof lows[0], N = 65536 * NL };
    float *x = malloc(sizeof(float) * N);
    uint16_t *want = malloc(sizeof(uint16_t) * N), *got = malloc(sizeof(uint16_t) * N);
    CHECK(x && want && got, "allocation");
    if (!x || !want || !got) return check_done("test_f16_row");
    for (uint32_t hi = 0; hi < 65536; hi++)
        for (int l = 0; l < NL; l++) x[hi * NL + (uint32_t)l] = kite__f32_from_bits(hi << 16 | lows[l]);
    for (int i = 0; i < N; i++) want[i] = kite_f32_to_f16(x[i]);
    const char *active = kite_kernels_isa();
    for (int s = 0; s < kite_kernels_isa_count(); s++) {
        const char *isa = kite_kernels_isa_name(s);
        CHECK(kite_kernels_set_isa(isa) == KITE_OK, "select %s", isa);
        memset(got, 0xa5, sizeof(uint16_t) * N);
        // rows of 1000 then 13 then 7 elements: whole vectors and tails of every length
        int bad = 0, first = -1;
        for (int i = 0, row = 0; i < N; row++) {
            const int len = row % 3 == 0 ? 1000 : row % 3 == 1 ? 13 : 7;
            const int n = len < N - i ? len : N - i;
            kite_kernels_f32_to_f16_row(x + i, got + i, n);
            i += n;
        }
        for (int i = 0; i < N; i++)
            if (got[i] != want[i] && bad++ == 0) first = i;
        CHECK(bad == 0, "%s: %d of %d conversions differ, first %08x -> %04x, want %04x", isa, bad, N,
              first >= 0 ? kite__f32_bits(x[first]) : 0, first >= 0 ? got[first] : 0, first >= 0 ? want[first] : 0);
    }
    CHECK(kite_kernels_set_isa(active) == KITE_OK, "restore %s", active);
    free(x);
    free(want);
    free(got);
    return check_done("test_f16_row");
}
