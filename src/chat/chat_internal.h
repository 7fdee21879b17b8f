// chat_internal.h - what the chat template files share: the table of built-in templates.
#ifndef KITE_CHAT_INTERNAL_H
#define KITE_CHAT_INTERNAL_H

#include "base/kite_buf.h"
#include "chat/kite_chat.h"

// Formats a conversation with the built-in template `name` (a canonical name). Returns false
// when the name is not a built-in template.
bool kite__chat_format(const char *name, const kite_chat_msg *msgs, size_t n, bool add_assistant, kite_buf *out);

#endif
