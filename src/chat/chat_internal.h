// chat_internal.h - what the chat template files share: a growable output string and the
// table of built-in templates.
#ifndef KITE_CHAT_INTERNAL_H
#define KITE_CHAT_INTERNAL_H

#include "chat/kite_chat.h"

// A growable string; nomem latches the first allocation failure.
typedef struct kite__sbuf {
    char *ptr;
    size_t len, cap;
    bool nomem;
} kite__sbuf;

void kite__sbuf_put(kite__sbuf *b, const char *s, size_t n);
void kite__sbuf_puts(kite__sbuf *b, const char *s);

// Formats a conversation with the built-in template `name` (a canonical name). Returns false
// when the name is not a built-in template.
bool kite__chat_format(const char *name, const kite_chat_msg *msgs, size_t n, bool add_assistant, kite__sbuf *out);

#endif
