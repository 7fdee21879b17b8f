// cmd_convert.c - `kite convert HF_DIR OUT.gguf [--outtype T]`: a Hugging Face checkpoint
// folder to GGUF over kite_convert_hf (llama.cpp's convert_hf_to_gguf.py without Python), read
// with pread one block of rows at a time and written through safe_output (a temporary file
// renamed over OUT only when complete).
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_signals.h"
#include "commands.h"
#include "file_map.h"
#include "safe_output.h"
#include "kite.h"

static const char usage_text[] =
    "usage: kite convert [options] HF_DIR OUT.gguf\n"
    "\n"
    "Converts a Hugging Face checkpoint folder (config.json, tokenizer.json, tokenizer_config.json,\n"
    "generation_config.json, model.safetensors or model.safetensors.index.json + its shards) to\n"
    "one GGUF file, as llama.cpp's convert_hf_to_gguf.py does.\n"
    "\n"
    "architectures: LlamaForCausalLM (Llama 2/3.x, SmolLM2, TinyLlama), MistralForCausalLM,\n"
    "               SmolLM3ForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, Qwen3MoeForCausalLM\n"
    "               (Qwen3-30B-A3B), Gemma2ForCausalLM, Gemma3ForCausalLM (text-only),\n"
    "               Phi3ForCausalLM (Phi-3, Phi-4-mini); the base models LlamaModel,\n"
    "               Qwen2Model, Qwen3Model (no lm_head: tied)\n"
    "tokenizers:    SentencePiece tokenizer.model; tokenizer.json byte-level BPE (GPT-2, Llama 3,\n"
    "               Qwen2, o200k / gpt-4o, SmolLM pre-tokenizers)\n"
    "rope:          rope_scaling or rope_parameters (flat or per attention type)\n"
    "weights:       safetensors, F32 / F16 / BF16\n"
    "\n"
    "options (as convert_hf_to_gguf.py's):\n"
    "  --outtype T   f32, f16, bf16, q8_0 or auto (default): the type of the weight matrices;\n"
    "                auto is bf16 for a BF16 checkpoint, else f16. Norms and biases are f32.\n"
    "  --model-name NAME  general.name (default: found as convert_hf_to_gguf.py finds it:\n"
    "                README.md's model card, config.json's _name_or_path, the folder's name)\n"
    "  -q, --quiet   no summary line\n"
    "\n"
    "The model's identity is written as llama.cpp's converter writes it: general.name, basename,\n"
    "finetune, version and size_label from the names (\"Qwen2.5-1.5B-Instruct\"; the size label\n"
    "otherwise from the parameter count), license, tags, languages, base_model.* and dataset.*\n"
    "from README.md's YAML front matter (a subset of YAML: other forms are warned about and\n"
    "skipped).\n"
    "\n"
    "OUT must be a regular file or a new name, and none of the files read; it is written beside\n"
    "itself and renamed only when complete (an error or Ctrl-C leaves no file). Exit 2: bad or\n"
    "unsupported input.\n";

#define KITE_TRY_CLI(expr)                   \
    do {                                     \
        kite_status try_s_ = (expr);         \
        if (try_s_ != KITE_OK) return try_s_; \
    } while (0)

typedef struct dir_files {
    const char *dir;
    char *open_name; // the file fd is open on
    int fd;
    char **read;     // every file opened (OUT must not replace one of them)
    size_t n_read;
} dir_files;

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

// Opens name (keeping the last one open: tensors are read a row block at a time).
static kite_status open_file(dir_files *d, const char *name) {
    if (d->open_name && !strcmp(d->open_name, name)) return KITE_OK;
    if (d->fd >= 0) close(d->fd);
    free(d->open_name);
    d->open_name = NULL;
    char *path = join(d->dir, name);
    if (!path) return kite_set_error(KITE_ERR_NOMEM, "out of memory");
    // non-blocking: a FIFO (or a device) must be refused, not waited on; the type is checked on
    // the descriptor
    d->fd = open(path, O_RDONLY | O_NONBLOCK);
    struct stat st;
    kite_status s = KITE_OK;
    if (d->fd < 0) {
        s = kite_set_error(KITE_ERR_INVALID, "%s: %s", path, strerror(errno));
    } else if (fstat(d->fd, &st) != 0) {
        s = kite_set_error(KITE_ERR_IO, "%s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        s = kite_set_error(KITE_ERR_INVALID, "%s is %s, not a regular file", path, kite_file_kind((unsigned)st.st_mode));
    }
    if (s != KITE_OK && d->fd >= 0) {
        close(d->fd);
        d->fd = -1;
    }
    free(path);
    if (s == KITE_OK && !(d->open_name = strdup(name))) s = kite_set_error(KITE_ERR_NOMEM, "out of memory");
    for (size_t i = 0; s == KITE_OK && i < d->n_read; i++)
        if (!strcmp(d->read[i], name)) return KITE_OK;
    char **r = s == KITE_OK ? realloc(d->read, (d->n_read + 1) * sizeof *r) : NULL;
    if (s == KITE_OK && (!r || !(r[d->n_read] = strdup(name)))) s = kite_set_error(KITE_ERR_NOMEM, "out of memory");
    if (r) d->read = r;
    if (s == KITE_OK) d->n_read++;
    return s;
}

// 0 when OUT is none of the files read, else 2 (the message in err).
static int check_not_input(const dir_files *d, const char *out_path, char *err, size_t err_len) {
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < d->n_read; i++) {
        char *path = join(d->dir, d->read[i]);
        rc = path ? safe_output_check(out_path, path, err, err_len) : 1;
        if (!path) snprintf(err, err_len, "out of memory");
        free(path);
    }
    return rc;
}

