// cmd_run.c - `kite run -m MODEL -p PROMPT [-n N] ...`: generate text from a prompt, streamed
// to stdout piece by piece (only the generated text unless --display-prompt; stats and notices
// go to stderr). -cnv / -sys hand over to `kite chat`, as llama-cli's conversation mode.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat/kite_chat.h"
#include "cli_signals.h"
#include "commands.h"
#include "model_cli.h"

#define MAX_STOPS 16
#define MAX_PROMPT_BYTES (64u << 20)

// Exit codes (also in the usage text).
enum {
    RUN_OK = 0,           // generation ended normally: end of text, -n tokens, a stop string or reverse prompt
    RUN_ERROR = 1,        // the model could not be opened, or generation failed
    RUN_USAGE = 2,        // bad command line
    RUN_CONTEXT_FULL = 3, // the context filled before the end (the prompt did not fit, or the text was cut)
    RUN_INTERRUPTED = 130 // Ctrl-C (SIGINT) stopped generation
};

static void usage(FILE *f) {
    fprintf(f,
            "usage: kite run [-m MODEL] [-p PROMPT | -f FILE] [options]\n"
            "  -m, --model FILE|URL   GGUF model: a path, http(s)://HOST/PATH.gguf or hf://OWNER/REPO/FILE.gguf\n"
            "                         (URLs are downloaded once into $KITE_CACHE, default ~/.cache/kite;\n"
            "                         default model: the built-in stories260K)\n"
            "  -hf, --hf-repo OWNER/REPO[:QUANT]  a Hugging Face repository's GGUF (no QUANT: Q4_K_M,\n"
            "                         else Q8_0, else the first .gguf; the hub unreachable: from the cache;\n"
            "                         $KITE_HF_ENDPOINT or $HF_ENDPOINT replace https://huggingface.co;\n"
            "                         $HF_TOKEN is sent to it for gated repositories)\n"
            "  -p, --prompt TEXT      prompt ('-': read it from stdin; default: empty, BOS only)\n"
            "  -f, --file FILE        read the prompt from FILE ('-': stdin); a final line break is dropped\n"
            "  -e, --escape           process escapes in the prompt and -r/--stop text: \\n \\r \\t \\' \\\" \\\\\n"
            "                         \\xHH (default, as llama.cpp)\n"
            "  --no-escape            take them literally\n"
            "  -n, --n-predict N      tokens to generate (-1: until end of text; default -1)\n"
            "  -r, --reverse-prompt TEXT  stop after TEXT appears in the output (shown); repeatable\n"
            "  --stop TEXT            stop before TEXT would appear (not shown); repeatable\n"
            "  --display-prompt       print the prompt before the generated text\n"
            "  --think show|hide      show (default) or hide a <think>...</think> reasoning block\n"
            "                         (Qwen3, DeepSeek-R1) in the printed text\n"
            "  -rea, --reasoning on|off|auto  off: the chat template's reply opening with reasoning\n"
            "                         turned off (Qwen3's enable_thinking false: an empty <think></think>\n"
            "                         block), with --chat-template\n"
            "  --reasoning-budget N   -1 (default): unlimited; N >= 0: a reasoning block the reply\n"
            "                         opens (<think>, for templates that write one) gets at most N\n"
            "                         tokens, then </think> is forced and the answer follows (as\n"
            "                         llama.cpp; 0 closes it at once; the prompt is unchanged)\n"
            "  --reasoning-budget-message TEXT  forced before </think> when the budget runs out\n"
            "  --no-display-prompt    print only the generated text (default)\n"
            "  --verbose-prompt       print the prompt's tokens to stderr before generating\n"
            "  -v, --verbose          print the sampling settings (and which came from the model) to stderr\n"
            "  -cnv, --conversation   chat mode: the same as kite chat with these options (-p: first message)\n"
            "  -sys, --system-prompt TEXT  system message; starts chat mode\n"
            "  -t, --threads N        threads (default: the physical cores this process may use)\n"
            "  -c, --ctx-size N       context length (default: the model's, at most 4096; above the\n"
            "                         model's training length works but is warned about)\n"
            "  -b, --batch-size N     prompt tokens per forward pass (default 512)\n"
            "  -fa, --flash-attn on|off|auto  attention rounding as llama.cpp's flash-attention\n"
            "                         path (on, auto) or its plain one (off)\n"
            "  -ngl, --gpu-layers N   run the last N layers (N > layers: the output too) on the GPU\n"
            "                         backend; without one in this build they stay on the CPU\n"
            "  -dev, --device NAME    the offload backend ('cpu': a second CPU instance, for tests)\n"
            "  -nr, --no-repack       keep the weights in the file's layout (x86 repacks Q2_K,\n"
            "                         Q3_K, Q4_K, Q5_K, Q6_K, Q8_0, IQ4_XS, Q4_0, Q5_0, Q4_1, Q5_1\n"
            "                         and IQ4_NL at load, wasm also the IQ grid types, for a\n"
            "                         faster decode; KITE_REPACK=0 does the same; --repack: on)\n"
            "  --temp T               temperature, 0 = greedy (default 0.8)\n"
            "  --top-k K --top-p P --min-p P --repeat-penalty R --repeat-last-n N --seed S\n"
            "  --typical P --top-nsigma N --xtc-probability P --xtc-threshold T\n"
            "  --mirostat 0|1|2 --mirostat-lr ETA --mirostat-ent TAU   llama.cpp's samplers, in its\n"
            "                         order (all off by default; Mirostat replaces the others)\n"
            "  --dry-multiplier M --dry-base B --dry-allowed-length N --dry-penalty-last-n N\n"
            "  --dry-sequence-breaker S   DRY, after the penalties (off: multiplier 0; base 1.75,\n"
            "                         allowed 2, last 64; breakers \\n : \" * until the first\n"
            "                         --dry-sequence-breaker, 'none' for none), as llama.cpp\n"
            "                         a flag not given takes the model's recommended value\n"
            "                         (general.sampling.*) when the file has one\n"
            "  --grammar GBNF         constrain the output to a GBNF grammar (llama.cpp's syntax)\n"
            "  --grammar-file FILE    the same, read from FILE\n"
            "  -j, --json-schema JSON constrain the output to JSON matching a JSON schema\n"
            "  -jf, --json-schema-file FILE  the same, read from FILE\n"
            "  --chat-template NAME   wrap the prompt as one user turn of this template\n"
            "                         ('auto': the model's own tokenizer.chat_template)\n"
            "  --ids                  print the generated token ids instead of the text\n"
            "  --no-stats             do not print timings to stderr\n"
            "  --log-disable          no timings, notices or warnings on stderr (errors still)\n"
            "exit status: 0 generation ended normally (end of text, -n tokens, a stop string or\n"
            "  reverse prompt); 1 error; 2 bad command line; 3 the context filled first (the prompt\n"
            "  did not fit, or the text was cut at -c tokens; stderr says which); 130 Ctrl-C.\n");
}

