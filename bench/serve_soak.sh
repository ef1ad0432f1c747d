#!/usr/bin/env bash
# A soak of `cnn serve` (not part of CI): REQUESTS requests (default 100,000) from CLIENTS keep-alive clients at
# once (default 16), bad requests and reconnections mixed in, two clients sending a byte a second beside them
# (bench/serve_soak.py). Prints requests/s, p50/p99 latency, the server's resident memory after a warm-up and after
# the run, and the failures, which make the exit status 1.
#   bash bench/serve_soak.sh                 # the tool in build/, a small model trained for the soak
#   BUILD=build-x MODEL=m.cnn REQUESTS=200000 CLIENTS=32 bash bench/serve_soak.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$here/build}
requests=${REQUESTS:-100000}
clients=${CLIENTS:-16}
cnn="$build/cnn"
[ -x "$cnn" ] || { echo "serve_soak: no $cnn (build first, or set BUILD)" >&2; exit 1; }
work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
model=${MODEL:-}
if [ -z "$model" ]; then
  model="$work/m.cnn"
  "$cnn" train --epochs 1 --train-limit 3000 --test-limit 500 --quiet --out "$model" >/dev/null
fi
"$cnn" serve --model "$model" --port 0 --quiet >"$work/serve.log" 2>&1 &
pid=$!
port=
for _ in $(seq 100); do
  port=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.log" | head -1 | cut -d: -f3 || true)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "serve_soak: the server did not start:" >&2; cat "$work/serve.log" >&2; exit 1; }
echo "cnn serve --model $model on port $port (pid $pid); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)," \
  "$(nproc) cores"
/usr/bin/python3 "$here/bench/serve_soak.py" --port "$port" --pid "$pid" --requests "$requests" --clients "$clients"
