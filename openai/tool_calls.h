// tool_calls.h - OpenAI tool calling for `kite serve`'s chat endpoint and the npm chat: the request's tools and
// tool_choice, the grammar that makes the model's calls well-formed (lazy: free text until
// "<tool_call>"; from the start when a call is required), and the reply split into its text and
// its calls (as they stream, too).
#ifndef KITE_NATIVE_SERVE_TOOLS_H
#define KITE_NATIVE_SERVE_TOOLS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/kite_buf.h"
#include "json.h"

typedef enum serve_tool_choice {
    SERVE_TOOLS_AUTO,     // the model may call a tool or answer
    SERVE_TOOLS_NONE,     // no calls: the tools are still shown to the model
    SERVE_TOOLS_REQUIRED, // the reply is tool calls ("required", or one function named)
} serve_tool_choice;

// A request's tools.
typedef struct serve_tools {
    size_t n;             // tools given (0: none)
    char **json;          // (n) each tool as the template prints it (tojson form)
    char **names;         // (n) their function names
    char **params;        // (n) their parameters schemas (compact JSON)
    serve_tool_choice choice;
    const char *forced;   // tool_choice {"function": {"name"}}: the one tool to call (in names)
    bool parallel;        // parallel_tool_calls: several calls in one reply
} serve_tools;

// Reads body's "tools", "tool_choice" and "parallel_tool_calls" into *t (zeroed first). false
// with a message naming the member (tools[1].function.name, ...) when one is malformed.
bool serve_tools_parse(const json_value *body, serve_tools *t, char *err, size_t es);

void serve_tools_free(serve_tools *t);

// Whether the reply is constrained: tools given and tool_choice not "none".
bool serve_tools_active(const serve_tools *t);

// The GBNF of the reply's tool calls. Hermes style (generic false): "<tool_call>" JSON {"name":
// one of the tools, "arguments": its parameters} "</tool_call>" (repeated when parallel); *lazy
// tells whether the grammar waits for the trigger word "<tool_call>" (auto) or holds from the
// first token (required). Generic (llama.cpp's fallback for templates without tool calls): the
// whole reply is one JSON object, {"tool_call": {...}} ({"tool_calls": [...]} when parallel) or,
// unless a call is required, {"response": "text"}; never lazy. malloc'd into *out; false with a
// message when a tool's parameters are not a schema the converter takes.
bool serve_tools_grammar(const serve_tools *t, bool generic, char **out, bool *lazy, char *err, size_t es);

// The GBNF of Qwen3.5's XML calls (llama.cpp's Qwen3-Coder format): "<tool_call>\n<function=NAME>\n"
// then the function's parameters, each "<parameter=ARG>\n" VALUE "\n</parameter>\n" (the required
// ones all, in any order when there are 4 or fewer, then any optional ones), "</function>\n</tool_call>";
// a value is raw text when the parameter's schema allows a string, else JSON of its schema. NAME
// is one of the tools (the forced one). *lazy: whether it waits for "<tool_call>" (auto).
// malloc'd into *out; false with a message when a schema is not one the converter takes.
bool serve_tools_grammar_xml(const serve_tools *t, char **out, bool *lazy, char *err, size_t es);

// ---- the generic format (templates without a tool-call format, as llama.cpp's polyfills) ----

// The system text the generic format adds (appended after "\n\n" to a leading system message,
// else a system message of its own): when active, the instruction to answer in JSON; with tools,
// the tools (indented JSON) and an example call. malloc'd; NULL when out of memory.
char *serve_tools_generic_system(const serve_tools *t);

// An assistant message's content with its tool_calls[] (validated already) written in: indented
// JSON {"tool_calls": [{"name", "arguments", "id"?}], "content"?}. malloc'd; NULL when out of
// memory.
char *serve_tools_generic_calls(const json_value *tool_calls, const char *content);

// A tool message (role "tool") as the user message that carries it: indented JSON
// {"tool_response": {"tool"?, "content", "tool_call_id"?}}. malloc'd; NULL when out of memory.
char *serve_tools_generic_result(const json_value *msg, const char *content);

// The word that starts a lazy tool-call grammar.
#define SERVE_TOOL_TRIGGER "<tool_call>"

// Writes v as Jinja's tojson does (", " and ": " separators, members in order).
void serve_tojson(kite_buf *o, const json_value *v);

// ---- the reply -----------------------------------------------------------------------------

