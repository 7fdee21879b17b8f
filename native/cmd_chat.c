// cmd_chat.c - `kite chat -m MODEL`: an interactive chat. Each message (a line; `\` at a line's
// end or a """ block for several) is a user turn; the conversation is formatted with the chat
// template, and the KV cache keeps the tokens the new rendering shares with what it holds (the
// earlier turns, up to where the template renders them differently now: Qwen3 drops the
// reasoning of earlier replies), so only the rest is evaluated.
// Lines starting with '/' are commands (/help), never sent to the model. Ctrl-C stops a reply
// and keeps the conversation; when the context fills, the oldest turns are dropped.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/kite_buf.h"
#include "chat/kite_chat.h"
#include "cli_signals.h"
#include "commands.h"
#include "json.h"
#include "model_cli.h"
#include "safe_output.h"

#define MAX_STOPS 16
#define MAX_LOAD_BYTES (64u << 20)

static void usage(FILE *f) {
    fprintf(f,
            "usage: kite chat [-m MODEL | -hf OWNER/REPO[:QUANT]] [options]\n"
            "  One message per line; end a line with \\ to continue it on the next, or put a message\n"
            "  between \"\"\" lines. EOF (Ctrl-D), /exit or /bye ends the session; Ctrl-C stops a reply\n"
            "  (the conversation is kept), a second Ctrl-C at the prompt leaves.\n"
            "  -m, --model FILE|URL   GGUF model: a path, http(s):// or hf://OWNER/REPO/FILE.gguf URL\n"
            "                         (downloaded once into $KITE_CACHE, default ~/.cache/kite)\n"
            "  -hf OWNER/REPO[:QUANT] a Hugging Face repository's GGUF (see kite run --help)\n"
            "  --chat-template NAME   built-in template; auto (the default): the model's own, else chatml\n"
            "  --grammar GBNF, --grammar-file FILE, -j/--json-schema JSON, -jf/--json-schema-file FILE\n"
            "                         constrain every reply (as kite run)\n"
            "  -sys, --system TEXT    system message (kept when old turns are dropped)\n"
            "  --think show|hide      show (default) or hide the <think>...</think> reasoning of a\n"
            "                         reply (Qwen3, DeepSeek-R1); the model keeps it in its context\n"
            "  -rea, --reasoning on|off|auto  off: replies open with the template's reasoning turned\n"
            "                         off (Qwen3's enable_thinking false: an empty <think></think>\n"
            "                         block), as llama.cpp\n"
            "  --reasoning-budget N   -1 (default): unlimited; N >= 0: a reasoning block the reply\n"
            "                         opens (<think>, for templates that write one) gets at most N\n"
            "                         tokens, then </think> is forced and the answer follows (as\n"
            "                         llama.cpp; 0 closes it at once; the prompt is unchanged)\n"
            "  --reasoning-budget-message TEXT  forced before </think> when the budget runs out\n"
            "  -p TEXT                a first user message, sent before reading stdin\n"
            "  -n N                   most tokens per reply (default -1: until end of turn)\n"
            "  --stop TEXT, -r TEXT   end a reply before TEXT (repeatable)\n"
            "  --verbose              the sampling settings, and tokens/s and cached prompt tokens\n"
            "                         after each reply (stderr)\n"
            "  --log-disable          no banner or notices on stderr\n"
            "  -c N -t N -b N -fa on|off|auto --temp T --top-k K --top-p P --min-p P\n"
            "  --repeat-penalty R --repeat-last-n N --seed S --typical P --top-nsigma N\n"
            "  --xtc-probability P --xtc-threshold T --mirostat 0|1|2 --mirostat-lr ETA\n"
            "  --mirostat-ent TAU --dry-multiplier M --dry-base B --dry-allowed-length N\n"
            "  --dry-penalty-last-n N --dry-sequence-breaker S (see kite run --help; a sampling flag not given takes the\n"
            "                         model's recommended value, general.sampling.*, if any)\n"
            "  -ngl N, --device NAME  the last N layers on the GPU backend (see kite run --help)\n"
            "  -nr, --no-repack       keep the weights in the file's layout (see kite run --help)\n"
            "commands: /help /exit /bye /clear /save FILE /load FILE /stats\n");
}

