#!/bin/sh
# arch_vs_llamabench.sh - benchmark, not a test: decode (tg) and prefill (pp) tokens/s of `kite
# bench` against llama-bench (llama.cpp built from source, bench/build_llama_cpp.sh) on the same
# files and thread counts, for random-weight models with real shapes:
#   qwen3-0.6b  Qwen3-0.6B: n_embd 1024, 28 layers, 16 q / 8 kv heads, head_dim 128, n_ff 3072,
#               vocab 151936 (qwen2 BPE), tied embeddings
#   gemma3-1b   Gemma-3-1B: n_embd 1152, 26 layers, 4 q / 1 kv heads, head_dim 256, n_ff 6912,
#               vocab 262144 (llama SPM padded with unused tokens, bench/pad_vocab.py), sliding
#               window 512 on 5 of every 6 layers (llama.cpp's default pattern), tied
#   llama3.2-1b Llama-3.2-1B: n_embd 2048, 16 layers, 32 q / 8 kv heads, n_ff 8192, vocab 128256
#               (llama BPE), tied embeddings
# F16 from ../shared/tools/make_random_model.py (needs numpy and gguf-py: GGUF_PY, default
# /tmp/llama.cpp/gguf-py, a clone of node-llama-cpp's llama/gitRelease.bundle), then kite quantize.
# Made once in $KITE_BENCH_DIR (/tmp/kite-bench); PYTHON names a python3 with numpy.
#   bench/arch_vs_llamabench.sh [BUILD_DIR] [THREADS...]
# SHAPES (default qwen3-0.6b gemma3-1b), TYPES (Q8_0 Q4_K_M; set but empty: with MAKE_ONLY=1, the
# F16 files alone, no kite binary needed), N_PROMPT (128), N_GEN (64) and
# REPS (3) come from the environment, LLAMA_ARGS are added to llama-bench's. Prints one markdown
# row per model, type and thread count. On a CPU with AMX, llama-bench repacks Q8_0/Q4_K/Q6_K
# weights for its AMX kernels (its -v log: "AMX model buffer size").
# CPU_TIME=1 gives tokens per CPU second instead of per wall second, steadier on a machine other
# jobs share: each test (pp, then tg) runs alone with -r 1 and with -r 1+REPS, and REPS times its
# tokens are divided by the difference of the two processes' user + sys time (GNU time, at
# /usr/bin/time), which cancels loading and warm-up.
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build/native}
[ $# -gt 0 ] && shift
THREADS=${*:-1}
DIR=${KITE_BENCH_DIR:-/tmp/kite-bench}
LLAMA_BENCH=${LLAMA_BIN:-$ROOT/build/llama.cpp/bin}/llama-bench
GGUF_PY=${GGUF_PY:-/tmp/llama.cpp/gguf-py}
TOOLS=${TOOLS:-$ROOT/../shared/tools}
VOCAB=${VOCAB:-$ROOT/../shared/vocab}
N_PROMPT=${N_PROMPT:-128}
N_GEN=${N_GEN:-64}
REPS=${REPS:-3}
KITE="$BUILD/kite"
TYPES=${TYPES-Q8_0 Q4_K_M}
[ -z "$TYPES" ] || [ -x "$KITE" ] || { echo "no kite binary at $KITE" >&2; exit 1; }
[ -n "$MAKE_ONLY" ] || [ -x "$LLAMA_BENCH" ] || { echo "no llama-bench at $LLAMA_BENCH (bench/build_llama_cpp.sh)" >&2; exit 1; }
mkdir -p "$DIR"
py() { PYTHONPATH="$GGUF_PY" "${PYTHON:-python3}" "$@"; }

# make SHAPE: the F16 file of a shape (written under a temporary name, then renamed)
make() {
  f="$DIR/$1-rand-f16.gguf"
  [ -f "$f" ] && return 0
  case $1 in
  qwen3-0.6b)
    py "$TOOLS/make_random_model.py" qwen3 "$VOCAB/ggml-vocab-qwen2.gguf" "$f.tmp" --embd 1024 --layers 28 \
      --heads 16 --kv-heads 8 --head-dim 128 --ff 3072 --ctx 40960 --tied --seed 1 >/dev/null ;;
  gemma3-1b)
    v="$DIR/vocab-llama-spm-262144.gguf"
    [ -f "$v" ] || py "$ROOT/bench/pad_vocab.py" "$VOCAB/ggml-vocab-llama-spm.gguf" "$v" 262144
    py "$TOOLS/make_random_model.py" gemma3 "$v" "$f.tmp" --embd 1152 --layers 26 --heads 4 --kv-heads 1 \
      --head-dim 256 --ff 6912 --ctx 32768 --swa 512 --tied --seed 1 >/dev/null ;;
  llama3.2-1b)
    py "$TOOLS/make_random_model.py" llama3 "$VOCAB/ggml-vocab-llama-bpe.gguf" "$f.tmp" --embd 2048 --layers 16 \
      --heads 32 --kv-heads 8 --ff 8192 --tied --seed 1 >/dev/null ;;
  *) echo "unknown shape $1" >&2; exit 1 ;;
  esac
  mv "$f.tmp" "$f"
}

