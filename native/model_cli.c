// model_cli.c - shared flags, default-model lookup and model/context opening for the model
// commands of the CLI.
#include "model_cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpu_cores.h"
#include "model_fetch.h"
#include "safe_output.h"
#include "split_name.h"

#define DEFAULT_MODEL_NAME "stories260K.gguf"

void model_opts_init(model_opts *o) {
    memset(o, 0, sizeof *o);
    o->n_predict = -1;
    o->reasoning_budget = -1;
    o->sampling = kite_sampler_default_params();
}

void model_cli_reasoning(const model_opts *o, const char *tmpl, kite_gen_params *gp) {
    const char *start, *end;
    if (o->reasoning_budget < 0 || !kite_chat_reasoning_tags(tmpl, &start, &end)) return;
    gp->reasoning_start = start;
    gp->reasoning_end = end;
    gp->reasoning_budget = o->reasoning_budget;
    gp->reasoning_message = o->reasoning_budget_message;
    const char *opening = kite_chat_reply_opening(tmpl, o->no_thinking);
    gp->reasoning_prefill = opening[0] ? opening : NULL;
}

bool model_cli_int(const char *flag, const char *s, long lo, long hi, int32_t *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "kite: %s expects an integer in [%ld, %ld], got '%s'\n", flag, lo, hi, s);
        return false;
    }
    *out = (int32_t)v;
    return true;
}

static bool parse_float(const char *flag, const char *s, float lo, float hi, float *out) {
    char *end;
    float v = strtof(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "kite: %s expects a number in [%g, %g], got '%s'\n", flag, lo, hi, s);
        return false;
    }
    *out = v;
    return true;
}

bool model_cli_repack_flag(const char *a, bool *no_repack) {
    if (strcmp(a, "-nr") && strcmp(a, "--no-repack") && strcmp(a, "--repack")) return false;
    *no_repack = strcmp(a, "--repack") != 0;
    return true;
}

// The sampling settings the model file may recommend (kite_sampling_from_file): each one's
// KITE_SAMPLING_* bit, its flag, and its name in model_cli_print_sampling's line.
static const struct {
    uint32_t bit;
    const char *flag, *name;
} sampling_flags[] = {
    {KITE_SAMPLING_TEMP, "--temp", "temp"},
    {KITE_SAMPLING_TOP_K, "--top-k", "top_k"},
    {KITE_SAMPLING_TOP_P, "--top-p", "top_p"},
    {KITE_SAMPLING_MIN_P, "--min-p", "min_p"},
    {KITE_SAMPLING_REPEAT_PENALTY, "--repeat-penalty", "repeat_penalty"},
    {KITE_SAMPLING_PENALTY_LAST_N, "--repeat-last-n", "repeat_last_n"},
    {KITE_SAMPLING_XTC_PROBABILITY, "--xtc-probability", "xtc_probability"},
    {KITE_SAMPLING_XTC_THRESHOLD, "--xtc-threshold", "xtc_threshold"},
    {KITE_SAMPLING_MIROSTAT, "--mirostat", "mirostat"},
    {KITE_SAMPLING_MIROSTAT_TAU, "--mirostat-ent", "mirostat_ent"},
    {KITE_SAMPLING_MIROSTAT_ETA, "--mirostat-lr", "mirostat_lr"},
};