static kite_status f_size(void *user, const char *name, uint64_t *size) {
    dir_files *d = user;
    KITE_TRY_CLI(open_file(d, name));
    struct stat st;
    if (fstat(d->fd, &st) != 0) return kite_set_error(KITE_ERR_IO, "%s: %s", name, strerror(errno));
    *size = (uint64_t)st.st_size;
    return KITE_OK;
}

static kite_status f_read_at(void *user, const char *name, uint64_t offset, void *dst, uint64_t n) {
    dir_files *d = user;
    KITE_TRY_CLI(open_file(d, name));
    uint8_t *p = dst;
    while (n) {
        size_t chunk = n > (1u << 30) ? (1u << 30) : (size_t)n;
        ssize_t r = pread(d->fd, p, chunk, (off_t)offset);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return kite_set_error(KITE_ERR_IO, "%s: %s at offset %llu", name, r < 0 ? strerror(errno) : "file ends",
                                          (unsigned long long)offset);
        p += r;
        offset += (uint64_t)r;
        n -= (uint64_t)r;
    }
    return KITE_OK;
}

static bool f_exists(void *user, const char *name) {
    dir_files *d = user;
    char *path = join(d->dir, name);
    struct stat st;
    bool found = path && stat(path, &st) == 0;
    free(path);
    return found;
}

// Small files (JSON): up to 1 GiB; absent -> *data NULL.
static kite_status f_read_all(void *user, const char *name, uint8_t **data, uint64_t *len) {
    dir_files *d = user;
    *data = NULL;
    *len = 0;
    char *path = join(d->dir, name);
    if (!path) return kite_set_error(KITE_ERR_NOMEM, "out of memory");
    struct stat st;
    bool absent = stat(path, &st) != 0 && errno == ENOENT;
    free(path);
    if (absent) return KITE_OK;
    uint64_t size = 0;
    KITE_TRY_CLI(f_size(user, name, &size));
    if (size > (1u << 30)) return kite_set_error(KITE_ERR_INVALID, "%s: %llu bytes, too big", name, (unsigned long long)size);
    uint8_t *p = malloc(size ? size : 1);
    if (!p) return kite_set_error(KITE_ERR_NOMEM, "%s: out of memory", name);
    kite_status s = f_read_at(user, name, 0, p, size);
    if (s != KITE_OK) {
        free(p);
        return s;
    }
    *data = p;
    *len = size;
    return KITE_OK;
}

// The sink: the output file, checked against the inputs at its first write.
typedef struct out_sink {
    safe_output of;
    const dir_files *in;
    const char *path;
    bool checked;
    int refused; // check_not_input's code when OUT is an input (why in err)
    char err[600];
} out_sink;

// The converter reads config, tokenizer and every safetensors header before its first byte out
// (kite_convert.h), so every file it will read is known here: OUT naming one of them is refused
// now, not after minutes of converting.
static kite_status file_write(void *user, const void *data, size_t n) {
    out_sink *o = user;
    if (!o->checked) {
        o->checked = true;
        o->refused = check_not_input(o->in, o->path, o->err, sizeof o->err);
        if (o->refused) return kite_set_error(KITE_ERR_INVALID, "output %s", o->err);
    }
    return safe_output_write(&o->of, data, n) ? KITE_OK : KITE_ERR_IO;
}

static bool keep_going(void *user, const char *what, uint64_t done, uint64_t total) {
    (void)user, (void)what, (void)done, (void)total;
    return !cli_stop_requested;
}

// The converter's warnings (a model card entry it cannot read) on stderr.
static void print_warning(kite_log_level level, const char *msg, void *user) {
    (void)user;
    if (level >= KITE_LOG_WARN) fprintf(stderr, "kite convert: warning: %s\n", msg);
}

