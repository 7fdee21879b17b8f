#!/usr/bin/env bash
# build_emcache64.sh - fills build/emcache-wasm64 (or $KITE_EMCACHE64) with the wasm64 system
# libraries emcc 3.1.6 needs for the memory64 build (wasm-st64): links a small C program with
# the same settings as kite-st64, which makes emcc build libc, compiler-rt and emmalloc there
# (docs/TOOLCHAIN.md). Safe to run again: emcc keeps what is built.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cache=${KITE_EMCACHE64:-$root/build/emcache-wasm64}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$cache"
sed -e "s#@KITE_EMSCRIPTEN_ROOT@#${KITE_EMSCRIPTEN_ROOT:-/usr/share/emscripten}#" \
    -e "s#@KITE_WASM64_LLVM_BIN@#${KITE_LLVM14_BIN:-/usr/bin}#" \
    -e "s#@KITE_BINARYEN_ROOT@#${KITE_BINARYEN_ROOT:-/usr}#" \
    -e "s#@KITE_NODE_WRAPPER@#$root/wasm/node-no-bigint-flag.sh#" \
    -e "s#@KITE_EMCACHE64@#$cache#" \
    -e "s#@KITE_EMCACHE64_FROZEN@#False#" wasm/em-wasm64.config.in > "$work/em.config"
cat > "$work/probe.c" <<'C'
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
    char *p = malloc(64);
    snprintf(p, 64, "%g %s", sqrt((double)argc), argv[0]);
    puts(p);
    free(p);
    return (int)strlen(p) & 1;
}
C
NODE_PATH=${KITE_EMCC_NODE_PATH:-/usr/share/nodejs} KITE_NODE=${KITE_NODE:-node} EM_CONFIG="$work/em.config" \
  emcc -O3 -msimd128 -sMEMORY64=1 -sMALLOC=dlmalloc -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=16GB \
  -sMODULARIZE=1 -sFILESYSTEM=0 -sENVIRONMENT=web,worker,node -sABORTING_MALLOC=0 -sEXIT_RUNTIME=0 \
  "$work/probe.c" -o "$work/probe.js"
echo "build_emcache64: $cache holds the wasm64 system libraries"
