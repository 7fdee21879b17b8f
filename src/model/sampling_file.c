// sampling_file.c - the GGUF file's recommended sampling (general.sampling.*) as defaults.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kite_model.h"

typedef struct sampling_key {
    uint32_t bit;
    const char *key;
    bool is_int;
    double lo, hi; // the range kite run's flag takes (a float's bounds as the float it compares with)
} sampling_key;

static const sampling_key KEYS[] = {
    {KITE_SAMPLING_TEMP, "general.sampling.temp", false, 0, (float)KITE_SAMPLER_MAX_TEMP},
    {KITE_SAMPLING_TOP_K, "general.sampling.top_k", true, 0, KITE_SAMPLER_MAX_TOP_K},
    {KITE_SAMPLING_TOP_P, "general.sampling.top_p", false, 0, 1},
    {KITE_SAMPLING_MIN_P, "general.sampling.min_p", false, 0, 1},
    {KITE_SAMPLING_REPEAT_PENALTY, "general.sampling.penalty_repeat", false, (float)KITE_SAMPLER_MIN_REPEAT_PENALTY,
     (float)KITE_SAMPLER_MAX_REPEAT_PENALTY},
    {KITE_SAMPLING_PENALTY_LAST_N, "general.sampling.penalty_last_n", true, 0, KITE_SAMPLER_MAX_PENALTY_LAST_N},
    {KITE_SAMPLING_XTC_PROBABILITY, "general.sampling.xtc_probability", false, 0, 1},
    {KITE_SAMPLING_XTC_THRESHOLD, "general.sampling.xtc_threshold", false, 0, 1},
    {KITE_SAMPLING_MIROSTAT, "general.sampling.mirostat", true, 0, 2},
    {KITE_SAMPLING_MIROSTAT_TAU, "general.sampling.mirostat_tau", false, 0, (float)KITE_SAMPLER_MAX_MIROSTAT_TAU},
    {KITE_SAMPLING_MIROSTAT_ETA, "general.sampling.mirostat_eta", false, 0, 1},
};

// Appends "; " (after the first) and a formatted note to warn, truncating at warn_len.
static void note(char *warn, size_t warn_len, const char *key, const char *what) {
    if (!warn || !warn_len) return;
    size_t n = strlen(warn);
    if (n + 1 >= warn_len) return;
    snprintf(warn + n, warn_len - n, "%s%s %s", n ? "; " : "", key, what);
}

// The setting of p that bit names.
static void set(kite_sampler_params *p, uint32_t bit, double v) {
    switch (bit) {
    case KITE_SAMPLING_TEMP: p->temp = (float)v; break;
    case KITE_SAMPLING_TOP_K: p->top_k = (int32_t)v; break;
    case KITE_SAMPLING_TOP_P: p->top_p = (float)v; break;
    case KITE_SAMPLING_MIN_P: p->min_p = (float)v; break;
    case KITE_SAMPLING_REPEAT_PENALTY: p->repeat_penalty = (float)v; break;
    case KITE_SAMPLING_XTC_PROBABILITY: p->xtc_probability = (float)v; break;
    case KITE_SAMPLING_XTC_THRESHOLD: p->xtc_threshold = (float)v; break;
    case KITE_SAMPLING_MIROSTAT: p->mirostat = (int32_t)v; break;
    case KITE_SAMPLING_MIROSTAT_TAU: p->mirostat_tau = (float)v; break;
    case KITE_SAMPLING_MIROSTAT_ETA: p->mirostat_eta = (float)v; break;
    default: p->penalty_last_n = (int32_t)v; break;
    }
}

uint32_t kite_sampling_from_file(const kite_gguf *g, uint32_t given, kite_sampler_params *p, char *warn,
                                 size_t warn_len) {
    if (warn && warn_len) warn[0] = 0;
    uint32_t applied = 0;
    for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++) {
        const sampling_key *k = &KEYS[i];
        if ((given & k->bit) || !kite_gguf_find(g, k->key)) continue;
        double v;
        char what[96];
        if (k->is_int) {
            int64_t x;
            if (!kite_gguf_get_i64(g, k->key, &x)) {
                note(warn, warn_len, k->key, "is not an integer: ignored");
                continue;
            }
            v = (double)x;
            snprintf(what, sizeof what, "%lld is not in [%.0f, %.0f]: ignored", (long long)x, k->lo, k->hi);
        } else {
            float x;
            if (!kite_gguf_get_f32(g, k->key, &x)) {
                note(warn, warn_len, k->key, "is not a float: ignored");
                continue;
            }
            v = x;
            snprintf(what, sizeof what, "%g is not in [%g, %g]: ignored", v, k->lo, k->hi);
        }
        // !(a <= b) also catches NaN
        if (!(v >= k->lo && v <= k->hi)) {
            note(warn, warn_len, k->key, what);
            continue;
        }
        set(p, k->bit, v);
        applied |= k->bit;
    }
    return applied;
}
