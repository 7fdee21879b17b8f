#!/usr/bin/env bash
# Builds llama.cpp from the source node-llama-cpp ships (its llama/gitRelease.bundle), with this
# machine's flags (GGML_NATIVE), into build/llama.cpp/bin: the peer the benchmarks compare against
# besides node-llama-cpp's prebuilt libraries, and the tools some references need (llama-imatrix,
# llama-perplexity, llama-server). Idempotent: an existing build is only brought up to date.
# Usage: bench/build_llama_cpp.sh [target ...]   (default: the tools below)
# LLAMA_NO_AMX=1 builds instead into build/llama.cpp-noamx without GGML_NATIVE: AVX-512 with VNNI,
# VBMI and BF16 but no AMX, the CPU features of an AMD Zen 4, so an AMX host can also measure the
# peer those hosts run. LLAMA_AVX2_ONLY=1 builds into build/llama.cpp-avx2 with AVX, AVX2, FMA and
# F16C only (no AVX-512, no AVX-VNNI, no AMX): the CPU features of an Intel Skylake..Comet Lake or an
# AMD Zen 2/3, measured on any newer x86 host. LLAMA_SPR=1 builds into build/llama.cpp-spr without
# GGML_NATIVE for a Sapphire Rapids host (AVX-512 with VNNI, VBMI and BF16, AVX-VNNI, AMX tiles with
# int8 and bf16) from any x86 host: a static llama-bench to carry to an AMX machine that has no clang.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bundle="$root/node_modules/node-llama-cpp/llama/gitRelease.bundle"
src="$root/build/llama.cpp-src"
out="$root/build/llama.cpp"
isa_flags=(-DGGML_NATIVE=ON)
if [ "${LLAMA_NO_AMX:-0}" = 1 ]; then
  out="$root/build/llama.cpp-noamx"
  isa_flags=(-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=ON
    -DGGML_AVX512_VNNI=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_BF16=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF
    -DGGML_AMX_BF16=OFF)
fi
if [ "${LLAMA_AVX2_ONLY:-0}" = 1 ]; then
  out="$root/build/llama.cpp-avx2"
  isa_flags=(-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX_VNNI=OFF
    -DGGML_AVX512=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_BF16=OFF -DGGML_AMX_TILE=OFF
    -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF)
fi
if [ "${LLAMA_SPR:-0}" = 1 ]; then
  out="$root/build/llama.cpp-spr"
  isa_flags=(-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX_VNNI=ON
    -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_BF16=ON -DGGML_AMX_TILE=ON
    -DGGML_AMX_INT8=ON -DGGML_AMX_BF16=ON)
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(llama-bench llama-server llama-perplexity llama-imatrix llama-quantize llama-simple llama-cli)

[ -f "$bundle" ] || { echo "build_llama_cpp: $bundle missing (run scripts/setup.sh)" >&2; exit 1; }
if [ ! -d "$src/.git" ]; then
  rm -rf "$src"
  git clone --quiet "$bundle" "$src"
fi
# clang: gcc 12's build of ggml's AMX int8 path (taken for Q4_0/Q4_1/Q8_0 and k-quants on AMX hosts)
# dies with SIGSEGV in ggml_backend_amx_mul_mat at the first graph; clang 19's runs. CC/CXX override.
cc="${CC:-$(command -v clang-19 || command -v clang || echo cc)}"
cxx="${CXX:-$(command -v clang++-19 || command -v clang++ || echo c++)}"
cmake -S "$src" -B "$out" -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release "${isa_flags[@]}" -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=ON -DLLAMA_BUILD_UI=OFF \
  -DLLAMA_USE_PREBUILT_UI=OFF >/dev/null
cmake --build "$out" -j"$(nproc)" --target "${targets[@]}"
echo "build_llama_cpp: $(git -C "$src" log -1 --format=%h) in $out/bin: ${targets[*]}"
