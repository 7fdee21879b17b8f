#!/bin/sh
# quantize_vs_llama.sh - benchmark, not a test: kite quantize vs llama.cpp's llama_model_quantize
# on the same file, same thread count; prints seconds, MB/s and the speed ratio per type, and
# whether the outputs are byte-identical.
#   bench/quantize_vs_llama.sh [BUILD_DIR] [THREADS] [MODEL.gguf]
# With no MODEL, a ~490 MB random llama model (n_embd 2048, 4 layers) is generated once in /tmp
# from the shared rand-llama-spm-f16.gguf's vocabulary (the shared files are too small to time).
# TYPES and REPS (best of, default 1) come from the environment. IMATRIX=FILE quantizes with that
# importance matrix on both sides (default TYPES then: the low-bit types people make with one);
# make one with: kite imatrix -m MODEL-Q8_0.gguf -f TEXT -c 128 --chunks 2 -o FILE
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build/native}
THREADS=${2:-$(nproc)}
MODELS=${KITE_MODELS:-$ROOT/../shared/models}
BIN=/tmp/quantize_vs_llama.$$
cc -O2 -std=gnu11 -I"$ROOT/src" "$ROOT/bench/quantize_vs_llama.c" "$BUILD/libkite.a" -lm -lpthread -ldl -o "$BIN"
MODEL=${3:-/tmp/kite_bench_llama_2048x4.gguf}
if [ ! -f "$MODEL" ]; then
  "$BIN" gen "$MODELS/rand-llama-spm-f16.gguf" "$MODEL" 2048 4 5632
fi
REPS=${REPS:-1}
echo "model: $MODEL ($(du -m "$MODEL" | cut -f1) MB), $THREADS threads, best of $REPS run(s)"
export KITE_BIN="$BUILD/kite" KITE_ROOT="$ROOT"
rc=0
if [ -n "$IMATRIX" ]; then
  echo "imatrix: $IMATRIX"
  DEFAULT_TYPES="IQ2_XXS IQ2_XS IQ2_S IQ2_M IQ3_XXS IQ3_S IQ3_M IQ1_S IQ1_M Q2_K Q3_K_M"
else
  DEFAULT_TYPES="Q8_0 Q4_0 Q4_K_M Q6_K IQ4_NL Q5_K_M Q3_K_M IQ4_XS F16"
fi
for t in ${TYPES:-$DEFAULT_TYPES}; do
  "$BIN" run "$MODEL" $t "$THREADS" "$REPS" || rc=1
done
rm -f "$BIN"
exit $rc