typedef struct run_out {
    bool ids;
    bool first;
    const char *const *rev; // reverse prompts
    int n_rev;
    char *tail; // the last output bytes (a reverse prompt may span pieces)
    size_t tail_len, tail_cap;
    bool rev_hit;
    reply_printer print;     // stdout, less a reasoning block with --think hide
} run_out;

static volatile sig_atomic_t g_interrupted;

static void on_sigint(int sig) {
    (void)sig;
    if (g_interrupted) _exit(RUN_INTERRUPTED); // a second Ctrl-C: leave at once
    g_interrupted = 1;
}

// Writes the piece; with reverse prompts, stops right after the first one the output contains.
static bool on_piece(void *user, const char *piece, size_t len) {
    run_out *o = user;
    if (g_interrupted) return false;
    size_t show = len;
    if (o->n_rev > 0) {
        size_t need = o->tail_len + len + 1;
        if (need > o->tail_cap) {
            char *t = realloc(o->tail, need * 2);
            if (!t) return false;
            o->tail = t, o->tail_cap = need * 2;
        }
        memcpy(o->tail + o->tail_len, piece, len);
        const size_t all = o->tail_len + len;
        o->tail[all] = 0;
        size_t best = all + 1; // the earliest end of a match inside this piece
        for (int k = 0; k < o->n_rev; k++) {
            const size_t rl = strlen(o->rev[k]);
            if (rl == 0) continue;
            for (size_t start = o->tail_len + 1 >= rl ? o->tail_len + 1 - rl : 0; start + rl <= all; start++)
                if (!memcmp(o->tail + start, o->rev[k], rl)) {
                    if (start + rl < best) best = start + rl;
                    break;
                }
        }
        if (best <= all) {
            show = best - o->tail_len;
            o->rev_hit = true;
        }
        // keep only what a later match could still start in
        size_t keep = 0;
        for (int k = 0; k < o->n_rev; k++) {
            size_t rl = strlen(o->rev[k]);
            if (rl > keep) keep = rl;
        }
        keep = keep > 0 ? keep - 1 : 0;
        if (all > keep) {
            memmove(o->tail, o->tail + all - keep, keep);
            o->tail_len = keep;
        } else {
            o->tail_len = all;
        }
    }
    if (!o->ids) reply_printer_put(&o->print, piece, show);
    return !o->rev_hit;
}

