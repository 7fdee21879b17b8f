// imatrix_stats.h - llama-imatrix --show-statistics: per weight, statistics of its mean squared
// activations (sum, min, max, mean, deviation, share of active columns, entropy, share above one
// deviation, cosine similarity with the same weight one layer down), then their weighted means
// per layer.
#ifndef KITE_NATIVE_IMATRIX_STATS_H
#define KITE_NATIVE_IMATRIX_STATS_H

#include <stdbool.h>
#include <stdio.h>

#include "imatrix_collect.h"

// Prints the statistics of the matrix in c (as read from file, whose name heads the table) to
// out, with llama-imatrix's columns, order and number formats. false with a message in err when
// no weight has any activations.
bool imatrix_print_statistics(const imatrix_collector *c, const char *file, FILE *out, char *err, size_t err_len);

#endif
