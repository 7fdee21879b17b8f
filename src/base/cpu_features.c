// cpu_features.c - which x86 vector extensions this CPU and OS run (CPUID + XGETBV), for the
// modules that pick an ISA set at run time (kernels/dispatch.c, quant/quant_search_dispatch.c).
#include "base/internal.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

// The OS must save the wider registers across context switches (XCR0), not only the CPU
// support them: a CPUID bit alone can lie in a VM or on an old kernel.
static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

void kite__cpu_x86_features(bool *avx2, bool *avx512) {
    unsigned a, b, c, d;
    *avx2 = *avx512 = false;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    bool osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
    if (!osxsave) return;
    uint64_t xcr0 = xgetbv0();
    bool ymm_ok = (xcr0 & 0x6) == 0x6;   // SSE + AVX state
    bool zmm_ok = (xcr0 & 0xe6) == 0xe6; // plus opmask, ZMM_Hi256, Hi16_ZMM
    if (__get_cpuid_max(0, NULL) < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    bool has_avx2 = (b >> 5) & 1;
    bool f = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
    bool vnni = (c >> 11) & 1;
    *avx2 = ymm_ok && has_avx2 && fma && f16c;
    *avx512 = *avx2 && zmm_ok && f && dq && bw && vl && vnni;
}

bool kite__cpu_x86_avxvnni(void) {
    bool avx2, avx512;
    kite__cpu_x86_features(&avx2, &avx512);
#ifdef KITE_X86_EMULATE
    return avx2; // a test build: the set runs on x86_emulate.h's VPDPBUSD
#endif
    unsigned last, a, b, c, d; // leaf 7, sub-leaf 0 gives the last sub-leaf; AVX-VNNI is sub-leaf 1's EAX bit 4
    return avx2 && __get_cpuid_count(7, 0, &last, &b, &c, &d) && last >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d) &&
           ((a >> 4) & 1);
}

bool kite__cpu_x86_amx(void) {
    bool avx2, avx512;
    kite__cpu_x86_features(&avx2, &avx512);
    if (!avx512) return false;
    unsigned a, b, c, d;
    __cpuid_count(7, 0, a, b, c, d);
    bool tile = (d >> 24) & 1, int8 = (d >> 25) & 1, vbmi = (c >> 1) & 1;
#ifdef KITE_X86_EMULATE
    return vbmi; // a test build: the set runs on x86_emulate.h's tiles
#endif
    if (!tile || !int8 || !vbmi || (xgetbv0() & 0x60000) != 0x60000) return false; // XTILECFG + XTILEDATA
#if defined(__linux__)
    // Linux hands the 8 KB tile state to a process only on request (ARCH_REQ_XCOMP_PERM for
    // XFEATURE_XTILEDATA); the request covers every thread, present and future.
    return syscall(SYS_arch_prctl, 0x1023, 18) == 0;
#else
    return false;
#endif
}
#else
void kite__cpu_x86_features(bool *avx2, bool *avx512) { *avx2 = *avx512 = false; }
bool kite__cpu_x86_avxvnni(void) { return false; }
bool kite__cpu_x86_amx(void) { return false; }
#endif
