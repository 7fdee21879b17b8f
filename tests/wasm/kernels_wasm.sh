#!/bin/sh
# kernels_wasm.sh - builds tests/unit/test_kernels.c for WebAssembly and runs it: SIMD128
# single-thread and pthreads in Node, and (with --relaxed) the relaxed-SIMD build in headless
# Chromium (Node 20 cannot run relaxed SIMD). Exit status 0 when every run passes.
# Needs: emcc (Debian's 3.1.6); for --relaxed also clang-19/lld-19 and /usr/bin/chromium.
set -e
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$ROOT/build/kernels-wasm}
mkdir -p "$OUT"
echo '{"type": "commonjs"}' > "$OUT/package.json" # Emscripten's glue is CommonJS; the repo is "type": "module"
export NODE_PATH=${NODE_PATH:-${KITE_EMCC_NODE_PATH:-/usr/share/nodejs}} # emcc's JS optimizer needs acorn from here
cd "$ROOT"
SRC="$(ls src/base/*.c src/blocks/*.c src/quant/*.c src/kernels/*.c | grep -v -E '_(avx2|avx512|neon|wasm_relaxed)\.c$')"
W="-Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -Werror -O3 -msimd128 -std=gnu11 -Isrc -Itests/unit"

# Compiles each source to an object (only the kernels' own code runs), then links.
build() { # $1 = name, $2 = extra compile flags, $3 = link flags
    mkdir -p "$OUT/$1"
    objs=""
    for f in $SRC tests/unit/test_kernels.c; do
        o="$OUT/$1/$(echo "$f" | tr / _).o"
        emcc $W $2 -c "$f" -o "$o"
        objs="$objs $o"
    done
    emcc $2 $3 -sALLOW_MEMORY_GROWTH=1 -sEXIT_RUNTIME=1 $objs -o "$OUT/$1/test_kernels.js"
}

build st "" "-O3"
node --no-experimental-fetch "$OUT/st/test_kernels.js"   # emcc 3.1.6 glue must not fetch() in Node 20
build mt "-pthread -DKITE_THREADS=1" "-O3 -pthread -sPTHREAD_POOL_SIZE=4 -Wno-pthreads-mem-growth"
node --no-experimental-fetch "$OUT/mt/test_kernels.js"

if [ "$1" = "--relaxed" ]; then
    # clang-19 through emcc 3.1.6; link at -O0 so Debian's old wasm-opt never re-encodes the
    # relaxed opcodes (see docs/TOOLCHAIN.md)
    cat > "$OUT/em19.config" <<CFG
EMSCRIPTEN_ROOT = '${KITE_EMSCRIPTEN_ROOT:-/usr/share/emscripten}'
LLVM_ROOT = '${KITE_LLVM19_BIN:-/usr/lib/llvm-19/bin}'
BINARYEN_ROOT = '${KITE_BINARYEN_ROOT:-/usr}'
NODE_JS = '${KITE_NODE:-/usr/bin/node}'
FROZEN_CACHE = True
CFG
    SRC="$SRC src/kernels/kernels_wasm_relaxed.c" EM_CONFIG="$OUT/em19.config" build relaxed "-mrelaxed-simd" "-O0 -sWASM_BIGINT"
    node "$ROOT/tests/wasm/run_in_chromium.mjs" "$OUT/relaxed" test_kernels
fi