int model_opts_parse(model_opts *o, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    static const char *with_value[] = {"-m", "--model", "-p", "--prompt", "-f", "--file", "--chat-template",
                                       "-n", "--n-predict", "-c", "--ctx-size", "-b", "--batch-size", "-t",
                                       "--threads", "--temp", "--top-k", "--top-p", "--min-p", "--repeat-penalty",
                                       "--repeat-last-n", "--seed", "-s", "-fa", "--flash-attn", "-ngl",
                                       "--gpu-layers", "--n-gpu-layers", "-dev", "--device", "--think", "-hf", "-hfr",
                                       "--hf-repo", "--grammar", "--grammar-file", "-j", "--json-schema", "-jf",
                                       "--json-schema-file", "-rea", "--reasoning", "--reasoning-budget",
                                       "--reasoning-budget-message", "--typical", "--typical-p", "--top-nsigma",
                                       "--top-n-sigma", "--xtc-probability", "--xtc-threshold", "--mirostat",
                                       "--mirostat-lr", "--mirostat-ent", "--dry-multiplier", "--dry-base",
                                       "--dry-allowed-length", "--dry-penalty-last-n", "--dry-sequence-breaker"};
    if (model_cli_repack_flag(a, &o->no_repack)) return 1;
    bool known = false;
    for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++) known |= !strcmp(a, with_value[k]);
    if (!known) return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "kite: %s needs a value\n", a);
        return -1;
    }
    const char *v = argv[++*i];
    bool ok = true;
    int32_t iv;
    // a sampling flag given keeps its value over the model's recommended one
    for (size_t k = 0; k < sizeof sampling_flags / sizeof sampling_flags[0]; k++)
        if (!strcmp(a, sampling_flags[k].flag)) o->sampling_given |= sampling_flags[k].bit;
    if (!strcmp(a, "-m") || !strcmp(a, "--model")) o->model = v;
    else if (!strcmp(a, "-hf") || !strcmp(a, "-hfr") || !strcmp(a, "--hf-repo")) o->hf_repo = v;
    else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) o->prompt = v;
    else if (!strcmp(a, "-f") || !strcmp(a, "--file")) o->file = v;
    else if (!strcmp(a, "--chat-template")) o->chat_template = v;
    else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) ok = model_cli_int(a, v, -1, 1 << 24, &o->n_predict);
    else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) ok = model_cli_int(a, v, 0, 1 << 22, &o->n_ctx);
    else if (!strcmp(a, "-b") || !strcmp(a, "--batch-size")) ok = model_cli_int(a, v, 1, 1 << 16, &o->n_batch);
    else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) ok = model_cli_int(a, v, 1, 512, &o->n_threads);
    else if (!strcmp(a, "-ngl") || !strcmp(a, "--gpu-layers") || !strcmp(a, "--n-gpu-layers"))
        ok = model_cli_int(a, v, 0, 1 << 20, &o->n_gpu_layers);
    else if (!strcmp(a, "-dev") || !strcmp(a, "--device")) o->device = v;
    else if (!strcmp(a, "--grammar")) o->grammar = v;
    else if (!strcmp(a, "--grammar-file")) o->grammar_file = v;
    else if (!strcmp(a, "-j") || !strcmp(a, "--json-schema")) o->json_schema = v;
    else if (!strcmp(a, "-jf") || !strcmp(a, "--json-schema-file")) o->json_schema_file = v;
    else if (!strcmp(a, "--think")) {
        ok = !strcmp(v, "show") || !strcmp(v, "hide");
        o->hide_think = !strcmp(v, "hide");
        if (!ok) fprintf(stderr, "kite: --think takes show or hide, not '%s'\n", v);
    } else if (!strcmp(a, "-rea") || !strcmp(a, "--reasoning")) {
        // llama.cpp: on / off set the template's enable_thinking; auto leaves the template's default
        ok = !strcmp(v, "on") || !strcmp(v, "off") || !strcmp(v, "auto");
        o->no_thinking = !strcmp(v, "off");
        if (!ok) fprintf(stderr, "kite: %s takes on, off or auto, not '%s'\n", a, v);
    } else if (!strcmp(a, "--reasoning-budget")) {
        // llama.cpp: -1 unrestricted, N >= 0 the most tokens of a reasoning block
        ok = model_cli_int(a, v, -1, INT32_MAX, &o->reasoning_budget);
    } else if (!strcmp(a, "--reasoning-budget-message")) {
        o->reasoning_budget_message = v;
    }
    else if (!strcmp(a, "--temp")) ok = parse_float(a, v, 0.0f, (float)KITE_SAMPLER_MAX_TEMP, &o->sampling.temp);
    else if (!strcmp(a, "--top-k")) ok = model_cli_int(a, v, 0, KITE_SAMPLER_MAX_TOP_K, &o->sampling.top_k);
    else if (!strcmp(a, "--top-p")) ok = parse_float(a, v, 0.0f, 1.0f, &o->sampling.top_p);
    else if (!strcmp(a, "--min-p")) ok = parse_float(a, v, 0.0f, 1.0f, &o->sampling.min_p);
    else if (!strcmp(a, "--repeat-penalty"))
        ok = parse_float(a, v, (float)KITE_SAMPLER_MIN_REPEAT_PENALTY, (float)KITE_SAMPLER_MAX_REPEAT_PENALTY,
                         &o->sampling.repeat_penalty);
    else if (!strcmp(a, "--repeat-last-n"))
        ok = model_cli_int(a, v, 0, KITE_SAMPLER_MAX_PENALTY_LAST_N, &o->sampling.penalty_last_n);
    else if (!strcmp(a, "--typical") || !strcmp(a, "--typical-p"))
        ok = parse_float(a, v, 0.0f, 1.0f, &o->sampling.typical_p);
    else if (!strcmp(a, "--top-nsigma") || !strcmp(a, "--top-n-sigma"))
        ok = parse_float(a, v, -1.0f, (float)KITE_SAMPLER_MAX_TOP_N_SIGMA, &o->sampling.top_n_sigma);
    else if (!strcmp(a, "--xtc-probability")) ok = parse_float(a, v, 0.0f, 1.0f, &o->sampling.xtc_probability);
    else if (!strcmp(a, "--xtc-threshold")) ok = parse_float(a, v, 0.0f, 1.0f, &o->sampling.xtc_threshold);
    else if (!strcmp(a, "--mirostat")) ok = model_cli_int(a, v, 0, 2, &o->sampling.mirostat);
    else if (!strcmp(a, "--mirostat-lr")) ok = parse_float(a, v, 0.0f, 1.0f, &o->sampling.mirostat_eta);
    else if (!strcmp(a, "--mirostat-ent"))
        ok = parse_float(a, v, 0.0f, (float)KITE_SAMPLER_MAX_MIROSTAT_TAU, &o->sampling.mirostat_tau);
    else if (!strcmp(a, "--dry-multiplier")) ok = parse_float(a, v, 0.0f, (float)KITE_SAMPLER_MAX_DRY, &o->sampling.dry_multiplier);
    else if (!strcmp(a, "--dry-base")) ok = parse_float(a, v, 0.0f, (float)KITE_SAMPLER_MAX_DRY, &o->sampling.dry_base);
    else if (!strcmp(a, "--dry-allowed-length"))
        ok = model_cli_int(a, v, 0, KITE_SAMPLER_MAX_PENALTY_LAST_N, &o->sampling.dry_allowed_length);
    else if (!strcmp(a, "--dry-penalty-last-n"))
        ok = model_cli_int(a, v, 0, KITE_SAMPLER_MAX_PENALTY_LAST_N, &o->sampling.dry_penalty_last_n);
    else if (!strcmp(a, "--dry-sequence-breaker")) {
        // llama.cpp: the first one replaces the defaults; "none" means no breakers at all
        if (!o->dry_breakers_given) o->n_dry_breakers = 0;
        o->dry_breakers_given = true;
        if (!strcmp(v, "none")) o->n_dry_breakers = 0;
        else if (o->n_dry_breakers < MODEL_CLI_MAX_DRY_BREAKERS) o->dry_breakers[o->n_dry_breakers++] = v;
        else {
            fprintf(stderr, "kite: %s: at most %d breakers\n", a, MODEL_CLI_MAX_DRY_BREAKERS);
            ok = false;
        }
    }
    else if (!strcmp(a, "-fa") || !strcmp(a, "--flash-attn")) {
        if (!strcmp(v, "on")) o->flash_attn = KITE_FA_ON;
        else if (!strcmp(v, "off")) o->flash_attn = KITE_FA_OFF;
        else if (!strcmp(v, "auto")) o->flash_attn = KITE_FA_AUTO;
        else {
            fprintf(stderr, "kite: %s expects on, off or auto, got '%s'\n", a, v);
            ok = false;
        }
    } else { // --seed / -s
        ok = model_cli_int(a, v, -1, 2147483647, &iv);
        // llama.cpp: -1 (its default) means a random seed
        if (ok && iv >= 0) {
            o->sampling.seed = (uint32_t)iv;
            o->seed_given = true;
        }
    }
    return ok ? 1 : -1;
}

