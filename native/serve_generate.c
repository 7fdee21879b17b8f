// serve_generate.c - the generation endpoints of `kite serve`: JSON request -> prompt and
// sampling parameters -> a slot whose job the batch scheduler runs (serve_sched.h) -> its output
// as a JSON response or a stream of Server-Sent Events, in OpenAI's shapes or llama-server's
// native /completion shape. A client that goes away (while waiting or while generating) gives
// its place up at once.
#if !defined(__wasi__) && !defined(__EMSCRIPTEN__)
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "serve_internal.h"
#include "chat_request.h"
#include "tool_calls.h"

#define MAX_STOP 16 // stop strings per request (OpenAI allows 4; llama-server more)

// ---- request parameters -------------------------------------------------------------------

typedef struct gen_request {
    serve_format fmt;
    bool stream;
    kite_sampler_params sampling;
    int32_t n_predict;
    const char *stop[MAX_STOP];
    int32_t n_stop;
    const char *dry_breakers[MAX_STOP]; // 'dry_sequence_breakers' (replaces the server's)
    int32_t n_dry_breakers;             // 0: the server's
    bool logprobs;  // return each token's log-probability ...
    int32_t n_top;  // ... and this many alternatives
    char *prompt; // malloc'd
    int32_t *ids, n_ids; // its tokens (malloc'd): the slot's sequence runs these
    bool cache_prompt;   // keep what the slot's cache shares with the prompt (llama-server's; default on)
    char *grammar; // malloc'd GBNF from 'grammar', 'json_schema' or 'response_format', or NULL
    serve_tools tools;       // chat: the request's tools
    bool tools_on;           // ... and the reply is parsed for calls (tool_choice not "none")
    bool tools_generic;      // ... in the generic JSON format (the template has no tool format)
    bool tools_xml;          // ... as Qwen3.5's XML calls (<function=NAME> <parameter=ARG>)
    const char *triggers[1]; // the lazy tool-call grammar's trigger word
    int32_t n_triggers;
    bool no_thinking;              // chat: the reply opens with reasoning off
    size_t reply_at;               // chat: where the reply's text begins in the prompt (chat_request_prompt)
    int32_t reasoning_budget;      // chat: -1 unlimited, else the reasoning block's most tokens
    const char *reasoning_message; // chat: forced before the end tag (in the request body or argv)
} gen_request;

// A number member in [lo, hi], or absent/null (then *out is left alone). false + message if not.
// integer: the bounds (and an integral value) are printed as integers.
static bool opt_number(const json_value *body, const char *key, double lo, double hi, bool integer, double *out,
                       char *err, size_t es) {
    const json_value *v = json_get(body, key);
    if (!v || v->type == JSON_NULL) return true;
    if (v->type != JSON_NUMBER) {
        snprintf(err, es, "'%s' must be a number, not %s", key, json_type_name(v->type));
        return false;
    }
    if (!(v->number >= lo && v->number <= hi)) {
        if (integer && v->number == floor(v->number) && fabs(v->number) < 1e18)
            snprintf(err, es, "'%s' = %lld is out of range [%lld, %lld]", key, (long long)v->number, (long long)lo,
                     (long long)hi);
        else if (integer)
            snprintf(err, es, "'%s' = %g is out of range [%lld, %lld]", key, v->number, (long long)lo, (long long)hi);
        else snprintf(err, es, "'%s' = %g is out of range [%g, %g]", key, v->number, lo, hi);
        return false;
    }
    *out = v->number;
    return true;
}

static bool opt_float(const json_value *b, const char *key, double lo, double hi, float *out, char *err, size_t es) {
    double d = *out;
    if (!opt_number(b, key, lo, hi, false, &d, err, es)) return false;
    *out = (float)d;
    return true;
}

static bool opt_int(const json_value *b, const char *key, double lo, double hi, long long *out, char *err, size_t es) {
    double d = (double)*out;
    if (!opt_number(b, key, lo, hi, true, &d, err, es)) return false;
    if (d != floor(d)) {
        snprintf(err, es, "'%s' must be an integer", key);
        return false;
    }
    *out = (long long)d;
    return true;
}

// Request members Kite does not implement: asking for one is an error, never silently ignored.
// chat: tools and tool_choice are taken (openai/tool_calls.c).
static bool reject_unsupported(const json_value *b, bool chat, char *err, size_t es) {
    static const struct {
        const char *key, *why;
    } never[] = {
        {"tools", "tool calling is supported by /v1/chat/completions only"},
        {"functions", "function calling is not supported"},
        {"logit_bias", "logit biases are not supported"},
        {"suffix", "insertion (suffix) is not supported"},
        {"echo", "echoing the prompt is not supported"},
        {"ignore_eos", "ignore_eos is not supported"},
        {"audio", "audio output is not supported"},
        {"prediction", "predicted outputs are not supported"},
    };
    for (size_t i = chat ? 1 : 0; i < sizeof never / sizeof never[0]; i++) {
        if (!chat_request_is_unset(json_get(b, never[i].key))) {
            snprintf(err, es, "unsupported parameter '%s': %s by this server", never[i].key, never[i].why);
            return false;
        }
    }
    const json_value *tc = json_get(b, "tool_choice"), *fc = json_get(b, "function_call");
    if (!chat && tc && tc->type != JSON_NULL && !(tc->type == JSON_STRING && strcmp(tc->str, "none") == 0)) {
        snprintf(err, es, "unsupported parameter 'tool_choice': tool calling is supported by /v1/chat/completions only");
        return false;
    }
    if (fc && fc->type != JSON_NULL && !(fc->type == JSON_STRING && strcmp(fc->str, "none") == 0)) {
        snprintf(err, es, "unsupported parameter 'function_call': function calling is not supported by this server");
        return false;
    }
    const json_value *n = json_get(b, "n"), *best = json_get(b, "best_of");
    if (n && n->type == JSON_NUMBER && n->number != 1) {
        snprintf(err, es, "unsupported parameter 'n' = %g: one choice per request is supported", n->number);
        return false;
    }
    if (best && best->type == JSON_NUMBER && best->number != 1) {
        snprintf(err, es, "unsupported parameter 'best_of' = %g: one choice per request is supported", best->number);
        return false;
    }
    return true;
}

// ---- constrained output ---------------------------------------------------------------------

