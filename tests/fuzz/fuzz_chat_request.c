// fuzz_chat_request.c - libFuzzer target for the OpenAI chat request body (openai/chat_request.c,
// and the tools it reads through openai/tool_calls.c): what an API client sends.
// Input: a selector byte (the template: chatml, a built-in name, or a stand-in source that the
// detector takes for Qwen2.5's, Qwen3's or Qwen3.5's tool formats; the KITE_CHAT_* flags), then
// the request body as JSON.
// Invariants: no crash or leak; the prompt is built, or refused with a message and no prompt;
// a built prompt is a C string and reply_at lies within it; the request's tools are read or
// refused with a message, and read tools give call grammars (Hermes, generic, XML) that
// kite_grammar_parse accepts, or a message saying which schema the converter refused.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat_request.c"
#include "json.c"
#include "tool_calls.c"
#include "tool_calls_xml.c"

// Stand-ins with the markers kite_chat_tools_of looks for (the renderers follow the detected
// template, not the stand-in's text).
static const char *const TEMPLATES[] = {
    NULL,
    "llama3",
    "gemma",
    "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. <tools></tools><tool_call></tool_call>",
    "<|im_start|>{{ multi_step_tool }}<tools></tools><tool_call></tool_call><think>",
    "<|im_start|>render_content(message.content, true)|trim ns.last_query_index reasoning_content|trim "
    "<function=<tools></tools><tool_call></tool_call>",
};
#define N_TEMPLATES (sizeof TEMPLATES / sizeof TEMPLATES[0])

static void check_grammar(bool ok, char *gbnf, const char *err) {
    if (!ok) {
        if (!err[0] || gbnf) abort();
        return;
    }
    kite_grammar *g = NULL;
    if (!gbnf || kite_grammar_parse(gbnf, NULL, &g) != KITE_OK) abort();
    kite_grammar_free(g);
    free(gbnf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 1 << 16) return 0;
    const char *tmpl = TEMPLATES[data[0] % N_TEMPLATES];
    const unsigned flags = (data[0] / N_TEMPLATES) % 4;
    char err[512] = "";
    json_doc *d = json_parse((const char *)data + 1, size - 1, err, sizeof err);
    if (!d) return 0; // the JSON parser has its own target
    const json_value *body = json_root(d);
    char *prompt = (char *)1;
    size_t at = (size_t)-1;
    err[0] = 0;
    if (chat_request_prompt(tmpl, body, flags, &prompt, (data[0] & 0x80) ? NULL : &at, err, sizeof err)) {
        if (!prompt) abort();
        if (!(data[0] & 0x80) && at > strlen(prompt)) abort();
        free(prompt);
    } else if (prompt || !err[0]) {
        abort();
    }
    serve_tools t;
    err[0] = 0;
    if (serve_tools_parse(body, &t, err, sizeof err)) {
        for (int k = 0; k < 3; k++) {
            char *gbnf = NULL;
            bool lazy = false;
            err[0] = 0;
            bool ok = k < 2 ? serve_tools_grammar(&t, k == 1, &gbnf, &lazy, err, sizeof err)
                            : serve_tools_grammar_xml(&t, &gbnf, &lazy, err, sizeof err);
            check_grammar(ok, gbnf, err);
        }
    } else if (!err[0]) {
        abort();
    }
    serve_tools_free(&t);
    json_free(d);
    return 0;
}
