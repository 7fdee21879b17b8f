#!/usr/bin/env bash
# build.sh [PRESET...] - configures and builds presets (default: everything the Node tests
# use: the native CLI, the wasm builds (st, mt, their relaxed-SIMD variants, st and mt with the
# WebGPU backend, and the memory64 st64), the WASI CLI and the WASI C tests). Incremental: fast when up to date. `npm test`
# runs it first (pretest), so a clean clone after scripts/setup.sh passes.
set -euo pipefail
cd "$(dirname "$0")/.."
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(native wasm-st wasm-mt wasm-st-relaxed wasm-mt-relaxed wasm-st-webgpu wasm-mt-webgpu wasi wasi-tests wasi-tests-relaxed)
# wasm-st64's first build also compiles Emscripten's wasm64 libc (scripts/setup.sh does it
# once; KITE_SKIP_WASM64=1 leaves the preset out).
[ $# -gt 0 ] || [ -n "${KITE_SKIP_WASM64:-}" ] || presets+=(wasm-st64)
for p in "${presets[@]}"; do
  if [ "$p" = wasm-st64 ] && [ ! -f "${KITE_EMCACHE64:-build/emcache-wasm64}/sysroot/lib/wasm64-emscripten/libc.a" ]; then
    scripts/build_emcache64.sh >/dev/null
  fi
  cmake --preset "$p" >/dev/null
  cmake --build --preset "$p" -j"$(nproc)" >/dev/null
done
