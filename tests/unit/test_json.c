// test_json.c - the server's JSON parser and writer (openai/json.c) against RFC 8259: its own
// example texts (section 13) parse to the values they spell, the grammar's corner cases are
// accepted or refused with a message naming the problem, and written JSON reads back the same.
#include <math.h>
#include <string.h>

#include "check.h"
#include "../../openai/json.c"

static json_doc *parse(const char *s, char *err) { return json_parse(s, strlen(s), err, 256); }

static void test_rfc_examples(void) {
    // RFC 8259, section 13: an object and an array of objects.
    const char *image = "{\n  \"Image\": {\n    \"Width\":  800,\n    \"Height\": 600,\n"
                        "    \"Title\":  \"View from 15th Floor\",\n    \"Thumbnail\": {\n"
                        "        \"Url\":    \"http://www.example.com/image/481989943\",\n"
                        "        \"Height\": 125,\n        \"Width\":  100\n    },\n"
                        "    \"Animated\" : false,\n    \"IDs\": [116, 943, 234, 38793]\n  }\n}";
    char err[256];
    json_doc *d = parse(image, err);
    CHECK(d, "RFC image example: %s", err);
    const json_value *img = json_get(json_root(d), "Image");
    CHECK(img && json_get(img, "Width")->number == 800 && json_get(img, "Height")->number == 600, "sizes");
    CHECK(!strcmp(json_get(img, "Title")->str, "View from 15th Floor"), "title");
    CHECK(json_get(json_get(img, "Thumbnail"), "Width")->number == 100, "thumbnail width");
    CHECK(json_get(img, "Animated")->type == JSON_BOOL && !json_get(img, "Animated")->boolean, "animated");
    const json_value *ids = json_get(img, "IDs");
    CHECK(ids && ids->len == 4 && ids->child->next->next->next->number == 38793, "IDs");
    json_free(d);

    const char *places = "[\n  {\n     \"precision\": \"zip\",\n     \"Latitude\":  37.7668,\n"
                         "     \"Longitude\": -122.3959,\n     \"Address\":   \"\",\n"
                         "     \"City\":      \"SAN FRANCISCO\",\n     \"State\":     \"CA\",\n"
                         "     \"Zip\":       \"94107\",\n     \"Country\":   \"US\"\n  },\n  {\n"
                         "     \"precision\": \"zip\",\n     \"Latitude\":  37.371991,\n"
                         "     \"Longitude\": -122.026020,\n     \"Address\":   \"\",\n"
                         "     \"City\":      \"SUNNYVALE\",\n     \"State\":     \"CA\",\n"
                         "     \"Zip\":       \"94085\",\n     \"Country\":   \"US\"\n  }\n]";
    d = parse(places, err);
    CHECK(d && json_root(d)->len == 2, "RFC places example: %s", err);
    if (d) {
        const json_value *second = json_root(d)->child->next;
        CHECK(json_get(second, "Latitude")->number == 37.371991 && json_get(second, "Longitude")->number == -122.026020,
              "coordinates");
        CHECK(json_get(second, "Address")->len == 0, "empty string");
    }
    json_free(d);
    // section 13 also says these are JSON texts containing only values
    const char *scalars[] = {"\"Hello world!\"", "42", "true"};
    for (int i = 0; i < 3; i++) {
        d = parse(scalars[i], err);
        CHECK(d, "scalar text %s: %s", scalars[i], err);
        json_free(d);
    }
}

