// cmd_run.c - `kite run -m MODEL -p PROMPT [-n N] ...`: generate text from a prompt, streamed
// to stdout piece by piece (only the generated text; stats go to stderr).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "chat/kite_chat.h"
#include "model_cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: kite run [-m MODEL] [-p PROMPT] [options]\n"
            "  -m, --model FILE       GGUF model (default: the built-in stories260K)\n"
            "  -p, --prompt TEXT      prompt (default: empty, BOS only)\n"
            "  -n, --n-predict N      tokens to generate (-1: until end of text; default -1)\n"
            "  -t, --threads N        threads (default 1)\n"
            "  -c, --ctx-size N       context length (default: the model's, at most 4096)\n"
            "  -b, --batch-size N     prompt tokens per forward pass (default 512)\n"
            "  -fa, --flash-attn on|off|auto  attention rounding as llama.cpp's flash-attention\n"
            "                         path (on, auto) or its plain one (off)\n"
            "  -ngl, --gpu-layers N   run the last N layers (N > layers: the output too) on the GPU\n"
            "                         backend; without one in this build they stay on the CPU\n"
            "  -dev, --device NAME    the offload backend ('cpu': a second CPU instance, for tests)\n"
            "  --temp T               temperature, 0 = greedy (default 0.8)\n"
            "  --top-k K --top-p P --min-p P --repeat-penalty R --repeat-last-n N --seed S\n"
            "  --chat-template NAME   wrap the prompt as one user turn of this template\n"
            "                         ('auto': the model's own tokenizer.chat_template)\n"
            "  --think show|hide      show (default) or hide a <think>...</think> reasoning block\n"
            "                         (Qwen3, DeepSeek-R1) in the printed text\n"
            "  --ids                  print the generated token ids instead of the text\n"
            "  --no-stats             do not print timings to stderr\n");
}

typedef struct run_out {
    bool ids;
    bool first;
    bool hide_think;         // print only the answer, not a reasoning block
    kite_think_split think;
} run_out;

static bool print_answer(void *user, const char *text, size_t len, bool thinking) {
    (void)user;
    if (!thinking) fwrite(text, 1, len, stdout);
    return true;
}

static bool on_piece(void *user, const char *piece, size_t len) {
    run_out *o = user;
    if (o->ids) return true;
    if (o->hide_think)
        kite_think_split_feed(&o->think, piece, len, print_answer, NULL);
    else
        fwrite(piece, 1, len, stdout);
    fflush(stdout);
    return true;
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

int kite_cmd_run(int argc, char **argv) {
    model_opts o;
    model_opts_init(&o);
    run_out out = {.ids = false, .first = true};
    bool stats = true;
    for (int i = 1; i < argc; i++) {
        int r = model_opts_parse(&o, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(argv[i], "--ids")) out.ids = true;
        else if (!strcmp(argv[i], "--no-stats")) stats = false;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "kite run: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (o.file) {
        fprintf(stderr, "kite run: -f is not supported here; pass the prompt with -p\n");
        return 2;
    }
    if (!o.seed_given) o.sampling.seed = model_cli_random_seed();

    out.hide_think = o.hide_think;
    kite_think_split_init(&out.think);
    model_session s;
    if (!model_session_open(&s, &o)) return 1;

    const char *prompt = o.prompt ? o.prompt : "";
    char *formatted = NULL, *tmpl_owned = NULL;
    kite_gen_params gp = kite_gen_default_params();
    if (o.chat_template) {
        kite_chat_msg msg = {"user", prompt};
        const char *tmpl = template_source(s.model, o.chat_template, &tmpl_owned);
        if (kite_chat_apply(tmpl, &msg, 1, true, &formatted, NULL) != KITE_OK) {
            fprintf(stderr, "kite run: chat template '%s': %s\n", o.chat_template, kite_last_error());
            free(tmpl_owned);
            model_session_close(&s);
            return 2;
        }
        prompt = formatted;
        gp.parse_special = true;
    }
    kite_gen_stats st;
    gp.n_predict = o.n_predict;
    gp.sampling = o.sampling;
    gp.stats = &st;
    gp.on_token = on_token;
    kite_status rs = kite_generate(s.ctx, prompt, &gp, on_piece, &out);
    if (out.hide_think && !out.ids) kite_think_split_flush(&out.think, print_answer, NULL);
    if (out.ids) putchar('\n');
    fflush(stdout);
    int rc = 0;
    if (rs != KITE_OK) {
        fprintf(stderr, "kite run: %s\n", kite_last_error());
        rc = 1;
    } else if (stats) {
        model_cli_print_stats(&st);
    }
    free(formatted);
    free(tmpl_owned);
    model_session_close(&s);
    return rc;
}
