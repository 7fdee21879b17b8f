// test_x86_emulate.c - src/kernels/x86_emulate.h (the emulated instructions of the test build
// native-x86emu) gives the instructions' own results, wherever the host has the real ones to
// compare with: its VPDPBUSD against AVX512-VNNI's (the same operation in EVEX form) on random
// bytes, the extremes and int32 wrap-around; its AMX tiles (LDTILECFG, TILELOADD with strides,
// TILEZERO, TDPBSSD accumulating, TILESTORED, partial shapes) against the tile unit on an AMX
// host. Where the host lacks one, that part is skipped (the emulated kernel sets are then
// checked only against _ref, by test_kernels in native-x86emu).
#define _GNU_SOURCE // syscall()
#include <stdint.h>
#include <string.h>

#include "check.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#include <immintrin.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

// ---- the real instructions, called only where the host has them ------------------------------

__attribute__((target("avx2,avx512f,avx512vl,avx512vnni"))) static void real_dpbusd(const int32_t *s, const uint8_t *u,
                                                                                     const int8_t *v, int32_t *out) {
    const __m256i r = _mm256_dpbusd_epi32(_mm256_loadu_si256((const __m256i *)s), _mm256_loadu_si256((const __m256i *)u),
                                          _mm256_loadu_si256((const __m256i *)v));
    _mm256_storeu_si256((__m256i *)out, r);
}

// One tile program: config cfg (64 bytes); C (tile 0) from c_in, then twice C += A (tile 1,
// from a with stride as) x B (tile 2, from b with stride bs), the second time with tile 3 (a
// zeroed tile) also multiplied in; C stored to c_out with stride 64 * 4.
#define TILE_PROGRAM(cfg, c_in, a, as, b, bs, c_out) \
    do {                                             \
        __asm__ volatile("" : : "r"(cfg) : "memory"); \
        _tile_loadconfig(cfg);                       \
        _tile_loadd(0, (c_in), 64);                  \
        _tile_loadd(1, (a), (as));                   \
        _tile_loadd(2, (b), (bs));                   \
        _tile_zero(3);                               \
        _tile_dpbssd(0, 1, 2);                       \
        _tile_dpbssd(0, 1, 2);                       \
        _tile_dpbssd(0, 1, 3);                       \
        _tile_stored(0, (c_out), 64);                \
        _tile_release();                             \
    } while (0)

__attribute__((target("amx-tile,amx-int8"))) static void real_tiles(const uint8_t *cfg, const void *c_in, const int8_t *a,
                                                                   int as, const int8_t *b, int bs, void *c_out) {
    TILE_PROGRAM(cfg, c_in, a, as, b, bs, c_out);
}

// AMX in CPUID (leaf 7: EDX 24 tile, 25 int8), the OS saving its state (XCR0 bits 17-18) and
// Linux granting this process the tile data (arch_prctl ARCH_REQ_XCOMP_PERM).
static int host_has_amx(void) {
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    if (!((d >> 24) & 1) || !((d >> 25) & 1)) return 0;
    __get_cpuid(1, &a, &b, &c, &d);
    if (!((c >> 27) & 1)) return 0; // OSXSAVE
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0x60000) != 0x60000) return 0;
#if defined(__linux__)
    return syscall(SYS_arch_prctl, 0x1023, 18) == 0;
#else
    return 0;
#endif
}

