#!/bin/bash
# dry_serve_requests.sh - wall time of `kite serve` /completion requests (n_predict 1) with DRY
# off and on (dry_multiplier 0.8, the default breakers), against two kite binaries side by side,
# interleaved: what DRY adds to a request's start. Not a test: prints curl's time_total.
# Usage: BEFORE=path/to/old/kite AFTER=build/native/kite bench/dry_serve_requests.sh MODEL.gguf [ROUNDS]
set -eu
M=${1:?usage: BEFORE=kite AFTER=kite $0 MODEL.gguf [ROUNDS]}
ROUNDS=${2:-6}
BEFORE=${BEFORE:?set BEFORE to a kite binary}
AFTER=${AFTER:-build/native/kite}
LOG=$(mktemp -d)
"$BEFORE" serve -m "$M" --port 18140 -t 1 >"$LOG/before.log" 2>&1 &
P1=$!
"$AFTER" serve -m "$M" --port 18141 -t 1 >"$LOG/after.log" 2>&1 &
P2=$!
trap 'kill $P1 $P2 2>/dev/null; rm -rf "$LOG"' EXIT
for port in 18140 18141; do
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/health" && break; sleep 0.2; done
done
req() {
  curl -s -o /dev/null -w '%{time_total}' -H 'content-type: application/json' \
    -d "{\"prompt\":\"Hello\",\"n_predict\":1,\"dry_multiplier\":$2}" "http://127.0.0.1:$1/completion"
}
for r in $(seq "$ROUNDS"); do
  echo "round $r: before: off $(req 18140 0) s, DRY on $(req 18140 0.8) s | after: off $(req 18141 0) s, DRY on $(req 18141 0.8) s"
done