static void test_grammar(void) {
    struct {
        const char *text;
        const char *error; // NULL: must parse
    } cases[] = {
        {" \t\r\n[ ] ", NULL},
        {"-0", NULL},
        {"-1.5e-3", NULL},
        {"1E+2", NULL},
        {"{\"a\":{\"b\":[{}]}}", NULL},
        {"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", NULL},
        {"", "expected a value"},
        {"[1,]", "expected a value"},
        {"{\"a\":1,}", "expected a string key"},
        {"{'a':1}", "expected a string key"},
        {"{\"a\" 1}", "expected ':'"},
        {"[1 2]", "expected ',' or ']'"},
        {"01", "leading zeros"},
        {"1.", "digits must follow the decimal point"},
        {".5", "expected a value"},
        {"+1", "expected a value"},
        {"-", "a number needs digits"},
        {"1e", "digits must follow the exponent"},
        {"1e999", "out of range"},
        {"NaN", "expected a value"},
        {"Infinity", "expected a value"},
        {"tru", "expected 'true'"},
        {"nul", "expected 'null'"},
        {"\"abc", "unterminated string"},
        {"\"a\tb\"", "control character"},
        {"\"\\x\"", "invalid escape"},
        {"\"\\u12G4\"", "4 hex digits"},
        {"\"\\ud800\"", "unpaired UTF-16 surrogate"},
        {"\"\\udc00\\ud800\"", "unpaired UTF-16 surrogate"},
        {"\"\xC0\xAF\"", "invalid UTF-8"},     // overlong '/'
        {"\"\xED\xA0\x80\"", "invalid UTF-8"}, // an encoded surrogate
        {"\"\xF5\x80\x80\x80\"", "invalid UTF-8"},
        {"\"\xE2\x82\"", "invalid UTF-8"}, // truncated sequence
        {"[1] [2]", "after the JSON value"},
    };
    char err[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_doc *d = parse(cases[i].text, err);
        if (!cases[i].error) CHECK(d, "'%s' refused: %s", cases[i].text, err);
        else CHECK(!d && strstr(err, cases[i].error) && !strncmp(err, "invalid JSON at byte ", 21),
                   "'%s': got '%s', want '%s'", cases[i].text, d ? "(parsed)" : err, cases[i].error);
        json_free(d);
    }
    // nesting: 64 levels parse, 65 do not
    char deep[200];
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    deep[128] = 0;
    json_doc *d = parse(deep, err);
    CHECK(d, "64 levels refused: %s", err);
    json_free(d);
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = 0;
    d = parse(deep, err);
    CHECK(!d && strstr(err, "nesting deeper than 64"), "65 levels: %s", d ? "parsed" : err);
    json_free(d);
    // the value cap: an array of 2^18 - 1 zeros (2^18 values) parses, one zero more does not
    for (size_t zeros = JSON_MAX_VALUES - 1; zeros <= JSON_MAX_VALUES; zeros++) {
        size_t n = 2 * zeros + 1;
        char *many = malloc(n);
        many[0] = '[';
        for (size_t i = 0; i < zeros; i++) many[1 + 2 * i] = '0', many[2 + 2 * i] = ',';
        many[n - 1] = ']';
        d = json_parse(many, n, err, sizeof err);
        if (zeros < JSON_MAX_VALUES) CHECK(d, "2^18 values refused: %s", err);
        else CHECK(!d && strstr(err, "more than 262144 values"), "2^18 + 1 values: %s", d ? "parsed" : err);
        json_free(d);
        free(many);
    }
    // escapes decode to UTF-8 (U+00E9, U+1F600 from a surrogate pair, U+0000 kept with its length)
    d = parse("\"\\u00e9\\ud83d\\ude00\\u0000x\"", err);
    CHECK(d && json_root(d)->len == 8 && !memcmp(json_root(d)->str, "\xC3\xA9\xF0\x9F\x98\x80\0x", 8),
          "escape decoding");
    json_free(d);
    // a repeated key: the last one counts (as in JavaScript)
    d = parse("{\"a\":1,\"a\":2}", err);
    CHECK(d && json_get(json_root(d), "a")->number == 2 && !json_get(json_root(d), "b"), "repeated key");
    json_free(d);
}

static void test_writer(void) {
    json_writer w = {0};
    jw_begin_object(&w);
    jw_key(&w, "s");
    jw_string(&w, "q\"b\\\n\x01\xC3\xA9\xFF", 9);
    jw_key(&w, "n");
    jw_begin_array(&w);
    jw_number(&w, 0.1);
    jw_int(&w, -7);
    jw_number(&w, NAN);
    jw_bool(&w, true);
    jw_null(&w);
    jw_end_array(&w);
    jw_end_object(&w);
    const char *want = "{\"s\":\"q\\\"b\\\\\\n\\u0001\xC3\xA9\\ufffd\",\"n\":[0.1,-7,null,true,null]}";
    CHECK(!w.bad && !w.out.nomem && !strcmp(w.out.ptr, want), "writer:\n got %s\nwant %s", w.out.ptr, want);
    char err[256];
    json_doc *d = json_parse(w.out.ptr, w.out.len, err, sizeof err);
    CHECK(d && !strcmp(json_get(json_root(d), "s")->str, "q\"b\\\n\x01\xC3\xA9\xEF\xBF\xBD"), "read back: %s", err);
    json_free(d);
    jw_free(&w);
    const double nums[] = {1e300, -2.5e-308, 123456789012345678.0, 1.0 / 3.0};
    for (int i = 0; i < 4; i++) {
        jw_number(&w, nums[i]);
        d = json_parse(w.out.ptr, w.out.len, err, sizeof err);
        CHECK(d && json_root(d)->number == nums[i], "number %.17g written as %s", nums[i], w.out.ptr);
        json_free(d);
        jw_free(&w);
    }
    // streamed text is cut only between characters
    CHECK(json_utf8_complete("ab\xC3", 3) == 2, "2-byte lead held back");
    CHECK(json_utf8_complete("a\xE2\x82", 3) == 1, "3-byte prefix held back");
    CHECK(json_utf8_complete("a\xE2\x82\xAC", 4) == 4, "complete euro sign released");
    CHECK(json_utf8_complete("\xF0\x9F\x98", 3) == 0, "4-byte prefix held back");
    CHECK(json_utf8_complete("a\x80", 2) == 2, "a stray continuation byte is not held");
}

int main(void) {
    test_rfc_examples();
    test_grammar();
    test_writer();
    return check_done("test_json");
}
