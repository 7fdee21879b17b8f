// json_schema_integer.c - integer schemas: their bounds (minimum, maximum, the exclusive ones)
// and the digit rules that keep a number inside them (llama.cpp's build_min_max_int).
#include "base/internal.h"
#include "grammar/json_schema_internal.h"

#include <stdio.h>

static void digit_range(kite_buf *o, char from, char to) {
    char t[8];
    if (from == to) snprintf(t, sizeof t, "[%c]", from);
    else snprintf(t, sizeof t, "[%c-%c]", from, to);
    kite_buf_puts(o, t);
}

static void more_digits(kite_buf *o, int min_d, int max_d) {
    char t[48];
    kite_buf_puts(o, "[0-9]");
    if (min_d == max_d && min_d == 1) return;
    if (max_d == min_d) snprintf(t, sizeof t, "{%d}", min_d);
    else if (max_d != INT32_MAX) snprintf(t, sizeof t, "{%d,%d}", min_d, max_d);
    else snprintf(t, sizeof t, "{%d,}", min_d);
    kite_buf_puts(o, t);
}

static void repeat_char(char *out, char ch, size_t n) {
    memset(out, ch, n);
    out[n] = 0;
}

static void uniform_range(kite_buf *o, const char *from, const char *to) {
    size_t fl = strlen(from), tl = strlen(to), i = 0;
    while (i < fl && i < tl && from[i] == to[i]) i++;
    if (i > 0) {
        kite_buf_puts(o, "\"");
        kite_buf_append(o, from, i);
        kite_buf_puts(o, "\"");
    }
    if (i < fl && i < tl) {
        if (i > 0) kite_buf_puts(o, " ");
        size_t sub_len = fl - i - 1;
        if (sub_len > 0) {
            const char *from_sub = from + i + 1, *to_sub = to + i + 1;
            char zeros[32], nines[32];
            repeat_char(zeros, '0', sub_len);
            repeat_char(nines, '9', sub_len);
            bool to_reached = false;
            kite_buf_puts(o, "(");
            if (strcmp(from_sub, zeros) == 0) {
                digit_range(o, from[i], (char)(to[i] - 1));
                kite_buf_puts(o, " ");
                more_digits(o, (int)sub_len, (int)sub_len);
            } else {
                char t[8];
                snprintf(t, sizeof t, "[%c] ", from[i]);
                kite_buf_puts(o, t);
                kite_buf_puts(o, "(");
                uniform_range(o, from_sub, nines);
                kite_buf_puts(o, ")");
                if (from[i] < to[i] - 1) {
                    kite_buf_puts(o, " | ");
                    if (strcmp(to_sub, nines) == 0) {
                        digit_range(o, (char)(from[i] + 1), to[i]);
                        to_reached = true;
                    } else {
                        digit_range(o, (char)(from[i] + 1), (char)(to[i] - 1));
                    }
                    kite_buf_puts(o, " ");
                    more_digits(o, (int)sub_len, (int)sub_len);
                }
            }
            if (!to_reached) {
                kite_buf_puts(o, " | ");
                digit_range(o, to[i], to[i]);
                kite_buf_puts(o, " ");
                uniform_range(o, zeros, to_sub);
            }
            kite_buf_puts(o, ")");
        } else {
            char t[16];
            snprintf(t, sizeof t, "[%c-%c]", from[i], to[i]);
            kite_buf_puts(o, t);
        }
    }
}

