// cmd_serve.c - `kite serve -m MODEL [--host H] [--port P]`: an OpenAI-compatible HTTP server.
// Connections are read by one poll thread and answered by a pool of workers (serve_loop.c);
// generation requests take one of --parallel slots, and the slots' decode steps run as one batch
// (continuous batching, serve_sched.c).
#if !defined(__wasi__) && !defined(__EMSCRIPTEN__)
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "http_server.h"
#include "serve_api.h"
#include "serve_loop.h"

#define MAX_CONNS 256 // open connections at most (each idle one costs a small buffer)

static void usage(FILE *f) {
    fprintf(f,
            "usage: kite serve [-m MODEL] [--host 127.0.0.1] [--port 8080] [options]\n"
            "  -m, --model FILE       GGUF model (default: the built-in stories260K)\n"
            "  --host ADDR            address to listen on (default 127.0.0.1: this machine only)\n"
            "  --port N               TCP port (default 8080; 0 picks a free one, printed at start)\n"
            "  -c, --ctx-size N       context length (default: the model's, at most 4096), as\n"
            "                         llama-server reads it: with --parallel given, N is shared out\n"
            "                         among the slots (-c 4096 --parallel 4: 1024 tokens each; a\n"
            "                         longer prompt gets 400 exceed_context_size_error); without\n"
            "                         --parallel (4 slots) or with --kv-unified, each slot may hold N\n"
            "                         (llama-server then shares one pool of N; Kite gives each slot\n"
            "                         its own N, so the KV cache holds N x slots tokens)\n"
            "  -kvu, --kv-unified     each slot may hold -c tokens even with --parallel (see -c);\n"
            "                         -no-kvu, --no-kv-unified: the default with --parallel (as in\n"
            "                         llama-server, it does not apply to the automatic 4 slots)\n"
            "  -b, --batch-size N     most tokens per forward pass (default 512): new prompts are fed\n"
            "                         in pieces so running replies go on between them\n"
            "  -t, --threads N        threads of the model (default: the physical cores this process\n"
            "                         may use)\n"
            "  -n, --n-predict N      default max_tokens of a request (-1: until end of text)\n"
            "  --chat-template NAME   chat template for /v1/chat/completions (default: the model's\n"
            "                         tokenizer.chat_template, else chatml)\n"
            "  -rea, --reasoning on|off|auto  off: chat prompts open the reply with reasoning turned\n"
            "                         off (Qwen3: an empty <think></think> block); a request's\n"
            "                         chat_template_kwargs.enable_thinking or reasoning_effort \"none\"\n"
            "                         overrides it, as llama-server\n"
            "  --reasoning-budget N   -1 (default): unlimited; N >= 0: a chat reply's reasoning block\n"
            "                         (<think>...</think>, for templates that write one) gets at most\n"
            "                         N tokens, then </think> is forced and the answer follows, as\n"
            "                         llama-server; a request's reasoning_budget_tokens overrides it\n"
            "  --reasoning-budget-message TEXT  forced before </think> when the budget runs out\n"
            "  --temp --top-k --top-p --min-p --repeat-penalty --repeat-last-n --seed --typical\n"
            "  --top-nsigma --xtc-probability --xtc-threshold --mirostat --mirostat-lr --mirostat-ent\n"
            "  --dry-multiplier --dry-base --dry-allowed-length --dry-penalty-last-n\n"
            "  --dry-sequence-breaker (see kite run --help)\n"
            "                         default sampling (each request may override it); a flag not\n"
            "                         given takes the model's recommended value (general.sampling.*)\n"
            "  -nr, --no-repack       keep the weights in the file's layout (see kite run --help)\n"
            "  -np, --parallel N      slots for generation requests (default 4), each with its own KV\n"
            "                         cache and sampler; their decode steps run as one batch\n"
            "                         (continuous batching: new requests join between steps). A slot\n"
            "                         keeps its cache after a request: the next goes to the free slot\n"
            "                         sharing the longest token prefix with its prompt and evaluates\n"
            "                         only the rest (a request's \"cache_prompt\": false turns it off)\n"
            "  --max-queue N          generation requests that may wait beyond the slots (default 16);\n"
            "                         more get 503 with Retry-After\n"
            "  --threads-http N       extra workers for the cheap endpoints, so they answer while\n"
            "                         generations run (default 4)\n"
            "  -to, --timeout N       seconds a request (headers + body) may take to arrive, and an\n"
            "                         idle connection may stay open (default 10)\n"
            "  --api-key KEY          require 'Authorization: Bearer KEY' (or X-Api-Key: KEY) on every endpoint\n"
            "                         but /health and /v1/health\n"
            "                         (a comma-separated list, or repeat the flag, for several keys)\n"
            "  --api-key-file FILE    the same, one key per line\n"
            "  --cors-origins LIST    comma-separated origins whose web pages may call the server\n"
            "                         (needs an API key); other cross-origin requests get 403.\n"
            "                         Default: none, no Access-Control-Allow-Origin header\n"
            "  --metrics              enable GET /metrics (Prometheus text)\n"
            "  --token-delay MS       testing aid: pause MS milliseconds after each batch step that\n"
            "                         generated tokens\n"
            "  --load-delay MS        testing aid: wait MS milliseconds before loading the model\n"
            "                         (the server answers 503 \"Loading model\" meanwhile)\n"
            "  -v, --verbose          log one line per generation request to stderr\n"
            "The server listens at once and answers 503 \"Loading model\" until the model is loaded\n"
            "(then it prints the \"listening on\" line).\n"
            "endpoints: GET /health /v1/health /v1/models /props /slots /metrics;\n"
            "           POST /v1/completions /v1/chat/completions /completion /v1/embeddings /embedding\n"
            "           /tokenize /detokenize /apply-template\n");
}

