#!/usr/bin/env bash
# demo.sh - the README's first command: set up, build the native CLI, then show Kite working
# on the built-in model (models/stories260K.gguf): inspect it, quantize it, generate text.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset native >/dev/null
cmake --build --preset native -j"$(nproc)"
kite=build/native/kite
model=models/stories260K.gguf
echo; echo "== kite info $model (first lines)"
$kite info "$model" | head -12
out=$(mktemp -d)
echo; echo "== kite quantize $model -> Q8_0"
$kite quantize "$model" "$out/stories260K-Q8_0.gguf" Q8_0
echo; echo "== kite run -m $model -p 'Once upon a time' -n 60 --temp 0   (greedy: llama.cpp's text)"
$kite run -m "$model" -p "Once upon a time" -n 60 --temp 0
echo
echo; echo "== the same, sampled (temperature 0.8, seed 42)"
$kite run -m "$model" -p "Once upon a time" -n 60 --seed 42
echo
rm -rf "$out"
