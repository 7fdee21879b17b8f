#!/bin/sh
# quantize_vs_llama.sh - benchmark, not a test: kite quantize vs llama.cpp's llama_model_quantize
# on the same file, same thread count; prints seconds, MB/s and the speed ratio per type, and
# whether the outputs are byte-identical.
#   bench/quantize_vs_llama.sh [BUILD_DIR] [THREADS] [MODEL.gguf]
# With no MODEL, a ~1 GB random llama model (n_embd 2048, 8 layers) is generated once in /tmp
# from the shared rand-llama-spm-f16.gguf's vocabulary (the shared files are too small to time).
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build/quantB}
THREADS=${2:-$(nproc)}
MODELS=${KITE_MODELS:-$ROOT/../shared/models}
BIN=/tmp/quantize_vs_llama.$$
cc -O2 -std=gnu11 -I"$ROOT/src" "$ROOT/bench/quantize_vs_llama.c" "$BUILD/libkite.a" -lm -lpthread -ldl -o "$BIN"
MODEL=${3:-/tmp/kite_bench_llama_2048x8.gguf}
if [ ! -f "$MODEL" ]; then
  "$BIN" gen "$MODELS/rand-llama-spm-f16.gguf" "$MODEL" 2048 8 5632
fi
echo "model: $MODEL ($(du -m "$MODEL" | cut -f1) MB), $THREADS threads, best of 2 runs"
export KITE_BIN="$BUILD/kite" KITE_ROOT="$ROOT"
rc=0
for t in Q8_0 Q4_0 Q4_K_M Q6_K IQ4_NL Q5_K_M Q3_K_M IQ4_XS F16; do
  "$BIN" run "$MODEL" $t "$THREADS" 2 || rc=1
done
rm -f "$BIN"
exit $rc
