#!/bin/sh
# iq_decode_vs_llamacpp.sh - benchmark, not a test: decode (tg) tokens/s of `kite bench` against
# llama-bench (llama.cpp built from source, bench/build_llama_cpp.sh) on the same IQ/TQ files and
# thread counts, printed as ratios kite / llama.cpp (Q4_K_M alongside as the yardstick).
#   bench/iq_decode_vs_llamacpp.sh [BUILD_DIR] [THREADS...]
# The model: a random-weight llama 768 wide (bench/make_random_model.c's "iq" shape: every
# matrix a multiple of 256, so the IQ types are used instead of llama-quantize's fallbacks),
# an importance matrix of it from llama-imatrix over README.md, quantized by kite quantize
# (byte-identical to llama-quantize's files). Made once in $KITE_BENCH_DIR (/tmp/kite-bench).
# TYPES (default IQ2_XS IQ3_S Q4_K_M), N_GEN (64) and REPS (3) come from the environment.
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build/native}
shift 2>/dev/null || true
THREADS=${*:-1 2}
DIR=${KITE_BENCH_DIR:-/tmp/kite-bench}
LLAMA_BIN=${LLAMA_BIN:-$ROOT/build/llama.cpp/bin}
LLAMA_BENCH=$LLAMA_BIN/llama-bench
N_GEN=${N_GEN:-64}
REPS=${REPS:-3}
KITE="$BUILD/kite"
[ -x "$KITE" ] || { echo "no kite binary at $KITE" >&2; exit 1; }
[ -x "$LLAMA_BENCH" ] || { echo "no llama-bench at $LLAMA_BENCH (bench/build_llama_cpp.sh)" >&2; exit 1; }
mkdir -p "$DIR"
F16="$DIR/rand-768x12-f16.gguf"
if [ ! -f "$F16" ]; then
  cc -O2 -I"$ROOT/src" "$ROOT/bench/make_random_model.c" "$BUILD/libkite.a" -lm -lpthread -o "$DIR/make_random_model"
  "$DIR/make_random_model" "$F16" 1 iq
fi
IMAT="$DIR/rand-768x12-imatrix.gguf"
[ -f "$IMAT" ] || "$LLAMA_BIN/llama-imatrix" -m "$F16" -f "$ROOT/README.md" -o "$IMAT" -c 128 --chunks 4 >/dev/null 2>&1
# the JSON number after "key": in one line of output
num() { sed -n "s/.*\"$1\": *\([0-9.e+-]*\).*/\1/p" | head -1; }
echo "decode tg$N_GEN, tokens/s, mean of $REPS; ratio = kite / llama-bench (same file, same threads)"
echo "| type | threads | kite tg | llama.cpp tg | ratio |"
echo "|---|---:|---:|---:|---:|"
for type in ${TYPES:-IQ2_XS IQ3_S Q4_K_M}; do
  Q="$DIR/rand-768x12-$type.gguf"
  [ -f "$Q" ] || "$KITE" quantize --imatrix "$IMAT" "$F16" "$Q" "$type" >/dev/null 2>&1
  for t in $THREADS; do
    k=$("$KITE" bench -m "$Q" -p 0 -n "$N_GEN" -t "$t" -r "$REPS" -o json 2>/dev/null | grep '"tg' | num tps)
    l=$("$LLAMA_BENCH" -m "$Q" -p 0 -n "$N_GEN" -t "$t" -r "$REPS" -o jsonl 2>/dev/null | num avg_ts)
    r=$(awk -v k="$k" -v l="$l" 'BEGIN { if (l > 0) printf "%.2f", k / l; else print "-" }')
    echo "| $type | $t | $k | $l | $r |"
  done
done
