// quant_search_dispatch.c - picks the quantizers' search set once per process: AVX-512 > AVX2 >
// scalar on x86 (base/cpu_features.c), NEON on aarch64, SIMD128 in wasm (compile time: every
// aarch64 CPU has NEON, every wasm build is a SIMD128 one), scalar elsewhere;
// KITE_FORCE_SCALAR=1 forces scalar, as for the compute kernels.
#include "quant/quant_search.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"

#if defined(__x86_64__) || defined(_M_X64)
#define KITE_QUANT_X86 1
extern const kite__quant_search kite__quant_search_avx2;
extern const kite__quant_search kite__quant_search_avx512;
#elif defined(__aarch64__)
#define KITE_QUANT_NEON 1
extern const kite__quant_search kite__quant_search_neon;
#elif defined(__wasm__) && !defined(__wasm64__) // (wasm64: scalar, see quant_search_wasm.c)
#define KITE_QUANT_WASM 1
extern const kite__quant_search kite__quant_search_wasm;
#endif

static _Atomic(const kite__quant_search *) g_active;

// The widest set this CPU runs (ignores KITE_FORCE_SCALAR).
static const kite__quant_search *widest(void) {
#ifdef KITE_QUANT_X86
    bool avx2, avx512;
    kite__cpu_x86_features(&avx2, &avx512);
    if (avx512) return &kite__quant_search_avx512;
    if (avx2) return &kite__quant_search_avx2;
#elif defined(KITE_QUANT_NEON)
    return &kite__quant_search_neon;
#elif defined(KITE_QUANT_WASM)
    return &kite__quant_search_wasm;
#endif
    return &kite__quant_search_ref;
}

const kite__quant_search *kite__quant_search_active(void) {
    const kite__quant_search *s = atomic_load_explicit(&g_active, memory_order_acquire);
    if (s) return s;
    // racing threads compute the same answer, so a plain store is enough
    const char *force = getenv("KITE_FORCE_SCALAR");
    bool scalar = force && *force && strcmp(force, "0") != 0;
    s = scalar ? &kite__quant_search_ref : widest();
    atomic_store_explicit(&g_active, s, memory_order_release);
    return s;
}

const kite__quant_search *kite__quant_search_get(const char *isa) {
    if (!strcmp(isa, "scalar")) return &kite__quant_search_ref;
#ifdef KITE_QUANT_X86
    bool avx2, avx512;
    kite__cpu_x86_features(&avx2, &avx512);
    if (!strcmp(isa, "avx2") && avx2) return &kite__quant_search_avx2;
    if (!strcmp(isa, "avx512") && avx512) return &kite__quant_search_avx512;
#elif defined(KITE_QUANT_NEON)
    if (!strcmp(isa, "neon")) return &kite__quant_search_neon;
#elif defined(KITE_QUANT_WASM)
    if (!strcmp(isa, "wasm")) return &kite__quant_search_wasm;
#endif
    return NULL;
}
