// test_tokenizer.c - tokenizer ids against llama.cpp's own test vectors (shared/vocab/*.inp/.out,
// tokenized as tests/test-tokenizer-0.cpp does: add_special=false, parse_special=false), the
// round trips of llama.cpp's test-tokenizer-1-{spm,bpe}.cpp (every token, every code point),
// and, through libllama itself (dlopen), ids, pieces, detokenized text and special-token
// flags on the vocab files, the shared models and variants of the vocab files.
#include "check.h"
#include "cli_run.h"
#include "kite.h"
#include "llama_ref.h"

#include <stdint.h>
#include <unistd.h>

typedef struct loaded {
    unsigned char *buf;
    kite_gguf *g;
    kite_vocab *v;
} loaded;

static int load_path(const char *path, loaded *l) {
    size_t len = 0;
    memset(l, 0, sizeof *l);
    l->buf = check_read_file(path, &len);
    if (!l->buf) return 0;
    kite_status st = kite_gguf_parse(l->buf, len, &l->g);
    CHECK(st == KITE_OK, "%s: parse: %s", path, kite_last_error());
    if (st != KITE_OK) return 0;
    st = kite_vocab_load(l->g, &l->v);
    CHECK(st == KITE_OK, "%s: vocab: %s", path, kite_last_error());
    return st == KITE_OK;
}

static void unload(loaded *l) {
    kite_vocab_free(l->v);
    kite_gguf_free(l->g);
    free(l->buf);
}

// Tokenizes into a malloc'd array (*n ids); exercises the too-small-buffer contract first.
static int32_t *tok(const kite_vocab *v, const char *s, size_t len, bool add_special, bool parse_special, int32_t *n) {
    int32_t need = 0;
    kite_status st = kite_tokenize(v, s, len, add_special, parse_special, NULL, 0, &need);
    if (need == 0) {
        CHECK(st == KITE_OK, "tokenize with cap 0: %s", kite_last_error());
        *n = 0;
        return malloc(1);
    }
    CHECK(st != KITE_OK, "a buffer of 0 ids must be refused when %d are needed", need);
    int32_t *ids = malloc((size_t)need * sizeof *ids);
    st = kite_tokenize(v, s, len, add_special, parse_special, ids, need, n);
    CHECK(st == KITE_OK && *n == need, "tokenize: %s (%d vs %d)", kite_last_error(), *n, need);
    return ids;
}

// Detokenizes into a malloc'd, NUL-terminated string; *n gets the length.
static char *detok(const kite_vocab *v, const int32_t *ids, int32_t n_ids, bool special, int32_t *n) {
    int32_t need = kite_detokenize(v, ids, n_ids, NULL, 0, false, special);
    int32_t cap = need < 0 ? -need : need;
    char *s = malloc((size_t)cap + 1);
    *n = kite_detokenize(v, ids, n_ids, s, cap, false, special);
    CHECK(*n >= 0 && *n <= cap, "detokenize: %d bytes, expected <= %d", *n, cap);
    if (*n < 0) *n = 0;
    s[*n] = 0;
    return s;
}

static void print_ids(const char *what, const int32_t *ids, int32_t n) {
    fprintf(stderr, "  %s:", what);
    for (int32_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, "\n");
}

// ---- llama.cpp's test vectors -------------------------------------------------------------

static void test_vectors(const char *dir, const char *name) {
    char path[2048], inp_path[2100], out_path[2100];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(inp_path, sizeof inp_path, "%s.inp", path);
    snprintf(out_path, sizeof out_path, "%s.out", path);
    size_t inp_len = 0, out_len = 0;
    char *inp = (char *)check_read_file(inp_path, &inp_len);
    char *out = (char *)check_read_file(out_path, &out_len);
    loaded l;
    if (!inp && !out) {
        char what[4200];
        snprintf(what, sizeof what, "shared vocab test vectors %s.inp/.out missing", path);
        check_missing_ref(what);
        return;
    }
    if (!inp || !out || !load_path(path, &l)) {
        CHECK(0, "%s: cannot read the vocab or its .inp/.out", path);
        free(inp);
        free(out);
        return;
    }
    static const char sep[] = "\n__ggml_vocab_test__\n";
    const size_t sep_len = sizeof sep - 1;
    size_t ip = 0, op = 0;
    int n_texts = 0, n_bad = 0;
    while (ip < inp_len && op < out_len) {
        // next text: up to the separator (or the end)
        char *next = NULL;
        for (size_t i = ip; i + sep_len <= inp_len; i++)
            if (memcmp(inp + i, sep, sep_len) == 0) { next = inp + i; break; }
        size_t tlen = next ? (size_t)(next - (inp + ip)) : inp_len - ip;
        const char *text = inp + ip;
        ip = next ? (size_t)(next - inp) + sep_len : inp_len;
        // expected ids: one line of the .out file
        char *eol = memchr(out + op, '\n', out_len - op);
        size_t llen = eol ? (size_t)(eol - (out + op)) : out_len - op;
        int32_t expect[4096], ne = 0;
        char line[65536];
        memcpy(line, out + op, (llen < sizeof line ? llen : sizeof line - 1));
        line[(llen < sizeof line ? llen : sizeof line - 1)] = 0;
        op += llen + (eol ? 1 : 0);
        for (char *p = line; *p && ne < 4096;) {
            char *e;
            long x = strtol(p, &e, 10);
            if (e == p) break;
            expect[ne++] = (int32_t)x;
            p = e;
        }
        int32_t n = 0;
        int32_t *got = tok(l.v, text, tlen, false, false, &n);
        bool same = n == ne && memcmp(got, expect, (size_t)n * sizeof *got) == 0;
        if (!same && n_bad++ == 0) { // report the first mismatching text of each vocab
            CHECK(same, "%s: text %d '%.*s' tokenizes differently", name, n_texts, (int)tlen, text);
            print_ids("llama.cpp", expect, ne);
            print_ids("kite     ", got, n);
        }
        free(got);
        n_texts++;
    }
    CHECK(n_bad == 0, "%s: %d of %d texts differ", name, n_bad, n_texts);
    CHECK(n_texts > 10, "%s: only %d texts read", name, n_texts);
    printf("%s: %d texts, %d differ\n", name, n_texts, n_bad);
    unload(&l);
    free(inp);
    free(out);
}