static int parse_outtype(const char *s) {
    static const struct { const char *name; int type; } tab[] = {
        {"f32", KITE_TYPE_F32}, {"f16", KITE_TYPE_F16}, {"bf16", KITE_TYPE_BF16}, {"q8_0", KITE_TYPE_Q8_0}, {"auto", -1}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcmp(s, tab[i].name)) return tab[i].type;
    return -2;
}

// The folder's last path component (llama.cpp names the model after it), of its real path so
// that "." names the folder (WASI's libc has no realpath: there, the path as given).
static char *dir_name(const char *path) {
#if defined(__wasi__)
    char *real = NULL;
#else
    char *real = realpath(path, NULL);
#endif
    const char *dir = real ? real : path;
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/') b--;
    char *s = malloc(n - b + 1);
    if (s) {
        memcpy(s, dir + b, n - b);
        s[n - b] = 0;
    }
    free(real);
    return s;
}

int kite_cmd_convert(int argc, char **argv) {
    const char *pos[2] = {0};
    const char *model_name = NULL;
    int n_pos = 0, outtype = -1;
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(a, "--outtype")) {
            if (i + 1 >= argc || (outtype = parse_outtype(argv[++i])) == -2) {
                fprintf(stderr, "kite convert: --outtype needs one of f32, f16, bf16, q8_0, auto (see 'kite convert --help')\n");
                return 2;
            }
        } else if (!strcmp(a, "--model-name")) {
            if (i + 1 >= argc || !argv[i + 1][0]) {
                fprintf(stderr, "kite convert: --model-name needs a name (see 'kite convert --help')\n");
                return 2;
            }
            model_name = argv[++i];
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = true;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "kite convert: unknown option %s (see 'kite convert --help')\n", a);
            return 2;
        } else if (n_pos < 2) {
            pos[n_pos++] = a;
        } else {
            fprintf(stderr, "kite convert: unexpected argument %s (see 'kite convert --help')\n", a);
            return 2;
        }
    }
    if (n_pos != 2) {
        fputs(usage_text, stderr);
        return 2;
    }
    const char *dir = pos[0], *out_path = pos[1];
    struct stat st;
    bool found = stat(dir, &st) == 0;
    if (!found || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "kite convert: %s: %s\n", dir, found ? "not a folder" : strerror(errno));
        return 2;
    }
    char err[600];
    int rc = safe_output_check(out_path, NULL, err, sizeof err);
    if (rc) {
        fprintf(stderr, "kite convert: output %s\n", err);
        return rc;
    }
    dir_files d = {dir, NULL, -1, NULL, 0};
    kite_hf_files files = {&d, f_exists, f_read_all, f_size, f_read_at};
    char *name = dir_name(dir);
    kite_convert_opts o = {outtype, model_name, keep_going, NULL, name};
    out_sink os = {.in = &d, .path = out_path};
    rc = 1;
    cli_stop_on_signals();
    if (!safe_output_open(&os.of, out_path, err, sizeof err)) {
        fprintf(stderr, "kite convert: %s\n", err);
        goto out;
    }
    setvbuf(os.of.f, NULL, _IOFBF, 4u << 20);
    kite_sink sink = {file_write, &os};
    if (!quiet) kite_log_set(print_warning, NULL);
    kite_status s = kite_convert_hf(&files, &o, &sink);
    kite_log_set(NULL, NULL);
    if (os.refused) {
        rc = os.refused;
        fprintf(stderr, "kite convert: output %s\n", os.err);
    } else if (s == KITE_ERR_ABORTED) {
        fprintf(stderr, "kite convert: interrupted; %s not written\n", out_path);
    } else if (s == KITE_ERR_IO && os.of.err) {
        fprintf(stderr, "kite convert: writing %s: %s\n", os.of.tmp_path, strerror(os.of.err));
    } else if (s != KITE_OK) {
        fprintf(stderr, "kite convert: %s: %s\n", dir, kite_last_error());
        if (s == KITE_ERR_INVALID || s == KITE_ERR_UNSUPPORTED) rc = 2;
    } else if ((rc = check_not_input(&d, out_path, err, sizeof err)) != 0) { // a file first read after the first write
        fprintf(stderr, "kite convert: output %s\n", err);
    } else if (!safe_output_commit(&os.of, err, sizeof err)) {
        rc = 1;
        fprintf(stderr, "kite convert: %s\n", err);
    } else {
        rc = 0;
        if (!quiet) printf("kite convert: %s -> %s\n", dir, out_path);
    }
out:
    safe_output_close(&os.of);
    if (d.fd >= 0) close(d.fd);
    free(d.open_name);
    for (size_t i = 0; i < d.n_read; i++) free(d.read[i]);
    free(d.read);
    free(name);
    return rc;
}
