#!/bin/sh
# first_token_vs_llamacpp.sh - benchmark, not a test: whole-process time from start to the first
# generated token (load, tokenize, one forward pass over a 1-token-plus-BOS prompt, sample,
# print, exit) of `kite run -m F -p Hello -n 1 -t T` against llama.cpp built from source
# (bench/build_llama_cpp.sh llama-completion llama-simple): `llama-completion -m F -p Hello -n 1
# -t T -c 512 -no-cnv --no-warmup` (without --no-warmup it reads every weight twice before the
# first token) and, where built, llama-simple (4 threads, GGML's default, not settable).
# The commands run in turn, the first of each round alternating, each timed by /usr/bin/time.
#   bench/first_token_vs_llamacpp.sh [BUILD_DIR] [MODEL...]
# MODEL defaults: the Llama-3.2-1B-shaped Q8_0 and Q4_K_M of bench/arch_vs_llamabench.sh in
# $KITE_BENCH_DIR (/tmp/kite-bench). ROUNDS (5) and THREADS (1) come from the environment; COLD=1
# evicts the model file from the page cache before every run (`dd iflag=nocache count=0`, this
# file only: other files keep their pages), otherwise the cache is warm (every run after the
# first finds the file in memory). IDLE=S sleeps S seconds before every run: on a VM whose guest
# hands freed memory back to its host (free page reporting; the Firecracker guests here) a run
# that follows another closely reuses the memory it freed, while one after a few idle seconds
# faults every fresh page in again on the host (1.3 GB of repacked Q8_0 weights: 0.5 s -> 2-4 s
# for Kite, docs/BENCHMARKS.md); IDLE=3 gives every run of every engine that fresh-start state.
# Prints, per model and command, the median and range of the wall and CPU (user + sys) seconds
# and each peer's median per-round ratio to Kite.
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build/native}
[ $# -gt 0 ] && shift
DIR=${KITE_BENCH_DIR:-/tmp/kite-bench}
MODELS=${*:-$DIR/llama3.2-1b-rand-Q8_0.gguf $DIR/llama3.2-1b-rand-Q4_K_M.gguf}
BIN=${LLAMA_BIN:-$ROOT/build/llama.cpp/bin}
ROUNDS=${ROUNDS:-5}
T=${THREADS:-1}
KITE="$BUILD/kite"
[ -x "$KITE" ] || { echo "no kite binary at $KITE" >&2; exit 1; }
[ -x "$BIN/llama-completion" ] || { echo "no $BIN/llama-completion (bench/build_llama_cpp.sh llama-completion)" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# run NAME CMD...: one timed run, its "wall cpu" appended to $TMP/NAME
run() {
  name=$1
  shift
  [ "${COLD:-0}" = 1 ] && dd if="$m" iflag=nocache count=0 status=none
  [ "${IDLE:-0}" != 0 ] && sleep "$IDLE"
  /usr/bin/time -f "%e %U %S" -o "$TMP/t" "$@" >"$TMP/out" 2>&1 || { echo "$name failed:" >&2; cat "$TMP/out" >&2; exit 1; }
  awk '{ printf "%s %.3f\n", $1, $2 + $3 }' "$TMP/t" >>"$TMP/$name"
}
k() { run kite "$KITE" run -m "$m" -p Hello -n 1 -t "$T"; }
l() {
  run completion "$BIN/llama-completion" -m "$m" -p Hello -n 1 -t "$T" -c 512 -no-cnv --no-warmup
  if [ -x "$BIN/llama-simple" ]; then run simple "$BIN/llama-simple" -m "$m" -n 1 Hello; fi
}
# stats FILE COLUMN: "median [min-max]"
stats() { cut -d' ' -f"$2" "$1" | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f [%.2f-%.2f]", v[int((NR + 1) / 2)], v[1], v[NR] }'; }
# ratio PEER COLUMN: the median over rounds of PEER's time / Kite's
ratio() {
  paste -d' ' "$TMP/$1" "$TMP/kite" | awk -v c="$2" '{ print $c / $(c + 2) }' | sort -n |
    awk '{ v[NR] = $1 } END { printf "%.2fx", v[int((NR + 1) / 2)] }'
}

echo "to the first token, whole process, $T thread(s), $ROUNDS rounds, page cache $([ "${COLD:-0}" = 1 ] && echo 'cold (file evicted before each run)' || echo warm)$([ "${IDLE:-0}" != 0 ] && echo ", ${IDLE} s idle before each run")"
for m in $MODELS; do
  [ -f "$m" ] || { echo "no model $m (bench/arch_vs_llamabench.sh makes them)" >&2; exit 1; }
  rm -f "$TMP/kite" "$TMP/completion" "$TMP/simple"
  [ "${COLD:-0}" = 1 ] || cat "$m" >/dev/null # warm: the file in the page cache before the first run
  for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then k; l; else l; k; fi
  done
  echo "$(basename "$m" .gguf): wall s / CPU s, median [min-max]"
  echo "  kite run          $(stats "$TMP/kite" 1) / $(stats "$TMP/kite" 2)"
  echo "  llama-completion  $(stats "$TMP/completion" 1) / $(stats "$TMP/completion" 2)   llama.cpp / Kite: wall $(ratio completion 1), CPU $(ratio completion 2)"
  [ -f "$TMP/simple" ] &&
    echo "  llama-simple      $(stats "$TMP/simple" 1) / $(stats "$TMP/simple" 2)   llama.cpp / Kite: wall $(ratio simple 1), CPU $(ratio simple 2)"
done