// A growable list of strings (API keys, origins); each entry malloc'd.
typedef struct str_list {
    char **items;
    int n;
} str_list;

static bool list_add(str_list *l, const char *s, size_t len) {
    char **ni = realloc(l->items, (size_t)(l->n + 1) * sizeof *ni);
    if (!ni) return false;
    l->items = ni;
    if (!(l->items[l->n] = malloc(len + 1))) return false;
    memcpy(l->items[l->n], s, len);
    l->items[l->n++][len] = 0;
    return true;
}

// Adds the comma-separated, non-empty entries of s (spaces around them trimmed).
static bool list_add_csv(str_list *l, const char *s) {
    while (*s) {
        while (*s == ' ' || *s == ',') s++;
        const char *e = s;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > s && t[-1] == ' ') t--;
        if (t > s && !list_add(l, s, (size_t)(t - s))) return false;
        s = e;
    }
    return true;
}

// One key per line; blank lines and surrounding whitespace are ignored.
static bool read_key_file(str_list *l, const char *path) {
    // O_NONBLOCK: a FIFO must not hang the start; only a regular file is read
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        fprintf(stderr, "kite serve: cannot open --api-key-file %s: %s\n", path, strerror(errno));
        if (fd >= 0) close(fd);
        return false;
    }
    if (!S_ISREG(sb.st_mode)) {
        fprintf(stderr, "kite serve: --api-key-file %s is not a regular file\n", path);
        close(fd);
        return false;
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        fprintf(stderr, "kite serve: out of memory\n");
        return false;
    }
    char line[4096];
    bool ok = true;
    int before = l->n;
    while (ok && fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n') {
            fprintf(stderr, "kite serve: a line of --api-key-file %s is longer than %zu bytes\n", path, sizeof line - 2);
            ok = false;
            break;
        }
        char *a = line, *b = line + n;
        while (*a == ' ' || *a == '\t') a++;
        while (b > a && (b[-1] == '\n' || b[-1] == '\r' || b[-1] == ' ' || b[-1] == '\t')) b--;
        if (b > a) ok = list_add(l, a, (size_t)(b - a));
    }
    fclose(f);
    if (ok && l->n == before) {
        fprintf(stderr, "kite serve: --api-key-file %s holds no key\n", path);
        ok = false;
    }
    return ok;
}