// Appends v as JSON text (a schema handed on to the converter).
static void dump_json(kite_buf *o, const json_value *v) {
    switch (v->type) {
    case JSON_NULL: kite_buf_puts(o, "null"); break;
    case JSON_BOOL: kite_buf_puts(o, v->boolean ? "true" : "false"); break;
    case JSON_NUMBER: {
        char t[40];
        if (v->number == floor(v->number) && fabs(v->number) < 1e15) snprintf(t, sizeof t, "%lld", (long long)v->number);
        else snprintf(t, sizeof t, "%.17g", isfinite(v->number) ? v->number : 0.0);
        kite_buf_puts(o, t);
        break;
    }
    case JSON_STRING: {
        json_writer w = {0};
        jw_string(&w, v->str, v->len);
        if (w.out.ptr) kite_buf_append(o, w.out.ptr, w.out.len);
        if (w.out.nomem) o->nomem = true;
        jw_free(&w);
        break;
    }
    case JSON_ARRAY:
    case JSON_OBJECT:
        kite_buf_puts(o, v->type == JSON_ARRAY ? "[" : "{");
        for (const json_value *x = v->child; x; x = x->next) {
            if (x != v->child) kite_buf_puts(o, ",");
            if (v->type == JSON_OBJECT) {
                json_writer w = {0};
                jw_string(&w, x->key, x->key_len);
                if (w.out.ptr) kite_buf_append(o, w.out.ptr, w.out.len);
                jw_free(&w);
                kite_buf_puts(o, ":");
            }
            dump_json(o, x);
        }
        kite_buf_puts(o, v->type == JSON_ARRAY ? "]" : "}");
        break;
    }
}

// The GBNF of a JSON schema member (what names it: for messages), into r->grammar.
static bool schema_grammar(const json_value *schema, const char *what, gen_request *r, char *err, size_t es) {
    if (schema->type != JSON_OBJECT) {
        snprintf(err, es, "%s must be a JSON schema object, not %s", what, json_type_name(schema->type));
        return false;
    }
    kite_buf text = {0};
    dump_json(&text, schema);
    if (text.nomem) {
        kite_buf_free(&text);
        snprintf(err, es, "out of memory");
        return false;
    }
    kite_status st = kite_json_schema_to_grammar(text.ptr, text.len, &r->grammar);
    kite_buf_free(&text);
    if (st != KITE_OK) snprintf(err, es, "%s: %s", what, kite_last_error());
    return st == KITE_OK;
}

// Constrained output as llama-server takes it: 'grammar' (GBNF), 'json_schema' (a schema), or
// OpenAI's 'response_format' {"type": "text" | "json_object" | "json_schema", ...}. The grammar
// is parsed here so a bad one is a 400 naming its line and column.
static bool parse_grammar(serve_state *s, const json_value *b, gen_request *r, char *err, size_t es) {
    const json_value *g = json_get(b, "grammar"), *js = json_get(b, "json_schema"), *rf = json_get(b, "response_format");
    if (chat_request_is_unset(g)) g = NULL;
    if (js && js->type == JSON_NULL) js = NULL;
    if (rf && rf->type == JSON_NULL) rf = NULL;
    if (!!g + !!js + !!rf > 1) {
        snprintf(err, es, "give one of 'grammar', 'json_schema' and 'response_format', not several");
        return false;
    }
    if (g) {
        if (g->type != JSON_STRING) {
            snprintf(err, es, "'grammar' must be a string of GBNF, not %s", json_type_name(g->type));
            return false;
        }
        if (!(r->grammar = strdup(g->str))) {
            snprintf(err, es, "out of memory");
            return false;
        }
    } else if (js) {
        if (!schema_grammar(js, "'json_schema'", r, err, es)) return false;
    } else if (rf) {
        const json_value *t = json_get(rf, "type");
        if (rf->type != JSON_OBJECT || !t || t->type != JSON_STRING) {
            snprintf(err, es, "'response_format' must be an object with a string 'type'");
            return false;
        }
        if (strcmp(t->str, "text") == 0) return true;
        if (strcmp(t->str, "json_object") == 0) {
            const json_value *sc = json_get(rf, "schema"); // llama-server's extension
            if (sc && sc->type != JSON_NULL) return schema_grammar(sc, "'response_format.schema'", r, err, es);
            if (kite_json_object_grammar(&r->grammar) != KITE_OK) {
                snprintf(err, es, "%s", kite_last_error());
                return false;
            }
        } else if (strcmp(t->str, "json_schema") == 0) {
            const json_value *j = json_get(rf, "json_schema");
            const json_value *sc = j ? json_get(j, "schema") : NULL;
            if (!sc) sc = json_get(rf, "schema");
            if (!sc || sc->type == JSON_NULL) {
                snprintf(err, es, "'response_format' of type 'json_schema' needs 'json_schema': {\"schema\": {...}}");
                return false;
            }
            return schema_grammar(sc, "'response_format.json_schema.schema'", r, err, es);
        } else {
            snprintf(err, es, "unsupported parameter 'response_format' of type '%.40s': 'text', 'json_object' and "
                     "'json_schema' are supported", t->str);
            return false;
        }
    } else {
        return true;
    }
    kite_grammar *parsed = NULL;
    // with the model's vocabulary: token literals (<think>, <|im_end|>) resolve to its tokens
    if (kite_model_grammar_parse(s->ms->model, r->grammar, NULL, &parsed) != KITE_OK) {
        snprintf(err, es, "'%s': %s", g ? "grammar" : js ? "json_schema" : "response_format", kite_last_error());
        return false;
    }
    kite_grammar_free(parsed);
    return true;
}

// Log-probabilities as each API asks for them: chat "logprobs": true + "top_logprobs": N;
// completions "logprobs": N (alternatives); native "n_probs": N (N > 0 turns them on).
static bool parse_logprobs(const json_value *b, gen_request *r, char *err, size_t es) {
    long long n_top = 0;
    const json_value *lp = json_get(b, "logprobs"), *top = json_get(b, "top_logprobs");
    if (r->fmt == SERVE_OAI_CHAT) {
        if (lp && lp->type != JSON_NULL && lp->type != JSON_BOOL) {
            snprintf(err, es, "'logprobs' must be a boolean, not %s", json_type_name(lp->type));
            return false;
        }
        r->logprobs = lp && lp->type == JSON_BOOL && lp->boolean;
        if (!opt_int(b, "top_logprobs", 0, SERVE_MAX_TOP, &n_top, err, es)) return false;
        if (top && top->type != JSON_NULL && !r->logprobs) {
            snprintf(err, es, "'top_logprobs' needs 'logprobs': true");
            return false;
        }
    } else if (r->fmt == SERVE_OAI_COMPLETION) {
        if (!chat_request_is_unset(top)) {
            snprintf(err, es, "unsupported parameter 'top_logprobs' in a completion request: use 'logprobs': N");
            return false;
        }
        if (lp && lp->type == JSON_BOOL && !lp->boolean) lp = NULL;
        if (!opt_int(b, "logprobs", 0, SERVE_MAX_TOP, &n_top, err, es)) return false;
        r->logprobs = lp && lp->type == JSON_NUMBER;
    } else {
        if (!opt_int(b, "n_probs", 0, SERVE_MAX_TOP, &n_top, err, es)) return false;
        r->logprobs = n_top > 0;
    }
    r->n_top = (int32_t)n_top;
    return true;
}

