// cmd_serve.c - `kite serve -m MODEL [--host H] [--port P]`: an OpenAI-compatible HTTP server
// (single-threaded: requests are answered one after another; others wait in the backlog).
#if !defined(__wasi__) && !defined(__EMSCRIPTEN__)
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "http_server.h"
#include "serve_api.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: kite serve [-m MODEL] [--host 127.0.0.1] [--port 8080] [options]\n"
            "  -m, --model FILE       GGUF model (default: the built-in stories260K)\n"
            "  --host ADDR            address to listen on (default 127.0.0.1: this machine only)\n"
            "  --port N               TCP port (default 8080; 0 picks a free one, printed at start)\n"
            "  -c, --ctx-size N       context length (default: the model's, at most 4096)\n"
            "  -t, --threads N        threads (default 1)\n"
            "  -n, --n-predict N      default max_tokens of a request (-1: until end of text)\n"
            "  --chat-template NAME   chat template for /v1/chat/completions (default: the model's\n"
            "                         tokenizer.chat_template, else chatml)\n"
            "  --temp --top-k --top-p --min-p --repeat-penalty --repeat-last-n --seed\n"
            "                         default sampling (each request may override it)\n"
            "  -v, --verbose          log one line per request to stderr\n"
            "endpoints: GET /health, GET /v1/models, POST /v1/completions, POST /v1/chat/completions\n");
}

// The chat template: --chat-template if given, else the model's own source when it is one of
// the known families, else chatml (as llama.cpp falls back). *owned is freed by the caller.
static const char *pick_template(const model_opts *o, const kite_model *m, char **owned) {
    *owned = NULL;
    if (o->chat_template && strcmp(o->chat_template, "auto") != 0) return o->chat_template;
    kite_str src;
    if (kite_gguf_get_str(kite_model_gguf(m), "tokenizer.chat_template", &src) && (*owned = malloc(src.len + 1))) {
        memcpy(*owned, src.ptr, src.len);
        (*owned)[src.len] = 0;
        if (kite_chat_detect(*owned)) return *owned;
        fprintf(stderr, "kite serve: the model's chat template is not one of the known families; using chatml\n");
    }
    return "chatml";
}

int kite_cmd_serve(int argc, char **argv) {
    model_opts o;
    model_opts_init(&o);
    const char *host = "127.0.0.1";
    int32_t port = 8080;
    bool verbose = false;
    for (int i = 1; i < argc; i++) {
        int r = model_opts_parse(&o, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        const char *a = argv[i];
        if (!strcmp(a, "--host") && i + 1 < argc) host = argv[++i];
        else if (!strcmp(a, "--port") && i + 1 < argc) {
            if (!model_cli_int("--port", argv[++i], 0, 65535, &port)) return 2;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) verbose = true;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "kite serve: unknown option or missing value '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (o.prompt || o.file) {
        fprintf(stderr, "kite serve: -p / -f do not apply; prompts come with the requests\n");
        return 2;
    }
    if (o.chat_template && strcmp(o.chat_template, "auto") != 0 && !kite_chat_detect(o.chat_template)) {
        fprintf(stderr, "kite serve: unknown chat template '%s'\n", o.chat_template);
        return 2;
    }

    model_session ms;
    if (!model_session_open(&ms, &o)) return 1;
    char *tmpl_owned = NULL;
    const char *base = strrchr(ms.path, '/');
    serve_state s = {
        .ms = &ms, .sampling = o.sampling, .seed_given = o.seed_given, .n_predict = o.n_predict,
        .model_id = base ? base + 1 : ms.path, .chat_tmpl = pick_template(&o, ms.model, &tmpl_owned),
        .started = (long long)time(NULL), .verbose = verbose,
    };

    char err[256];
    int bound = 0;
    int lfd = http_listen(host, port, &bound, err, sizeof err);
    if (lfd < 0) {
        fprintf(stderr, "kite serve: %s\n", err);
        free(tmpl_owned);
        model_session_close(&ms);
        return 1;
    }
    // Ctrl-C / SIGTERM end the loop at the next accept; a vanished client must not kill us.
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    printf("kite serve: listening on http://%s:%d (model %s, chat template %s, context %d)\n", host, bound,
           s.model_id, kite_chat_detect(s.chat_tmpl), kite_ctx_n_ctx(ms.ctx));
    fflush(stdout);

    while (!stop_requested) {
        int fd = http_accept(lfd);
        if (fd < 0) { // a signal (the loop condition decides), or a failed accept: do not spin
            if (!stop_requested) usleep(10000);
            continue;
        }
        http_request req;
        int st = http_read_request(fd, &req, err, sizeof err);
        if (st == 0) serve_handle(&s, fd, &req);
        else if (st > 0) serve_error(fd, st, err);
        http_request_free(&req);
        close(fd);
    }
    close(lfd);
    fprintf(stderr, "kite serve: stopped after %lu requests\n", s.n_done);
    free(tmpl_owned);
    model_session_close(&ms);
    return 0;
}
#endif
