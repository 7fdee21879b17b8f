// cmd_chat.c - `kite chat -m MODEL`: an interactive chat. Each stdin line is a user turn; the
// conversation is formatted with the chat template and only the new part is evaluated, the
// earlier turns staying in the KV cache.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "chat/kite_chat.h"
#include "commands.h"
#include "model_cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: kite chat [-m MODEL] [options]   (one user message per line; EOF ends)\n"
            "  --chat-template NAME   built-in template (default: the model's own, else chatml)\n"
            "  -sys, --system TEXT    system message\n"
            "  --think show|hide      show (default) or hide the <think>...</think> reasoning of a\n"
            "                         reply (Qwen3, DeepSeek-R1); the model keeps it in its context\n"
            "  -n N                   most tokens per reply (default -1: until end of turn)\n"
            "  -c N -t N --temp T --top-k K --top-p P --min-p P --repeat-penalty R --seed S\n"
            "  -ngl N, --device NAME  the last N layers on the GPU backend (see kite run --help)\n");
}

typedef struct chat_out {
    kite__buf reply;         // the whole reply, reasoning included, for the conversation
    bool hide_think;
    kite_think_split think;
} chat_out;

static bool print_answer(void *user, const char *text, size_t len, bool thinking) {
    (void)user;
    if (!thinking) fwrite(text, 1, len, stdout);
    return true;
}

// Shows each piece as it comes (without the reasoning when hidden) and keeps the reply.
static bool on_piece(void *user, const char *piece, size_t len) {
    chat_out *o = user;
    if (o->hide_think)
        kite_think_split_feed(&o->think, piece, len, print_answer, NULL);
    else
        fwrite(piece, 1, len, stdout);
    fflush(stdout);
    return kite__buf_append(&o->reply, piece, len);
}

int kite_cmd_chat(int argc, char **argv) {
    model_opts o;
    model_opts_init(&o);
    const char *system = NULL;
    for (int i = 1; i < argc; i++) {
        int r = model_opts_parse(&o, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if ((!strcmp(argv[i], "-sys") || !strcmp(argv[i], "--system")) && i + 1 < argc) system = argv[++i];
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "kite chat: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!o.seed_given) o.sampling.seed = model_cli_random_seed();
    model_session s;
    if (!model_session_open(&s, &o)) return 1;

    // the template: --chat-template, else the model's own source, else chatml (NULL)
    char *tmpl_src = NULL;
    const char *tmpl = o.chat_template;
    kite_str ts;
    if (!tmpl && kite_gguf_get_str(kite_model_gguf(s.model), "tokenizer.chat_template", &ts))
        tmpl = tmpl_src = strndup(ts.ptr, ts.len);
    else if (!tmpl)
        fprintf(stderr, "kite chat: the model has no chat template (tokenizer.chat_template); using chatml\n");

    size_t n_msgs = 0, cap_msgs = 16;
    kite_chat_msg *msgs = malloc(cap_msgs * sizeof *msgs);
    size_t prev_len = 0; // bytes of the formatted conversation already in the KV cache
    int rc = 0;
    if (!msgs) rc = 1;
    if (system && msgs) msgs[n_msgs++] = (kite_chat_msg){"system", strdup(system)};
    char *line = NULL;
    size_t line_cap = 0;
    const bool tty = isatty(0);
    kite_gen_params gp = kite_gen_default_params();
    gp.n_predict = o.n_predict;
    gp.sampling = o.sampling;
    gp.parse_special = true;
    gp.keep_context = true;
    while (rc == 0) {
        if (tty) {
            fputs("> ", stdout);
            fflush(stdout);
        }
        ssize_t n = getline(&line, &line_cap, stdin);
        if (n < 0) break;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n == 0) continue;
        if (n_msgs + 2 > cap_msgs) {
            kite_chat_msg *m2 = realloc(msgs, (cap_msgs *= 2) * sizeof *msgs);
            if (!m2) {
                rc = 1;
                break;
            }
            msgs = m2;
        }
        msgs[n_msgs++] = (kite_chat_msg){"user", strndup(line, (size_t)n)};
        char *formatted = NULL;
        size_t flen = 0;
        if (kite_chat_apply(tmpl, msgs, n_msgs, true, &formatted, &flen) != KITE_OK) {
            fprintf(stderr, "kite chat: %s\n", kite_last_error());
            rc = o.chat_template ? 2 : 1;
            break;
        }
        // evaluate only what the cache does not hold yet
        chat_out co = {.hide_think = o.hide_think};
        kite_think_split_init(&co.think);
        kite_status st = kite_generate(s.ctx, formatted + (prev_len <= flen ? prev_len : flen), &gp, on_piece, &co);
        if (co.hide_think) kite_think_split_flush(&co.think, print_answer, NULL);
        kite__buf r = co.reply;
        char *asked = formatted; // the conversation up to the assistant's opening
        size_t asked_len = flen;
        fputs("\n", stdout);
        fflush(stdout);
        if (st != KITE_OK) {
            fprintf(stderr, "kite chat: %s\n", kite_last_error());
            free(asked);
            kite__buf_free(&r);
            rc = 1;
            break;
        }
        msgs[n_msgs++] = (kite_chat_msg){"assistant", r.ptr ? r.ptr : strdup("")};
        if (kite_chat_apply(tmpl, msgs, n_msgs, false, &formatted, &flen) == KITE_OK) {
            // The cache holds the reply but not the end-of-turn text the template puts after it
            // (the end token was sampled, not evaluated): when the template renders the reply
            // verbatim, start the next evaluation at that end-of-turn text so the model sees it.
            // Otherwise skip it, as llama.cpp's simple-chat does.
            const size_t rl = r.len;
            bool verbatim = flen >= asked_len + rl && !memcmp(formatted, asked, asked_len) &&
                            (rl == 0 || !memcmp(formatted + asked_len, r.ptr, rl));
            prev_len = verbatim ? asked_len + rl : flen;
            free(formatted);
        }
        free(asked);
    }
    for (size_t i = 0; i < n_msgs; i++) free((char *)msgs[i].content);
    free(msgs);
    free(line);
    free(tmpl_src);
    model_session_close(&s);
    return rc;
}
