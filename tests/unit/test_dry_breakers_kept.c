// test_dry_breakers_kept.c - DRY's sequence breakers that a model keeps between generations
// (model/gen_dry.c) on a 151k-token vocabulary (qwen2's): every start, the first and the later
// ones, with the default list, a custom one, another custom one and the defaults again, gets the
// breakers llama.cpp's walk gives through libllama's own vocabulary; a repeated list reuses what
// was kept (no second walk); two threads starting generations with different lists at once get
// theirs. The model is the shared models' (KITE_MODELS) rand-qwen2-f16.gguf. Clean under
// native-asan and under TSan: this file, src/model/gen_dry.c, gen_seq.c, src/sampler/dry_breakers.c
// and src/tokenizer/*.c built with -fsanitize=thread against build/native's libkite.a (without
// the slots' lock TSan reports the race there).
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check_model.h"
#include "kite.h"
#include "llama_ref.h"
#include "model/model_internal.h"

static const char *const DEFAULTS[] = KITE_SAMPLER_DRY_DEFAULT_BREAKERS;
static const char *const LIST_A[] = {"ing the", "\n", NULL, "ion:"}; // overlaps token ends; NULL is skipped
static const char *const LIST_B[] = {"é日本", " sat on", "*"};

typedef struct ref_list {
    const char *const *strs;
    int32_t n;      // for kite__model_dry_breakers (strs NULL: the defaults)
    int32_t *want;  // libllama's breakers
    size_t n_want;
} ref_list;

static ref_list lists[4] = {
    {NULL, 0, NULL, 0},
    {LIST_A, 4, NULL, 0},
    {LIST_B, 3, NULL, 0},
    {DEFAULTS, 4, NULL, 0}, // the default list passed as a custom one: the same slot
};

// kite__model_dry_breakers for lists[i] equals libllama's breakers (no CHECK: threads call it).
static bool breakers_match(const kite_model *m, int i, size_t *n_got, kite_status *st) {
    int32_t *got = NULL;
    *n_got = 0;
    *st = kite__model_dry_breakers(m, lists[i].strs, lists[i].n, &got, n_got);
    bool same = *st == KITE_OK && *n_got == lists[i].n_want &&
                (*n_got == 0 || memcmp(got, lists[i].want, *n_got * sizeof *got) == 0);
    free(got);
    return same;
}

static void same_as_llama(const kite_model *m, int i, const char *what) {
    size_t n_got;
    kite_status st;
    bool same = breakers_match(m, i, &n_got, &st);
    CHECK(same, "%s: list %d: %zu ints (%s), libllama's walk gives %zu", what, i, n_got,
          st == KITE_OK ? "ok" : kite_last_error(), lists[i].n_want);
}

typedef struct worker {
    const kite_model *m;
    int first, second; // the lists it alternates
    int ok, starts_ok;
} worker;

static bool on_piece(void *user, const char *p, size_t n) {
    (void)user, (void)p, (void)n;
    return true;
}

// A generation start with DRY on and list i (through kite_gen_seq_start, as `kite serve` does).
static bool start_with(const kite_model *m, int i) {
    kite_gen_seq_params p = {.gen = kite_gen_default_params(), .on_piece = on_piece};
    p.gen.sampling.dry_multiplier = 0.8f;
    p.gen.dry_sequence_breakers = lists[i].strs;
    p.gen.n_dry_sequence_breakers = lists[i].n;
    kite_gen_seq *g = NULL;
    bool ok = kite_gen_seq_start(m, "Hello: \"world\"", 0, 64, &p, &g) == KITE_OK;
    kite_gen_seq_free(g);
    return ok;
}

static void *work(void *arg) {
    worker *w = arg;
    for (int k = 0; k < 6; k++) {
        int i = k % 2 ? w->second : w->first;
        size_t n_got;
        kite_status st;
        w->ok += breakers_match(w->m, i, &n_got, &st);
        w->starts_ok += start_with(w->m, i);
    }
    return NULL;
}