static void list_free(str_list *l) {
    for (int i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items);
    *l = (str_list){0};
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

// The connection loop, run on its own thread so that it answers while the model loads.
typedef struct loop_thread {
    serve_state *s;
    serve_loop_opts lo;
    pthread_t thread;
    bool clean; // serve_loop_run's result
} loop_thread;

static void *loop_main(void *arg) {
    loop_thread *t = arg;
    t->clean = serve_loop_run(t->s, &t->lo);
    return NULL;
}

int kite_cmd_serve(int argc, char **argv) {
    model_opts o;
    model_opts_init(&o);
    const char *host = "127.0.0.1";
    int32_t port = 8080, n_parallel = 4, max_queue = 16, threads_http = 4, timeout_s = 10, token_delay = 0, load_delay = 0;
    bool verbose = false, metrics = false, parallel_given = false;
    int kv_unified = -1; // -1: as llama-server, unified unless --parallel is given (see ctx_shared)
    str_list keys = {0}, origins = {0};
    int rc = 2;
    for (int i = 1; i < argc; i++) {
        int r = model_opts_parse(&o, argc, argv, &i);
        if (r < 0) goto out;
        if (r > 0) continue;
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
#define FLAG(x) (!strcmp(a, x))
        if (FLAG("--host") && has_value) host = argv[++i];
        else if (FLAG("--port") && has_value) {
            if (!model_cli_int("--port", argv[++i], 0, 65535, &port)) goto out;
        } else if ((FLAG("-np") || FLAG("--parallel")) && has_value) {
            if (!model_cli_int("--parallel", argv[++i], 1, 64, &n_parallel)) goto out;
            parallel_given = true;
        } else if (FLAG("-kvu") || FLAG("--kv-unified")) {
            kv_unified = 1;
        } else if (FLAG("-no-kvu") || FLAG("--no-kv-unified")) {
            kv_unified = 0;
        } else if (FLAG("--max-queue") && has_value) {
            if (!model_cli_int("--max-queue", argv[++i], 0, 1024, &max_queue)) goto out;
        } else if (FLAG("--threads-http") && has_value) {
            if (!model_cli_int("--threads-http", argv[++i], 1, 64, &threads_http)) goto out;
        } else if ((FLAG("-to") || FLAG("--timeout")) && has_value) {
            if (!model_cli_int("--timeout", argv[++i], 1, 3600, &timeout_s)) goto out;
        } else if (FLAG("--token-delay") && has_value) {
            if (!model_cli_int("--token-delay", argv[++i], 0, 10000, &token_delay)) goto out;
        } else if (FLAG("--load-delay") && has_value) {
            if (!model_cli_int("--load-delay", argv[++i], 0, 60000, &load_delay)) goto out;
        } else if (FLAG("--api-key") && has_value) {
            const int before = keys.n;
            if (!list_add_csv(&keys, argv[++i])) goto oom;
            if (keys.n == before) { // --api-key "$UNSET": the server must not quietly go open
                fprintf(stderr, "kite serve: --api-key '%s' holds no key (an empty variable?)\n", argv[i]);
                goto out;
            }
        } else if (FLAG("--api-key-file") && has_value) {
            if (!read_key_file(&keys, argv[++i])) goto out;
        } else if ((FLAG("--cors-origins") || FLAG("--cors")) && has_value) {
            if (!list_add_csv(&origins, argv[++i])) goto oom;
        } else if (FLAG("--metrics")) metrics = true;
        else if (FLAG("-v") || FLAG("--verbose")) verbose = true;
        else if (FLAG("-h") || FLAG("--help")) {
            usage(stdout);
            rc = 0;
            goto out;
        } else {
            fprintf(stderr, "kite serve: unknown option or missing value '%s'\n", a);
            usage(stderr);
            goto out;
        }
#undef FLAG
    }
    if (o.prompt || o.file) {
        fprintf(stderr, "kite serve: -p / -f do not apply; prompts come with the requests\n");
        goto out;
    }
    if (o.chat_template && strcmp(o.chat_template, "auto") != 0 && !kite_chat_detect(o.chat_template)) {
        fprintf(stderr, "kite serve: unknown chat template '%s'\n", o.chat_template);
        goto out;
    }
    for (int i = 0; i < origins.n; i++) {
        if (!strcmp(origins.items[i], "*")) {
            fprintf(stderr, "kite serve: --cors-origins '*' would let every web page drive the server; list the "
                            "origins\n");
            goto out;
        }
    }
    if (origins.n > 0 && keys.n == 0) {
        fprintf(stderr, "kite serve: --cors-origins needs --api-key or --api-key-file (a web page must not drive "
                        "the server without a key)\n");
        goto out;
    }

    // As llama-server: listen first and answer 503 "Loading model" (on /health too) while the
    // model loads; the "listening on" line is printed once it is ready.
    model_session ms = {0};
    rc = 1;
    o.n_seq = n_parallel; // one KV cache sequence per slot
    // llama-server: an explicit --parallel without --kv-unified divides -c among the slots; the
    // automatic one (4 slots) turns the unified cache on, where one slot may fill all of -c
    // (llama-server turns it on for its automatic slots even after --no-kv-unified)
    o.ctx_shared = parallel_given && kv_unified != 1;
    char *tmpl_owned = NULL;
    serve_state s = {
        .ms = &ms, .sampling = o.sampling, .seed_given = o.seed_given, .n_predict = o.n_predict,
        .no_thinking = o.no_thinking, .reasoning_budget = o.reasoning_budget,
        .reasoning_budget_message = o.reasoning_budget_message,
        .dry_breakers = o.dry_breakers_given ? o.dry_breakers : NULL, .n_dry_breakers = o.n_dry_breakers,
        .started = (long long)time(NULL), .verbose = verbose, .n_parallel = n_parallel, .max_queue = max_queue,
        .metrics = metrics, .api_keys = keys.items, .n_api_keys = keys.n, .cors_origins = origins.items,
        .n_cors_origins = origins.n, .token_delay_ms = token_delay, .n_batch = o.n_batch,
    };
    char err[256];
    int bound = 0;
    serve_loop_signals();
    if (!serve_state_init(&s)) goto oom;
    int lfd = http_listen(host, port, &bound, err, sizeof err);
    if (lfd < 0) {
        fprintf(stderr, "kite serve: %s\n", err);
        serve_state_free(&s);
        goto out;
    }
    loop_thread lt = {.s = &s,
                      .lo = {.listen_fd = lfd, .n_workers = n_parallel + max_queue + threads_http,
                             .timeout_s = timeout_s, .max_conns = MAX_CONNS, .max_body = HTTP_MAX_BODY}};
    if (pthread_create(&lt.thread, NULL, loop_main, &lt) != 0) {
        fprintf(stderr, "kite serve: cannot start the connection thread\n");
        close(lfd);
        serve_state_free(&s);
        goto out;
    }
    for (int32_t waited = 0; waited < load_delay && !http_stop; waited += 10) usleep(10 * 1000);
    bool loaded = !http_stop && model_session_open(&ms, &o), sched = false;
    if (loaded) {
        const char *base = strrchr(ms.path, '/');
        s.model_id = base ? base + 1 : ms.path;
        s.chat_tmpl = pick_template(&o, ms.model, &tmpl_owned);
        model_cli_file_sampling(&o, ms.model, "kite serve");
        s.sampling = o.sampling; // before s.ready: no request reads it yet
        sched = serve_sched_start(&s);
        if (!sched) fprintf(stderr, "kite serve: out of memory\n");
    }
    const bool signalled = http_stop; // before serve_loop_stop sets it
    if (sched && !signalled) {
        atomic_store(&s.ready, true);
        printf("kite serve: listening on http://%s:%d (model %s, chat template %s, context %d per slot, %d slots)\n",
               host, bound, s.model_id, kite_chat_detect(s.chat_tmpl), kite_ctx_n_ctx(ms.ctx), n_parallel);
        fflush(stdout);
    } else {
        serve_loop_stop(); // the model did not load (its error is printed), or a signal came meanwhile
    }
    pthread_join(lt.thread, NULL);
    close(lfd);
    if (sched) fprintf(stderr, "kite serve: stopped after %lu requests\n", s.n_done);
    if (!lt.clean) {
        // A worker is still inside the model (a long prompt): exit now rather than wait for it.
        fprintf(stderr, "kite serve: a request was still running; exiting without waiting for it\n");
        fflush(NULL);
        _exit(0);
    }
    serve_sched_stop(&s);
    serve_state_free(&s);
    free(tmpl_owned);
    if (loaded) model_session_close(&ms);
    rc = sched || signalled ? 0 : 1; // a signal while loading is a normal stop
    goto out;
oom:
    fprintf(stderr, "kite serve: out of memory\n");
    rc = 1;
out:
    list_free(&keys);
    list_free(&origins);
    return rc;
}
#endif