uint32_t model_cli_file_sampling(model_opts *o, const kite_model *m, const char *cmd) {
    char warn[512];
    uint32_t from_file = kite_sampling_from_file(kite_model_gguf(m), o->sampling_given, &o->sampling, warn, sizeof warn);
    if (warn[0] && !o->quiet) fprintf(stderr, "%s: warning: the model's recommended sampling: %s\n", cmd, warn);
    return from_file;
}

void model_cli_print_sampling(const char *cmd, const kite_sampler_params *p, uint32_t from_file) {
    fprintf(stderr,
            "%s: sampling: temp %g, top_k %d, top_p %g, min_p %g, repeat_penalty %g, repeat_last_n %d, typical_p %g, "
            "top_n_sigma %g, xtc_probability %g, xtc_threshold %g, mirostat %d, mirostat_lr %g, mirostat_ent %g, "
            "dry_multiplier %g, dry_base %g, dry_allowed_length %d, dry_penalty_last_n %d; from the model file:",
            cmd, (double)p->temp, p->top_k, (double)p->top_p, (double)p->min_p, (double)p->repeat_penalty,
            p->penalty_last_n, (double)p->typical_p, (double)p->top_n_sigma, (double)p->xtc_probability,
            (double)p->xtc_threshold, p->mirostat, (double)p->mirostat_eta, (double)p->mirostat_tau,
            (double)p->dry_multiplier, (double)p->dry_base, p->dry_allowed_length, p->dry_penalty_last_n);
    for (size_t i = 0; i < sizeof sampling_flags / sizeof sampling_flags[0]; i++)
        if (from_file & sampling_flags[i].bit) fprintf(stderr, " %s", sampling_flags[i].name);
    fprintf(stderr, "%s\n", from_file ? "" : " none");
}