static int host_has_avx512_vnni(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

// ---- the emulation (the same tile program through x86_emulate.h's macros) -----------------------
#define KITE_EMULATE_AVXVNNI 1
#define KITE_EMULATE_AMX 1
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2")
#endif
#include "kernels/x86_emulate.h"

static void emu_dpbusd(const int32_t *s, const uint8_t *u, const int8_t *v, int32_t *out) {
    const __m256i r = _mm256_dpbusd_avx_epi32(_mm256_loadu_si256((const __m256i *)s), _mm256_loadu_si256((const __m256i *)u),
                                              _mm256_loadu_si256((const __m256i *)v));
    _mm256_storeu_si256((__m256i *)out, r);
}
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

static void emu_tiles(const uint8_t *cfg, const void *c_in, const int8_t *a, int as, const int8_t *b, int bs, void *c_out) {
    TILE_PROGRAM(cfg, c_in, a, as, b, bs, c_out);
}

// ---- checks ---------------------------------------------------------------------------------------

static void check_dpbusd(void) {
    for (int it = 0; it < 20000; it++) {
        int32_t s[8], want[8], got[8];
        uint8_t u[32];
        int8_t v[32];
        const int mode = it % 5; // random; all extremes; random near the int32 ends (wrap)
        for (int i = 0; i < 32; i++) {
            u[i] = (uint8_t)(mode == 1 ? 255 : mode == 2 ? (i & 1 ? 255 : 0) : rnd());
            v[i] = (int8_t)(mode == 1 ? (i & 2 ? -128 : 127) : mode == 2 ? -128 : (int)rnd());
        }
        for (int i = 0; i < 8; i++) {
            const uint32_t r = rnd();
            s[i] = mode == 3 ? INT32_MAX - (int32_t)(r % 200000) : mode == 4 ? INT32_MIN + (int32_t)(r % 200000) : (int32_t)r;
        }
        real_dpbusd(s, u, v, want);
        emu_dpbusd(s, u, v, got);
        if (memcmp(want, got, sizeof want) != 0) {
            CHECK(0, "VPDPBUSD case %d (mode %d): emulated lane 0 %d, AVX512-VNNI %d", it, mode, got[0], want[0]);
            return;
        }
    }
    CHECK(1, "VPDPBUSD");
}

// A tile configuration: C rows x c_cols bytes, A rows x k bytes, B k/4 x c_cols bytes, tile 3
// as B (zeroed); the other tiles unconfigured.
static void make_cfg(uint8_t cfg[64], int rows, int k, int c_cols) {
    memset(cfg, 0, 64);
    cfg[0] = 1; // palette 1
    const int colsb[4] = {c_cols, k, c_cols, c_cols}, nrows[4] = {rows, rows, k / 4, k / 4};
    for (int t = 0; t < 4; t++) {
        cfg[16 + 2 * t] = (uint8_t)colsb[t], cfg[17 + 2 * t] = (uint8_t)(colsb[t] >> 8);
        cfg[48 + t] = (uint8_t)nrows[t];
    }
}

static void check_tiles(void) {
    static const int shapes[][3] = {{16, 64, 64}, {16, 4, 64}, {16, 32, 64}, {7, 64, 64}, {16, 64, 20}, {3, 12, 8}, {1, 64, 4}};
    static int8_t a[16 * 200], b[16 * 200];
    static int32_t c_in[16 * 16], want[16 * 16], got[16 * 16];
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++)
        for (int rep = 0; rep < 50; rep++) {
            const int rows = shapes[sh][0], k = shapes[sh][1], cc = shapes[sh][2];
            const int as = k + 4 * (rep % 3), bs = cc + 8 * (rep % 2);
            uint8_t cfg[64] __attribute__((aligned(64)));
            make_cfg(cfg, rows, k, cc);
            for (size_t i = 0; i < sizeof a; i++) a[i] = (int8_t)(rep == 0 ? -128 : (int)rnd());
            for (size_t i = 0; i < sizeof b; i++) b[i] = (int8_t)(rep == 0 ? -128 : rep == 1 ? 127 : (int)rnd());
            for (int i = 0; i < 16 * 16; i++) c_in[i] = rep == 2 ? INT32_MAX - 5 : (int32_t)rnd();
            memset(want, 0x5a, sizeof want), memset(got, 0x5a, sizeof got); // bytes outside C stay
            real_tiles(cfg, c_in, a, as, b, bs, want);
            emu_tiles(cfg, c_in, a, as, b, bs, got);
            if (memcmp(want, got, sizeof want) != 0) {
                CHECK(0, "AMX tiles, C %d x %d bytes, K %d, strides %d / %d, case %d: emulated C[0][0] %d, tile unit %d", rows,
                      cc, k, as, bs, rep, got[0], want[0]);
                return;
            }
        }
    CHECK(1, "AMX tiles");
}
#endif

int main(void) {
#if defined(__x86_64__) || defined(_M_X64)
    if (host_has_avx512_vnni())
        check_dpbusd();
    else
        fprintf(stderr, "skip: no AVX512-VNNI on this host to check the emulated VPDPBUSD against\n");
    if (host_has_amx())
        check_tiles();
    else
        fprintf(stderr, "skip: no AMX on this host to check the emulated tiles against\n");
#else
    fprintf(stderr, "skip: not x86\n");
#endif
    return check_done("test_x86_emulate");
}
