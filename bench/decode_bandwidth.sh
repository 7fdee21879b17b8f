#!/bin/sh
# decode_bandwidth.sh - benchmark, not a test: decode's weight streaming rate as a fraction of
# the memory bandwidth a streaming read reaches on the same machine, for Kite (`kite bench`:
# weight bytes read per token x tokens/s) and llama.cpp (`llama-bench` from source,
# bench/build_llama_cpp.sh: its model size x tokens/s), at the same thread counts. The ceiling
# is bench/stream_read_bench.c (vector loads over a buffer 8x the last-level cache, each thread
# its own slice), measured just before each model's runs so all three see the same machine; on
# huge pages (PROBE_ARGS, default --huge), as Kite's repacked weights are: on 4 KB pages the read
# itself is 15-35% slower on a Zen 4 (PROBE_ARGS= gives the 4 KB figure).
#   bench/decode_bandwidth.sh [BUILD_DIR] [MODEL...]
# MODEL defaults: the Llama-3.2-1B-shaped Q8_0 and Q4_K_M of bench/arch_vs_llamabench.sh in
# $KITE_BENCH_DIR (/tmp/kite-bench). THREADS (1 2), ROUNDS (3), N1 (16) and N2 (64) come from
# the environment. Two measures per row:
#  wall: each tool's own tokens/s of an N2-token decode against the probe's median pass (on a
#        shared machine these scatter: other jobs take the cores at random moments);
#  CPU:  one thread only, against the probe's per-thread CPU-time rate; steadier where other jobs
#        share the cores (with more threads a waiting thread's spin would count, so no CPU figure
#        there). Kite: `kite bench`'s cpu_tps (the process CPU time of the timed runs alone: the
#        load's system time, which varies with the huge-page allocation, stays out); llama.cpp:
#        the process CPU seconds of an N2-token run minus an N1-token one (load, warm-up and
#        first token cancel out) give the CPU time of N2 - N1 decoded tokens.
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build/native}
[ $# -gt 0 ] && shift
DIR=${KITE_BENCH_DIR:-/tmp/kite-bench}
MODELS=${*:-$DIR/llama3.2-1b-rand-Q8_0.gguf $DIR/llama3.2-1b-rand-Q4_K_M.gguf}
LLAMA_BENCH=${LLAMA_BIN:-$ROOT/build/llama.cpp/bin}/llama-bench
N1=${N1:-16}
N2=${N2:-64}
KITE="$BUILD/kite"
PROBE="$BUILD/stream_read_bench"
[ -x "$KITE" ] || { echo "no kite binary at $KITE" >&2; exit 1; }
[ -x "$PROBE" ] || { echo "no $PROBE (cmake --build --preset native --target stream_read_bench)" >&2; exit 1; }
[ -x "$LLAMA_BENCH" ] || { echo "no llama-bench at $LLAMA_BENCH (bench/build_llama_cpp.sh)" >&2; exit 1; }
for m in $MODELS; do [ -f "$m" ] || { echo "no model $m (bench/arch_vs_llamabench.sh makes them)" >&2; exit 1; }; done
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

num() { sed -n "s/.*\"$1\": *\([0-9.e+-]*\).*/\1/p" | head -1; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b; else print "-" }'; }
# timed CMD...: runs it, its stdout in $TMP/out, its user + sys seconds printed
timed() {
  /usr/bin/time -f "%U %S" -o "$TMP/t" "$@" >"$TMP/out" 2>/dev/null
  awk '{ printf "%.3f", $1 + $2 }' "$TMP/t"
}
# kite N T: one decode run of N tokens on T threads; prints "WALL_GBS CPU_GBS" (kite bench's own
# tokens/s and tokens per CPU second times the weight bytes it reads per token)
kite() {
  "$KITE" bench -m "$m" -p 0 -n "$1" -t "$2" -r 1 -o json >"$TMP/out" 2>/dev/null
  awk -v b="$(num size <"$TMP/out")" -v w="$(num tps <"$TMP/out")" -v c="$(num cpu_tps <"$TMP/out")" \
    'BEGIN { printf "%.2f %.2f", b * w / 1e9, b * c / 1e9 }'
}
# llama N T: one decode run of N tokens on T threads; prints "CPU_S BYTES TOK_PER_S"
llama() {
  c=$(timed "$LLAMA_BENCH" -m "$m" -p 0 -n "$1" -t "$2" -r 1 -o jsonl)
  echo "$c $(num model_size <"$TMP/out") $(num avg_ts <"$TMP/out")"
}
# rates "CPU1 B TS1" "CPU2 B TS2": llama.cpp's "WALL_GBS CPU_GBS", CPU_GBS from the difference of
# the runs (`llama-bench -r 1` decodes N tokens once; its warm-up is a single token)
rates() {
  echo "$1 $2" | awk -v n="$((N2 - N1))" '{ printf "%.2f %.2f", $5 * $6 / 1e9, ($4 > $1 ? $5 * n / ($4 - $1) / 1e9 : 0) }'
}

PROBE_ARGS=${PROBE_ARGS-"--huge"}
"$PROBE" $PROBE_ARGS --threads 1 --reps 1 | head -1
echo "decode of $N2 tokens (llama.cpp CPU: $N2 minus $N1), GB/s and fraction of the streaming read's"
echo "| round | model | threads | read GB/s wall / CPU | Kite wall / CPU | fraction | llama.cpp wall / CPU | fraction |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|"
for r in $(seq "${ROUNDS:-3}"); do
  for t in ${THREADS:-1 2}; do
    for m in $MODELS; do
      p=$("$PROBE" $PROBE_ARGS --threads "$t" --reps 5 | sed -n 's/.* best, \([0-9.]*\) median.*CPU time [0-9.]* \/ \([0-9.]*\) .*/\1 \2/p')
      bw=${p% *}
      bc=${p#* }
      set -- $(kite "$N2" "$t")
      kw=$1
      kc=$2
      l2=$(llama "$N2" "$t")
      if [ "$t" = 1 ]; then
        l1=$(llama "$N1" 1)
      else
        l1=""
        bc="-"
      fi
      set -- $(rates "${l1:-0 0 0}" "$l2" 1)
      lw=$1
      lc=$2
      [ "$t" = 1 ] || { kc="-"; lc="-"; }
      echo "| $r | $(basename "$m" .gguf) | $t | $bw / $bc | $kw / $kc | $(div "$kw" "$bw") / $(div "$kc" "$bc") |" \
        "$lw / $lc | $(div "$lw" "$bw") / $(div "$lc" "$bc") |"
    done
  done
done