// The built-in model: $KITE_DEFAULT_MODEL, else models/ found from the executable's folder
// (build/native/kite -> ../../models; an installed bin/kite -> ../models).
static bool default_model(char *out, size_t n) {
    const char *env = getenv("KITE_DEFAULT_MODEL");
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return true;
    }
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return false;
    exe[len] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return false;
    *slash = 0;
    static const char *rel[] = {"/../../models/", "/../models/", "/models/"};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        int k = snprintf(out, n, "%s%s%s", exe, rel[i], DEFAULT_MODEL_NAME);
        if (k > 0 && (size_t)k < n && access(out, R_OK) == 0) return true;
    }
    return false;
}

// Maps the other files of a split set beside s->path (its first file).
static bool open_split(model_session *s) {
    int no;
    size_t plen;
    const int count = split_name(s->path, &no, &plen);
    if (count <= 1) return true;
    if (no != 1) {
        fprintf(stderr, "kite: %s is file %d of a split set of %d: give the first (-00001-of-%05d.gguf)\n", s->path,
                no, count, count);
        return false;
    }
    s->more = calloc((size_t)count - 1, sizeof *s->more);
    if (!s->more) return false;
    for (int i = 2; i <= count; i++) {
        char path[4096], err[512];
        split_part(path, sizeof path, s->path, plen, i, count);
        if (!kite_file_map_open(path, &s->more[i - 2], err, sizeof err)) {
            fprintf(stderr, "kite: split set: %s\n", err);
            return false;
        }
        s->n_more = i - 1;
    }
    return true;
}

// kite_model_params.release: the load repacked a range into its own memory, so its mapped pages
// need not stay resident.
static void release_range(void *user, const void *data, uint64_t len) {
    model_session *s = user;
    if (kite_file_map_drop(&s->map, data, len)) return;
    for (int32_t i = 0; i < s->n_more; i++)
        if (kite_file_map_drop(&s->more[i], data, len)) return;
}