static void on_token(void *user, int32_t id) {
    run_out *o = user;
    if (!o->ids) return;
    printf(o->first ? "%d" : " %d", id);
    fflush(stdout);
    o->first = false;
}

// The chat template to use: a built-in name, or 'auto' for the model's own template source.
static const char *template_source(const kite_model *m, const char *name, char **owned) {
    *owned = NULL;
    if (strcmp(name, "auto") != 0) return name;
    kite_str s;
    if (!kite_gguf_get_str(kite_model_gguf(m), "tokenizer.chat_template", &s)) return NULL; // chatml
    *owned = malloc(s.len + 1);
    if (!*owned) return NULL;
    memcpy(*owned, s.ptr, s.len);
    (*owned)[s.len] = 0;
    return *owned;
}

// -cnv / -sys: the same options as chat mode (kite chat), without the ones only run has.
static int run_as_chat(int argc, char **argv) {
    char **av = calloc((size_t)argc + 1, sizeof *av);
    if (!av) return RUN_ERROR;
    int n = 0;
    av[n++] = "chat";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-cnv") || !strcmp(a, "--conversation")) continue;
        av[n++] = !strcmp(a, "--system-prompt") ? "-sys" : argv[i];
    }
    int rc = kite_cmd_chat(n, av);
    free(av);
    return rc;
}

// Prints the prompt's tokens as llama-cli's --verbose-prompt does: id -> 'piece'.
static void print_prompt_tokens(const kite_model *m, const char *prompt, bool parse_special) {
    const kite_vocab *v = kite_model_vocab(m);
    int32_t *ids = NULL, n = 0;
    if (kite_tokenize_alloc(v, prompt, strlen(prompt), true, parse_special, &ids, &n) != KITE_OK) {
        fprintf(stderr, "kite run: tokenizing the prompt: %s\n", kite_last_error());
        return;
    }
    fprintf(stderr, "prompt: '%s'\nnumber of tokens in prompt = %d\n", prompt, n);
    for (int32_t i = 0; i < n; i++) {
        char buf[256];
        int32_t k = kite_token_to_piece(v, ids[i], buf, sizeof buf - 1, true);
        if (k < 0) k = 0;
        buf[k] = 0;
        fprintf(stderr, "%6d -> '%s'\n", ids[i], buf);
    }
    fputc('\n', stderr);
    free(ids);
}

