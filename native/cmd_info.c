// cmd_info.c - `kite info FILE [--json]`: a GGUF file's metadata, tensor table and totals.
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "file_map.h"
#include "kite.h"

static kite_status stdout_write(void *user, const void *data, size_t n) {
    (void)user;
    return fwrite(data, 1, n, stdout) == n ? KITE_OK : KITE_ERR_IO;
}

// Prints a string from the file on one line: control characters (DEL too) escaped, so a key,
// a name or a value cannot move the cursor or send a terminal escape; long strings cut. Returns
// the characters printed.
static size_t print_str(kite_str s, size_t max) {
    size_t n = s.len < max ? (size_t)s.len : max, out = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c == '\n') out += (size_t)printf("\\n");
        else if (c < 0x20 || c == 0x7F) out += (size_t)printf("\\x%02x", c);
        else out += putchar(c) != EOF;
    }
    if (s.len > max) out += (size_t)printf("... (%llu bytes)", (unsigned long long)s.len);
    return out;
}

// print_str, then spaces up to width characters.
static void print_padded(kite_str s, size_t width) {
    for (size_t n = print_str(s, 200); n < width; n++) putchar(' ');
}

static void print_value(const kite_gguf_value *v) {
    switch (v->type) {
    case KITE_GGUF_UINT8: case KITE_GGUF_UINT16: case KITE_GGUF_UINT32: case KITE_GGUF_UINT64:
        printf("%llu", (unsigned long long)v->u); break;
    case KITE_GGUF_INT8: case KITE_GGUF_INT16: case KITE_GGUF_INT32: case KITE_GGUF_INT64:
        printf("%lld", (long long)v->i); break;
    case KITE_GGUF_FLOAT32: case KITE_GGUF_FLOAT64: printf("%g", v->f); break;
    case KITE_GGUF_BOOL: fputs(v->u ? "true" : "false", stdout); break;
    case KITE_GGUF_STRING: print_str(v->s, 120); break;
    case KITE_GGUF_ARRAY:
        printf("[%s x %llu]", kite_gguf_type_name(v->arr.elem), (unsigned long long)v->arr.n);
        if (v->arr.n <= 8 && v->arr.elem != KITE_GGUF_ARRAY) {
            fputs(" ", stdout);
            for (uint64_t i = 0; i < v->arr.n; i++) {
                if (i) fputs(", ", stdout);
                if (v->arr.elem == KITE_GGUF_STRING) print_str(v->arr.strs[i], 40);
                else if (v->arr.elem == KITE_GGUF_FLOAT32 || v->arr.elem == KITE_GGUF_FLOAT64)
                    printf("%g", kite_gguf_arr_f32(v, i));
                else printf("%lld", (long long)kite_gguf_arr_i64(v, i));
            }
        }
        break;
    default: fputs("?", stdout);
    }
}

static void print_text(const char *path, const kite_gguf *g) {
    uint64_t ne, nb;
    kite_gguf_totals(g, &ne, &nb);
    printf("%s: GGUF v%u, %llu keys, %llu tensors, alignment %u, data at offset %llu, %llu bytes\n", path,
           g->version, (unsigned long long)g->n_kv, (unsigned long long)g->n_tensors, g->alignment,
           (unsigned long long)g->data_offset, (unsigned long long)g->size);
    printf("\nmetadata:\n");
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const kite_gguf_kv *kv = &g->kv[i];
        fputs("  ", stdout);
        print_padded(kv->key, 44);
        printf(" %-4s ", kite_gguf_type_name(kv->val.type));
        print_value(&kv->val);
        putchar('\n');
    }
    printf("\ntensors:\n  %-36s %-8s %-24s %12s\n", "name", "type", "shape", "bytes");
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const kite_gguf_tensor *t = &g->tensors[i];
        char shape[64] = "";
        size_t at = 0;
        for (uint32_t d = 0; d < t->n_dims && at < sizeof shape; d++)
            at += (size_t)snprintf(shape + at, sizeof shape - at, d ? " x %llu" : "%llu", (unsigned long long)t->ne[d]);
        fputs("  ", stdout);
        print_padded(t->name, 36);
        printf(" %-8s %-24s %12llu\n", kite_type_name(t->type), shape, (unsigned long long)t->nbytes);
    }
    // Per-type breakdown: how much of the file each storage type takes.
    printf("\nby type:\n");
    for (uint32_t ty = 0; ty < KITE_TYPE_COUNT; ty++) {
        uint64_t cnt = 0, bytes = 0, elems = 0;
        for (uint64_t i = 0; i < g->n_tensors; i++) {
            const kite_gguf_tensor *t = &g->tensors[i];
            if ((uint32_t)t->type != ty) continue;
            cnt++;
            bytes += t->nbytes;
            elems += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
        }
        if (cnt)
            printf("  %-8s %4llu tensors %12llu elements %12llu bytes\n", kite_type_name(ty), (unsigned long long)cnt,
                   (unsigned long long)elems, (unsigned long long)bytes);
    }
    printf("\ntotal: %llu elements, %llu bytes (%.2f MiB), %.4f bits per weight\n", (unsigned long long)ne,
           (unsigned long long)nb, (double)nb / (1024.0 * 1024.0), ne ? 8.0 * (double)nb / (double)ne : 0.0);
}

int kite_cmd_info(int argc, char **argv) {
    const char *path = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: kite info FILE.gguf [--json]\n"
                   "  Prints a GGUF file's metadata, tensor table, per-type sizes and bits per weight.\n"
                   "  --json  machine-readable: every key (arrays up to 16 items in full), every tensor\n");
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "kite info: unknown option '%s' (try --help)\n", argv[i]);
            return 2;
        } else if (!path) path = argv[i];
        else {
            fprintf(stderr, "kite info: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: kite info FILE.gguf [--json]\n");
        return 2;
    }
    kite_file_map map;
    char err[512];
    if (!kite_file_map_open(path, &map, err, sizeof err)) {
        fprintf(stderr, "kite info: %s\n", err);
        return 1;
    }
    kite_gguf *g = NULL;
    if (kite_gguf_parse(map.data, map.size, &g) != KITE_OK) {
        fprintf(stderr, "kite info: %s: %s\n", path, kite_last_error());
        kite_file_map_close(&map);
        return 1;
    }
    int rc = 0;
    if (json) {
        kite_sink sink = {stdout_write, NULL};
        if (kite_gguf_info_json(g, &sink) != KITE_OK) rc = 1;
    } else {
        print_text(path, g);
    }
    if (fflush(stdout) != 0) rc = 1;
    kite_gguf_free(g);
    kite_file_map_close(&map);
    return rc;
}
