// fuzz_json.c - libFuzzer target for the server's JSON parser and writer (openai/json.c):
// any bytes must parse or fail with a message, never crash; whatever parses must re-serialize
// to JSON that parses again to the same shape.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.c"

// Writes v with the writer (the round-trip half of the target).
static void emit(json_writer *w, const json_value *v, int depth) {
    if (depth >= JSON_WRITER_DEPTH - 1) {
        jw_null(w);
        return;
    }
    switch (v->type) {
    case JSON_NULL: jw_null(w); break;
    case JSON_BOOL: jw_bool(w, v->boolean); break;
    case JSON_NUMBER: jw_number(w, v->number); break;
    case JSON_STRING: jw_string(w, v->str, v->len); break;
    case JSON_ARRAY:
        jw_begin_array(w);
        for (const json_value *c = v->child; c; c = c->next) emit(w, c, depth + 1);
        jw_end_array(w);
        break;
    case JSON_OBJECT:
        jw_begin_object(w);
        for (const json_value *c = v->child; c; c = c->next) {
            jw_key(w, c->key); // keys with \u0000 are cut at the NUL: still valid JSON
            emit(w, c, depth + 1);
        }
        jw_end_object(w);
        break;
    }
}

// Same types and element counts (strings: same bytes) down the tree.
static int same_shape(const json_value *a, const json_value *b, int depth) {
    if (depth >= JSON_WRITER_DEPTH - 1) return 1; // written as null below this depth
    if (a->type != b->type) return 0;
    if (a->type == JSON_STRING) return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
    if (a->type == JSON_ARRAY || a->type == JSON_OBJECT) {
        if (a->len != b->len) return 0;
        for (a = a->child, b = b->child; a && b; a = a->next, b = b->next)
            if (!same_shape(a, b, depth + 1)) return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[256];
    json_doc *d = json_parse((const char *)data, size, err, sizeof err);
    if (!d) {
        if (strncmp(err, "invalid JSON at byte ", 21) != 0 && strncmp(err, "out of memory", 13) != 0) abort();
        return 0;
    }
    json_writer w = {0};
    emit(&w, json_root(d), 0);
    if (!w.out.nomem) {
        if (w.bad) abort();
        json_doc *again = json_parse(w.out.ptr, w.out.len, err, sizeof err);
        if (!again) abort(); // our own output must parse
        if (!same_shape(json_root(d), json_root(again), 0)) abort();
        json_free(again);
    }
    jw_free(&w);
    (void)json_utf8_complete((const char *)data, size);
    json_free(d);
    return 0;
}