// Chat: the request's tools; when the reply may call them, the grammar of the calls (lazy, from
// "<tool_call>" on, unless a call is required) as llama-server builds it.
static bool parse_tools(const serve_state *s, const json_value *b, gen_request *r, char *err, size_t es) {
    if (!serve_tools_parse(b, &r->tools, err, es)) return false;
    r->tools_on = serve_tools_active(&r->tools);
    if (!r->tools_on) return true;
    if (r->grammar) {
        snprintf(err, es, "give 'tools' or a grammar ('grammar', 'json_schema', 'response_format'), not both (or "
                          "'tool_choice': \"none\")");
        return false;
    }
    bool lazy;
    const kite_chat_tools style = kite_chat_tools_of(s->chat_tmpl);
    r->tools_generic = style == KITE_CHAT_TOOLS_NONE;
    r->tools_xml = style == KITE_CHAT_TOOLS_QWEN35;
    if (r->tools_xml ? !serve_tools_grammar_xml(&r->tools, &r->grammar, &lazy, err, es)
                     : !serve_tools_grammar(&r->tools, r->tools_generic, &r->grammar, &lazy, err, es))
        return false;
    if (lazy) {
        r->triggers[0] = SERVE_TOOL_TRIGGER;
        r->n_triggers = 1;
    }
    return true;
}

static bool parse_sampling(serve_state *s, const json_value *b, gen_request *r, char *err, size_t es) {
    if (!reject_unsupported(b, r->fmt == SERVE_OAI_CHAT, err, es)) return false;
    r->sampling = s->sampling;
    r->n_predict = s->n_predict;
    long long seed = -1, n_predict = r->n_predict, top_k = r->sampling.top_k, last_n = r->sampling.penalty_last_n,
              n = 1, mirostat = r->sampling.mirostat, dry_allowed = r->sampling.dry_allowed_length,
              dry_last_n = r->sampling.dry_penalty_last_n;
    bool seeded = json_get(b, "seed") && json_get(b, "seed")->type != JSON_NULL;
    if (!opt_float(b, "temperature", 0, KITE_SAMPLER_MAX_TEMP, &r->sampling.temp, err, es) ||
        !opt_float(b, "top_p", 0, 1, &r->sampling.top_p, err, es) ||
        !opt_float(b, "min_p", 0, 1, &r->sampling.min_p, err, es) ||
        !opt_int(b, "top_k", 0, KITE_SAMPLER_MAX_TOP_K, &top_k, err, es) ||
        !opt_float(b, "presence_penalty", -100, 100, &r->sampling.presence_penalty, err, es) ||
        !opt_float(b, "frequency_penalty", -100, 100, &r->sampling.frequency_penalty, err, es) ||
        !opt_float(b, "repeat_penalty", KITE_SAMPLER_MIN_REPEAT_PENALTY, KITE_SAMPLER_MAX_REPEAT_PENALTY,
                   &r->sampling.repeat_penalty, err, es) ||
        !opt_int(b, "repeat_last_n", 0, KITE_SAMPLER_MAX_PENALTY_LAST_N, &last_n, err, es) ||
        !opt_float(b, "typical_p", 0, 1, &r->sampling.typical_p, err, es) ||
        !opt_float(b, "top_n_sigma", -1, KITE_SAMPLER_MAX_TOP_N_SIGMA, &r->sampling.top_n_sigma, err, es) ||
        !opt_float(b, "xtc_probability", 0, 1, &r->sampling.xtc_probability, err, es) ||
        !opt_float(b, "xtc_threshold", 0, 1, &r->sampling.xtc_threshold, err, es) ||
        !opt_int(b, "mirostat", 0, 2, &mirostat, err, es) ||
        !opt_float(b, "mirostat_tau", 0, KITE_SAMPLER_MAX_MIROSTAT_TAU, &r->sampling.mirostat_tau, err, es) ||
        !opt_float(b, "mirostat_eta", 0, 1, &r->sampling.mirostat_eta, err, es) ||
        !opt_float(b, "dry_multiplier", 0, KITE_SAMPLER_MAX_DRY, &r->sampling.dry_multiplier, err, es) ||
        !opt_float(b, "dry_base", 0, KITE_SAMPLER_MAX_DRY, &r->sampling.dry_base, err, es) ||
        !opt_int(b, "dry_allowed_length", 0, KITE_SAMPLER_MAX_PENALTY_LAST_N, &dry_allowed, err, es) ||
        !opt_int(b, "dry_penalty_last_n", 0, KITE_SAMPLER_MAX_PENALTY_LAST_N, &dry_last_n, err, es) ||
        !opt_int(b, "seed", -1, 4294967295.0, &seed, err, es) ||
        !opt_int(b, "max_tokens", -1, 1 << 24, &n_predict, err, es) ||
        !opt_int(b, "max_completion_tokens", -1, 1 << 24, &n_predict, err, es) ||
        !opt_int(b, "n_predict", -1, 1 << 24, &n_predict, err, es) || !opt_int(b, "n", 1, 1, &n, err, es))
        return false;
    r->sampling.top_k = (int32_t)top_k;
    r->sampling.penalty_last_n = (int32_t)last_n;
    r->sampling.mirostat = (int32_t)mirostat;
    r->sampling.dry_allowed_length = (int32_t)dry_allowed;
    r->sampling.dry_penalty_last_n = (int32_t)dry_last_n;
    // llama-server: a non-empty array of strings that replaces the default breakers
    const json_value *brk = json_get(b, "dry_sequence_breakers");
    if (brk && brk->type != JSON_NULL) {
        if (brk->type != JSON_ARRAY || brk->len == 0 || brk->len > MAX_STOP) {
            snprintf(err, es, "'dry_sequence_breakers' must be a non-empty array of at most %d strings", MAX_STOP);
            return false;
        }
        for (const json_value *x = brk->child; x; x = x->next) {
            if (!chat_request_plain_string(x, "each 'dry_sequence_breakers' entry", err, es)) return false;
            r->dry_breakers[r->n_dry_breakers++] = x->str;
        }
    }
    r->n_predict = (int32_t)n_predict;
    // No seed (or -1): the server's --seed if it got one, else a fresh one per request.
    if (seeded && seed >= 0) r->sampling.seed = (uint32_t)seed;
    else if (!s->seed_given) r->sampling.seed = model_cli_random_seed();

    if (!parse_logprobs(b, r, err, es)) return false;
    if (!parse_grammar(s, b, r, err, es)) return false;
    if (r->fmt == SERVE_OAI_CHAT && !parse_tools(s, b, r, err, es)) return false;

    const json_value *st = json_get(b, "stream");
    if (st && st->type != JSON_NULL && st->type != JSON_BOOL) {
        snprintf(err, es, "'stream' must be a boolean, not %s", json_type_name(st->type));
        return false;
    }
    r->stream = st && st->type == JSON_BOOL && st->boolean;

    const json_value *cp = json_get(b, "cache_prompt");
    if (cp && cp->type != JSON_NULL && cp->type != JSON_BOOL) {
        snprintf(err, es, "'cache_prompt' must be a boolean, not %s", json_type_name(cp->type));
        return false;
    }
    r->cache_prompt = !(cp && cp->type == JSON_BOOL && !cp->boolean);

    const json_value *stop = json_get(b, "stop");
    if (stop && stop->type == JSON_STRING) {
        if (!chat_request_plain_string(stop, "'stop'", err, es)) return false;
        r->stop[r->n_stop++] = stop->str;
    } else if (stop && stop->type == JSON_ARRAY) {
        if (stop->len > MAX_STOP) {
            snprintf(err, es, "'stop' has %zu strings; at most %d are supported", stop->len, MAX_STOP);
            return false;
        }
        for (const json_value *x = stop->child; x; x = x->next) {
            if (!chat_request_plain_string(x, "each 'stop' entry", err, es)) return false;
            r->stop[r->n_stop++] = x->str;
        }
    } else if (stop && stop->type != JSON_NULL) {
        snprintf(err, es, "'stop' must be a string or an array of strings, not %s", json_type_name(stop->type));
        return false;
    }
    return true;
}