// The alternatives of the integers min_v..max_v (INT64_MIN / INT64_MAX: unbounded) with at most
// decimals_left digits (llama.cpp's build_min_max_int).
static void min_max_int(kite_buf *o, int64_t min_v, int64_t max_v, int decimals_left, bool top_level) {
    bool has_min = min_v != INT64_MIN, has_max = max_v != INT64_MAX;
    char t[64];
    if (has_min && has_max) {
        if (min_v < 0 && max_v < 0) {
            kite_buf_puts(o, "\"-\" (");
            min_max_int(o, -max_v, -min_v, decimals_left, true);
            kite_buf_puts(o, ")");
            return;
        }
        if (min_v < 0) {
            kite_buf_puts(o, "\"-\" (");
            min_max_int(o, 0, -min_v, decimals_left, true);
            kite_buf_puts(o, ") | ");
            min_v = 0;
        }
        char min_s[32], max_s[32];
        snprintf(min_s, sizeof min_s, "%lld", (long long)min_v);
        snprintf(max_s, sizeof max_s, "%lld", (long long)max_v);
        size_t min_d = strlen(min_s), max_d = strlen(max_s);
        for (size_t d = min_d; d < max_d; d++) {
            char nines[32];
            repeat_char(nines, '9', d);
            uniform_range(o, min_s, nines);
            min_s[0] = '1';
            repeat_char(min_s + 1, '0', d);
            kite_buf_puts(o, " | ");
        }
        uniform_range(o, min_s, max_s);
        return;
    }
    int less_decimals = decimals_left - 1 > 1 ? decimals_left - 1 : 1;
    if (has_min) {
        if (min_v < 0) {
            kite_buf_puts(o, "\"-\" (");
            min_max_int(o, INT64_MIN, -min_v, decimals_left, false);
            kite_buf_puts(o, ") | [0] | [1-9] ");
            more_digits(o, 0, decimals_left - 1);
        } else if (min_v == 0) {
            if (top_level) {
                kite_buf_puts(o, "[0] | [1-9] ");
                more_digits(o, 0, less_decimals);
            } else {
                more_digits(o, 1, decimals_left);
            }
        } else if (min_v <= 9) {
            char ch = (char)('0' + min_v);
            char start = top_level ? '1' : '0';
            if (ch > start) {
                digit_range(o, start, (char)(ch - 1));
                kite_buf_puts(o, " ");
                more_digits(o, 1, less_decimals);
                kite_buf_puts(o, " | ");
            }
            digit_range(o, ch, '9');
            kite_buf_puts(o, " ");
            more_digits(o, 0, less_decimals);
        } else {
            snprintf(t, sizeof t, "%lld", (long long)min_v);
            int len = (int)strlen(t);
            char ch = t[0];
            if (ch > '1') {
                digit_range(o, top_level ? '1' : '0', (char)(ch - 1));
                kite_buf_puts(o, " ");
                more_digits(o, len, less_decimals);
                kite_buf_puts(o, " | ");
            }
            digit_range(o, ch, ch);
            kite_buf_puts(o, " (");
            min_max_int(o, strtoll(t + 1, NULL, 10), INT64_MAX, less_decimals, false);
            kite_buf_puts(o, ")");
            if (ch < '9') {
                kite_buf_puts(o, " | ");
                digit_range(o, (char)(ch + 1), '9');
                kite_buf_puts(o, " ");
                more_digits(o, len - 1, less_decimals);
            }
        }
        return;
    }
    if (has_max) {
        if (max_v >= 0) {
            if (top_level) {
                kite_buf_puts(o, "\"-\" [1-9] ");
                more_digits(o, 0, less_decimals);
                kite_buf_puts(o, " | ");
            }
            min_max_int(o, 0, max_v, decimals_left, true);
        } else {
            kite_buf_puts(o, "\"-\" (");
            min_max_int(o, -max_v, INT64_MAX, decimals_left, false);
            kite_buf_puts(o, ")");
        }
    }
}

char *kite__js_visit_integer(conv *c, const kite__jval *s, const char *rule_name, const char *path) {
    int64_t min = INT64_MIN, max = INT64_MAX;
    const kite__jval *v;
    if ((v = kite__js_get(s, "minimum"))) {
        if (!kite__js_get_bound(c, v, "minimum", path, true, &min)) return NULL;
    } else if ((v = kite__js_get(s, "exclusiveMinimum"))) {
        if (!kite__js_get_bound(c, v, "exclusiveMinimum", path, false, &min)) return NULL;
        min++;
    }
    if ((v = kite__js_get(s, "maximum"))) {
        if (!kite__js_get_bound(c, v, "maximum", path, false, &max)) return NULL;
    } else if ((v = kite__js_get(s, "exclusiveMaximum"))) {
        if (!kite__js_get_bound(c, v, "exclusiveMaximum", path, true, &max)) return NULL;
        max--;
    }
    if (min != INT64_MIN && max != INT64_MAX && max < min) {
        kite__js_fail(c, path, "no integer lies between the minimum and the maximum");
        return NULL;
    }
    if (min == INT64_MIN && max == INT64_MAX) return kite__js_visit_primitive(c, rule_name, "integer");
    kite_buf b = {0};
    kite_buf_puts(&b, "(");
    min_max_int(&b, min, max, 16, true);
    kite_buf_puts(&b, ")");
    return kite__js_name_body(c, rule_name, kite__js_take(&b));
}
