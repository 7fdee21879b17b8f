#!/bin/sh
# node-no-bigint-flag.sh - the node emcc 3.1.6 runs for the memory64 build. To generate wasm64
# struct offsets it runs a wasm64 program with --experimental-wasm-bigint, a flag Node 20
# refuses (BigInt integration is always on there) and which does not enable memory64: this
# passes --experimental-wasm-memory64 in its place. KITE_NODE names the node to run (default:
# node on PATH).
node=${KITE_NODE:-node}
for a in "$@"; do
  shift
  if [ "$a" = --experimental-wasm-bigint ]; then
    set -- "$@" --experimental-wasm-memory64
  else
    set -- "$@" "$a"
  fi
done
exec "$node" "$@"