static void help_commands(void) {
    fprintf(stderr, "  /help         this list\n"
                    "  /exit, /bye   leave (so do Ctrl-D and a second Ctrl-C at the prompt)\n"
                    "  /clear        forget the conversation (the system message stays)\n"
                    "  /save FILE    write the conversation as JSON {\"messages\": [{\"role\", \"content\"}]}\n"
                    "  /load FILE    replace the conversation with one saved by /save\n"
                    "  /stats        tokens and tokens/s of the last reply\n"
                    "  a line ending in \\ continues on the next; \"\"\" starts and ends a multi-line message\n");
}

// ---- Ctrl-C ---------------------------------------------------------------------------------

static volatile sig_atomic_t g_sigint; // Ctrl-C presses since the last reset

static void on_sigint(int sig) {
    (void)sig;
    g_sigint++;
}

// ---- the conversation -----------------------------------------------------------------------

typedef struct chat {
    model_session s;
    const char *tmpl; // template name or source; NULL = chatml
    kite_chat_msg *msgs;
    size_t n_msgs, cap_msgs;
    int32_t reserve;  // tokens a reply needs free: old turns are dropped to keep them
    kite_gen_params gp;
    kite_gen_stats last;
    bool have_last, verbose;
    bool hide_think;  // --think hide
    bool no_thinking; // --reasoning off: each reply opens with kite_chat_no_think_text
} chat;

static bool push_msg(chat *c, const char *role, const char *text, size_t len) {
    if (c->n_msgs == c->cap_msgs) {
        size_t cap = c->cap_msgs ? c->cap_msgs * 2 : 16;
        kite_chat_msg *m = realloc(c->msgs, cap * sizeof *m);
        if (!m) return false;
        c->msgs = m, c->cap_msgs = cap;
    }
    char *t = strndup(text, len);
    if (!t) return false;
    c->msgs[c->n_msgs++] = (kite_chat_msg){role, t};
    return true;
}

// Removes msgs[i..i+n).
static void drop_msgs(chat *c, size_t i, size_t n) {
    for (size_t k = i; k < i + n; k++) free((char *)c->msgs[k].content);
    memmove(c->msgs + i, c->msgs + i + n, (c->n_msgs - i - n) * sizeof *c->msgs);
    c->n_msgs -= n;
}

static size_t n_system(const chat *c) { return c->n_msgs > 0 && !strcmp(c->msgs[0].role, "system") ? 1 : 0; }

static int32_t count_tokens(const chat *c, const char *text, bool bos) {
    int32_t *ids = NULL, n = 0;
    if (kite_tokenize_alloc(kite_model_vocab(c->s.model), text, strlen(text), bos, true, &ids, &n) != KITE_OK) return -1;
    free(ids);
    return n;
}

// What a reply's pieces go to: the screen (less any reasoning block when hidden) and the reply.
typedef struct chat_out {
    kite_buf reply;         // the whole reply, reasoning included, for the conversation
    reply_printer print;
} chat_out;

// Shows each piece as it comes and keeps the reply for the conversation.
static bool on_piece(void *user, const char *piece, size_t len) {
    chat_out *o = user;
    if (g_sigint) return false;
    reply_printer_put(&o->print, piece, len);
    return kite_buf_append(&o->reply, piece, len);
}

// The rate counts the prompt tokens evaluated, not those the cache held.
static void print_stats(const kite_gen_stats *st) {
    const int32_t n_eval = st->n_prompt - st->n_cached;
    fprintf(stderr, "[%d prompt tokens (%d cached), %.1f tok/s | %d reply tokens, %.1f tok/s]\n", st->n_prompt,
            st->n_cached, st->prefill_s > 0 ? n_eval / st->prefill_s : 0.0, st->n_generated,
            st->decode_s > 0 ? st->n_generated / st->decode_s : 0.0);
}

