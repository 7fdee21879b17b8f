// json_schema.c - JSON schema -> GBNF (stub while being written).
#include "base/internal.h"
#include "grammar/kite_grammar.h"
kite_status kite_json_schema_to_grammar(const char *schema, size_t len, char **out) {
    (void)schema; (void)len; *out = NULL;
    return kite__fail(KITE_ERR_INVALID, "json schema: not implemented");
}
kite_status kite_json_object_grammar(char **out) { *out = NULL; return kite__fail(KITE_ERR_INVALID, "x"); }
