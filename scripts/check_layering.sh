#!/bin/sh
# check_layering.sh - fails when an #include points up the module graph.
#
# The module graph of src/ (a module may include its own headers and those of modules on a
# lower level; never a module on its own level or above):
#
#   level 0  base/                          status, errors, types, f16, buffers, thread pool
#   level 1  gguf/  blocks/  sampler/       GGUF file format; block formats + activation
#            grammar/                          quantizers; sampling; GBNF grammars and JSON
#   level 2  quant/  kernels/  tokenizer/   quantizers (gguf, blocks); compute kernels (blocks);
#            chat/                          tokenizers (gguf); chat templates (grammar's JSON
#                                           tree for tool-call arguments)
#   level 3  model/                         loader, forward pass, generation
#            convert/                       Hugging Face checkpoints -> GGUF (gguf, quant, grammar's JSON)
#   level 4  kite.h                         the umbrella public header (hosts only)
#
# Hosts (native/, wasm/, bench/; openai/, the OpenAI request code native/ and wasm/ share) sit
# above all of src/ and use the public API only: kite.h and
# the module headers it includes (src/<module>/kite_*.h), plus their own headers (no slash).
# tests/ may include internals (they test them) and are not checked. Headers (.h) and templates
# (.inc) include only at their top.
#
# Usage: scripts/check_layering.sh [repo root]; prints each offending include, exits 1 if any.
set -eu
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

level() {
    case $1 in
    base) echo 0 ;;
    gguf | blocks | sampler | grammar) echo 1 ;;
    quant | kernels | tokenizer | chat) echo 2 ;;
    model | convert) echo 3 ;;
    *) echo 99 ;; # an unknown module: refuse until it is placed in the graph above
    esac
}

bad=0
tmp=$(mktemp)
report() {
    echo "layering: $1" >&2
    bad=1
}

# src/: every quoted include must point down (or into the file's own module).
for f in $(find src -name '*.c' -o -name '*.h' -o -name '*.inc' | sort); do
    case $f in src/*/*) ;; *) continue ;; esac # src/kite.h is the umbrella
    mod=$(echo "$f" | cut -d/ -f2)
    lm=$(level "$mod")
    [ "$lm" = 99 ] && report "$f: module $mod/ is not in the graph of scripts/check_layering.sh"
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" | while IFS= read -r line; do
        n=${line%%:*}
        inc=$(echo "$line" | sed 's/^[^"]*"\([^"]*\)".*/\1/')
        case $inc in
        */*) tmod=${inc%%/*} ;;
        kite.h) echo "$f:$n: includes kite.h (the umbrella header is for hosts; include the module headers you use)"; continue ;;
        *) continue ;; # a file beside it
        esac
        [ "$tmod" = "$mod" ] && continue
        lt=$(level "$tmod")
        if [ "$lt" -ge "$lm" ]; then
            echo "$f:$n: $mod/ (level $lm) includes $inc ($tmod/, level $lt): includes must point down"
        fi
    done
done >"$tmp" 2>&1
if [ -s "$tmp" ]; then
    while IFS= read -r l; do report "$l"; done <"$tmp"
fi
rm -f "$tmp"

# Headers and templates: includes only at the top, before the first line of code (a template is
# named .inc and included by the .c files that instantiate it, never from the middle of a header).
mid=$(for f in $(find src native wasm bench openai -name '*.h' -o -name '*.inc' | sort); do
    awk -v f="$f" '/^[[:space:]]*#[[:space:]]*include/ { if (code) print f ":" NR ": #include after code (split the file, or name it .inc and include it from the .c)" }
                   /^[A-Za-z_]/ { code = 1 }' "$f"
done)
if [ -n "$mid" ]; then
    echo "$mid" | while IFS= read -r l; do echo "layering: $l" >&2; done
    bad=1
fi

# Hosts: the public API only.
out=$(for f in $(find native wasm bench openai -name '*.c' -o -name '*.h' | sort); do
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" | while IFS= read -r line; do
        n=${line%%:*}
        inc=$(echo "$line" | sed 's/^[^"]*"\([^"]*\)".*/\1/')
        case $inc in
        kite.h | */kite_*.h) ;;                    # the public API
        ../tests/unit/* | *_ref.h | llama_lib.h) ;; # benches reuse the tests' reference loaders
        */*) echo "$f:$n: host includes $inc, an internal header (use the public API: kite.h)" ;;
        *) ;;
        esac
    done
done)
if [ -n "$out" ]; then
    echo "$out" | while IFS= read -r l; do echo "layering: $l" >&2; done
    bad=1
fi

[ $bad = 0 ] && echo "layering: ok (src/ includes point down the module graph; hosts use the public API)"
exit $bad
