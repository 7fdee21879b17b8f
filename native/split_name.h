// split_name.h - the file names of a split set (llama-gguf-split's, llama.cpp's
// llama_split_path): PREFIX-00001-of-0000N.gguf .. PREFIX-0000N-of-0000N.gguf.
#ifndef KITE_NATIVE_SPLIT_NAME_H
#define KITE_NATIVE_SPLIT_NAME_H

#include <stddef.h>

// When path ends in -%05d-of-%05d.gguf (file no of count, 1 <= no <= count): returns count and
// sets *no (1-based) and *prefix_len (the length of path before "-0000no"). Else returns 0.
int split_name(const char *path, int *no, size_t *prefix_len);

// Writes the name of file i (1-based) of a split set of count files, whose names start with
// the first prefix_len characters of first, to out[0..n).
void split_part(char *out, size_t n, const char *first, size_t prefix_len, int i, int count);

#endif
