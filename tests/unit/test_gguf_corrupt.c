// test_gguf_corrupt.c - the corrupted-file corpus: a real GGUF is truncated at every byte of
// its header and at every section boundary, and given absurd counts and lengths, bad types,
// misaligned offsets, bad shapes and duplicates. Each must be refused with a message naming
// the problem - never a crash (this test also runs under ASan/UBSan).
#include "check.h"
#include "kite.h"

static unsigned char *orig;
static size_t orig_len;

static void put_u32(unsigned char *p, uint32_t x) { memcpy(p, &x, 4); }
static void put_u64(unsigned char *p, uint64_t x) { memcpy(p, &x, 8); }

// Parses a modified copy and expects failure with a message containing `want`.
static void expect_fail(const char *what, unsigned char *buf, size_t len, const char *want) {
    kite_gguf *g = NULL;
    kite_status s = kite_gguf_parse(buf, len, &g);
    CHECK(s != KITE_OK, "%s: accepted", what);
    CHECK(g == NULL, "%s: out set on failure", what);
    const char *msg = kite_last_error();
    CHECK(strstr(msg, want) != NULL, "%s: message '%s' lacks '%s'", what, msg, want);
    kite_gguf_free(g);
}

static unsigned char *copy(void) {
    unsigned char *b = malloc(orig_len);
    memcpy(b, orig, orig_len);
    return b;
}

static size_t off_of(const void *p) { return (size_t)((const unsigned char *)p - orig); }