int main(void) {
    const char *rel = "rand-qwen2-f16.gguf";
    kite_model *m = NULL;
    unsigned char *buf = check_load_model(rel, &m);
    int ci_fail = 0;
    void *h = m ? llama_ref_open(&ci_fail) : NULL;
    if (ci_fail) check_failed++;
    llref_model_api api;
    llref_dry_api d;
    void *lm = NULL;
    char path[4096];
    if (h && llref_dry_load(h, &d) && llref_model_load(h, &api))
        lm = llref_vocab_model(&api, check_model_path(rel, path, sizeof path));
    else if (h) CHECK(false, "libllama lacks llama_sampler_init_dry or a vocab call");
    if (m && lm) {
        dry_vocab x = {&d, api.get_vocab(lm)};
        CHECK(d.n_tokens(x.v) == kite_vocab_n_tokens(kite_model_vocab(m)) && kite_vocab_n_tokens(kite_model_vocab(m)) > 150000, "%s: %d tokens", rel,
              kite_vocab_n_tokens(kite_model_vocab(m)));
        for (int i = 0; i < 4; i++) {
            const char *const *strs = lists[i].strs ? lists[i].strs : DEFAULTS;
            size_t n = lists[i].strs ? (size_t)lists[i].n : 4;
            CHECK(kite_sampler_dry_breakers(strs, n, d.n_tokens(x.v), dry_text, dry_tokenize, &x, &lists[i].want,
                                            &lists[i].n_want) == KITE_OK &&
                      lists[i].n_want > 100,
                  "libllama's breakers for list %d: %zu ints: %s", i, lists[i].n_want, kite_last_error());
        }
        // in turn: each start gets libllama's breakers, a repeated list keeps its slot's entry
        same_as_llama(m, 0, "defaults, first");
        const struct kite_dry_breakers *kept = m->dry_breakers[0];
        same_as_llama(m, 0, "defaults, second");
        CHECK(kept && m->dry_breakers[0] == kept && !m->dry_breakers[1], "the defaults were walked again");
        same_as_llama(m, 3, "defaults as a custom list");
        CHECK(m->dry_breakers[0] == kept && !m->dry_breakers[1], "the defaults given as a list were walked again");
        same_as_llama(m, 1, "custom A, first");
        kept = m->dry_breakers[1];
        same_as_llama(m, 1, "custom A, second");
        CHECK(kept && m->dry_breakers[1] == kept, "custom list A was walked again");
        same_as_llama(m, 2, "custom B after A");
        CHECK(m->dry_breakers[1] != kept, "custom list B did not replace A");
        same_as_llama(m, 0, "defaults after B");
        same_as_llama(m, 1, "custom A after B");
        CHECK(start_with(m, 1) && start_with(m, 0), "a start with DRY on: %s", kite_last_error());
        // two threads at once, on a model that keeps nothing yet and on lists that replace each other
        kite__model_dry_breakers_free(m);
        worker w[2] = {{m, 0, 1, 0, 0}, {m, 2, 1, 0, 0}};
        pthread_t th[2];
        bool started[2];
        for (int t = 0; t < 2; t++) started[t] = pthread_create(&th[t], NULL, work, &w[t]) == 0;
        for (int t = 0; t < 2; t++) {
            if (started[t]) pthread_join(th[t], NULL);
            CHECK(started[t] && w[t].ok == 6 && w[t].starts_ok == 6,
                  "thread %d: %d of 6 lists libllama's, %d of 6 starts", t, w[t].ok, w[t].starts_ok);
        }
        printf("dry breakers kept: %zu / %zu / %zu ints (defaults / A / B), the same as libllama's\n",
               lists[0].n_want, lists[1].n_want, lists[2].n_want);
    }
    for (int i = 0; i < 4; i++) free(lists[i].want);
    if (lm) api.free_model(lm);
    kite_model_free(m);
    free(buf);
    return check_done("test_dry_breakers_kept");
}