bool model_session_open(model_session *s, const model_opts *o) {
    static char def[4096];
    memset(s, 0, sizeof *s);
    s->path = o->model;
    if (s->path && model_fetch_is_url(s->path)) {
        if (!model_fetch_url(s->path, s->path_buf, sizeof s->path_buf)) return false;
        s->path = s->path_buf;
    } else if (!s->path && o->hf_repo) {
        if (!model_fetch_hf_repo(o->hf_repo, s->path_buf, sizeof s->path_buf)) return false;
        s->path = s->path_buf;
    }
    if (!s->path) {
        if (!default_model(def, sizeof def)) {
            fprintf(stderr, "kite: no -m given and the built-in model %s was not found (set KITE_DEFAULT_MODEL)\n",
                    DEFAULT_MODEL_NAME);
            return false;
        }
        s->path = def;
    }
    char err[512];
    if (!kite_file_map_open(s->path, &s->map, err, sizeof err)) {
        fprintf(stderr, "kite: %s\n", err);
        return false;
    }
    if (!open_split(s)) {
        model_session_close(s);
        return false;
    }
    const int32_t n_files = 1 + s->n_more;
    const uint8_t **bufs = malloc((size_t)n_files * sizeof *bufs);
    uint64_t *lens = malloc((size_t)n_files * sizeof *lens);
    if (!bufs || !lens) {
        free(bufs);
        free(lens);
        fprintf(stderr, "kite: out of memory\n");
        model_session_close(s);
        return false;
    }
    bufs[0] = s->map.data;
    lens[0] = s->map.size;
    for (int32_t i = 0; i < s->n_more; i++) {
        bufs[i + 1] = s->more[i].data;
        lens[i + 1] = s->more[i].size;
    }
    // a heap copy (WASI: no mmap) is the session's alone: repacked in place, not copied
    bool heap = !s->map.mapped;
    for (int32_t i = 0; i < s->n_more; i++) heap &= !s->more[i].mapped;
    const kite_model_params mp = {
        .release = release_range, .release_user = s, .no_repack = o->no_repack, .in_place = heap,
        .repack_behind = true}; // the first tokens from the file's rows, not after 1 GB of fresh memory
    kite_status st = kite_model_load_split(bufs, lens, n_files, &mp, &s->model);
    free(bufs);
    free(lens);
    if (st != KITE_OK) {
        fprintf(stderr, "kite: %s: %s\n", s->path, kite_last_error());
        model_session_close(s);
        return false;
    }
    const int32_t n_train = kite_model_hparams(s->model)->n_ctx_train;
    if (o->n_ctx > n_train && n_train > 0 && !o->quiet)
        fprintf(stderr,
                "kite: warning: -c %d is more than the %d tokens the model was trained on; expect poor text past "
                "position %d\n",
                o->n_ctx, n_train, n_train);
    const int32_t n_seq = o->n_seq > 0 ? o->n_seq : 1;
    const int32_t n_ctx_asked = o->n_ctx ? o->n_ctx : (n_train < 4096 ? n_train : 4096); // as kite_ctx_new
    if (o->ctx_shared && n_ctx_asked < n_seq) {
        fprintf(stderr, "kite: -c %d leaves no room for %d slots (each gets -c / %d tokens)\n", n_ctx_asked, n_seq,
                n_seq);
        model_session_close(s);
        return false;
    }
    // kite_ctx_new shares its n_ctx out among the sequences
    const int32_t n_ctx_total = o->ctx_shared ? n_ctx_asked : n_seq > 1 ? n_ctx_asked * n_seq : o->n_ctx;
    kite_ctx_params cp = {.n_ctx = n_ctx_total,
                          .n_seq = n_seq, .n_threads = o->n_threads ? o->n_threads : cli_default_threads(),
                          .n_batch = o->n_batch, .flash_attn = o->flash_attn,
                          .n_gpu_layers = o->n_gpu_layers, .gpu_backend = o->device};
    st = kite_ctx_new(s->model, &cp, &s->ctx);
    if (st != KITE_OK) {
        fprintf(stderr, "kite: %s: %s\n", s->path, kite_last_error());
        model_session_close(s);
        return false;
    }
    const int32_t n_layer = kite_model_hparams(s->model)->n_layer;
    if (o->n_gpu_layers > 0 && !o->quiet && !strcmp(kite_ctx_layer_backend(s->ctx, n_layer - 1), "cpu"))
        fprintf(stderr, "kite: -ngl %d: this build has no GPU backend; every layer runs on the CPU\n", o->n_gpu_layers);
    return true;
}