// One user turn: the message is added, old turns dropped while the context cannot hold the
// new text and a reply, then the reply is generated. Returns false on a fatal error.
static bool user_turn(chat *c, const char *text, size_t len) {
    if (!push_msg(c, "user", text, len)) return false;
    char *formatted = NULL;
    size_t flen = 0;
    const int32_t n_ctx = kite_ctx_n_ctx(c->s.ctx);
    size_t dropped = 0;
    for (;;) {
        free(formatted);
        formatted = NULL;
        const unsigned flags = KITE_CHAT_ADD_ASSISTANT | (c->no_thinking ? KITE_CHAT_NO_THINKING : 0u);
        if (kite_chat_apply_ex(c->tmpl, c->msgs, c->n_msgs, flags, &formatted, &flen) != KITE_OK) {
            fprintf(stderr, "kite chat: %s\n", kite_last_error());
            return false;
        }
        // the whole rendering is the prompt: generation keeps the tokens the cache shares with it
        const int32_t n_all = count_tokens(c, formatted, true);
        if (n_all < 0) {
            fprintf(stderr, "kite chat: %s\n", kite_last_error());
            free(formatted);
            return false;
        }
        if (n_all + c->reserve <= n_ctx) break;
        // drop the oldest turn: the first message after the system one, with the replies up
        // to the next user message; never the message just typed
        const size_t first = n_system(c);
        if (first + 1 >= c->n_msgs) {
            if (n_all < n_ctx) break; // it fits, with less room for the reply
            fprintf(stderr, "kite chat: the message is %d tokens, more than the context holds (%d); not sent\n",
                    n_all, n_ctx);
            drop_msgs(c, c->n_msgs - 1, 1);
            free(formatted);
            return true;
        }
        size_t n = 1;
        while (first + n < c->n_msgs - 1 && strcmp(c->msgs[first + n].role, "user") != 0) n++;
        drop_msgs(c, first, n);
        dropped += n;
    }
    if (dropped)
        fprintf(stderr, "kite chat: the context is full: dropped the %zu oldest message%s%s\n", dropped,
                dropped == 1 ? "" : "s", n_system(c) ? " (the system message is kept)" : "");
    chat_out co = {0};
    reply_printer_init(&co.print, c->hide_think);
    g_sigint = 0;
    kite_gen_stats st;
    c->gp.stats = &st;
    kite_status gs = kite_generate(c->s.ctx, formatted, &c->gp, on_piece, &co);
    free(formatted);
    reply_printer_end(&co.print);
    kite_buf r = co.reply;
    fputs("\n", stdout);
    fflush(stdout);
    const bool interrupted = gs == KITE_ERR_ABORTED && g_sigint;
    g_sigint = 0;
    if (gs != KITE_OK && !interrupted) {
        fprintf(stderr, "kite chat: %s\n", kite_last_error());
        kite_buf_free(&r);
        return false;
    }
    c->last = st;
    c->have_last = true;
    if (c->verbose) print_stats(&st);
    // the reply as the conversation holds it: after the opening the prompt gave it (the empty
    // reasoning block with --reasoning off), so the history renders what the cache holds
    const char *opening = kite_chat_reply_opening(c->tmpl, c->no_thinking);
    kite_buf held = {0};
    kite_buf_puts(&held, opening);
    if (r.len) kite_buf_append(&held, r.ptr, r.len);
    const bool pushed = !held.nomem && push_msg(c, "assistant", held.ptr ? held.ptr : "", held.len);
    kite_buf_free(&held);
    if (!pushed) {
        kite_buf_free(&r);
        return false;
    }
    // the cache holds the tokens evaluated (the last one sampled is not among them): the next
    // turn finds its common prefix there, whatever stopped this reply
    if (interrupted) {
        fprintf(stderr, "kite chat: reply stopped (Ctrl-C); the conversation is kept\n");
    } else if (!st.stopped_eog && !st.stopped_string && (c->gp.n_predict < 0 || st.n_generated < c->gp.n_predict)) {
        fprintf(stderr, "kite chat: the context is full: the reply was cut; the oldest turns will be dropped\n");
    }
    kite_buf_free(&r);
    return true;
}

// ---- /save and /load ------------------------------------------------------------------------

static void save(const chat *c, const char *path) {
    json_writer w = {0};
    jw_begin_object(&w);
    jw_key(&w, "messages");
    jw_begin_array(&w);
    for (size_t i = 0; i < c->n_msgs; i++) {
        jw_begin_object(&w);
        jw_key(&w, "role");
        jw_cstr(&w, c->msgs[i].role);
        jw_key(&w, "content");
        jw_cstr(&w, c->msgs[i].content);
        jw_end_object(&w);
    }
    jw_end_array(&w);
    jw_end_object(&w);
    if (w.out.nomem || w.bad) {
        fprintf(stderr, "kite chat: /save: out of memory\n");
        jw_free(&w);
        return;
    }
    // only a regular file (or a new name) other than the model is replaced, through a temporary
    // file beside it
    char err[600];
    safe_output out;
    if (model_session_output_check(&c->s, path, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "kite chat: /save: %s; not saved\n", err);
    } else if (!safe_output_open(&out, path, err, sizeof err)) {
        fprintf(stderr, "kite chat: /save %s: %s\n", path, strerror(errno));
    } else if (!safe_output_write(&out, w.out.ptr, w.out.len) || !safe_output_write(&out, "\n", 1) ||
               !safe_output_commit(&out, err, sizeof err)) {
        fprintf(stderr, "kite chat: /save %s: %s\n", path, out.err ? strerror(out.err) : err);
        safe_output_close(&out);
    } else {
        fprintf(stderr, "kite chat: saved %zu messages to %s\n", c->n_msgs, path);
        safe_output_close(&out);
    }
    jw_free(&w);
}

