// tool_calls_internal.h - what tool_calls.c shares with tool_calls_xml.c (Qwen3.5's XML calls):
// JSON text, small string scans and the streamed arguments of an open call. Not for other files.
#ifndef KITE_OPENAI_TOOL_CALLS_INTERNAL_H
#define KITE_OPENAI_TOOL_CALLS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "kite.h"
#include "tool_calls.h"

// A JSON string token of s[0..n) (quoted, escaped as JSON requires) appended to o.
void serve__put_string(kite_buf *o, const char *s, size_t n);

// v as JSON text appended to o: spaced (Jinja tojson's ", " and ": ") or compact.
void serve__put_json(kite_buf *o, const json_value *v, bool spaced);

// b's text, its ownership taken (an empty string for an empty buffer); NULL (b freed) if b ran
// out of memory.
char *serve__take(kite_buf *b);

// Writes msg to err (es bytes) and returns false.
bool serve__tools_fail(char *err, size_t es, const char *msg);

// Whether c is JSON whitespace.
bool serve__is_space(char c);

// The first index >= at of s[0..n) that is not whitespace (n if none).
size_t serve__skip_space(const char *s, size_t at, size_t n);

// The first needle in s[0..n), or NULL.
const char *serve__find(const char *s, size_t n, const char *needle);

// Sends the open call's arguments read and not yet sent (whole UTF-8 characters) through the
// split's delta, with its id and name the first time; false if delta did.
bool serve__send_args(serve_tool_split *s, bool first, void *user);

// The call in an XML block's inside (between "<tool_call>" and "</tool_call>"), its arguments
// typed by t's schemas (t may be NULL); false when it is not one call.
bool serve__parse_xml_call(const char *s, size_t n, const serve_tools *t, serve_tool_call *c);

// Follows the open XML block of s (delta set), sending each parameter as it completes; false if
// delta did (or out of memory).
bool serve__follow_xml(serve_tool_split *s, void *user);

#endif
