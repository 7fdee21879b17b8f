// model_fetch.h - models named by URL: -m http(s)://..., -m hf://owner/repo[@rev]/file.gguf and
// -hf owner/repo[@rev][:QUANT] are downloaded once into a cache folder ($KITE_CACHE, default
// ~/.cache/kite) and opened from there afterwards without any request.
#ifndef KITE_NATIVE_MODEL_FETCH_H
#define KITE_NATIVE_MODEL_FETCH_H

#include <stdbool.h>
#include <stddef.h>

// True when spec is a URL (http://, https://, hf://) rather than a file path.
bool model_fetch_is_url(const char *spec);

// Makes the model at url (http://, https:// or hf://owner/repo[@rev]/path: the revision's file,
// default main, cached apart from other revisions' under owner/repo@rev) available locally and
// writes its cached path to out[0..n): CACHE/url/HOST/PATH (':' in HOST as '_'), or
// CACHE/hf/OWNER/REPO[@REV]/PATH. A URL with a non-empty query is a file of its own: its name is
// prefixed "q" + the first 12 hex digits of the query's SHA-256 + "-" (get?file=a.gguf ->
// CACHE/url/HOST/qXXXXXXXXXXXX-get); the fragment is not part of the name. A cached file is used
// as is. Otherwise it is downloaded into PATH.part with progress on stderr, resuming an earlier
// partial download with a Range request
// and If-Range: the ETag the partial bytes came with, so a file changed since starts over (and
// so does a partial download whose response had no strong ETag);
// its size is checked against the server's, its first bytes against GGUF's magic (an error page
// sent as 200 is removed, not cached), and its SHA-256 against the ETag when that is a SHA-256
// (Hugging Face's LFS files) or else a URL.sha256 sidecar when the server has one; only then is
// it renamed to PATH. On failure prints a message naming the problem and returns false
// (a partial download is kept for the next try unless its checksum was wrong). An hf://
// reference names a file: one with a query or fragment ('?', '#') is refused before any request.
// A split set's first file (NAME-00001-of-0000N.gguf, then the URL's query if any) brings files
// 2..N beside it, each as above with the same query (the loader opens them from there); false
// when any of them fails.
bool model_fetch_url(const char *url, char *out, size_t n);

// As model_fetch_url for a Hugging Face repository "owner/repo[@rev][:QUANT]": the .gguf file
// whose path contains QUANT (case-insensitive; without QUANT, as llama.cpp's -hf: Q4_K_M, else
// Q8_0, else the repository's first .gguf), a top-level file before one in a first-level folder
// (QUANT/NAME-00001-of-0000N.gguf), looked up in the cache first (without QUANT: the file a
// bare -hf picked before, else a Q4_K_M), then in the revision's file list
// (ENDPOINT/api/models/REPO[/revision/REV]); when the hub cannot be reached, the cached files
// by the same rule. A split set's file picks its first file, and so the whole set.
bool model_fetch_hf_repo(const char *repo, char *out, size_t n);

#endif