// Whether reasoning is off for chat request b, as llama-server decides it: the server's default
// (--reasoning), then chat_template_kwargs.enable_thinking (a boolean), then reasoning_effort
// "none" (off). Other template kwargs have no effect on the built-in templates. false (with
// err) for a kwargs value of the wrong type.
static bool reasoning_off(const serve_state *s, const json_value *b, bool *off, char *err, size_t es) {
    *off = s->no_thinking;
    const json_value *kw = json_get(b, "chat_template_kwargs");
    if (kw && kw->type != JSON_NULL) {
        if (kw->type != JSON_OBJECT) {
            snprintf(err, es, "'chat_template_kwargs' must be an object, not %s", json_type_name(kw->type));
            return false;
        }
        const json_value *et = json_get(kw, "enable_thinking");
        if (et && et->type != JSON_BOOL) {
            snprintf(err, es, "invalid type for \"enable_thinking\" (expected boolean, got %s)", json_type_name(et->type));
            return false;
        }
        if (et) *off = !et->boolean;
    }
    const json_value *effort = json_get(b, "reasoning_effort");
    if (effort && effort->type == JSON_STRING && !strcmp(effort->str, "none")) *off = true;
    return true;
}

// A chat request's reasoning budget, as llama-server reads it: reasoning_budget_tokens (alias
// thinking_budget_tokens), -1 meaning the server's --reasoning-budget; reasoning_budget_message,
// else the server's --reasoning-budget-message.
static bool parse_reasoning_budget(const serve_state *s, const json_value *b, gen_request *r, char *err, size_t es) {
    long long n = -1;
    const char *key = json_get(b, "reasoning_budget_tokens") ? "reasoning_budget_tokens" : "thinking_budget_tokens";
    if (!opt_int(b, key, -1, INT32_MAX, &n, err, es)) return false;
    r->reasoning_budget = n == -1 ? s->reasoning_budget : (int32_t)n;
    r->reasoning_message = s->reasoning_budget_message;
    const json_value *msg = json_get(b, "reasoning_budget_message");
    if (msg && msg->type != JSON_NULL) {
        if (!chat_request_plain_string(msg, "reasoning_budget_message", err, es)) return false;
        r->reasoning_message = msg->str;
    }
    return true;
}

bool serve_chat_prompt(const serve_state *s, const json_value *b, char **prompt, bool *no_thinking_out,
                       size_t *reply_at, char *err, size_t es) {
    bool no_thinking = false;
    if (!reasoning_off(s, b, &no_thinking, err, es)) return false;
    if (no_thinking_out) *no_thinking_out = no_thinking;
    const unsigned flags = KITE_CHAT_ADD_ASSISTANT | (no_thinking ? KITE_CHAT_NO_THINKING : 0u);
    return chat_request_prompt(s->chat_tmpl, b, flags, prompt, reply_at, err, es);
}

static bool completion_prompt(const json_value *b, gen_request *r, char *err, size_t es) {
    const json_value *p = json_get(b, "prompt");
    if (p && p->type == JSON_ARRAY && p->len == 1) p = p->child; // ["text"]
    if (!p) {
        snprintf(err, es, "'prompt' is missing");
        return false;
    }
    if (p->type == JSON_ARRAY) {
        snprintf(err, es, "'prompt' must be one string: batches of prompts and token arrays are not supported");
        return false;
    }
    if (!chat_request_plain_string(p, "'prompt'", err, es)) return false;
    r->prompt = strdup(p->str);
    if (!r->prompt) snprintf(err, es, "out of memory");
    return r->prompt != NULL;
}

// The prompt must leave room for at least one generated token (checked before queueing); *n_over
// is the prompt's length when it does not (0 otherwise).
// Tokenizes the prompt once (r->ids: the slot with the longest common prefix is picked with them, and
// its sequence runs them) and checks that it fits a slot's context.
static bool prompt_fits(const serve_state *s, gen_request *r, int32_t *n_over, char *err, size_t es) {
    const kite_vocab *v = kite_model_vocab(s->ms->model);
    int32_t n = 0;
    if (kite_tokenize_alloc(v, r->prompt, strlen(r->prompt), true, r->fmt != SERVE_OAI_COMPLETION, &r->ids, &n) !=
        KITE_OK) {
        snprintf(err, es, "prompt: %s", kite_last_error());
        return false;
    }
    r->n_ids = n;
    int32_t n_ctx = kite_ctx_n_ctx(s->ms->ctx);
    if (n >= n_ctx) {
        *n_over = n;
        return false;
    }
    return true;
}

