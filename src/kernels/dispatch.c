// dispatch.c - picks the kernel set once per process: CPUID + XGETBV on x86 (AMX > AVX-512 >
// AVX-VNNI > AVX2 > scalar), NEON on aarch64, SIMD128 in wasm (compile time); KITE_FORCE_SCALAR=1 forces scalar,
// KITE_ISA=NAME another set the host runs.
#include "kernels/kernels_internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"

#if defined(__x86_64__) || defined(_M_X64)
#define KITE_X86 1
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

enum { MAX_SETS = 5 }; // scalar + at most four ISA sets per architecture

static kite__kernels g_sets[MAX_SETS];
static int g_count;
static _Atomic(const kite__kernels *) g_active;
static atomic_int g_state; // 0 = not built, 1 = building, 2 = ready

static void add_set(void (*fill)(kite__kernels *)) {
    kite__kernels *k = &g_sets[g_count++];
    *k = g_sets[0]; // start from scalar; the ISA overrides what it accelerates
    fill(k);
}

static void build_sets(void) {
    kite__kernels_fill_ref(&g_sets[0]);
    g_count = 1;
#ifdef KITE_X86
    bool avx2, avx512;
    kite__cpu_x86_features(&avx2, &avx512);
    if (avx2) add_set(kite__kernels_fill_avx2);
    if (avx2 && kite__cpu_x86_avxvnni()) add_set(kite__kernels_fill_avxvnni);
    if (avx512) add_set(kite__kernels_fill_avx512);
    if (avx512 && kite__cpu_x86_amx()) add_set(kite__kernels_fill_amx);
#elif defined(__aarch64__)
    // the NEON file uses SDOT (ARMv8.2 dotprod): ask the kernel where we can, else assume it
    // (every 64-bit Apple and recent Android/server core has it)
#if defined(__linux__)
    if (getauxval(AT_HWCAP) & (1UL << 20)) // HWCAP_ASIMDDP
#endif
        add_set(kite__kernels_fill_neon);
#elif defined(__wasm_relaxed_simd__)
    add_set(kite__kernels_fill_wasm_relaxed); // a relaxed build has this one wasm set, as before
#elif defined(__wasm_simd128__)
    add_set(kite__kernels_fill_wasm);
#endif
    const char *force = getenv("KITE_FORCE_SCALAR");
    bool scalar = force && *force && strcmp(force, "0") != 0;
    const kite__kernels *pick = scalar ? &g_sets[0] : &g_sets[g_count - 1];
    // KITE_ISA=NAME picks a lower set the host also runs (e.g. avx512 on an AMX host, to measure
    // what hosts without AMX get); a name the host lacks leaves the default
    const char *want = getenv("KITE_ISA");
    for (int i = 0; want && !scalar && i < g_count; i++)
        if (strcmp(g_sets[i].isa, want) == 0) pick = &g_sets[i];
    atomic_store(&g_active, pick);
}

// Builds the sets exactly once, even when several threads arrive together.
static void ensure_sets(void) {
    if (atomic_load_explicit(&g_state, memory_order_acquire) == 2) return;
    int expected = 0;
    if (atomic_compare_exchange_strong(&g_state, &expected, 1)) {
        build_sets();
        atomic_store_explicit(&g_state, 2, memory_order_release);
    } else {
        while (atomic_load_explicit(&g_state, memory_order_acquire) != 2) {
        }
    }
}

const kite__kernels *kite__kernels_active(void) {
    ensure_sets();
    return atomic_load_explicit(&g_active, memory_order_acquire);
}

const kite__kernels *kite__kernels_get(const char *isa) {
    ensure_sets();
    for (int i = 0; i < g_count; i++)
        if (strcmp(g_sets[i].isa, isa) == 0) return &g_sets[i];
    return NULL;
}

const char *kite_kernels_isa(void) { return kite__kernels_active()->isa; }

kite_attend_fn kite_kernels_attend(void) { return kite__kernels_active()->attend; }

int kite_kernels_isa_count(void) {
    ensure_sets();
    return g_count;
}

const char *kite_kernels_isa_name(int i) {
    ensure_sets();
    return i >= 0 && i < g_count ? g_sets[i].isa : NULL;
}

kite_status kite_kernels_set_isa(const char *name) {
    const kite__kernels *k = name ? kite__kernels_get(name) : NULL;
    if (!k) return kite__fail(KITE_ERR_UNSUPPORTED, "kernel set '%s' is not available on this host", name ? name : "(null)");
    atomic_store(&g_active, k);
    return KITE_OK;
}

kite_type kite__dot_partner(kite_type wtype) {
    switch (wtype) {
    case KITE_TYPE_F32: return KITE_TYPE_F32;
    case KITE_TYPE_F16: return KITE_TYPE_F16;
    case KITE_TYPE_BF16: return KITE_TYPE_BF16;
    case KITE_TYPE_Q4_0: case KITE_TYPE_Q5_0: case KITE_TYPE_Q8_0: case KITE_TYPE_IQ4_NL: case KITE_TYPE_MXFP4:
        return KITE_TYPE_Q8_0;
    case KITE_TYPE_Q4_1: case KITE_TYPE_Q5_1: return KITE_TYPE_Q8_1;
    case KITE_TYPE_Q2_K: case KITE_TYPE_Q3_K: case KITE_TYPE_Q4_K: case KITE_TYPE_Q5_K: case KITE_TYPE_Q6_K:
    case KITE_TYPE_IQ4_XS: case KITE_TYPE_IQ2_XXS: case KITE_TYPE_IQ2_XS: case KITE_TYPE_IQ2_S: case KITE_TYPE_IQ3_XXS:
    case KITE_TYPE_IQ3_S: case KITE_TYPE_IQ1_S: case KITE_TYPE_IQ1_M: case KITE_TYPE_TQ1_0: case KITE_TYPE_TQ2_0:
        return KITE_TYPE_Q8_K;
    default: return KITE_TYPE_COUNT;
    }
}