static const char *known_role(const char *r) {
    static const char *roles[] = {"system", "user", "assistant"};
    for (size_t i = 0; i < 3; i++)
        if (!strcmp(r, roles[i])) return roles[i];
    return NULL;
}

static bool load(chat *c, const char *path) {
    size_t len;
    char *text = model_cli_read_text(path, MAX_LOAD_BYTES, &len);
    if (!text) return true;
    char err[256];
    json_doc *d = json_parse(text, len, err, sizeof err);
    free(text);
    const json_value *m = d ? json_get(json_root(d), "messages") : NULL;
    const char *problem = !d ? err : !m || m->type != JSON_ARRAY ? "no \"messages\" array" : NULL;
    for (const json_value *e = m ? m->child : NULL; e && !problem; e = e->next) {
        const json_value *r = json_get(e, "role"), *t = json_get(e, "content");
        if (!r || r->type != JSON_STRING || !known_role(r->str)) problem = "a message without a role system, user or assistant";
        else if (!t || t->type != JSON_STRING || strlen(t->str) != t->len) problem = "a message without a text content";
    }
    if (problem) {
        fprintf(stderr, "kite chat: /load %s: %s; the conversation is unchanged\n", path, problem);
        json_free(d);
        return true;
    }
    chat fresh = *c; // build the new list first, so a failure leaves the old one
    fresh.msgs = NULL, fresh.n_msgs = fresh.cap_msgs = 0;
    bool ok = true;
    for (const json_value *e = m->child; e && ok; e = e->next) {
        const json_value *r = json_get(e, "role"), *t = json_get(e, "content");
        ok = push_msg(&fresh, known_role(r->str), t->str, t->len);
    }
    json_free(d);
    if (!ok) {
        for (size_t i = 0; i < fresh.n_msgs; i++) free((char *)fresh.msgs[i].content);
        free(fresh.msgs);
        return false;
    }
    for (size_t i = 0; i < c->n_msgs; i++) free((char *)c->msgs[i].content);
    free(c->msgs);
    c->msgs = fresh.msgs, c->n_msgs = fresh.n_msgs, c->cap_msgs = fresh.cap_msgs;
    fprintf(stderr, "kite chat: loaded %zu messages from %s\n", c->n_msgs, path);
    return true;
}

// ---- input ----------------------------------------------------------------------------------

