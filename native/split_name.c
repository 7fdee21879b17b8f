// split_name.c - the file names of a split set (see split_name.h).
#include "split_name.h"

#include <stdio.h>
#include <string.h>

int split_name(const char *path, int *no, size_t *prefix_len) {
    const size_t n = strlen(path), tail = strlen("-00001-of-00001.gguf");
    int a, b;
    char end[8];
    if (n <= tail || sscanf(path + n - tail, "-%5d-of-%5d%7s", &a, &b, end) != 3 || strcmp(end, ".gguf") != 0)
        return 0;
    if (a < 1 || b < 1 || a > b) return 0;
    *no = a;
    *prefix_len = n - tail;
    return b;
}

void split_part(char *out, size_t n, const char *first, size_t prefix_len, int i, int count) {
    snprintf(out, n, "%.*s-%05d-of-%05d.gguf", (int)prefix_len, first, i, count);
}
