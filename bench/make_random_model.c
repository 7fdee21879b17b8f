// make_random_model.c - writes a random-weight model shaped like SmolLM2-135M (llama arch,
// n_embd 576, 30 layers, 9 heads / 3 kv, n_ff 1536, vocab 49152, tied output) as an F16 GGUF,
// with a synthesized byte-level BPE vocabulary, for decode benchmarks (speed depends on shapes
// only). Quantize it afterwards with `kite quantize`.
// Build: cc -O2 -Isrc bench/make_random_model.c BUILD/libkite.a -lm -lpthread
// Usage: make_random_model OUT.gguf [seed] [iq]
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kite.h"

#define TRY(expr)                          \
    do {                                   \
        kite_status try_s = (expr);        \
        if (try_s != KITE_OK) return try_s; \
    } while (0)

enum { N_VOCAB = 49152, N_SPECIAL = 3 };
// The shape: SmolLM2-135M, or with the third argument "iq" one whose widths are multiples of 256
// (768 wide, 12 layers, 12 / 4 heads, n_ff 2048), so that every matrix takes the 256-element
// IQ/TQ types instead of llama-quantize's fallbacks.
static int N_EMBD = 576, N_LAYER = 30, N_HEAD = 9, N_HEAD_KV = 3, N_FF = 1536;

static kite_status file_write(void *user, const void *data, size_t n) {
    return fwrite(data, 1, n, (FILE *)user) == n ? KITE_OK : KITE_ERR_IO;
}

// xorshift64* + Box-Muller: seeded Gaussian weights, reproducible across platforms.
static uint64_t rng_state;
static double uniform(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return ((rng_state * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0) + 1e-300;
}
static float gauss(float std) { return (float)(std * sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform())); }

// GPT-2's byte -> printable code point mapping (bytes that are not printable move to 256+).
static int byte_cpt(int b) {
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) return b;
    int n = 0;
    for (int c = 0; c < b; c++)
        if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255))) n++;
    return 256 + n;
}

static size_t utf8_put(char *o, int c) {
    if (c < 0x80) { o[0] = (char)c; return 1; }
    o[0] = (char)(0xc0 | (c >> 6));
    o[1] = (char)(0x80 | (c & 0x3f));
    return 2;
}

// Vocabulary: 3 control tokens, the 256 byte symbols, then every 2- and 3-letter lowercase
// string and as many 4-letter ones as fit; each multi-letter token has the merge
// "prefix last-letter", so the BPE tables are consistent.
static kite_status set_vocab(kite_gguf_writer *w) {
    static char text[N_VOCAB][8];
    static kite_str toks[N_VOCAB], merges[N_VOCAB];
    static char mtext[N_VOCAB][12];
    static int32_t types[N_VOCAB];
    const char *special[N_SPECIAL] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    int n = 0, nm = 0;
    for (int i = 0; i < N_SPECIAL; i++, n++) {
        toks[n] = (kite_str){special[i], strlen(special[i])};
        types[n] = 3; // control
    }
    for (int b = 0; b < 256; b++, n++) {
        size_t l = utf8_put(text[n], byte_cpt(b));
        toks[n] = (kite_str){text[n], l};
        types[n] = 1;
    }
    for (int len = 2; len <= 4 && n < N_VOCAB; len++) {
        int total = 1;
        for (int i = 0; i < len; i++) total *= 26;
        for (int k = 0; k < total && n < N_VOCAB; k++, n++) {
            for (int i = len - 1, v = k; i >= 0; i--, v /= 26) text[n][i] = (char)('a' + v % 26);
            toks[n] = (kite_str){text[n], (uint64_t)len};
            types[n] = 1;
            int ml = snprintf(mtext[nm], sizeof mtext[nm], "%.*s %c", len - 1, text[n], text[n][len - 1]);
            merges[nm] = (kite_str){mtext[nm], (uint64_t)ml};
            nm++;
        }
    }
    kite_gguf_value v = {.type = KITE_GGUF_ARRAY};
    v.arr.elem = KITE_GGUF_STRING;
    v.arr.n = (uint64_t)n;
    v.arr.strs = toks;
    TRY(kite_gguf_writer_set(w, "tokenizer.ggml.tokens", &v));
    v.arr.elem = KITE_GGUF_INT32;
    v.arr.strs = NULL;
    v.arr.raw = (const uint8_t *)types; // little-endian hosts only (x86, arm, wasm)
    TRY(kite_gguf_writer_set(w, "tokenizer.ggml.token_type", &v));
    v.arr.elem = KITE_GGUF_STRING;
    v.arr.n = (uint64_t)nm;
    v.arr.raw = NULL;
    v.arr.strs = merges;
    TRY(kite_gguf_writer_set(w, "tokenizer.ggml.merges", &v));
    return KITE_OK;
}