int kite_cmd_run(int argc, char **argv) {
    for (int i = 1; i < argc; i++) // chat mode takes over the whole command line
        if (!strcmp(argv[i], "-cnv") || !strcmp(argv[i], "--conversation") || !strcmp(argv[i], "-sys") ||
            !strcmp(argv[i], "--system-prompt"))
            return run_as_chat(argc, argv);
    model_opts o;
    model_opts_init(&o);
    run_out out = {.first = true};
    bool stats = true, escape = true, display = false, verbose_prompt = false, verbose = false;
    char *rev[MAX_STOPS], *stops[MAX_STOPS];
    int n_rev = 0, n_stops = 0;
    for (int i = 1; i < argc; i++) {
        int r = model_opts_parse(&o, argc, argv, &i);
        if (r < 0) return RUN_USAGE;
        if (r > 0) continue;
        const char *a = argv[i];
        if (!strcmp(a, "--ids")) out.ids = true;
        else if (!strcmp(a, "--no-stats")) stats = false;
        else if (!strcmp(a, "--log-disable")) stats = false, o.quiet = true;
        else if (!strcmp(a, "-e") || !strcmp(a, "--escape")) escape = true;
        else if (!strcmp(a, "--no-escape")) escape = false;
        else if (!strcmp(a, "--display-prompt")) display = true;
        else if (!strcmp(a, "--no-display-prompt")) display = false;
        else if (!strcmp(a, "--verbose-prompt")) verbose_prompt = true;
        else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) verbose = true;
        else if (!strcmp(a, "-no-cnv") || !strcmp(a, "--no-conversation")) {
        } else if (!strcmp(a, "-r") || !strcmp(a, "--reverse-prompt") || !strcmp(a, "--stop")) {
            const bool is_rev = strcmp(a, "--stop") != 0;
            if (i + 1 >= argc) {
                fprintf(stderr, "kite run: %s needs a value\n", a);
                return RUN_USAGE;
            }
            if ((is_rev ? n_rev : n_stops) == MAX_STOPS) {
                fprintf(stderr, "kite run: at most %d %s strings\n", MAX_STOPS, a);
                return RUN_USAGE;
            }
            if (!*argv[i + 1]) {
                fprintf(stderr, "kite run: %s needs a non-empty string\n", a);
                return RUN_USAGE;
            }
            if (is_rev) rev[n_rev++] = argv[++i];
            else stops[n_stops++] = argv[++i];
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return RUN_OK;
        } else {
            fprintf(stderr, "kite run: unknown option '%s'\n", a);
            usage(stderr);
            return RUN_USAGE;
        }
    }
    if (o.file && o.prompt) {
        fprintf(stderr, "kite run: give the prompt with -p or -f, not both\n");
        return RUN_USAGE;
    }
    if (o.model && o.hf_repo) {
        fprintf(stderr, "kite run: give the model with -m or -hf, not both\n");
        return RUN_USAGE;
    }
    if (!o.seed_given) o.sampling.seed = model_cli_random_seed();
    char *grammar = NULL;
    if (!model_cli_grammar(&o, &grammar)) return RUN_USAGE;

    // the prompt: -p TEXT, -p - (stdin), -f FILE (as llama.cpp: one final line break dropped,
    // escapes processed in all of them unless --no-escape)
    char *prompt_owned = NULL;
    if (o.file || (o.prompt && !strcmp(o.prompt, "-"))) {
        size_t len = 0;
        prompt_owned = model_cli_read_text(o.file ? o.file : "-", MAX_PROMPT_BYTES, &len);
        if (!prompt_owned) {
            free(grammar);
            return RUN_ERROR;
        }
        if (len > 0 && prompt_owned[len - 1] == '\n') prompt_owned[len - 1] = 0;
    } else {
        prompt_owned = strdup(o.prompt ? o.prompt : "");
        if (!prompt_owned) {
            free(grammar);
            return RUN_ERROR;
        }
    }
    int rc = RUN_OK;
    if (escape && !model_cli_unescape(prompt_owned, "the prompt")) rc = RUN_USAGE;
    char *strs[2 * MAX_STOPS];
    int n_strs = 0;
    for (int k = 0; rc == RUN_OK && k < n_rev + n_stops; k++) {
        strs[n_strs] = strdup(k < n_rev ? rev[k] : stops[k - n_rev]);
        if (!strs[n_strs]) {
            rc = RUN_ERROR;
            break;
        }
        n_strs++;
        const char *what = k < n_rev ? "the -r text" : "the --stop text";
        if (escape && !model_cli_unescape(strs[n_strs - 1], what)) rc = RUN_USAGE;
    }

    model_session s;
    reply_printer_init(&out.print, o.hide_think);
    if (rc == RUN_OK && !model_session_open(&s, &o)) rc = RUN_ERROR;
    if (rc != RUN_OK) {
        for (int k = 0; k < n_strs; k++) free(strs[k]);
        free(prompt_owned);
        free(grammar);
        return rc;
    }
    out.rev = (const char *const *)strs;
    out.n_rev = n_rev;

    const char *prompt = prompt_owned;
    char *formatted = NULL, *tmpl_owned = NULL;
    kite_gen_params gp = kite_gen_default_params();
    if (o.chat_template) {
        kite_chat_msg msg = {"user", prompt};
        const char *tmpl = template_source(s.model, o.chat_template, &tmpl_owned);
        const unsigned flags = KITE_CHAT_ADD_ASSISTANT | (o.no_thinking ? KITE_CHAT_NO_THINKING : 0u);
        if (kite_chat_apply_ex(tmpl, &msg, 1, flags, &formatted, NULL) != KITE_OK) {
            fprintf(stderr, "kite run: chat template '%s': %s\n", o.chat_template, kite_last_error());
            rc = RUN_USAGE;
            goto done;
        }
        prompt = formatted;
        gp.parse_special = true;
        model_cli_reasoning(&o, tmpl, &gp);
    } else if (o.reasoning_budget >= 0 && !o.quiet) {
        fprintf(stderr, "kite run: --reasoning-budget applies to chat replies (--chat-template); ignored\n");
    }
    if (verbose_prompt) print_prompt_tokens(s.model, prompt, gp.parse_special);
    const uint32_t from_file = model_cli_file_sampling(&o, s.model, "kite run");
    if (verbose) model_cli_print_sampling("kite run", &o.sampling, from_file);
    // a prompt that does not fit the context is a full context, not an error of the model
    int32_t *ids = NULL, n_ids = 0;
    if (kite_tokenize_alloc(kite_model_vocab(s.model), prompt, strlen(prompt), true, gp.parse_special, &ids, &n_ids) ==
            KITE_OK &&
        n_ids >= kite_ctx_n_ctx(s.ctx)) {
        fprintf(stderr, "kite run: context full: the prompt has %d tokens, the context holds %d (raise -c)\n", n_ids,
                kite_ctx_n_ctx(s.ctx));
        free(ids);
        rc = RUN_CONTEXT_FULL;
        goto done;
    }
    free(ids);
    if (display && !out.ids) {
        fputs(prompt_owned, stdout);
        fflush(stdout);
    }

    cli_sigint_catch(on_sigint);
    kite_gen_stats st;
    gp.n_predict = o.n_predict;
    gp.sampling = o.sampling;
    gp.dry_sequence_breakers = o.dry_breakers_given ? o.dry_breakers : NULL;
    gp.n_dry_sequence_breakers = o.n_dry_breakers;
    gp.stats = &st;
    gp.on_token = on_token;
    gp.stop = (const char *const *)strs + n_rev;
    gp.n_stop = n_stops;
    gp.grammar = grammar;
    kite_status rs = kite_generate(s.ctx, prompt, &gp, on_piece, &out);
    cli_sigint_restore();
    if (!out.ids) reply_printer_end(&out.print);
    if (out.ids) putchar('\n');
    fflush(stdout);
    if (rs == KITE_ERR_ABORTED && g_interrupted) {
        fprintf(stderr, "\nkite run: interrupted after %d tokens\n", st.n_generated);
        rc = RUN_INTERRUPTED;
    } else if (rs != KITE_OK && !(rs == KITE_ERR_ABORTED && out.rev_hit)) {
        fprintf(stderr, "kite run: %s\n", kite_last_error());
        rc = RUN_ERROR;
    } else {
        const bool ended = out.rev_hit || st.stopped_eog || st.stopped_string ||
                           (o.n_predict >= 0 && st.n_generated >= o.n_predict);
        if (stats) model_cli_print_stats(&st);
        if (!ended) {
            fprintf(stderr, "%skite run: context full: generation stopped after %d tokens at the context length of %d (raise -c)\n",
                    stats ? "" : "\n", st.n_generated, kite_ctx_n_ctx(s.ctx));
            rc = RUN_CONTEXT_FULL;
        }
    }
done:
    for (int k = 0; k < n_strs; k++) free(strs[k]);
    free(out.tail);
    free(prompt_owned);
    free(formatted);
    free(tmpl_owned);
    free(grammar);
    model_session_close(&s);
    return rc;
}