// ---- round trips of test-tokenizer-1-spm/bpe.cpp -------------------------------------------

static bool valid_utf8(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (!k || i + k > n) return false;
        for (size_t j = 1; j < k; j++)
            if (((unsigned char)s[i + j] & 0xC0) != 0x80) return false;
        i += k;
    }
    return true;
}

static void test_round_trips(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    loaded l;
    if (!load_path(path, &l)) return;
    const kite_vocab *v = l.v;
    bool spm = strcmp(kite_vocab_type_name(v), "SPM") == 0;
    int bad = 0;
    // Every token: its text (specials rendered) re-tokenizes, special tokens parsed, to the
    // same text. (llama.cpp's BPE test also wants one token back under ignore_merges; that
    // fails in llama.cpp itself, e.g. ' !$' detokenizes to '!$' after its space clean-up, so
    // the upstream test is disabled and we leave that part out.) BPE tokens whose text is
    // not valid UTF-8 (lone bytes) are skipped, as llama.cpp's test meant to (its try/catch
    // around the UTF-8 decoding): the tokenizer reads invalid bytes as U+FFFD.
    for (int32_t id = 0; id < kite_vocab_n_tokens(v) && bad < 3; id++) {
        int32_t n1, n2, n3;
        char *s = detok(v, &id, 1, true, &n1);
        if (!spm && !valid_utf8(s, (size_t)n1)) {
            free(s);
            continue;
        }
        int32_t *ids = tok(v, s, (size_t)n1, false, true, &n2);
        char *back = detok(v, ids, n2, true, &n3);
        if (n3 != n1 || memcmp(s, back, (size_t)n1) != 0) {
            bad++;
            CHECK(0, "%s: token %d '%s' re-tokenizes to %d tokens '%s'", name, id, s, n2, back);
        }
        free(s);
        free(ids);
        free(back);
    }
    // Every code point (but surrogates, the large unassigned block and U+2581) round-trips.
    for (uint32_t cp = 0; cp < 0x110000 && bad < 6; cp++) {
        if ((cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x40000 && cp <= 0xE0000) || cp == 0x2581) continue;
        char u8[5];
        size_t k;
        if (cp < 0x80) u8[0] = (char)cp, k = 1;
        else if (cp < 0x800) u8[0] = (char)(0xC0 | (cp >> 6)), u8[1] = (char)(0x80 | (cp & 0x3F)), k = 2;
        else if (cp < 0x10000)
            u8[0] = (char)(0xE0 | (cp >> 12)), u8[1] = (char)(0x80 | ((cp >> 6) & 0x3F)),
            u8[2] = (char)(0x80 | (cp & 0x3F)), k = 3;
        else
            u8[0] = (char)(0xF0 | (cp >> 18)), u8[1] = (char)(0x80 | ((cp >> 12) & 0x3F)),
            u8[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u8[3] = (char)(0x80 | (cp & 0x3F)), k = 4;
        int32_t n, m;
        int32_t *ids = tok(v, u8, k, false, spm, &n);
        char *back = detok(v, ids, n, true, &m);
        if ((size_t)m != k || memcmp(back, u8, k) != 0) {
            bad++;
            CHECK(0, "%s: code point U+%04X detokenizes to %d bytes '%s'", name, cp, m, back);
        }
        free(ids);
        free(back);
    }
    CHECK(bad == 0, "%s: %d round-trip failures", name, bad);
    printf("%s: round trips of %d tokens and every code point: %s\n", name, kite_vocab_n_tokens(v),
           bad ? "FAILED" : "ok");
    unload(&l);
}

// ---- API behaviour ---------------------------------------------------------------------

static void test_api(const char *dir) {
    char path[4096];
    loaded l;
    snprintf(path, sizeof path, "%s/ggml-vocab-llama-spm.gguf", dir);
    if (load_path(path, &l)) {
        const kite_vocab *v = l.v;
        CHECK(kite_vocab_bos(v) == 1 && kite_vocab_eos(v) == 2, "llama-spm bos/eos %d/%d", kite_vocab_bos(v),
              kite_vocab_eos(v));
        CHECK(kite_vocab_add_bos(v) && !kite_vocab_add_eos(v), "llama-spm adds BOS only");
        CHECK(kite_vocab_is_eog(v, 2) && !kite_vocab_is_eog(v, 1), "llama-spm: </s> ends generation, <s> not");
        int32_t n;
        int32_t *ids = tok(v, "Hello", 5, true, false, &n);
        CHECK(n >= 2 && ids[0] == 1, "add_special puts BOS first (n=%d)", n);
        char buf[64];
        // As llama.cpp: the prefix space is only removed from the first piece when no BOS is
        // removed before it.
        int32_t k = kite_detokenize(v, ids, n, buf, sizeof buf, true, false);
        CHECK(k == 6 && memcmp(buf, " Hello", 6) == 0, "detokenize(remove_special) gives ' Hello' (%d)", k);
        k = kite_detokenize(v, ids + 1, n - 1, buf, sizeof buf, false, false);
        CHECK(k == 5 && memcmp(buf, "Hello", 5) == 0, "detokenize without BOS gives 'Hello' (%d)", k);
        k = kite_token_to_piece(v, 1, buf, sizeof buf, false);
        CHECK(k == 0, "a control token renders as nothing unless special (%d)", k);
        k = kite_token_to_piece(v, 1, buf, sizeof buf, true);
        CHECK(k == 3 && memcmp(buf, "<s>", 3) == 0, "<s> with special=true (%d)", k);
        k = kite_token_to_piece(v, 1, buf, 2, true);
        CHECK(k == -3, "too small a buffer gives -needed (%d)", k);
        // A byte token: <0x0A> is a newline byte.
        int32_t nl = kite_vocab_find(v, "<0x0A>", 6);
        k = kite_token_to_piece(v, nl, buf, sizeof buf, false);
        CHECK(nl >= 0 && k == 1 && buf[0] == '\n', "<0x0A> renders as a newline");
        // parse_special: "<s>" in the text becomes BOS only when asked.
        free(ids);
        ids = tok(v, "<s>x", 4, false, true, &n);
        CHECK(n >= 1 && ids[0] == 1, "parse_special turns '<s>' into BOS");
        free(ids);
        ids = tok(v, "<s>x", 4, false, false, &n);
        CHECK(n >= 1 && ids[0] != 1, "without parse_special '<s>' is text");
        free(ids);
        unload(&l);
    }
    snprintf(path, sizeof path, "%s/ggml-vocab-qwen2.gguf", dir);
    if (load_path(path, &l)) {
        const kite_vocab *v = l.v;
        int32_t im_end = kite_vocab_find(v, "<|im_end|>", 10);
        CHECK(im_end >= 0 && kite_vocab_is_eog(v, im_end), "qwen2: <|im_end|> ends generation");
        CHECK(!kite_vocab_add_bos(v), "qwen2 adds no BOS");
        int32_t n;
        int32_t *ids = tok(v, "a<|im_end|>", 11, false, true, &n);
        CHECK(n == 2 && ids[1] == im_end, "qwen2 parses <|im_end|> (n=%d)", n);
        free(ids);
        // Split UTF-8: the pieces of a multi-byte character concatenate to its bytes.
        const char *emoji = "\xf0\x9f\xa6\x99"; // U+1F999
        ids = tok(v, emoji, 4, false, false, &n);
        char buf[64];
        int32_t k = 0;
        for (int32_t i = 0; i < n; i++) k += kite_token_to_piece(v, ids[i], buf + k, (int32_t)sizeof buf - k, false);
        CHECK(k == 4 && memcmp(buf, emoji, 4) == 0, "qwen2: pieces of an emoji give its 4 bytes (%d)", k);
        free(ids);
        unload(&l);
    }
}

// ---- against llama.cpp itself (libllama from node-llama-cpp, dlopen) ---------------------------

typedef struct llref {
    void *h;
    llref_model_api m;
    int32_t (*tokenize)(const void *, const char *, int32_t, int32_t *, int32_t, bool, bool);
    int32_t (*detokenize)(const void *, const int32_t *, int32_t, char *, int32_t, bool, bool);
    int32_t (*piece)(const void *, int32_t, char *, int32_t, int32_t, bool);
    int32_t (*n_tokens)(const void *);
    int32_t (*bos)(const void *), (*eos)(const void *), (*eot)(const void *);
    bool (*add_bos)(const void *), (*add_eos)(const void *);
    bool (*is_eog)(const void *, int32_t), (*is_control)(const void *, int32_t);
} llref;

static bool llref_init(llref *r) {
    int ci_fail;
    memset(r, 0, sizeof *r);
    r->h = llama_ref_open(&ci_fail);
    if (ci_fail) check_failed++;
    if (!r->h) return false;
    *(void **)&r->tokenize = dlsym(r->h, "llama_tokenize");
    *(void **)&r->detokenize = dlsym(r->h, "llama_detokenize");
    *(void **)&r->piece = dlsym(r->h, "llama_token_to_piece");
    *(void **)&r->n_tokens = dlsym(r->h, "llama_vocab_n_tokens");
    *(void **)&r->bos = dlsym(r->h, "llama_vocab_bos");
    *(void **)&r->eos = dlsym(r->h, "llama_vocab_eos");
    *(void **)&r->eot = dlsym(r->h, "llama_vocab_eot");
    *(void **)&r->add_bos = dlsym(r->h, "llama_vocab_get_add_bos");
    *(void **)&r->add_eos = dlsym(r->h, "llama_vocab_get_add_eos");
    *(void **)&r->is_eog = dlsym(r->h, "llama_vocab_is_eog");
    *(void **)&r->is_control = dlsym(r->h, "llama_vocab_is_control");
    bool ok = llref_model_load(r->h, &r->m) && r->tokenize && r->detokenize && r->piece && r->n_tokens && r->bos &&
              r->eos && r->eot && r->add_bos && r->add_eos && r->is_eog && r->is_control;
    CHECK(ok, "libllama lacks a symbol the tokenizer comparison needs");
    if (!ok) r->h = NULL;
    return ok;
}

// A random text from fragments that stress the pre-tokenizers and the special-token split.
static size_t random_text(uint64_t *state, char *out, size_t cap) {
    static const char *const frag[] = {
        "a", "Z", "hello", " world", " ", "  ", "   ", "\n", "\n\n", "\t", "\r\n", "'s", "'LL", "'Re", "'",
        "1", "42", "12345", "\xc2\xbd", "\xc3\xa4", "\xc3\x84pfel", "\xd0\xb9", "\xe4\xb8\xad\xe6\x96\x87",
        "\xf0\x9f\xa6\x99", "\xe2\x96\x81", "<s>", "</s>", "<unk>", "<|im_end|>", "<|im_start|>",
        "<|endoftext|>", "<|end|>", "<|user|>", "<|begin_of_text|>", "<0x0A>", "!", "...", "`", "$", "+=",
        "?!", " ,", " .", " 's", " ' ", "\xc3", "\xff", "\xe0\x80", "\xd9\xa3", "\xe2\x85\xab", "e\xcc\x81",
        "\xe3\x80\x80", "\xc2\xa0", "\xc2\x85", "\xe2\x80\xa8", "(x)", "{}", "--", "__init__", "\xef\xbc\x81",
        "1234567", "3.14", "a,b", "\xc2\xbf", "\xc2\xab\xc2\xbb", "\xd9\xa3\xd9\xa4\xd9\xa5", "x^2", "a|b", "~",
        "<=>", "HTTPServer", "McDonald's", "\xc3\x84" "BC", "ABC\xc3\xa4", "x\xcc\x81y", "\xe0\xa4\xb9\xe0\xa4\xbf", "a/b\n/", "\xea\xb0\x80\xea\xb0\x81", "\xe3\x81\x82", "\xe0\xa0\x80", " \xe4\xb8\x80",
        "\xc2\xb2", "\xe2\x82\xac" "5", "@#", "\\n", "'t", "'ve", "'d", "'m"};
    size_t n = 0, parts = (size_t)(*state % 12);
    for (size_t i = 0; i < parts; i++) {
        *state ^= *state << 13, *state ^= *state >> 7, *state ^= *state << 17; // xorshift64
        const char *f = frag[*state % (sizeof frag / sizeof frag[0])];
        size_t k = strlen(f);
        if (n + k >= cap) break;
        memcpy(out + n, f, k);
        n += k;
    }
    *state ^= *state << 13, *state ^= *state >> 7, *state ^= *state << 17;
    return n;
}

// Tokenizes text in every add_special/parse_special mode with both, then detokenizes
// llama.cpp's ids in every remove_special/unparse_special mode with both. Returns the number
// of differences (each reported).
static int compare_text(llref *r, const void *rv, const kite_vocab *v, const char *name, const char *text, size_t len) {
    int bad = 0;
    int32_t cap = (int32_t)len + 8;
    int32_t *want = malloc((size_t)cap * sizeof *want);
    char *a = malloc(8 * len + 4096), *b = malloc(8 * len + 4096);
    int32_t tcap = (int32_t)(8 * len + 4096);
    for (int mode = 0; mode < 4; mode++) {
        bool add_special = mode & 1, parse_special = mode & 2;
        int32_t nw = r->tokenize(rv, text, (int32_t)len, want, cap, add_special, parse_special);
        int32_t ng;
        int32_t *got = tok(v, text, len, add_special, parse_special, &ng);
        if (nw != ng || memcmp(want, got, (size_t)(ng > 0 ? ng : 0) * sizeof *got) != 0) {
            bad++;
            CHECK(0, "%s: '%.*s' (add_special %d, parse_special %d) tokenizes differently", name,
                  (int)(len < 200 ? len : 200), text, add_special, parse_special);
            print_ids("llama.cpp", want, nw < 64 ? nw : 64);
            print_ids("kite     ", got, ng < 64 ? ng : 64);
        }
        free(got);
        for (int dm = 0; dm < 4 && nw > 0; dm++) {
            int32_t ka = kite_detokenize(v, want, nw, a, tcap, dm & 1, dm & 2);
            int32_t kb = r->detokenize(rv, want, nw, b, tcap, dm & 1, dm & 2);
            if (ka != kb || (ka > 0 && memcmp(a, b, (size_t)ka) != 0)) {
                bad++;
                CHECK(0, "%s: detokenize of '%.*s' (remove_special %d, unparse_special %d): %d bytes, llama.cpp %d",
                      name, (int)(len < 200 ? len : 200), text, dm & 1, dm >> 1, ka, kb);
            }
        }
    }
    free(want);
    free(a);
    free(b);
    return bad;
}

static void compare_with_llama(llref *r, const char *path, const char *name, const char *inp_path) {
    loaded l;
    if (!load_path(path, &l)) return;
    const kite_vocab *v = l.v;
    void *model = llref_vocab_model(&r->m, path);
    if (!model) {
        unload(&l);
        return;
    }
    const void *rv = r->m.get_vocab(model);
    int32_t nt = r->n_tokens(rv);
    CHECK(kite_vocab_n_tokens(v) == nt, "%s: %d tokens, llama.cpp %d", name, kite_vocab_n_tokens(v), nt);
    CHECK(kite_vocab_bos(v) == r->bos(rv) && kite_vocab_eos(v) == r->eos(rv) && kite_vocab_eot(v) == r->eot(rv),
          "%s: bos/eos/eot %d/%d/%d, llama.cpp %d/%d/%d", name, kite_vocab_bos(v), kite_vocab_eos(v),
          kite_vocab_eot(v), r->bos(rv), r->eos(rv), r->eot(rv));
    CHECK(kite_vocab_add_bos(v) == r->add_bos(rv) && kite_vocab_add_eos(v) == r->add_eos(rv),
          "%s: add_bos/add_eos differ from llama.cpp", name);
    int bad = 0;
    for (int32_t id = 0; id < nt && id < kite_vocab_n_tokens(v) && bad < 3; id++) {
        if (kite_vocab_is_eog(v, id) != r->is_eog(rv, id) || kite_vocab_is_control(v, id) != r->is_control(rv, id)) {
            bad++;
            CHECK(0, "%s: token %d eog/control %d/%d, llama.cpp %d/%d", name, id, kite_vocab_is_eog(v, id),
                  kite_vocab_is_control(v, id), r->is_eog(rv, id), r->is_control(rv, id));
        }
        for (int special = 0; special < 2; special++) {
            char a[512], b[512];
            int32_t ka = kite_token_to_piece(v, id, a, sizeof a, special);
            int32_t kb = r->piece(rv, id, b, sizeof b, 0, special);
            if (ka != kb || (ka > 0 && memcmp(a, b, (size_t)ka) != 0)) {
                bad++;
                CHECK(0, "%s: piece of token %d (special %d): %d bytes, llama.cpp %d", name, id, special, ka, kb);
            }
        }
    }
    // Texts: llama.cpp's test texts and random ones, in every add_special/parse_special mode;
    // then detokenizing llama.cpp's ids in every remove_special/unparse_special mode.
    size_t inp_len = 0;
    char *inp = inp_path ? (char *)check_read_file(inp_path, &inp_len) : NULL;
    uint64_t state = 0x9E3779B97F4A7C15ull;
    size_t inp_pos = 0;
    int n_texts = 0;
    for (int t = 0; t < 400 && bad < 6; t++) {
        char text[1024];
        size_t len;
        if (inp && inp_pos < inp_len) { // the next test text (up to the separator line)
            const char *sep = "\n__ggml_vocab_test__\n";
            const char *e = NULL;
            for (size_t i = inp_pos; i + 21 <= inp_len; i++)
                if (memcmp(inp + i, sep, 21) == 0) { e = inp + i; break; }
            len = e ? (size_t)(e - inp) - inp_pos : inp_len - inp_pos;
            if (len >= sizeof text) len = sizeof text - 1;
            memcpy(text, inp + inp_pos, len);
            inp_pos = e ? (size_t)(e - inp) + 21 : inp_len;
        } else {
            len = random_text(&state, text, sizeof text);
        }
        n_texts++;
        bad += compare_text(r, rv, v, name, text, len);
    }
    // Long real texts (whole documents as one prompt), where present.
    static const char *const docs[] = {"/usr/share/common-licenses/GPL-3", "../text/stories.txt"};
    for (size_t d = 0; d < sizeof docs / sizeof docs[0] && bad < 6; d++) {
        char dpath[4096];
        if (docs[d][0] == '/') snprintf(dpath, sizeof dpath, "%s", docs[d]);
        else snprintf(dpath, sizeof dpath, "%s/%s", check_models_dir(), docs[d]);
        size_t dlen = 0;
        char *doc = (char *)check_read_file(dpath, &dlen);
        if (!doc) continue;
        bad += compare_text(r, rv, v, name, doc, dlen);
        n_texts++;
        free(doc);
    }
    CHECK(bad == 0, "%s: %d differences from llama.cpp", name, bad);
    printf("%s: %d texts x 4 modes, %d token pieces, eog/control flags vs libllama: %s\n", name, n_texts, nt,
           bad ? "DIFFER" : "identical");
    free(inp);
    r->m.free_model(model);
    unload(&l);
}

// ---- variants: the same vocabularies under other tokenizer settings -------------------------
//
// No shared file uses the "default" or starcoder-style pre-tokenizers, or SPM without a space
// prefix: rewrite vocab files with other tokenizer.* keys and compare those with llama.cpp too.

typedef struct variant {
    const char *src;      // vocab file
    const char *key, *str; // a string key to set (str) or remove (str == NULL)
    const char *bkey;     // a bool key to set true (or NULL)
    const char *bkey2;    // a second one
    bool bval;            // the value of the bool keys
    int32_t tok_id;       // a token whose text is replaced by tok_text (when tok_text is set)
    const char *tok_text;
} variant;

static kite_status file_sink(void *user, const void *data, size_t n) {
    return fwrite(data, 1, n, (FILE *)user) == n ? KITE_OK : KITE_ERR_IO;
}

static bool write_variant(const char *dir, const variant *va, const char *dst) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, va->src);
    size_t len = 0;
    unsigned char *buf = check_read_ref("vocab file ", path, &len, "");
    if (!buf) return false;
    kite_gguf *g = NULL;
    if (kite_gguf_parse(buf, len, &g) != KITE_OK || g->n_tensors != 0) {
        CHECK(0, "cannot read %s as a vocab-only file", path);
        kite_gguf_free(g);
        free(buf);
        return false;
    }
    kite_gguf_writer *w = kite_gguf_writer_new();
    kite_status st = kite_gguf_writer_copy_kvs(w, g);
    if (st == KITE_OK && va->key) {
        if (va->str) st = kite_gguf_writer_set_str(w, va->key, va->str);
        else kite_gguf_writer_remove(w, va->key);
    }
    kite_str *strs = NULL;
    if (st == KITE_OK && va->tok_text) { // a copy of the token list with one text replaced
        const kite_gguf_value *toks = kite_gguf_get_arr(g, "tokenizer.ggml.tokens", KITE_GGUF_STRING);
        strs = toks ? malloc(toks->arr.n * sizeof *strs) : NULL;
        if (strs) {
            memcpy(strs, toks->arr.strs, toks->arr.n * sizeof *strs);
            strs[va->tok_id] = (kite_str){va->tok_text, strlen(va->tok_text)};
            kite_gguf_value a = *toks;
            a.arr.strs = strs;
            st = kite_gguf_writer_set(w, "tokenizer.ggml.tokens", &a);
        }
    }
    const char *bkeys[2] = {va->bkey, va->bkey2};
    for (int i = 0; i < 2 && st == KITE_OK; i++) {
        if (!bkeys[i]) continue;
        kite_gguf_value b = {.type = KITE_GGUF_BOOL, .u = va->bval};
        st = kite_gguf_writer_set(w, bkeys[i], &b);
    }
    FILE *f = fopen(dst, "wb");
    kite_sink sink = {file_sink, f};
    if (st == KITE_OK && f) st = kite_gguf_writer_write_header(w, &sink);
    bool ok = f && st == KITE_OK;
    if (f) ok = (fclose(f) == 0) && ok;
    CHECK(ok, "cannot write the variant %s: %s", dst, kite_last_error());
    kite_gguf_writer_free(w);
    kite_gguf_free(g);
    free(strs);
    free(buf);
    return ok;
}

