// tensor_pattern.h - the regular expressions of --tensor-type overrides (internal to src/quant).
// llama-quantize matches them with std::regex_search (ECMAScript grammar); this is the subset a
// tensor-name pattern needs, with the same match results, and errors instead of surprises.
#ifndef KITE_QUANT_TENSOR_PATTERN_H
#define KITE_QUANT_TENSOR_PATTERN_H

#include <stddef.h>

#include "base/kite_base.h"

typedef struct kite__pattern kite__pattern;

// Compiles an ECMAScript-style pattern: literals, '.', classes [a-z] [^...], escapes \d \w \s
// \D \W \S \b \B and escaped punctuation, anchors ^ $, groups (...) (?:...), alternation |,
// quantifiers * + ? {n} {n,} {n,m} (a trailing ? for lazy is accepted: it cannot change
// whether a search matches). Back-references and look-arounds are refused. On error returns
// KITE_ERR_INVALID with a message quoting the pattern and the problem; *out is NULL.
kite_status kite__pattern_compile(const char *src, kite__pattern **out);

// 1 if the pattern matches somewhere in s (regex_search), 0 if not, -1 if the search gave up
// (pathological backtracking; the caller reports it).
int kite__pattern_search(const kite__pattern *p, const char *s);

void kite__pattern_free(kite__pattern *p);

#endif
