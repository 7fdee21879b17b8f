// internal.h - helpers shared across the core's files (not part of the public API).
#ifndef KITE_BASE_INTERNAL_H
#define KITE_BASE_INTERNAL_H

#include "base/kite_base.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// Sets this thread's error message (printf-style) and returns s, so callers can write
// `return kite__fail(KITE_ERR_INVALID, "tensor %s: ...", name);`. The core's name for the
// public kite_set_error (kite_base.h).
kite_status kite__fail(kite_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

// Logs through the host's sink if one is installed.
void kite__log(kite_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

// Programmer invariants only: hostile input must never reach one of these.
_Noreturn void kite__assert_fail(const char *expr, const char *file, int line);
#define KITE_ASSERT(x) ((x) ? (void)0 : kite__assert_fail(#x, __FILE__, __LINE__))

// Propagates a non-OK status.
#define KITE_TRY(expr)                    \
    do {                                  \
        kite_status kite__s = (expr);     \
        if (kite__s != KITE_OK) return kite__s; \
    } while (0)

// x86: whether the CPU and OS run AVX2 (+FMA, F16C) and AVX-512 (F, BW, VL, DQ, VNNI); both
// false elsewhere.
void kite__cpu_x86_features(bool *avx2, bool *avx512);

// x86: whether the CPU runs AVX-VNNI (the VEX-encoded vpdpbusd of Alder Lake and later) with AVX2;
// false elsewhere.
bool kite__cpu_x86_avxvnni(void);

// x86: whether the CPU runs AMX-TILE + AMX-INT8 (with AVX-512 and VBMI) and the OS lets this process use
// the tile registers (on Linux this call asks for them); false elsewhere.
bool kite__cpu_x86_amx(void);

// Whether the C string s ends with suffix.
static inline bool kite__ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

#define KITE_MIN(a, b) ((a) < (b) ? (a) : (b))
#define KITE_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
