// stop.c - stop-string matching over streamed text: release what cannot start a stop string.
#include "sampler/kite_sampler.h"

#include <string.h>

// Offset of the first occurrence of needle (n bytes) in hay (len bytes), or len if none.
static size_t find(const char *hay, size_t len, const char *needle, size_t n) {
    for (size_t i = 0; i + n <= len; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, n) == 0) return i;
    return len;
}

kite_stop_result kite_stop_match(const char *text, size_t len, const char *const *stops, size_t n_stops) {
    kite_stop_result r = {len, false};
    if (!text) return (kite_stop_result){0, false};
    // A completed stop string: cut at the earliest one.
    for (size_t k = 0; k < n_stops; k++) {
        if (!stops || !stops[k] || !stops[k][0]) continue;
        size_t at = find(text, len, stops[k], strlen(stops[k]));
        if (at < len && (!r.stopped || at < r.n_release)) {
            r.n_release = at;
            r.stopped = true;
        }
    }
    if (r.stopped) return r;
    // Otherwise hold back the longest tail that some stop string starts with.
    size_t hold = 0;
    for (size_t k = 0; k < n_stops; k++) {
        if (!stops || !stops[k]) continue;
        size_t n = strlen(stops[k]);
        size_t most = n - (n > 0); // a full match was handled above
        if (most > len) most = len;
        for (size_t t = most; t > hold; t--) {
            if (memcmp(text + len - t, stops[k], t) == 0) {
                hold = t;
                break;
            }
        }
    }
    r.n_release = len - hold;
    return r;
}