// r: the reference, or NULL to only check the refused settings.
static void test_variants(llref *r, const char *vocab_dir) {
    static const variant variants[] = {
        {"ggml-vocab-gpt-2.gguf", "tokenizer.ggml.pre", "default", NULL, NULL, false, 0, NULL},
        {"ggml-vocab-gpt-2.gguf", "tokenizer.ggml.pre", NULL, NULL, NULL, false, 0, NULL}, // no pre: default
        {"ggml-vocab-gpt-2.gguf", "tokenizer.ggml.pre", "smollm", NULL, NULL, false, 0, NULL},
        {"ggml-vocab-gpt-2.gguf", "tokenizer.ggml.pre", "starcoder", NULL, NULL, false, 0, NULL},
        {"ggml-vocab-llama-bpe.gguf", "tokenizer.ggml.pre", "dbrx", NULL, NULL, false, 0, NULL},
        {"ggml-vocab-llama-bpe.gguf", "tokenizer.ggml.pre", "gpt-4o", NULL, NULL, false, 0, NULL},
        {"ggml-vocab-llama-bpe.gguf", "tokenizer.ggml.pre", "tekken", NULL, NULL, false, 0, NULL},
        {"ggml-vocab-qwen2.gguf", "tokenizer.ggml.pre", "qwen35", NULL, NULL, false, 0, NULL},
        {"ggml-vocab-qwen2.gguf", "tokenizer.ggml.pre", "llama4", NULL, NULL, false, 0, NULL},
        {"ggml-vocab-gpt-2.gguf", "tokenizer.ggml.pre", "falcon", NULL, NULL, false, 0, NULL},
        {"ggml-vocab-qwen2.gguf", "tokenizer.ggml.pre", "deepseek-coder", NULL, NULL, false, 0, NULL},
        {"ggml-vocab-qwen2.gguf", "tokenizer.ggml.pre", "seed-coder", NULL, NULL, false, 0, NULL},
        {"ggml-vocab-qwen2.gguf", "tokenizer.ggml.pre", "bailingmoe", NULL, NULL, false, 0, NULL},
        {"ggml-vocab-qwen2.gguf", "tokenizer.ggml.pre", "ufakzeka", NULL, NULL, false, 0, NULL},
        {"ggml-vocab-qwen2.gguf", "tokenizer.ggml.pre", "laguna", NULL, NULL, false, 0, NULL},
        {"ggml-vocab-llama-bpe.gguf", "tokenizer.ggml.pre", "minicpm5", NULL, NULL, false, 0, NULL},
        {"ggml-vocab-qwen2.gguf", "tokenizer.ggml.pre", "stablelm2", "tokenizer.ggml.add_bos_token",
         "tokenizer.ggml.add_eos_token", true, 0, NULL},
        {"ggml-vocab-llama-spm.gguf", NULL, NULL, "tokenizer.ggml.add_space_prefix", NULL, false, 0, NULL},
        {"ggml-vocab-llama-spm.gguf", NULL, NULL, "tokenizer.ggml.add_eos_token", NULL, true, 0, NULL},
        {"ggml-vocab-phi-3.gguf", "general.name", "other", NULL, NULL, false, 0, NULL}, // no phi-3 strip rules
        // a token with U+2581 inside: SPM merges may then join words (no per-word merging)
        {"ggml-vocab-llama-spm.gguf", "general.name", "inner-space-token", NULL, NULL, false, 31999,
         "s\xe2\x96\x81the"},
    };
    char tmpl[] = "/tmp/kite_tok_XXXXXX";
    const char *dir = mkdtemp(tmpl);
    CHECK(dir != NULL, "cannot make a temporary directory");
    if (!dir) return;
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        const variant *va = &variants[i];
        char dst[512], name[256];
        snprintf(dst, sizeof dst, "%s/variant%zu.gguf", dir, i);
        snprintf(name, sizeof name, "%s [%s=%s%s%s]", va->src, va->key ? va->key : va->bkey,
                 va->key ? (va->str ? va->str : "(removed)") : (va->bval ? "true" : "false"),
                 va->key && va->bkey ? ", " : "", va->key && va->bkey ? va->bkey : "");
        if (r && write_variant(vocab_dir, va, dst)) compare_with_llama(r, dst, name, NULL);
        remove(dst);
    }
    // Settings we do not support are refused with a message naming them.
    static const variant refused[] = {
        {"ggml-vocab-gpt-2.gguf", "tokenizer.ggml.pre", "no-such-pre", NULL, NULL, false, 0, NULL},
        {"ggml-vocab-gpt-2.gguf", "tokenizer.ggml.model", "no-such-model", NULL, NULL, false, 0, NULL},
        {"ggml-vocab-gpt-2.gguf", "tokenizer.ggml.model", NULL, NULL, NULL, false, 0, NULL},
        {"ggml-vocab-gpt-2.gguf", "tokenizer.ggml.merges", NULL, NULL, NULL, false, 0, NULL},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char dst[512];
        snprintf(dst, sizeof dst, "%s/refused%zu.gguf", dir, i);
        if (!write_variant(vocab_dir, &refused[i], dst)) continue;
        size_t len = 0;
        unsigned char *buf = check_read_file(dst, &len);
        kite_gguf *g = NULL;
        kite_vocab *v = NULL;
        kite_status st = buf ? kite_gguf_parse(buf, len, &g) : KITE_ERR_IO;
        if (st == KITE_OK) st = kite_vocab_load(g, &v);
        const char *want = refused[i].str ? refused[i].str : refused[i].key;
        CHECK(st != KITE_OK && v == NULL && strstr(kite_last_error(), want),
              "a vocab with %s=%s must be refused naming '%s' (got: %s)", refused[i].key,
              refused[i].str ? refused[i].str : "(removed)", want, st == KITE_OK ? "accepted" : kite_last_error());
        kite_vocab_free(v);
        kite_gguf_free(g);
        free(buf);
        remove(dst);
    }
    rmdir(dir);
}

