// kite_tokenizer.h - tokenizers built from a GGUF file's tokenizer.ggml.* metadata:
// SentencePiece ("llama") and byte-level BPE ("gpt2"), giving the same ids as llama.cpp.
#ifndef KITE_TOKENIZER_H
#define KITE_TOKENIZER_H

#include "base/kite_base.h"
#include "gguf/kite_gguf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kite_vocab kite_vocab;

// No token (an absent special token id).
#define KITE_TOKEN_NULL (-1)

// Builds the vocabulary of a parsed GGUF file (a full model or a vocab-only file). Everything
// needed is copied: *out does not point into g or its buffer. Errors: tokenizer.ggml.model
// missing or not "llama"/"gpt2" (the message names it), an unknown tokenizer.ggml.pre, arrays
// of the wrong type or too short. Free with kite_vocab_free.
kite_status kite_vocab_load(const kite_gguf *g, kite_vocab **out);

// Frees a vocabulary. NULL is allowed.
void kite_vocab_free(kite_vocab *v);

// Tokenizes text[0..len) (UTF-8; invalid bytes are handled as llama.cpp does).
// add_special: prepend BOS / append EOS where the model asks for them (add_bos/add_eos).
// parse_special: text matching a control token (e.g. "<|im_end|>") becomes that token;
// user-defined tokens are always matched, as in llama.cpp.
// On success writes *n_ids ids to ids[0..cap). If cap is too small, sets *n_ids to the count
// needed, writes nothing and returns KITE_ERR_INVALID (llama_tokenize's negative return).
kite_status kite_tokenize(const kite_vocab *v, const char *text, size_t len, bool add_special,
                          bool parse_special, int32_t *ids, int32_t cap, int32_t *n_ids);

// As kite_tokenize, into a malloc'd array sized to fit: on success *ids (free with free())
// holds *n_ids ids. Texts over INT32_MAX/2 bytes are refused.
kite_status kite_tokenize_alloc(const kite_vocab *v, const char *text, size_t len, bool add_special,
                                bool parse_special, int32_t **ids, int32_t *n_ids);

// Writes the bytes of one token into buf[0..cap) (not NUL-terminated) and returns their count,
// or -(bytes needed) if cap is too small. SPM pieces turn U+2581 into spaces, byte tokens
// <0xXX> into that byte, BPE pieces are decoded back to raw bytes; so a UTF-8 character split
// across tokens comes out as its bytes, piece by piece. Control and unknown tokens give 0
// bytes unless special is true. An id out of range gives 0.
int32_t kite_token_to_piece(const kite_vocab *v, int32_t id, char *buf, int32_t cap, bool special);

// Concatenates the pieces of ids[0..n) into buf[0..cap) like llama_detokenize: the space the
// SPM tokenizer prefixed is removed from the first piece; remove_special drops a leading BOS /
// trailing EOS the model adds; unparse_special renders control tokens as their text; BPE
// vocabularies that ask for it get llama.cpp's clean-up of spaces before punctuation.
// Returns the byte count, or -(bytes needed) if cap is too small.
int32_t kite_detokenize(const kite_vocab *v, const int32_t *ids, int32_t n, char *buf, int32_t cap,
                        bool remove_special, bool unparse_special);

// ---- accessors ------------------------------------------------------------------------

int32_t kite_vocab_n_tokens(const kite_vocab *v);
// Special token ids, or KITE_TOKEN_NULL where the model has none.
int32_t kite_vocab_bos(const kite_vocab *v);
int32_t kite_vocab_eos(const kite_vocab *v);
int32_t kite_vocab_eot(const kite_vocab *v);
int32_t kite_vocab_pad(const kite_vocab *v);
int32_t kite_vocab_unk(const kite_vocab *v);
// True when generating this token ends generation (EOS, EOT, <|im_end|>, ... as llama.cpp).
bool kite_vocab_is_eog(const kite_vocab *v, int32_t id);
// True for control tokens (rendered only when asked for).
bool kite_vocab_is_control(const kite_vocab *v, int32_t id);
// Whether kite_tokenize(add_special=true) adds BOS / EOS.
bool kite_vocab_add_bos(const kite_vocab *v);
bool kite_vocab_add_eos(const kite_vocab *v);
// The token's text as stored in the vocabulary (NUL-terminated; "" for an id out of range).
// Lives as long as v.
const char *kite_vocab_token_text(const kite_vocab *v, int32_t id);
// "SPM" or "BPE".
const char *kite_vocab_type_name(const kite_vocab *v);
// The token id whose text is exactly s[0..n), or KITE_TOKEN_NULL.
int32_t kite_vocab_find(const kite_vocab *v, const char *s, size_t n);

#ifdef __cplusplus
}
#endif
#endif
