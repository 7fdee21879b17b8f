// x86_emulate.h - test builds only (CMake KITE_X86_EMULATE, preset native-x86emu): the few
// instructions of the "avxvnni" and "amx" kernel sets that a host may lack, written with
// instructions it has, so that those sets' packing and tile drivers are checked against _ref
// (test_kernels) on any AVX2 / AVX-512 host, not only on Alder Lake or Sapphire Rapids. CMake
// force-includes it (-include) into kernels_packed_avxvnni.c (KITE_EMULATE_AVXVNNI) and
// kernels_amx.c (KITE_EMULATE_AMX); the kernel files are unchanged. Each emulation gives the
// instruction's exact integer result (Intel SDM: VPDPBUSD, LDTILECFG, TILELOADD, TILEZERO,
// TDPBSSD, TILESTORED, TILERELEASE); none is meant to be fast.
#ifndef KITE_X86_EMULATE_H
#define KITE_X86_EMULATE_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#ifdef KITE_EMULATE_AVXVNNI
// VPDPBUSD ymm (VEX): s + per int32 lane the sum of 4 products of u's unsigned bytes with v's
// signed ones, wrapping. Here as two VPMADDWD on the even and the odd bytes widened to 16 bits:
// each product fits int16 x int16 -> int32 exactly, so the sums are the instruction's.
static inline __m256i kite_emu_dpbusd256(__m256i s, __m256i u, __m256i v) {
    const __m256i low = _mm256_set1_epi16(0x00FF);
    const __m256i u_even = _mm256_and_si256(u, low), u_odd = _mm256_srli_epi16(u, 8);
    const __m256i v_even = _mm256_srai_epi16(_mm256_slli_epi16(v, 8), 8), v_odd = _mm256_srai_epi16(v, 8);
    return _mm256_add_epi32(s, _mm256_add_epi32(_mm256_madd_epi16(u_even, v_even), _mm256_madd_epi16(u_odd, v_odd)));
}
#undef _mm256_dpbusd_avx_epi32
#define _mm256_dpbusd_avx_epi32(s, u, v) kite_emu_dpbusd256((s), (u), (v))
#endif

#ifdef KITE_EMULATE_AMX
// The tile registers of the calling thread (tile state is per thread, as the hardware's):
// 8 tiles of up to 16 rows x 64 bytes, each with the shape the last LDTILECFG gave it.
typedef struct kite_emu_tiles {
    uint8_t rows[8];
    uint16_t colsb[8];
    uint8_t data[8][16][64];
} kite_emu_tiles;
static _Thread_local kite_emu_tiles kite_emu_tmm;

// LDTILECFG: palette byte 0, colsb as 16 little-endian uint16 from byte 16, rows as 16 bytes
// from byte 48; every tile is zeroed.
static inline void kite_emu_tile_loadconfig(const void *config) {
    const uint8_t *c = (const uint8_t *)config;
    memset(&kite_emu_tmm, 0, sizeof kite_emu_tmm);
    for (int t = 0; t < 8; t++) {
        kite_emu_tmm.colsb[t] = (uint16_t)(c[16 + 2 * t] | (c[17 + 2 * t] << 8));
        kite_emu_tmm.rows[t] = c[48 + t];
    }
}

// TILELOADD: rows[t] rows of colsb[t] bytes, row r at base + r * stride; the rest zeroed.
static inline void kite_emu_tile_loadd(int t, const void *base, long stride) {
    memset(kite_emu_tmm.data[t], 0, sizeof kite_emu_tmm.data[t]);
    for (int r = 0; r < kite_emu_tmm.rows[t]; r++)
        memcpy(kite_emu_tmm.data[t][r], (const uint8_t *)base + (long)r * stride, kite_emu_tmm.colsb[t]);
}

// TILESTORED: the rows[t] x colsb[t] bytes of tile t, row r to base + r * stride.
static inline void kite_emu_tile_stored(int t, void *base, long stride) {
    for (int r = 0; r < kite_emu_tmm.rows[t]; r++)
        memcpy((uint8_t *)base + (long)r * stride, kite_emu_tmm.data[t][r], kite_emu_tmm.colsb[t]);
}

static inline void kite_emu_tile_zero(int t) { memset(kite_emu_tmm.data[t], 0, sizeof kite_emu_tmm.data[t]); }

// TDPBSSD c, a, b: C[m][n] (int32) += sum over k < colsb[a] / 4 and i < 4 of
// A[m][4k + i] * B[k][4n + i], both signed bytes, for m < rows[c], n < colsb[c] / 4; wrapping.
static inline void kite_emu_tile_dpbssd(int c, int a, int b) {
    for (int m = 0; m < kite_emu_tmm.rows[c]; m++)
        for (int n = 0; n < kite_emu_tmm.colsb[c] / 4; n++) {
            int32_t acc;
            memcpy(&acc, &kite_emu_tmm.data[c][m][4 * n], 4);
            uint32_t sum = (uint32_t)acc;
            for (int k = 0; k < kite_emu_tmm.colsb[a] / 4; k++)
                for (int i = 0; i < 4; i++)
                    sum += (uint32_t)((int32_t)(int8_t)kite_emu_tmm.data[a][m][4 * k + i] *
                                      (int32_t)(int8_t)kite_emu_tmm.data[b][k][4 * n + i]);
            acc = (int32_t)sum;
            memcpy(&kite_emu_tmm.data[c][m][4 * n], &acc, 4);
        }
}

static inline void kite_emu_tile_release(void) { memset(&kite_emu_tmm, 0, sizeof kite_emu_tmm); }

#undef _tile_loadconfig
#undef _tile_loadd
#undef _tile_stored
#undef _tile_zero
#undef _tile_dpbssd
#undef _tile_release
#define _tile_loadconfig(config) kite_emu_tile_loadconfig(config)
#define _tile_loadd(t, base, stride) kite_emu_tile_loadd((t), (base), (long)(stride))
#define _tile_stored(t, base, stride) kite_emu_tile_stored((t), (base), (long)(stride))
#define _tile_zero(t) kite_emu_tile_zero(t)
#define _tile_dpbssd(c, a, b) kite_emu_tile_dpbssd((c), (a), (b))
#define _tile_release() kite_emu_tile_release()
#endif

#endif
