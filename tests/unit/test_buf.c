// test_buf.c - kite_buf_printf against libc's snprintf of the same format: short text, text past
// its 256-byte stack buffer, and appends after earlier contents.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kite_buf.h"
#include "check.h"

int main(void) {
    kite_buf b = {0};
    char want[2048];
    CHECK(kite_buf_printf(&b, "xml-args-t%zu-p%zu", (size_t)3, (size_t)12), "short text appended");
    CHECK(!strcmp(b.ptr, "xml-args-t3-p12"), "short text: %s", b.ptr);
    char big[1500];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK(kite_buf_printf(&b, "<%s|%d>", big, -7), "long text appended");
    snprintf(want, sizeof want, "xml-args-t3-p12<%s|%d>", big, -7);
    CHECK(b.len == strlen(want) && !strcmp(b.ptr, want), "long text: %zu bytes, %zu wanted", b.len, strlen(want));
    CHECK(kite_buf_printf(&b, "%s", ""), "empty text appended");
    CHECK(b.len == strlen(want), "empty text adds nothing");
    kite_buf_free(&b);
    return check_done("test_buf");
}