// ---- generation -------------------------------------------------------------------------------

typedef struct gen_out {
    serve_state *s;
    http_out *o;
    const gen_request *r;
    int slot;
    char id[64];
    long long created;
    bool started;     // SSE headers sent
    bool client_gone; // a write failed, or the peer closed its socket
    char hold[4];     // the start of a UTF-8 character whose rest has not come yet
    size_t n_hold;
    kite_buf text;   // non-streamed: the whole reply
    kite_buf toks;   // logprobs: the serve_token of every generated token
    size_t sent;      // bytes of text given to the client so far (streamed)
    size_t next_tok;  // logprobs: the first token not yet sent (streamed)
    serve_tool_reply reply; // tools: the reply's calls, taken out of its text
} gen_out;

static void chunk_head(json_writer *w, const gen_out *g) {
    jw_begin_object(w);
    if (g->r->fmt == SERVE_NATIVE) return;
    jw_key(w, "id");
    jw_cstr(w, g->id);
    jw_key(w, "object");
    jw_cstr(w, g->r->fmt == SERVE_OAI_CHAT ? (g->r->stream ? "chat.completion.chunk" : "chat.completion")
                                           : "text_completion");
    jw_key(w, "created");
    jw_int(w, g->created);
    jw_key(w, "model");
    jw_cstr(w, g->s->model_id);
    jw_key(w, "choices");
    jw_begin_array(w);
    jw_begin_object(w);
    jw_key(w, "index");
    jw_int(w, 0);
}

// Sends w's JSON as one event and frees w; false when it ran out of memory or the client is gone.
static bool send_event(gen_out *g, json_writer *w) {
    bool ok = !w->out.nomem;
    if (ok && !http_sse_data(g->o, w->out.ptr, w->out.len)) g->client_gone = true;
    jw_free(w);
    return ok && !g->client_gone;
}

// Ends a chat chunk of chunk_head's after its delta: no finish reason yet.
static void chunk_end(json_writer *w) {
    jw_key(w, "finish_reason");
    jw_null(w);
    jw_end_object(w);
    jw_end_array(w);
    jw_end_object(w);
}

// The OpenAI "usage" member: token counts of the prompt and the completion.
static void write_usage(json_writer *w, const kite_gen_stats *st) {
    jw_key(w, "usage");
    jw_begin_object(w);
    jw_key(w, "prompt_tokens");
    jw_int(w, st->n_prompt);
    jw_key(w, "completion_tokens");
    jw_int(w, st->n_generated);
    jw_key(w, "total_tokens");
    jw_int(w, (long long)st->n_prompt + st->n_generated);
    jw_key(w, "prompt_tokens_details"); // of prompt_tokens, those the slot's cache held
    jw_begin_object(w);
    jw_key(w, "cached_tokens");
    jw_int(w, st->n_cached);
    jw_end_object(w);
    jw_end_object(w);
}

// llama-server's closing members of a /completion answer.
static void write_native_tail(json_writer *w, const gen_out *g, const kite_gen_stats *st) {
    jw_key(w, "id_slot");
    jw_int(w, g->slot);
    jw_key(w, "stop");
    jw_bool(w, true);
    jw_key(w, "model");
    jw_cstr(w, g->s->model_id);
    jw_key(w, "tokens_predicted");
    jw_int(w, st->n_generated);
    jw_key(w, "tokens_evaluated");
    jw_int(w, st->n_prompt);
    jw_key(w, "stop_type");
    jw_cstr(w, st->stopped_eog ? "eos" : st->stopped_string ? "word" : "limit");
    jw_key(w, "truncated");
    jw_bool(w, false);
    jw_key(w, "tokens_cached");
    jw_int(w, st->n_cached);
    jw_key(w, "timings");
    jw_begin_object(w);
    jw_key(w, "cache_n"); // as llama-server: prompt tokens the cache held, prompt_n those evaluated
    jw_int(w, st->n_cached);
    jw_key(w, "prompt_n");
    jw_int(w, st->n_prompt - st->n_cached);
    jw_key(w, "prompt_ms");
    jw_number(w, st->prefill_s * 1e3);
    jw_key(w, "predicted_n");
    jw_int(w, st->n_generated);
    jw_key(w, "predicted_ms");
    jw_number(w, st->decode_s * 1e3);
    jw_end_object(w);
}

// ---- log-probabilities ------------------------------------------------------------------------

// A token's text as JSON: "token" (invalid UTF-8 shown as U+FFFD) and its exact "bytes".
static void write_token_text(json_writer *w, const kite_vocab *v, int32_t id, bool with_bytes) {
    char piece[256];
    int32_t n = kite_token_to_piece(v, id, piece, sizeof piece, true);
    if (n < 0) n = 0; // a piece over 256 bytes: none in real vocabularies
    jw_key(w, "token");
    jw_string(w, piece, (size_t)n);
    if (!with_bytes) return;
    jw_key(w, "bytes");
    jw_begin_array(w);
    for (int32_t i = 0; i < n; i++) jw_int(w, (unsigned char)piece[i]);
    jw_end_array(w);
}

// One token (chat / native shape): {"id"?, "token", "logprob", "bytes", "top_logprobs": [...]}.
static void write_token_entry(json_writer *w, const kite_vocab *v, const serve_token *t, bool native) {
    jw_begin_object(w);
    if (native) {
        jw_key(w, "id");
        jw_int(w, t->id);
    }
    write_token_text(w, v, t->id, true);
    jw_key(w, "logprob");
    jw_number(w, t->logprob);
    jw_key(w, "top_logprobs");
    jw_begin_array(w);
    for (int32_t k = 0; k < t->n_top; k++) {
        jw_begin_object(w);
        if (native) {
            jw_key(w, "id");
            jw_int(w, t->top_id[k]);
        }
        write_token_text(w, v, t->top_id[k], true);
        jw_key(w, "logprob");
        jw_number(w, t->top_logprob[k]);
        jw_end_object(w);
    }
    jw_end_array(w);
    jw_end_object(w);
}