// ---- the CLI ----------------------------------------------------------------------------------

static void test_cli(const char *vocab_dir) {
    if (!getenv("KITE_BIN")) {
        fprintf(stderr, "skip: KITE_BIN not set, CLI not checked\n");
        return;
    }
    char spm[2048], qwen2[2048];
    snprintf(spm, sizeof spm, "%s/ggml-vocab-llama-spm.gguf", vocab_dir);
    snprintf(qwen2, sizeof qwen2, "%s/ggml-vocab-qwen2.gguf", vocab_dir);
    cli_result r = cli_run("tokenize", (const char *[]){"--help", NULL}, NULL);
    CHECK(r.code == 0 && strstr(r.out, "usage: kite tokenize"), "kite tokenize --help: rc %d", r.code);
    if (!check_file_exists(spm) || !check_file_exists(qwen2)) {
        check_missing_ref("vocab files ggml-vocab-llama-spm.gguf / ggml-vocab-qwen2.gguf missing: kite tokenize not checked");
        return;
    }
    // llama.cpp's vectors: "Hello world" is 15043 3186 in llama-spm; the model adds BOS (1).
    r = cli_run("tokenize", (const char *[]){"-m", spm, "-p", "Hello world", "--ids", NULL}, NULL);
    CHECK(r.code == 0 && strcmp(r.out, "[1, 15043, 3186]\n") == 0, "kite tokenize --ids: rc %d, '%s'", r.code, r.out);
    r = cli_run("tokenize", (const char *[]){"-m", spm, "-p", "Hello world", "--ids", "--no-bos", NULL}, NULL);
    CHECK(r.code == 0 && strcmp(r.out, "[15043, 3186]\n") == 0, "kite tokenize --ids --no-bos: rc %d, '%s'", r.code, r.out);
    // llama.cpp (llama_tokenize, parse_special) gives 9707 1879 151645 for this text in qwen2.
    r = cli_run("tokenize", (const char *[]){"-m", qwen2, "-p", "Hello world<|im_end|>", NULL}, NULL);
    CHECK(r.code == 0 && strcmp(r.out, "  9707 -> 'Hello'\n  1879 -> ' world'\n151645 -> '<|im_end|>'\n") == 0,
          "kite tokenize (pieces): rc %d, '%s'", r.code, r.out);
    r = cli_run("tokenize", (const char *[]){"-m", qwen2, "-p", "<|im_end|>", "--ids", "--no-parse-special", NULL}, NULL);
    CHECK(r.code == 0 && strstr(r.out, "151645") == NULL, "--no-parse-special keeps <|im_end|> as text: '%s'", r.out);
    r = cli_run("tokenize", (const char *[]){"-m", spm, "--stdin", "--ids", NULL}, "/dev/null");
    CHECK(r.code == 0 && strcmp(r.out, "[1]\n") == 0, "kite tokenize --stdin of nothing gives BOS only: rc %d, '%s'", r.code, r.out);
    r = cli_run("tokenize", (const char *[]){"-m", "x", "-p", "y", "--bogus", NULL}, NULL);
    CHECK(r.code == 2, "a bad flag is a usage error (exit 2), got %d", r.code);
    r = cli_run("tokenize", (const char *[]){"-p", "y", NULL}, NULL);
    CHECK(r.code == 2, "a missing -m is a usage error (exit 2), got %d", r.code);
    r = cli_run("tokenize", (const char *[]){"-m", "/nonexistent/model.gguf", "-p", "y", NULL}, NULL);
    CHECK(r.code == 1, "a missing model file is a runtime error (exit 1), got %d", r.code);
}