// Reads one message: a line, lines joined while they end in '\', or a """ ... """ block.
// Returns 1 with the message in *msg (malloc'd), 0 at EOF, -1 when Ctrl-C interrupted the read.
static int read_message(bool tty, char **msg, size_t *msg_len) {
    kite_buf m = {0};
    char *line = NULL;
    size_t cap = 0;
    bool block = false, more = false;
    int rc = 1;
    if (tty) {
        fputs("> ", stdout);
        fflush(stdout);
    }
    for (;;) {
        errno = 0;
        // a Ctrl-C that came before the read blocks counts too (the handler has run already)
        ssize_t n = g_sigint ? (errno = EINTR, -1) : kite_read_line(&line, &cap, stdin, KITE_TEXT_MAX);
        if (n == -2 || m.len > KITE_TEXT_MAX) { // an endless line or block (/dev/zero) stops here
            fprintf(stderr, "kite chat: a message holds more than %zu MiB, the limit on text inputs\n", KITE_TEXT_MAX >> 20);
            kite_buf_free(&m);
            free(line);
            return -2;
        }
        if (n < 0) {
            rc = errno == EINTR ? -1 : (m.len > 0 || block || more) ? 1 : 0;
            clearerr(stdin);
            break;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        char *p = line;
        if (!block && !more && n >= 3 && !strncmp(p, "\"\"\"", 3)) { // a block opens
            p += 3, n -= 3;
            block = true;
            if (n >= 3 && !strcmp(p + n - 3, "\"\"\"")) { // """one line"""
                kite_buf_append(&m, p, (size_t)n - 3);
                break;
            }
            if (n > 0) kite_buf_append(&m, p, (size_t)n);
        } else if (block) {
            const bool end = n >= 3 && !strcmp(p + n - 3, "\"\"\"");
            const size_t k = (size_t)(end ? n - 3 : n);
            if (m.len > 0 && !(end && k == 0)) kite_buf_append(&m, "\n", 1);
            kite_buf_append(&m, p, k);
            if (end) break;
        } else {
            more = n > 0 && p[n - 1] == '\\';
            kite_buf_append(&m, p, (size_t)(more ? n - 1 : n));
            if (!more) break;
            kite_buf_append(&m, "\n", 1);
        }
        if (tty) {
            fputs("... ", stdout);
            fflush(stdout);
        }
    }
    free(line);
    if (rc != 1 || !kite_buf_append(&m, "", 1)) { // NUL-terminate
        kite_buf_free(&m);
        return rc == 1 ? -2 : rc;
    }
    *msg = m.ptr;
    *msg_len = m.len - 1;
    return 1;
}

// Handles a /command. Returns 0 to go on, 1 to leave, -1 on a fatal error.
static int command(chat *c, char *line) {
    char *arg = line + strcspn(line, " \t");
    if (*arg) *arg++ = 0;
    while (*arg == ' ' || *arg == '\t') arg++;
    for (size_t n = strlen(arg); n > 0 && (arg[n - 1] == ' ' || arg[n - 1] == '\t'); n--) arg[n - 1] = 0;
    if (!strcmp(line, "/exit") || !strcmp(line, "/bye") || !strcmp(line, "/quit")) return 1;
    if (!strcmp(line, "/help") || !strcmp(line, "/?")) {
        help_commands();
    } else if (!strcmp(line, "/clear")) {
        drop_msgs(c, n_system(c), c->n_msgs - n_system(c));
        fprintf(stderr, "kite chat: conversation cleared\n");
    } else if (!strcmp(line, "/stats")) {
        if (c->have_last) print_stats(&c->last);
        else fprintf(stderr, "kite chat: no reply yet\n");
    } else if (!strcmp(line, "/save") || !strcmp(line, "/load")) {
        if (!*arg) fprintf(stderr, "kite chat: %s needs a file name\n", line);
        else if (line[1] == 's') save(c, arg);
        else if (!load(c, arg)) return -1;
    } else {
        fprintf(stderr, "kite chat: unknown command %s (/help lists them)\n", line);
    }
    return 0;
}

int kite_cmd_chat(int argc, char **argv) {
    model_opts o;
    model_opts_init(&o);
    const char *system = NULL, *stops[MAX_STOPS];
    int n_stops = 0;
    bool verbose = false;
    for (int i = 1; i < argc; i++) {
        int r = model_opts_parse(&o, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        const char *a = argv[i];
        if ((!strcmp(a, "-sys") || !strcmp(a, "--system") || !strcmp(a, "--system-prompt")) && i + 1 < argc)
            system = argv[++i];
        else if ((!strcmp(a, "--stop") || !strcmp(a, "-r") || !strcmp(a, "--reverse-prompt")) && i + 1 < argc &&
                 n_stops < MAX_STOPS && *argv[i + 1])
            stops[n_stops++] = argv[++i];
        else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) verbose = true;
        else if (!strcmp(a, "--log-disable")) o.quiet = true;
        else if (!strcmp(a, "--no-stats") || !strcmp(a, "--no-display-prompt") || !strcmp(a, "--display-prompt") ||
                 !strcmp(a, "-e") || !strcmp(a, "--escape") || !strcmp(a, "--no-escape") || !strcmp(a, "-i") ||
                 !strcmp(a, "--interactive") || !strcmp(a, "-if") || !strcmp(a, "--interactive-first")) {
            // llama-cli flags with no meaning (or the only meaning) here
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "kite chat: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (o.file) {
        fprintf(stderr, "kite chat: -f is not a chat option (pipe the messages to stdin)\n");
        return 2;
    }
    // --chat-template auto (as kite run): the model's own, the default
    const char *named = o.chat_template && strcmp(o.chat_template, "auto") != 0 ? o.chat_template : NULL;
    if (named && !kite_chat_detect(named)) {
        fprintf(stderr, "kite chat: unknown chat template '%s'\n", named);
        return 2;
    }
    if (!o.seed_given) o.sampling.seed = model_cli_random_seed();
    char *grammar = NULL;
    if (!model_cli_grammar(&o, &grammar)) return 2;
    chat c = {0};
    if (!model_session_open(&c.s, &o)) {
        free(grammar);
        return 1;
    }

    // the template: --chat-template NAME, else the model's own source, else chatml (NULL)
    char *tmpl_src = NULL;
    c.tmpl = named;
    kite_str ts;
    if (!c.tmpl && kite_gguf_get_str(kite_model_gguf(c.s.model), "tokenizer.chat_template", &ts))
        c.tmpl = tmpl_src = strndup(ts.ptr, ts.len);
    else if (!c.tmpl)
        fprintf(stderr, "kite chat: the model has no chat template (tokenizer.chat_template); using chatml\n");
    const int32_t n_ctx = kite_ctx_n_ctx(c.s.ctx);
    c.reserve = o.n_predict > 0 ? (o.n_predict < n_ctx / 2 ? o.n_predict : n_ctx / 2) : n_ctx / 4;
    c.verbose = verbose;
    c.hide_think = o.hide_think;
    c.no_thinking = o.no_thinking;
    const uint32_t from_file = model_cli_file_sampling(&o, c.s.model, "kite chat");
    if (verbose) model_cli_print_sampling("kite chat", &o.sampling, from_file);
    c.gp = kite_gen_default_params();
    c.gp.n_predict = o.n_predict;
    c.gp.sampling = o.sampling;
    c.gp.dry_sequence_breakers = o.dry_breakers_given ? o.dry_breakers : NULL;
    c.gp.n_dry_sequence_breakers = o.n_dry_breakers;
    c.gp.parse_special = true;
    c.gp.reuse_prefix = true; // each turn's whole rendering, less what the cache shares with it
    c.gp.stop = stops;
    c.gp.n_stop = n_stops;
    c.gp.grammar = grammar;
    model_cli_reasoning(&o, c.tmpl, &c.gp);
    const bool tty = isatty(0);
    // Ctrl-C: stops a reply (on_piece sees the count); at the prompt, a second one leaves.
    // No SA_RESTART, so a read at the prompt returns EINTR.
    cli_sigint_catch(on_sigint);
    if (!o.quiet)
        fprintf(stderr,
                "kite chat: %s (context %d tokens, template: %s)\n"
                "Type a message; /help lists the commands. /exit, /bye or Ctrl-D leaves; Ctrl-C stops a reply.\n",
                c.s.path, n_ctx, named ? named : tmpl_src ? "the model's own" : "the fallback");

    int rc = 0;
    if (system && !push_msg(&c, "system", system, strlen(system))) rc = 1;
    if (rc == 0 && o.prompt && *o.prompt && !user_turn(&c, o.prompt, strlen(o.prompt))) rc = 1;
    int sigints_at_prompt = 0;
    while (rc == 0) {
        char *msg = NULL;
        size_t len = 0;
        int r = read_message(tty, &msg, &len);
        if (r == 0) break;
        if (r == -2) {
            rc = 1;
            break;
        }
        if (r < 0) {
            sigints_at_prompt += g_sigint > 0 ? g_sigint : 1;
            g_sigint = 0;
            if (sigints_at_prompt >= 2) {
                fputc('\n', stderr);
                break;
            }
            fprintf(stderr, "\n(Ctrl-C again, /exit or Ctrl-D to leave)\n");
            continue;
        }
        sigints_at_prompt = 0;
        if (len == 0) {
            free(msg);
            continue;
        }
        if (msg[0] == '/') {
            int k = command(&c, msg);
            free(msg);
            if (k < 0) rc = 1;
            if (k != 0) break;
            continue;
        }
        if (!user_turn(&c, msg, len)) rc = 1;
        free(msg);
    }
    cli_sigint_restore();
    for (size_t i = 0; i < c.n_msgs; i++) free((char *)c.msgs[i].content);
    free(c.msgs);
    free(tmpl_src);
    free(grammar);
    model_session_close(&c.s);
    return rc;
}