int model_session_output_check(const model_session *s, const char *path, const char *in_path, char *err,
                               size_t err_len) {
    int no;
    size_t plen = 0;
    const int count = split_name(s->path, &no, &plen);
    for (int i = 1; i <= (count > 1 ? count : 1); i++) {
        char part[4096];
        if (count > 1) split_part(part, sizeof part, s->path, plen, i, count);
        else snprintf(part, sizeof part, "%s", s->path);
        if (!strcmp(part, path) || kite_file_same(part, path)) {
            snprintf(err, err_len, "%s is the model file: choose another name", path);
            return 2;
        }
    }
    return safe_output_check(path, in_path, err, err_len);
}

void model_session_close(model_session *s) {
    kite_ctx_free(s->ctx);
    kite_model_free(s->model);
    kite_file_map_close(&s->map);
    for (int32_t i = 0; i < s->n_more; i++) kite_file_map_close(&s->more[i]);
    free(s->more);
    memset(s, 0, sizeof *s);
}

uint32_t model_cli_random_seed(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint32_t)(ts.tv_nsec ^ (ts.tv_sec * 2654435761u) ^ (uint32_t)getpid());
}

void model_cli_print_stats(const kite_gen_stats *st) {
    fprintf(stderr, "\nprompt: %d tokens in %.3f s (%.1f tok/s) | generated: %d tokens in %.3f s (%.1f tok/s)\n",
            st->n_prompt, st->prefill_s, st->prefill_s > 0 ? st->n_prompt / st->prefill_s : 0.0, st->n_generated,
            st->decode_s, st->decode_s > 0 ? st->n_generated / st->decode_s : 0.0);
}