int main(void) {
    orig = check_read_model("stories260K.gguf", &orig_len);
    if (!orig) return check_done("gguf_corrupt");
    kite_gguf *g = NULL;
    CHECK(kite_gguf_parse(orig, orig_len, &g) == KITE_OK, "original parses: %s", kite_last_error());
    if (!g) return check_done("gguf_corrupt");

    // ---- truncation at every byte of the header, and inside/at the end of the data
    size_t fails = 0;
    for (size_t n = 0; n < g->data_offset + 64; n++) {
        unsigned char *b = malloc(n ? n : 1);
        memcpy(b, orig, n);
        kite_gguf *t = NULL;
        kite_status s = kite_gguf_parse(b, n, &t);
        if (s == KITE_OK || strlen(kite_last_error()) == 0) fails++;
        kite_gguf_free(t);
        free(b);
    }
    CHECK(fails == 0, "%zu truncated headers were accepted or gave no message", fails);
    {
        unsigned char *b = copy();
        expect_fail("truncated last tensor", b, orig_len - 1, "runs past end of file");
        expect_fail("truncated in magic", b, 3, "truncated at offset 0");
        expect_fail("truncated in counts", b, 12, "truncated");
        size_t key5 = off_of(g->kv[5].key.ptr) - 8;
        expect_fail("truncated at a key boundary", b, key5, "key 5");
        size_t t3 = off_of(g->tensors[3].name.ptr) - 8;
        expect_fail("truncated at a tensor-info boundary", b, t3, "tensor 3");
        free(b);
    }

    // ---- magic and version
    { unsigned char *b = copy(); b[0] = 'X'; expect_fail("bad magic", b, orig_len, "not a GGUF file"); free(b); }
    { unsigned char *b = copy(); put_u32(b + 4, 1); expect_fail("version 1", b, orig_len, "version 1"); free(b); }
    { unsigned char *b = copy(); put_u32(b + 4, 99); expect_fail("version 99", b, orig_len, "version 99"); free(b); }

    // ---- absurd counts and lengths
    { unsigned char *b = copy(); put_u64(b + 8, UINT64_MAX); expect_fail("n_tensors huge", b, orig_len, "more than"); free(b); }
    { unsigned char *b = copy(); put_u64(b + 16, (uint64_t)1 << 60); expect_fail("n_kv huge", b, orig_len, "more than"); free(b); }
    {
        unsigned char *b = copy();
        put_u64(b + off_of(g->kv[3].key.ptr) - 8, UINT64_MAX - 3);
        expect_fail("key length huge", b, orig_len, "runs past end of file");
        free(b);
    }
    {
        // kv 0 is tokenizer.ggml.tokens: [type u32][elem u32][count u64]
        size_t at = off_of(g->kv[0].key.ptr) + g->kv[0].key.len + 4 + 4;
        unsigned char *b = copy();
        put_u64(b + at, (uint64_t)1 << 61);
        expect_fail("array count huge", b, orig_len, "does not fit");
        free(b);
        b = copy();
        put_u64(b + off_of(g->kv[0].val.arr.strs[7].ptr) - 8, (uint64_t)1 << 40);
        expect_fail("array string length huge", b, orig_len, "runs past end of file");
        free(b);
    }

    // ---- bad types
    {
        size_t type_at = off_of(g->kv[4].key.ptr) + g->kv[4].key.len;
        unsigned char *b = copy();
        put_u32(b + type_at, 13);
        expect_fail("kv type 13", b, orig_len, "bad value type 13");
        put_u32(b + type_at, 0xffffffffu);
        expect_fail("kv type 2^32-1", b, orig_len, "bad value type");
        free(b);
        b = copy();
        put_u32(b + off_of(g->kv[0].key.ptr) + g->kv[0].key.len + 4, 42);
        expect_fail("array elem type 42", b, orig_len, "bad array element type 42");
        free(b);
    }
    const kite_gguf_tensor *t0 = &g->tensors[0];
    size_t t0_dims = off_of(t0->name.ptr) + t0->name.len;          // n_dims u32
    size_t t0_ne = t0_dims + 4;                                      // ne[] u64 x n_dims
    size_t t0_type = t0_ne + 8 * t0->n_dims;                         // type u32
    size_t t0_off = t0_type + 4;                                     // offset u64
    { unsigned char *b = copy(); put_u32(b + t0_type, 4); expect_fail("removed type q4_2", b, orig_len, "unknown tensor type 4"); free(b); }
    { unsigned char *b = copy(); put_u32(b + t0_type, 1000); expect_fail("tensor type 1000", b, orig_len, "unknown tensor type 1000"); free(b); }
    { unsigned char *b = copy(); put_u32(b + t0_type, KITE_TYPE_Q4_K); expect_fail("row not multiple of block", b, orig_len, "not a multiple"); free(b); }

    // ---- shapes
    { unsigned char *b = copy(); put_u32(b + t0_dims, 0); expect_fail("n_dims 0", b, orig_len, "n_dims 0"); free(b); }
    { unsigned char *b = copy(); put_u32(b + t0_dims, 5); expect_fail("n_dims 5", b, orig_len, "n_dims 5"); free(b); }
    { unsigned char *b = copy(); put_u64(b + t0_ne, 0); expect_fail("ne 0", b, orig_len, "bad shape"); free(b); }
    { unsigned char *b = copy(); put_u64(b + t0_ne + 8, (uint64_t)1 << 40); expect_fail("ne product overflow", b, orig_len, "token_embd.weight"); free(b); }

    // ---- offsets
    { unsigned char *b = copy(); put_u64(b + t0_off, 1); expect_fail("misaligned offset", b, orig_len, "not a multiple of the alignment"); free(b); }
    { unsigned char *b = copy(); put_u64(b + t0_off, orig_len); expect_fail("offset past end", b, orig_len, "runs past end of file"); free(b); }
    { unsigned char *b = copy(); put_u64(b + t0_off, UINT64_MAX - 31); expect_fail("offset wraps", b, orig_len, "runs past end of file"); free(b); }

    // ---- duplicates
    {
        unsigned char *b = copy(); // rename key 6 to key 5 when both have the same length
        const kite_gguf_kv *k5 = &g->kv[5], *k6 = &g->kv[6];
        if (k5->key.len == k6->key.len) {
            memcpy(b + off_of(k6->key.ptr), k5->key.ptr, k5->key.len);
            expect_fail("duplicate key", b, orig_len, "duplicate key");
        }
        free(b);
        b = copy(); // blk.0.attn_k.weight -> blk.0.attn_q.weight (same length)
        int64_t k = kite_gguf_find_tensor(g, "blk.0.attn_k.weight");
        CHECK(k >= 0, "tensor blk.0.attn_k.weight present");
        if (k >= 0) {
            memcpy(b + off_of(g->tensors[k].name.ptr), "blk.0.attn_q.weight", 19);
            expect_fail("duplicate tensor", b, orig_len, "duplicate tensor name");
        }
        free(b);
    }

    // ---- a file of random bytes after a valid magic never crashes
    unsigned seed = 12345;
    for (int r = 0; r < 2000; r++) {
        unsigned char *b = copy();
        for (int k = 0; k < 8; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 4) % g->data_offset;
            seed = seed * 1103515245u + 12345u;
            b[at] = (unsigned char)(seed >> 16);
        }
        kite_gguf *t = NULL;
        if (kite_gguf_parse(b, orig_len, &t) == KITE_OK) {
            // accepted mutations must still describe in-bounds tensors
            for (uint64_t i = 0; i < t->n_tensors; i++)
                CHECK(t->tensors[i].data + t->tensors[i].nbytes <= b + orig_len, "tensor in bounds");
        }
        kite_gguf_free(t);
        free(b);
    }

    kite_gguf_free(g);
    free(orig);
    return check_done("gguf_corrupt");
}