// The log-probabilities of tokens [from, to) in the request's shape, as the member value of
// "logprobs" (OpenAI) or "completion_probabilities" (native).
static void write_logprobs(json_writer *w, const gen_out *g, size_t from, size_t to) {
    const serve_token *t = (const serve_token *)g->toks.ptr;
    const kite_vocab *v = kite_model_vocab(g->s->ms->model);
    if (g->r->fmt == SERVE_OAI_COMPLETION) { // the legacy shape: parallel arrays
        jw_begin_object(w);
        jw_key(w, "tokens");
        jw_begin_array(w);
        for (size_t i = from; i < to; i++) {
            char piece[256];
            int32_t n = kite_token_to_piece(v, t[i].id, piece, sizeof piece, true);
            jw_string(w, piece, n > 0 ? (size_t)n : 0);
        }
        jw_end_array(w);
        jw_key(w, "token_logprobs");
        jw_begin_array(w);
        for (size_t i = from; i < to; i++) jw_number(w, t[i].logprob);
        jw_end_array(w);
        jw_key(w, "top_logprobs");
        jw_begin_array(w);
        for (size_t i = from; i < to; i++) {
            jw_begin_object(w);
            for (int32_t k = 0; k < t[i].n_top; k++) {
                char piece[256];
                int32_t n = kite_token_to_piece(v, t[i].top_id[k], piece, sizeof piece - 1, true);
                piece[n > 0 ? n : 0] = 0; // keys are C strings (a NUL byte piece is cut there)
                jw_key(w, piece);
                jw_number(w, t[i].top_logprob[k]);
            }
            jw_end_object(w);
        }
        jw_end_array(w);
        jw_key(w, "text_offset");
        jw_begin_array(w);
        for (size_t i = from; i < to; i++) jw_int(w, (long long)t[i].offset);
        jw_end_array(w);
        jw_end_object(w);
        return;
    }
    bool native = g->r->fmt == SERVE_NATIVE;
    if (!native) {
        jw_begin_object(w);
        jw_key(w, "content");
    }
    jw_begin_array(w);
    for (size_t i = from; i < to; i++) write_token_entry(w, v, &t[i], native);
    jw_end_array(w);
    if (!native) jw_end_object(w);
}

// The end of the tokens (from next_tok on) whose text starts before byte `upto` of the reply
// (those after it fell in a stop string that was cut off).
static size_t tokens_before(const gen_out *g, size_t upto) {
    const serve_token *t = (const serve_token *)g->toks.ptr;
    size_t n = g->toks.len / sizeof *t, k = g->next_tok;
    while (k < n && t[k].offset < upto) k++;
    return k;
}

// ---- answers ------------------------------------------------------------------------------------

// One streamed chunk of text (finish: NULL) or the closing chunk (finish: its reason). With
// logprobs it carries those of the tokens whose text starts in the text sent so far.
static bool stream_chunk(gen_out *g, const char *text, size_t len, const char *finish, const kite_gen_stats *st) {
    g->sent += len;
    // the closing chunk takes the tokens left, unless a stop string cut their text
    size_t upto = finish && !st->stopped_string ? SIZE_MAX : g->sent;
    size_t from = g->next_tok, to = g->r->logprobs ? tokens_before(g, upto) : from;
    g->next_tok = to;
    json_writer w = {0};
    chunk_head(&w, g);
    if (g->r->fmt == SERVE_NATIVE) {
        jw_key(&w, "content");
        jw_string(&w, text, len);
        if (g->r->logprobs) {
            jw_key(&w, "completion_probabilities");
            write_logprobs(&w, g, from, to);
        }
        if (finish) write_native_tail(&w, g, st);
        else {
            jw_key(&w, "id_slot");
            jw_int(&w, g->slot);
            jw_key(&w, "stop");
            jw_bool(&w, false);
        }
        jw_end_object(&w);
    } else {
        if (g->r->fmt == SERVE_OAI_CHAT) {
            jw_key(&w, "delta");
            jw_begin_object(&w);
            if (!finish) {
                jw_key(&w, "content");
                jw_string(&w, text, len);
            }
            jw_end_object(&w);
        } else {
            jw_key(&w, "text");
            jw_string(&w, text, len);
        }
        jw_key(&w, "logprobs");
        if (g->r->logprobs && to > from) write_logprobs(&w, g, from, to);
        else jw_null(&w);
        jw_key(&w, "finish_reason");
        if (finish) jw_cstr(&w, finish);
        else jw_null(&w);
        jw_end_object(&w);
        jw_end_array(&w);
        if (st) write_usage(&w, st);
        jw_end_object(&w);
    }
    return send_event(g, &w);
}

static bool stream_start(gen_out *g) {
    if (g->started) return !g->client_gone;
    g->started = true;
    if (!http_sse_begin(g->o)) {
        g->client_gone = true;
        return false;
    }
    if (g->r->fmt != SERVE_OAI_CHAT) return true;
    // OpenAI opens a chat stream with the assistant role and empty content.
    json_writer w = {0};
    chunk_head(&w, g);
    jw_key(&w, "delta");
    jw_begin_object(&w);
    jw_key(&w, "role");
    jw_cstr(&w, "assistant");
    jw_key(&w, "content");
    jw_cstr(&w, "");
    jw_end_object(&w);
    chunk_end(&w);
    return send_event(g, &w);
}

// The reply's text (its tool calls taken out): collected, or streamed as chunks.
static bool emit_text(gen_out *g, const char *piece, size_t len) {
    if (!g->r->stream) return kite_buf_append(&g->text, piece, len);
    // Send whole UTF-8 characters only: a JSON string cannot carry half of one.
    char buf[512];
    while (len > 0) {
        size_t take = len < sizeof buf - g->n_hold ? len : sizeof buf - g->n_hold;
        memcpy(buf, g->hold, g->n_hold);
        memcpy(buf + g->n_hold, piece, take);
        size_t n = g->n_hold + take, ready = json_utf8_complete(buf, n);
        g->n_hold = n - ready;
        memcpy(g->hold, buf + ready, g->n_hold);
        if (ready > 0 && !(stream_start(g) && stream_chunk(g, buf, ready, NULL, NULL))) return false;
        piece += take;
        len -= take;
    }
    return true;
}

