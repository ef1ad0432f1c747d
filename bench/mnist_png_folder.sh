#!/usr/bin/env bash
# The MNIST digits as a folder of PNG pictures through `cnn train --data DIR` (the picture-folder path: listing,
# decoding in parallel, fitting, the cache), against the same digits as IDX files. PNG is lossless and the digits
# are 28×28 already, so with --fit crop the pictures are the IDX bytes in the IDX order, and the two runs (same net,
# seed and settings) must end at the same accuracy.
#
# Usage: bash bench/mnist_png_folder.sh [IDX_DIR]     (default: build/data/mnist-digits, made by scripts/test.sh)
#        EPOCHS=3 THREADS=1 CNN=build/cnn bash bench/mnist_png_folder.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
idx=${1:-$here/build/data/mnist-digits}
epochs=${EPOCHS:-3}
threads=${THREADS:-1}
cnn=${CNN:-$here/build/cnn}
[ -x "$cnn" ] || { echo "$cnn: no cnn binary (build first: bash scripts/build.sh)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache"  # a fresh cache: the first run decodes, the eval reads the cache

/usr/bin/python3 "$here/bench/idx_to_png_folder.py" "$idx" "$work/png"
settings=(--net seed5 --epochs "$epochs" --seed 1 --threads "$threads" --quiet)
"$cnn" train --data "$idx" "${settings[@]}" --out "$work/idx.cnn" >"$work/idx.log"
"$cnn" train --data "$work/png" --fit crop "${settings[@]}" --out "$work/png.cnn" >"$work/png.log" 2>"$work/png.err"
cat "$work/png.err"
acc_idx=$("$cnn" eval --model "$work/idx.cnn" --data "$idx" | sed -n 's/^accuracy \([0-9.]*\)%.*/\1/p')
acc_png=$("$cnn" eval --model "$work/png.cnn" --data "$work/png" 2>"$work/eval.err" | sed -n 's/^accuracy \([0-9.]*\)%.*/\1/p')
cat "$work/eval.err"
echo "seed5, $epochs epochs, seed 1, $threads thread(s):"
echo "  IDX files   $idx: test accuracy $acc_idx%"
echo "  PNG folder  (the same digits as PNG files): test accuracy $acc_png%"
if [ "$acc_idx" = "$acc_png" ]; then echo "  the same accuracy"; else echo "  DIFFERENT accuracies" >&2; exit 1; fi