// One call found in the reply.
typedef struct serve_tool_call {
    char *id;        // the model's own (generic format), else serve_tool_call_id's
    char *name;
    char *arguments; // compact JSON text
} serve_tool_call;

#define SERVE_TOOL_ID_LEN 32

// A new call id, as llama-server makes them (gen_tool_call_id): 32 characters drawn at random
// from [0-9A-Za-z] (the system's entropy; no seed makes them repeat). out: 33 bytes.
void serve_tool_call_id(char out[SERVE_TOOL_ID_LEN + 1]);

// Receives a call as it is written (llama-server's streamed tool_calls deltas): its first piece
// has the call's id and name (both non-NULL) and what of its arguments is known (maybe none), the
// next pieces more of its arguments (id and name NULL). The pieces of a call's arguments join into the
// arguments of the call emitted when it closes. args is whole UTF-8 characters; false stops the
// feed.
typedef bool (*serve_tool_delta)(void *user, size_t index, const char *id, const char *name, const char *args,
                                 size_t len);

// Splits a reply fed in pieces into text and <tool_call> blocks: text that could begin a block
// is held until decided; a block that is not a valid call (or is cut short) stays text.
// With delta set, every call goes out through it too, as it is written: once a block's name is
// read and its arguments object opened, the block is a call (a block cut short then is a call
// with the arguments written so far), whose arguments are the model's JSON text without the
// whitespace between tokens; a call that cannot be followed piece by piece (arguments before the
// name, arguments given as a string) goes out as one piece when it closes.
typedef struct serve_tool_split {
    bool generic;   // the generic format: the whole reply is decided at the end (set before feeding)
    bool xml;       // Qwen3.5's XML calls (set before feeding): with delta, a call goes out once
                    // "<function=NAME>" is read, then a parameter at a time; its values typed by tools' schemas (a string where a schema allows only
                    // strings, else JSON when the text is JSON)
    const serve_tools *tools; // xml: the request's tools (NULL: values typed as JSON when they are)
    serve_tool_delta delta; // NULL, or calls as they are written (set before feeding; user as emit's)
    kite_buf held;  // text not yet decided (a prefix of "<tool_call>", or an open block)
    bool in_call;   // held starts with "<tool_call>"
    serve_tool_call *calls;
    size_t n_calls;
    // the open block, followed piece by piece (delta set)
    int open_stage;       // 0: before its arguments, 1: in them, 2: after them, -1: not followed
    char *open_name;      // its name (stages 1, 2)
    char open_id[SERVE_TOOL_ID_LEN + 1]; // its id (stages 1, 2)
    size_t scan;          // offset in held of the next byte of the arguments to read (stage 1)
    int depth;            // nesting of the arguments' objects and arrays
    bool in_string, escape;
    kite_buf args;        // the arguments read so far, whitespace out
    size_t args_sent;     // ... of which sent (whole UTF-8 characters)
} serve_tool_split;

// Receives decided text (call: NULL) or a call found (text: NULL); false stops the feed.
typedef bool (*serve_tool_emit)(void *user, const char *text, size_t len, const serve_tool_call *call);


// Feeds text; emits what it decides. Returns false if emit did (or out of memory).
bool serve_tool_split_feed(serve_tool_split *s, const char *text, size_t len, serve_tool_emit emit, void *user);

// The end of the reply: held text goes out as text.
bool serve_tool_split_flush(serve_tool_split *s, serve_tool_emit emit, void *user);

void serve_tool_split_free(serve_tool_split *s);

// The reply as llama-server answers it: the splitter's text with its trailing whitespace held
// back (dropped when a call comes next to it: llama-server trims the content around calls; the
// same text however it was cut into pieces), and its calls. Set split.generic, text, call, delta
// and user, the rest zeroed, before feeding.
typedef struct serve_tool_reply {
    serve_tool_split split;
    kite_buf ws; // whitespace held back
    bool (*text)(void *user, const char *text, size_t len);                   // decided text
    bool (*call)(void *user, size_t index, const serve_tool_call *call);     // the index-th call
    serve_tool_delta delta; // NULL, or the calls as they are written (serve_tool_split's delta)
    void *user;
} serve_tool_reply;

// Feeds a piece of the reply; false if a callback returned false (or out of memory).
bool serve_tool_reply_feed(serve_tool_reply *r, const char *text, size_t len);

// The end of the reply: the held text, and the whitespace held when no call came after it.
bool serve_tool_reply_flush(serve_tool_reply *r);

void serve_tool_reply_free(serve_tool_reply *r);

#endif