char *model_cli_read_text(const char *path, size_t max_bytes, size_t *len) {
    size_t n = 0;
    char *text;
    if (!strcmp(path, "-")) {
        bool too_long = false;
        text = kite_read_stream(stdin, max_bytes, &n, &too_long);
        if (!text && too_long) fprintf(stderr, "kite: stdin: too large (more than %zu bytes)\n", max_bytes);
        else if (!text) fprintf(stderr, "kite: reading stdin: %s\n", ferror(stdin) ? strerror(errno) : "out of memory");
    } else { // a regular file only: a FIFO or device is refused without blocking
        char err[512];
        text = kite_read_text_file(path, max_bytes, &n, err, sizeof err);
        if (!text) fprintf(stderr, "kite: %s\n", err);
    }
    // the callers take the text as a C string: a NUL would end it there, the rest unread
    const char *nul = text ? memchr(text, 0, n) : NULL;
    if (nul) {
        fprintf(stderr, "kite: %s holds a NUL byte (at byte %zu): it is read as text\n", strcmp(path, "-") ? path : "stdin",
                (size_t)(nul - text));
        free(text);
        return NULL;
    }
    if (text && len) *len = n;
    return text;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool model_cli_unescape(char *s, const char *what) {
    char *w = s;
    for (const char *r = s; *r;) {
        if (r[0] != '\\' || !r[1]) {
            *w++ = *r++;
            continue;
        }
        char c = r[1];
        int hi, lo;
        if (c == 'n') *w++ = '\n';
        else if (c == 'r') *w++ = '\r';
        else if (c == 't') *w++ = '\t';
        else if (c == '\'' || c == '"' || c == '\\') *w++ = c;
        else if (c == 'x' && r[2] && (hi = hex_digit(r[2])) >= 0 && r[3] && (lo = hex_digit(r[3])) >= 0) {
            if (hi == 0 && lo == 0) { // the text is a C string: it would end here, the rest unread
                fprintf(stderr, "kite: %s holds a NUL byte (%.4s at byte %zu): it is read as text\n", what, r,
                        (size_t)(r - s));
                return false;
            }
            *w++ = (char)(hi * 16 + lo);
            r += 4;
            continue;
        } else { // unknown: kept as written
            *w++ = r[0];
            *w++ = c;
        }
        r += 2;
    }
    *w = 0;
    return true;
}

// ---- reply text ------------------------------------------------------------------------------

static bool print_answer(void *user, const char *text, size_t len, bool thinking) {
    (void)user;
    if (!thinking) fwrite(text, 1, len, stdout);
    return true;
}

void reply_printer_init(reply_printer *p, bool hide_think) {
    p->hide_think = hide_think;
    kite_think_split_init(&p->think);
}

void reply_printer_put(reply_printer *p, const char *text, size_t len) {
    if (p->hide_think)
        kite_think_split_feed(&p->think, text, len, print_answer, NULL);
    else
        fwrite(text, 1, len, stdout);
    fflush(stdout);
}

void reply_printer_end(reply_printer *p) {
    if (p->hide_think) kite_think_split_flush(&p->think, print_answer, NULL);
    fflush(stdout);
}

// A grammar or schema file may not be larger than this.
#define MAX_GRAMMAR_BYTES (16u << 20)

// A tokenizer that takes any <...> token literal as one token (for a check of the syntax alone).
static int32_t syntax_only_token(void *user, const char *text, size_t len, int32_t *ids, int32_t cap) {
    (void)user, (void)text, (void)len;
    if (cap > 0) ids[0] = 0;
    return 1;
}

// The library's warnings while a schema converts (a pattern it cannot follow, bounds it does not
// enforce: llama.cpp warns of both on stderr too), named by the flag that gave the schema.
static void print_warning(kite_log_level level, const char *msg, void *flag) {
    if (level >= KITE_LOG_WARN) fprintf(stderr, "kite: %s: warning: %s\n", (const char *)flag, msg);
}

bool model_cli_grammar(const model_opts *o, char **out) {
    *out = NULL;
    int n = !!o->grammar + !!o->grammar_file + !!o->json_schema + !!o->json_schema_file;
    if (n == 0) return true;
    if (n > 1) {
        fprintf(stderr, "kite: give one of --grammar, --grammar-file, --json-schema, --json-schema-file\n");
        return false;
    }
    const char *flag = o->grammar ? "--grammar" : o->grammar_file ? "--grammar-file" : o->json_schema ? "--json-schema"
                                                                                                       : "--json-schema-file";
    const char *file = o->grammar_file ? o->grammar_file : o->json_schema_file;
    char *text = NULL;
    size_t len = 0;
    if (file) {
        if (!(text = model_cli_read_text(file, MAX_GRAMMAR_BYTES, &len))) return false;
    } else {
        text = strdup(o->grammar ? o->grammar : o->json_schema);
        if (!text) return false;
        len = strlen(text);
    }
    char *gbnf = text;
    if (o->json_schema || o->json_schema_file) {
        gbnf = NULL;
        if (!o->quiet) kite_log_set(print_warning, (void *)flag);
        kite_status s = kite_json_schema_to_grammar(text, len, &gbnf);
        kite_log_set(NULL, NULL);
        free(text);
        if (s != KITE_OK) {
            fprintf(stderr, "kite: %s: %s\n", flag, kite_last_error());
            return false;
        }
    }
    // The syntax is checked now, before the model loads; a token literal (<think>) is resolved
    // with the model's vocabulary when generation starts, which names the one that is not a token.
    kite_grammar_tokenizer any_token = {INT32_MAX, syntax_only_token, NULL};
    kite_grammar *g = NULL;
    if (kite_grammar_parse_tokens(gbnf, NULL, &any_token, &g) != KITE_OK) {
        fprintf(stderr, "kite: %s: %s\n", flag, kite_last_error());
        free(gbnf);
        return false;
    }
    kite_grammar_free(g);
    *out = gbnf;
    return true;
}