static kite_status build(kite_gguf_writer *w) {
    TRY(kite_gguf_writer_set_str(w, "general.architecture", "llama"));
    TRY(kite_gguf_writer_set_str(w, "general.name", "rand-smollm2-135m"));
    TRY(kite_gguf_writer_set_u32(w, "general.file_type", 1)); // mostly F16
    TRY(kite_gguf_writer_set_u32(w, "llama.context_length", 8192));
    TRY(kite_gguf_writer_set_u32(w, "llama.embedding_length", N_EMBD));
    TRY(kite_gguf_writer_set_u32(w, "llama.block_count", N_LAYER));
    TRY(kite_gguf_writer_set_u32(w, "llama.feed_forward_length", N_FF));
    TRY(kite_gguf_writer_set_u32(w, "llama.attention.head_count", N_HEAD));
    TRY(kite_gguf_writer_set_u32(w, "llama.attention.head_count_kv", N_HEAD_KV));
    TRY(kite_gguf_writer_set_u32(w, "llama.rope.dimension_count", N_EMBD / N_HEAD));
    TRY(kite_gguf_writer_set_f32(w, "llama.rope.freq_base", 100000.0f));
    TRY(kite_gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f));
    TRY(kite_gguf_writer_set_u32(w, "llama.vocab_size", N_VOCAB));
    TRY(kite_gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2"));
    TRY(kite_gguf_writer_set_str(w, "tokenizer.ggml.pre", "smollm"));
    TRY(set_vocab(w));
    TRY(kite_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1));
    TRY(kite_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2));
    TRY(kite_gguf_writer_set_u32(w, "tokenizer.ggml.padding_token_id", 2));

    const uint64_t kv = (uint64_t)N_EMBD / N_HEAD * N_HEAD_KV;
    uint64_t ne[2] = {N_EMBD, N_VOCAB};
    TRY(kite_gguf_writer_add_tensor(w, "token_embd.weight", KITE_TYPE_F16, 2, ne));
    ne[1] = 1;
    TRY(kite_gguf_writer_add_tensor(w, "output_norm.weight", KITE_TYPE_F32, 1, ne));
    for (int il = 0; il < N_LAYER; il++) {
        char n[64];
        struct { const char *name; uint64_t ne0, ne1; } t[] = {
            {"attn_norm.weight", N_EMBD, 1},    {"attn_q.weight", N_EMBD, N_EMBD}, {"attn_k.weight", N_EMBD, kv},
            {"attn_v.weight", N_EMBD, kv},      {"attn_output.weight", N_EMBD, N_EMBD},
            {"ffn_norm.weight", N_EMBD, 1},     {"ffn_gate.weight", N_EMBD, N_FF},
            {"ffn_up.weight", N_EMBD, N_FF},    {"ffn_down.weight", N_FF, N_EMBD},
        };
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
            snprintf(n, sizeof n, "blk.%d.%s", il, t[i].name);
            uint64_t e[2] = {t[i].ne0, t[i].ne1};
            TRY(kite_gguf_writer_add_tensor(w, n, t[i].ne1 == 1 ? KITE_TYPE_F32 : KITE_TYPE_F16,
                                                 t[i].ne1 == 1 ? 1 : 2, e));
        }
    }
    return KITE_OK;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: make_random_model OUT.gguf [seed] [iq]\n");
        return 2;
    }
    rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) | 1 : 0x5eed;
    if (argc > 3 && strcmp(argv[3], "iq") == 0) N_EMBD = 768, N_LAYER = 12, N_HEAD = 12, N_HEAD_KV = 4, N_FF = 2048;
    FILE *f = fopen(argv[1], "wb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    kite_gguf_writer *w = kite_gguf_writer_new();
    kite_sink sink = {file_write, f};
    kite_status s = w ? build(w) : KITE_ERR_NOMEM;
    if (s == KITE_OK) s = kite_gguf_writer_write_header(w, &sink);
    // tensor data in the order added: norms 1.0, matrices N(0, 0.02) in f16
    uint16_t *buf = malloc(sizeof(uint16_t) * (size_t)N_EMBD * N_VOCAB);
    float ones[2048]; // the widest N_FF
    for (int i = 0; i < N_FF; i++) ones[i] = 1.0f;
    uint64_t idx = 0;
    const uint64_t kv = (uint64_t)N_EMBD / N_HEAD * N_HEAD_KV;
    const uint64_t sizes[] = {N_EMBD, N_EMBD * N_EMBD, N_EMBD * kv, N_EMBD * kv, N_EMBD * N_EMBD,
                              N_EMBD, N_EMBD * N_FF,   N_EMBD * N_FF, N_FF * N_EMBD};
    for (int step = -2; s == KITE_OK && step < N_LAYER * 9; step++) {
        bool norm = step == -1 || (step >= 0 && (step % 9 == 0 || step % 9 == 5));
        uint64_t count = step == -2 ? (uint64_t)N_EMBD * N_VOCAB : step == -1 ? N_EMBD : sizes[step % 9];
        if (norm) {
            s = kite_gguf_writer_write_data(w, &sink, idx++, ones);
            continue;
        }
        for (uint64_t i = 0; i < count; i++) buf[i] = kite_f32_to_f16(gauss(0.02f));
        s = kite_gguf_writer_write_data(w, &sink, idx++, buf);
    }
    free(buf);
    kite_gguf_writer_free(w);
    if (fclose(f) != 0 && s == KITE_OK) s = KITE_ERR_IO;
    if (s != KITE_OK) {
        fprintf(stderr, "make_random_model: %s (%s)\n", kite_last_error(), kite_status_name(s));
        return 1;
    }
    return 0;
}
