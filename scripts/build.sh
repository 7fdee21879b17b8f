#!/usr/bin/env bash
# build.sh [PRESET...] - configures and builds presets (default: everything the Node tests
# use: the native CLI, the wasm builds (st, mt, their relaxed-SIMD variants, st with the WebGPU
# backend), the WASI CLI and the WASI C tests). Incremental: fast when up to date. `npm test`
# runs it first (pretest), so a clean clone after scripts/setup.sh passes.
set -euo pipefail
cd "$(dirname "$0")/.."
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(native wasm-st wasm-mt wasm-st-relaxed wasm-mt-relaxed wasm-st-webgpu wasi wasi-tests wasi-tests-relaxed)
for p in "${presets[@]}"; do
  cmake --preset "$p" >/dev/null
  cmake --build --preset "$p" -j"$(nproc)" >/dev/null
done