num() { sed -n "s/.*\"$1\": *\([0-9.e+-]*\).*/\1/p" | head -1; }
# cpu_tps N CMD...: N tokens per test; CMD's CPU seconds with -r 1 and -r 1+REPS (CPU_TIME=1)
cpu_of() { /usr/bin/time -f "%U %S" "$@" 2>&1 >/dev/null | tail -1 | awk '{ print $1 + $2 }'; }
cpu_tps() {
  n=$1; shift
  c1=$(cpu_of "$@" -r 1); c2=$(cpu_of "$@" -r $((1 + REPS)))
  awk -v n="$n" -v r="$REPS" -v a="$c1" -v b="$c2" 'BEGIN { if (b > a) printf "%.2f", r * n / (b - a); else print "-" }'
}
ratio() { awk -v k="$1" -v l="$2" 'BEGIN { if (l > 0) printf "%.2f", k / l; else print "-" }'; }
[ -n "$MAKE_ONLY" ] || {
  if [ "${CPU_TIME:-0}" = 1 ]; then
    echo "tokens per CPU second, $REPS runs after one; ratio = kite / llama-bench (same file, same threads)"
  else
    echo "tokens/s, mean of $REPS; ratio = kite / llama-bench (same file, same threads)"
  fi
  echo "| model | type | threads | kite pp$N_PROMPT | llama.cpp pp$N_PROMPT | ratio | kite tg$N_GEN | llama.cpp tg$N_GEN | ratio |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
}
for shape in ${SHAPES:-qwen3-0.6b gemma3-1b}; do
  make "$shape"
  for type in $TYPES; do
    Q="$DIR/$shape-rand-$type.gguf"
    [ -f "$Q" ] || { "$KITE" quantize "$DIR/$shape-rand-f16.gguf" "$Q.tmp" "$type" >/dev/null 2>&1 && mv "$Q.tmp" "$Q"; }
    [ -n "$MAKE_ONLY" ] && continue
    for t in $THREADS; do
      if [ "${CPU_TIME:-0}" = 1 ]; then
        kp=$(cpu_tps "$N_PROMPT" "$KITE" bench -m "$Q" -p "$N_PROMPT" -n 0 -t "$t")
        lp=$(cpu_tps "$N_PROMPT" "$LLAMA_BENCH" -m "$Q" -p "$N_PROMPT" -n 0 -t "$t" $LLAMA_ARGS)
        kt=$(cpu_tps "$N_GEN" "$KITE" bench -m "$Q" -p 0 -n "$N_GEN" -t "$t")
        lt=$(cpu_tps "$N_GEN" "$LLAMA_BENCH" -m "$Q" -p 0 -n "$N_GEN" -t "$t" $LLAMA_ARGS)
      else
        k=$("$KITE" bench -m "$Q" -p "$N_PROMPT" -n "$N_GEN" -t "$t" -r "$REPS" -o json 2>/dev/null)
        l=$("$LLAMA_BENCH" -m "$Q" -p "$N_PROMPT" -n "$N_GEN" -t "$t" -r "$REPS" -o jsonl $LLAMA_ARGS 2>/dev/null)
        kp=$(echo "$k" | grep '"pp' | num tps); kt=$(echo "$k" | grep '"tg' | num tps)
        lp=$(echo "$l" | grep '"n_gen": 0' | num avg_ts); lt=$(echo "$l" | grep '"n_prompt": 0' | num avg_ts)
      fi
      echo "| $shape | $type | $t | $kp | $lp | $(ratio "$kp" "$lp") | $kt | $lt | $(ratio "$kt" "$lt") |"
    done
  done
done
