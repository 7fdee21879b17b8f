#!/bin/sh
# node-no-bigint-flag.sh - runs node without --experimental-wasm-bigint: emcc 3.1.6 passes it
# when it generates wasm64 struct info, and Node 20 (where BigInt integration is always on)
# refuses the flag. KITE_NODE names the node to run (default: node on PATH).
node=${KITE_NODE:-node}
for a in "$@"; do
  shift
  [ "$a" = --experimental-wasm-bigint ] || set -- "$@" "$a"
done
exec "$node" "$@"