int main(void) {
    const char *models = check_models_dir();
    char vocab_dir[1024];
    snprintf(vocab_dir, sizeof vocab_dir, "%s/../vocab", models);
    static const char *vocabs[] = {"ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf", "ggml-vocab-gpt-2.gguf",
                                   "ggml-vocab-llama-bpe.gguf", "ggml-vocab-qwen2.gguf"};
    for (size_t i = 0; i < sizeof vocabs / sizeof vocabs[0]; i++) test_vectors(vocab_dir, vocabs[i]);
    test_api(vocab_dir);
    test_cli(vocab_dir);
    for (size_t i = 0; i < sizeof vocabs / sizeof vocabs[0]; i++) test_round_trips(vocab_dir, vocabs[i]);
    llref r;
    if (llref_init(&r)) {
        for (size_t i = 0; i < sizeof vocabs / sizeof vocabs[0]; i++) {
            char path[2048], inp[2100];
            snprintf(path, sizeof path, "%s/%s", vocab_dir, vocabs[i]);
            snprintf(inp, sizeof inp, "%s.inp", path);
            compare_with_llama(&r, path, vocabs[i], inp);
        }
        static const char *model_files[] = {"stories260K.gguf", "rand-llama-spm-f16.gguf", "rand-phi3-f16.gguf",
                                            "rand-qwen2-f16.gguf"};
        for (size_t i = 0; i < sizeof model_files / sizeof model_files[0]; i++) {
            char path[2048];
            snprintf(path, sizeof path, "%s/%s", models, model_files[i]);
            compare_with_llama(&r, path, model_files[i], NULL);
        }
    }
    test_variants(r.h ? &r : NULL, vocab_dir);
    return check_done("test_tokenizer");
}