// A piece of a streamed call, as llama-server sends it: the first has the call's index, id, type
// and name (and its arguments' first piece when there is one), the next its index and more of
// its arguments.
static bool stream_tool_delta(void *user, size_t index, const char *id, const char *name, const char *args,
                              size_t len) {
    gen_out *g = user;
    if (!stream_start(g)) return false;
    json_writer w = {0};
    chunk_head(&w, g);
    jw_key(&w, "delta");
    jw_begin_object(&w);
    jw_key(&w, "tool_calls");
    jw_begin_array(&w);
    jw_begin_object(&w);
    jw_key(&w, "index");
    jw_int(&w, (long long)index);
    if (name) {
        jw_key(&w, "id");
        jw_cstr(&w, id);
        jw_key(&w, "type");
        jw_cstr(&w, "function");
    }
    jw_key(&w, "function");
    jw_begin_object(&w);
    if (name) {
        jw_key(&w, "name");
        jw_cstr(&w, name);
    }
    if (len > 0) {
        jw_key(&w, "arguments");
        jw_string(&w, args, len);
    }
    jw_end_object(&w);
    jw_end_object(&w);
    jw_end_array(&w);
    jw_end_object(&w);
    jw_key(&w, "logprobs");
    jw_null(&w);
    chunk_end(&w);
    return send_event(g, &w);
}

// A call the reply's splitter found: already streamed piece by piece (stream_tool_delta).
static bool on_call(void *user, size_t index, const serve_tool_call *call) {
    (void)user, (void)index, (void)call;
    return true;
}

static bool on_reply_text(void *user, const char *text, size_t len) { return emit_text(user, text, len); }

static bool on_text(void *user, const char *piece, size_t len) {
    gen_out *g = user;
    if (g->client_gone) return false;
    if (g->r->tools_on) return serve_tool_reply_feed(&g->reply, piece, len);
    return emit_text(g, piece, len);
}

// The end of a reply with tools (serve_tool_reply_flush).
static bool tools_flush(gen_out *g) { return !g->r->tools_on || serve_tool_reply_flush(&g->reply); }

// The message's tool_calls member.
static void write_tool_calls(json_writer *w, const gen_out *g) {
    jw_key(w, "tool_calls");
    jw_begin_array(w);
    for (size_t i = 0; i < g->reply.split.n_calls; i++) {
        const serve_tool_call *c = &g->reply.split.calls[i];
        jw_begin_object(w);
        jw_key(w, "id");
        jw_cstr(w, c->id);
        jw_key(w, "type");
        jw_cstr(w, "function");
        jw_key(w, "function");
        jw_begin_object(w);
        jw_key(w, "name");
        jw_cstr(w, c->name);
        jw_key(w, "arguments");
        jw_cstr(w, c->arguments);
        jw_end_object(w);
        jw_end_object(w);
    }
    jw_end_array(w);
}

static void respond_whole(gen_out *g, const char *finish, const kite_gen_stats *st) {
    json_writer w = {0};
    chunk_head(&w, g);
    const char *text = g->text.ptr ? g->text.ptr : "";
    size_t n_tok = g->r->logprobs ? tokens_before(g, st->stopped_string ? g->text.len : SIZE_MAX) : 0;
    if (g->r->fmt == SERVE_NATIVE) {
        jw_key(&w, "content");
        jw_string(&w, text, g->text.len);
        if (g->r->logprobs) {
            jw_key(&w, "completion_probabilities");
            write_logprobs(&w, g, 0, n_tok);
        }
        write_native_tail(&w, g, st);
        jw_end_object(&w);
    } else {
        if (g->r->fmt == SERVE_OAI_CHAT) {
            jw_key(&w, "message");
            jw_begin_object(&w);
            jw_key(&w, "role");
            jw_cstr(&w, "assistant");
            jw_key(&w, "content");
            jw_string(&w, text, g->text.len);
            if (g->reply.split.n_calls > 0) write_tool_calls(&w, g);
            jw_end_object(&w);
        } else {
            jw_key(&w, "text");
            jw_string(&w, text, g->text.len);
        }
        jw_key(&w, "logprobs");
        if (g->r->logprobs) write_logprobs(&w, g, 0, n_tok);
        else jw_null(&w);
        jw_key(&w, "finish_reason");
        jw_cstr(&w, finish);
        jw_end_object(&w);
        jw_end_array(&w);
        write_usage(&w, st);
        jw_end_object(&w);
    }
    serve_send_json(g->o, 200, &w);
    jw_free(&w);
}

// Waits for the slot's job to produce output and streams it (or collects it) until the job is
// done; a client that goes away (or a server that stops) cancels the job, and the wait goes on
// until the scheduler has let go of it.
static void follow_job(gen_out *g, serve_job *job, bool fin_is_gone) {
    serve_state *s = g->s;
    kite_buf text = {0}, lens = {0}, toks = {0};
    bool cancelled = false;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        for (;;) {
            if (!cancelled && (http_stop || http_client_gone(g->o->fd, fin_is_gone))) {
                g->client_gone = true;
                job->cancel = cancelled = true;
                pthread_cond_signal(&s->sched_wake);
            }
            if (job->done || job->text.len > 0 || job->toks.len > 0) break;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&job->ready, &s->lock, &ts);
        }
        // take what came (the buffers change hands; the job's start empty again)
        kite_buf t = job->text, l = job->lens, k = job->toks;
        job->text = text, job->lens = lens, job->toks = toks;
        job->text.len = job->lens.len = job->toks.len = 0;
        text = t, lens = l, toks = k;
        const bool done = job->done;
        pthread_mutex_unlock(&s->lock);
        if (!cancelled) {
            // the tokens first: their offsets tell which of them the text covers
            if (g->r->logprobs && toks.len) kite_buf_append(&g->toks, toks.ptr, toks.len); // sets nomem on failure
            // each released piece as it came (one chunk each when streamed); false from on_text:
            // the client is gone, or out of memory
            const size_t *len = (const size_t *)(void *)lens.ptr;
            for (size_t i = 0, at = 0; i < lens.len / sizeof *len && on_text(g, text.ptr + at, len[i]); i++)
                at += len[i];
            if (g->client_gone || g->text.nomem || g->toks.nomem) cancelled = true;
        }
        pthread_mutex_lock(&s->lock);
        if (cancelled && !job->cancel) {
            job->cancel = true;
            pthread_cond_signal(&s->sched_wake);
        }
        if (done) break;
    }
    pthread_mutex_unlock(&s->lock);
    kite_buf_free(&text);
    kite_buf_free(&lens);
    kite_buf_free(&toks);
}

