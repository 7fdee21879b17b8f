// model_cli.h - what the model commands (run, chat, bench, perplexity) share: llama.cpp-style
// flags, the built-in default model's location, and opening a model (mmap) with a context.
#ifndef KITE_NATIVE_MODEL_CLI_H
#define KITE_NATIVE_MODEL_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "file_map.h"
#include "kite.h"
#include "chat/kite_chat.h"

#define MODEL_CLI_MAX_DRY_BREAKERS 64

typedef struct model_opts {
    const char *model;         // -m: a path, or a URL (http(s)://, hf://); NULL = the built-in default model
    const char *hf_repo;       // -hf OWNER/REPO[:QUANT]: a Hugging Face repository's GGUF
    const char *prompt;        // -p
    const char *file;          // -f
    const char *chat_template; // --chat-template
    int32_t n_predict;         // -n
    int32_t n_ctx;             // -c (0 = model default): the context of each sequence
    int32_t n_seq;             // sequences of the context (server slots; 0 = 1): the KV cache
                               // holds n_ctx * n_seq tokens, or n_ctx when ctx_shared
    bool ctx_shared;           // n_ctx is the whole cache, shared out evenly among the n_seq
                               // sequences (llama-server's -c with --parallel, no --kv-unified)
    int32_t n_batch;           // -b
    int32_t n_threads;         // -t (0 = cli_default_threads(): the physical cores)
    kite_flash_attn flash_attn; // -fa on|off|auto
    int32_t n_gpu_layers;      // -ngl: the last N layers on the offload backend
    const char *device;        // --device: the offload backend by name (NULL: the best built in)
    kite_sampler_params sampling; // --temp --top-k --top-p --min-p --repeat-penalty --repeat-last-n --seed
                                  // --typical --top-nsigma --xtc-probability --xtc-threshold
                                  // --mirostat --mirostat-lr --mirostat-ent --dry-multiplier
                                  // --dry-base --dry-allowed-length --dry-penalty-last-n
    // --dry-sequence-breaker S (repeatable; the first one replaces llama.cpp's defaults, "none"
    // leaves no breaker): dry_breakers_given false keeps the defaults
    const char *dry_breakers[MODEL_CLI_MAX_DRY_BREAKERS];
    int32_t n_dry_breakers;
    bool dry_breakers_given;
    uint32_t sampling_given;   // KITE_SAMPLING_* bits of the sampling flags given (the model's
                               // recommended values fill the others: model_cli_file_sampling)
    bool seed_given;
    bool hide_think;           // --think hide: leave <think>...</think> reasoning out of the printed reply
    bool no_thinking;          // -rea off: the template's reply opening with reasoning turned off
                               // (Qwen3: an empty <think></think> block), as llama.cpp
    int32_t reasoning_budget;  // --reasoning-budget N: -1 unlimited, else the most tokens of a
                               // reasoning block before its end is forced (see model_cli_reasoning)
    const char *reasoning_budget_message; // --reasoning-budget-message: forced before the end tag
    bool quiet;                // --log-disable: no notices or warnings on stderr (errors still)
    bool no_repack;            // -nr, --no-repack: weights stay in the file's layout (--repack: the default)
    const char *grammar;       // --grammar GBNF
    const char *grammar_file;  // --grammar-file FILE
    const char *json_schema;   // -j, --json-schema JSON
    const char *json_schema_file; // -jf, --json-schema-file FILE
} model_opts;

// Sets llama.cpp's defaults (sampling as llama-cli's; n_predict -1).
void model_opts_init(model_opts *o);

// Tries to parse argv[*i] (and its value, for flags that take one) as one of the shared flags.
// Returns 1 when it was one (advancing *i past its value), 0 when it is not a shared flag, -1 on
// a bad value (a message naming the flag is printed to stderr).
int model_opts_parse(model_opts *o, int argc, char **argv, int *i);

// Sets gp's reasoning budget from --reasoning-budget / --reasoning-budget-message for replies
// formatted with chat template tmpl, as llama.cpp does: only for a template with reasoning tags
// (kite_chat_reasoning_tags) and a budget >= 0; the reply opening with reasoning off
// (kite_chat_no_think_text) is what the budget sees first.
void model_cli_reasoning(const model_opts *o, const char *tmpl, kite_gen_params *gp);

