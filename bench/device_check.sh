#!/bin/bash
# device_check.sh - benchmark and cross-check, not a test: what a session runs on a lent device
# machine (a many-core x86 host, e.g. one with AMX) in one call: the CPU's features, a Kite build,
# the random real-shape models of bench/arch_vs_llamabench.sh made there, every kernel set the host
# runs giving the same perplexity bits (batch 1: the X8 GEMV; batch 64: the packed GEMM, AMX tiles
# where there are), then Kite against llama-bench at 1 and 4 threads, then ctest. The machine has
# no network and no ../shared: carry a folder (ignored by git; `carry` of the device tool) holding
#   gguf-py/              llama.cpp's gguf-py (build/llama.cpp-src/gguf-py after bench/build_llama_cpp.sh)
#   make_random_model.py  ../shared/tools/make_random_model.py
#   vocab/                ../shared/vocab/ggml-vocab-{qwen2,llama-bpe,llama-spm}.gguf
#   spr/llama-bench       LLAMA_SPR=1 bench/build_llama_cpp.sh llama-bench (static; AMX hosts)
#   noamx/llama-bench     LLAMA_NO_AMX=1 bench/build_llama_cpp.sh llama-bench (AVX-512 hosts)
# (about 24 MB) and run `bash bench/device_check.sh FOLDER`. On a 16-core Xeon with AMX the whole
# run took 322 s (models 47 s). Everything is printed and written to $OUT/log.txt as it happens.
D=$(cd "${1:-.dev}" && pwd) || exit 1
OUT=${OUT:-/tmp/device-check}; mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
T0=$(date +%s)
el() { echo "[t=$(( $(date +%s) - T0 ))s] $*"; }
lscpu | grep -E 'Model name|^CPU\(s\)|Thread|Core|Socket|L2|L3|NUMA node\(s\)'
FL=$(grep -m1 '^flags' /proc/cpuinfo)
for f in avx512f avx512_vnni avx512_bf16 avx512vbmi avx_vnni amx_tile amx_int8 amx_bf16; do
  case " $FL " in *" $f "*) printf '%s ' "$f" ;; esac
done; echo
LB=""
case " $FL " in
  *" amx_int8 "*) LB=$D/spr ;;
  *" avx512_bf16 "*) case " $FL " in *" avx512vbmi "*) LB=$D/noamx ;; esac ;;
esac
[ -n "$LB" ] && [ ! -x "$LB/llama-bench" ] && LB=""
echo "llama-bench: ${LB:-none for this CPU}"
BD=${KITE_BENCH_DIR:-/tmp/kite-bench}; mkdir -p "$BD"
el "build + models"
( cmake -S . -B build/device -DCMAKE_BUILD_TYPE=Release -DKITE_WERROR=OFF >/tmp/device-cfg.txt 2>&1 &&
  cmake --build build/device -j"$(nproc)" >/tmp/device-build.txt 2>&1; echo "build rc $?" ) &
PIDS=$!
export GGUF_PY=$D/gguf-py TOOLS=$D VOCAB=$D/vocab KITE_BENCH_DIR=$BD PYTHON=${PYTHON:-python3}
SHAPES_ALL=${SHAPES:-qwen3-0.6b llama3.2-1b gemma3-1b}
for s in $SHAPES_ALL; do # the F16 files, one shape a process (kite is still building)
  ( MAKE_ONLY=1 SHAPES=$s TYPES= sh bench/arch_vs_llamabench.sh build/device 1 2>&1 | tail -2 ) &
  PIDS="$PIDS $!"
done
wait $PIDS # (a bare wait would also wait for the tee above)
K=build/device/kite
[ -x $K ] || { tail -30 /tmp/device-build.txt; exit 1; }
for s in $SHAPES_ALL; do
  for t in Q8_0 Q4_K_M; do
    [ -f "$BD/$s-rand-$t.gguf" ] || $K quantize "$BD/$s-rand-f16.gguf" "$BD/$s-rand-$t.gguf" $t >/dev/null 2>&1 || echo "quantize $s $t failed"
  done
done
el "models ready"
for m in qwen3-0.6b-rand-Q8_0 qwen3-0.6b-rand-Q4_K_M; do
  for b in 1 64; do
    for isa in avx2 avxvnni avx512 amx; do
      o=$(KITE_ISA=$isa $K perplexity -m "$BD/$m.gguf" -f README.md -c 64 --chunks 1 -b $b -t 8 2>/dev/null | grep 'Final' | md5sum)
      echo "$m b$b $isa ${o%% *}"
    done
  done
done
el "kernel sets compared (a set the host lacks runs the default: equal lines)"
if [ -n "$LB" ]; then
  export LLAMA_BIN=$LB
  SHAPES="$SHAPES_ALL" TYPES="Q8_0 Q4_K_M" N_GEN=32 REPS=3 sh bench/arch_vs_llamabench.sh build/device 1
  el "1 thread done"
  SHAPES="$SHAPES_ALL" TYPES="Q8_0" N_GEN=32 REPS=3 sh bench/arch_vs_llamabench.sh build/device 4
  el "4 threads done"
fi
(cd build/device && timeout 120 ctest -j"$(nproc)" --timeout 100 -E check_layering 2>&1 | tail -25)
el "end"