static void run_generation(serve_state *s, http_out *o, gen_request *r, unsigned long task) {
    gen_out g = {.s = s,
                 .o = o,
                 .r = r,
                 .created = (long long)time(NULL),
                 .reply = {.split = {.generic = r->tools_generic, .xml = r->tools_xml, .tools = &r->tools},
                           .text = on_reply_text,
                           .call = on_call,
                           .delta = r->stream ? stream_tool_delta : NULL}};
    g.reply.user = &g;
    snprintf(g.id, sizeof g.id, "%s-%lld-%lu", r->fmt == SERVE_OAI_CHAT ? "chatcmpl" : "cmpl", s->started, task);
    // A streamed reply notices a closed socket by its writes; one sent at the end only by the FIN.
    bool fin_is_gone = !r->stream;
    g.slot = serve_slot_acquire(s, o->fd, fin_is_gone, task, r->cache_prompt ? r->ids : NULL, r->n_ids);
    if (g.slot < 0) {
        o->keep_alive = false; // the client left (or we stop): nobody to answer
        return;
    }
    serve_job *job = &s->slots[g.slot].job;
    job->ids = r->ids;
    job->n_ids = r->n_ids;
    job->cache_prompt = r->cache_prompt;
    job->gen = kite_gen_default_params();
    job->gen.n_predict = r->n_predict;
    job->gen.sampling = r->sampling;
    job->gen.stop = r->n_stop ? r->stop : NULL;
    job->gen.n_stop = r->n_stop;
    job->gen.dry_sequence_breakers = r->n_dry_breakers ? r->dry_breakers : s->dry_breakers;
    job->gen.n_dry_sequence_breakers = r->n_dry_breakers ? r->n_dry_breakers : s->n_dry_breakers;
    job->gen.parse_special = r->fmt != SERVE_OAI_COMPLETION; // chat: the template's markers; native: as llama-server
    job->gen.grammar = r->grammar;
    job->gen.grammar_triggers = r->n_triggers ? r->triggers : NULL;
    job->gen.n_grammar_triggers = r->n_triggers;
    const char *start, *end;
    // the reasoning blocks are followed for a budget, and for a lazy tool-call grammar, which sits
    // them out (as llama.cpp's sampler: a <tool_call> written while reasoning is no call)
    if (r->fmt == SERVE_OAI_CHAT && (r->reasoning_budget >= 0 || r->n_triggers > 0) &&
        kite_chat_reasoning_tags(s->chat_tmpl, &start, &end)) {
        job->gen.reasoning_start = start;
        job->gen.reasoning_end = end;
        job->gen.reasoning_budget = r->reasoning_budget;
        job->gen.reasoning_message = r->reasoning_message;
        // what the prompt already put in the reply: reasoning off's block, a continued message
        job->gen.reasoning_prefill = r->prompt[r->reply_at] ? r->prompt + r->reply_at : NULL;
    }
    job->logprobs = r->logprobs;
    job->n_top = r->n_top;
    serve_job_submit(s, g.slot);
    follow_job(&g, job, fin_is_gone);
    // the job is done: its results are final and the scheduler no longer touches them
    const kite_gen_stats st = job->st;
    const bool nomem = g.text.nomem || g.toks.nomem;
    const kite_status rs = nomem ? KITE_ERR_NOMEM : job->status;
    char gen_err[400];
    snprintf(gen_err, sizeof gen_err, "%s", nomem ? "out of memory for the reply" : job->err);
    serve_slot_release(s, g.slot, &st); // the slot is free again before the answer is written
    const char *finish = st.stopped_eog || st.stopped_string ? "stop" : "length";
    if (rs == KITE_OK && !g.client_gone && !tools_flush(&g) && !g.r->stream) g.text.nomem = true;
    if (g.reply.split.n_calls > 0 && strcmp(finish, "stop") == 0) finish = "tool_calls";
    if (g.client_gone) {
        o->keep_alive = false; // the client went away: nobody to answer
    } else if (rs == KITE_OK && g.toks.nomem) {
        serve_error(o, 500, "out of memory for the reply", NULL);
    } else if (rs != KITE_OK) {
        char msg[600];
        snprintf(msg, sizeof msg, "generation failed: %s", gen_err);
        int status = rs == KITE_ERR_INVALID ? 400 : 500;
        if (!g.started) {
            serve_error(o, status, msg, NULL);
        } else {
            json_writer w = {0};
            serve_write_error(&w, status, msg);
            send_event(&g, &w);
            if (r->fmt != SERVE_NATIVE) http_sse_data(o, "[DONE]", 6);
            http_sse_end(o);
        }
    } else if (r->stream) {
        if (stream_start(&g) && (g.n_hold == 0 || stream_chunk(&g, g.hold, g.n_hold, NULL, NULL)) &&
            stream_chunk(&g, "", 0, finish, &st) && (r->fmt == SERVE_NATIVE || http_sse_data(o, "[DONE]", 6)))
            http_sse_end(o);
    } else {
        respond_whole(&g, finish, &st);
    }
    if (s->verbose)
        fprintf(stderr, "kite serve: #%lu slot %d: %d prompt (%d cached) + %d generated tokens, %s%s\n", task,
                g.slot, st.n_prompt, st.n_cached, st.n_generated, g.client_gone ? "client gone" : rs == KITE_OK ? finish : "error: ",
                rs == KITE_OK || g.client_gone ? "" : gen_err);
    kite_buf_free(&g.text);
    kite_buf_free(&g.toks);
    serve_tool_reply_free(&g.reply);
}

void serve_generate(serve_state *s, http_out *o, const json_value *body, serve_format fmt, unsigned long task) {
    char err[512] = "";
    gen_request r = {.fmt = fmt};
    int32_t n_over = 0;
    bool ok = parse_sampling(s, body, &r, err, sizeof err) &&
              (fmt == SERVE_OAI_CHAT ? parse_reasoning_budget(s, body, &r, err, sizeof err) &&
                                           serve_chat_prompt(s, body, &r.prompt, &r.no_thinking, &r.reply_at, err,
                                                             sizeof err)
                                     : completion_prompt(body, &r, err, sizeof err)) &&
              prompt_fits(s, &r, &n_over, err, sizeof err);
    if (ok) run_generation(s, o, &r, task);
    else if (n_over) serve_error_exceed_context(o, n_over, kite_ctx_n_ctx(s->ms->ctx));
    else serve_error(o, 400, err, NULL);
    free(r.prompt);
    free(r.ids);
    free(r.grammar);
    serve_tools_free(&r.tools);
}
#endif