// llama.cpp's switch for its load-time weight repacking (Kite's X8 layout on x86, wasm): true
// when a is -nr / --no-repack (*no_repack = true) or --repack (false); false for any other
// argument.
bool model_cli_repack_flag(const char *a, bool *no_repack);

// Parses an integer flag value in [lo, hi]; false (and a message) if it is not one.
bool model_cli_int(const char *flag, const char *s, long lo, long hi, int32_t *out);

// The grammar the options ask for (--grammar, --grammar-file, or a JSON schema converted to
// one), checked by parsing it: *out is a malloc'd GBNF text, or NULL when none was asked for.
// false, with a message naming the flag and the problem on stderr, when the file cannot be read,
// more than one was given, or the grammar / schema is bad (a usage error: exit status 2).
bool model_cli_grammar(const model_opts *o, char **out);

typedef struct model_session {
    kite_file_map map;
    kite_file_map *more; // the other files of a split set (NAME-00001-of-0000N.gguf), or NULL
    int32_t n_more;
    kite_model *model;
    kite_ctx *ctx;
    const char *path; // the file opened
    char path_buf[4096]; // a downloaded model's cached path
} model_session;

// Maps the model file (o->model, downloaded into the cache first when it is a URL; else o->hf_repo;
// else the default model; a split set's first file NAME-00001-of-0000N.gguf brings the other
// N - 1 beside it), loads it and creates a context with o's n_ctx / n_threads / n_batch. An
// n_ctx above the model's training length is warned about on stderr (as llama.cpp does) but
// allowed. On failure prints a message to stderr and returns false
// (the session is then closed).
bool model_session_open(model_session *s, const model_opts *o);

void model_session_close(model_session *s);

// Whether an output file may be written at path while session s (open) reads its model:
// safe_output_check's answer (in_path: another input, or NULL), and also 2, with err naming
// the problem, when path is the model file or one of its split set's files (the output would
// replace the model).
int model_session_output_check(const model_session *s, const char *path, const char *in_path, char *err,
                               size_t err_len);

// A seed for runs without --seed (llama.cpp picks a random one too).
uint32_t model_cli_random_seed(void);

// Makes the model's recommended sampling (general.sampling.*) the defaults of o->sampling: each
// setting no flag gave takes the file's value (kite_sampling_from_file), as llama.cpp's tools
// do. A bad key is warned about on stderr as "cmd: warning: ..." (unless --log-disable); its
// setting keeps Kite's default. Returns the KITE_SAMPLING_* bits of the settings taken from the file.
uint32_t model_cli_file_sampling(model_opts *o, const kite_model *m, const char *cmd);

// Prints the sampling settings p to stderr in one line ("cmd: sampling: temp 0.6, top_k 20,
// ..."), then which of them came from the model file (from_file: KITE_SAMPLING_* bits).
void model_cli_print_sampling(const char *cmd, const kite_sampler_params *p, uint32_t from_file);

// Writes stats of a generation to stderr in one line.
void model_cli_print_stats(const kite_gen_stats *st);

// Reads a whole text file, or stdin for "-", into a malloc'd NUL-terminated string (*len its
// length; len may be NULL). NULL, with a message naming the file on stderr, when it cannot be
// read, is over max_bytes or holds a NUL byte (the text would end there).
char *model_cli_read_text(const char *path, size_t max_bytes, size_t *len);

// Replaces escape sequences in s in place, as llama.cpp's -e does: \n \r \t \' \" \\ and
// \xHH (two hex digits); any other backslash sequence is kept as written. False, with a message
// naming what (e.g. "the prompt") on stderr, when an escape would make a NUL byte (\x00): s is
// read as a C string, so it would end there (s is then partly rewritten).
bool model_cli_unescape(char *s, const char *what);

// A reply's text on stdout, less its <think>...</think> reasoning block when hide_think is set
// (--think hide): the block may span pieces, so the text goes through a splitter.
typedef struct reply_printer {
    bool hide_think;
    kite_think_split think;
} reply_printer;

void reply_printer_init(reply_printer *p, bool hide_think);

// Writes (and flushes) the shown part of a piece of text.
void reply_printer_put(reply_printer *p, const char *text, size_t len);

// Writes what the splitter still holds at the end of a reply.
void reply_printer_end(reply_printer *p);

#endif
