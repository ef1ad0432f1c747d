#!/usr/bin/env bash
# The README's main job: set up, build, train the seeds' 5-layer net on Fashion-MNIST, evaluate it, save it,
# and draw pictures of what it learned. Everything it writes goes to out/.
#   EPOCHS=10 (default)  THREADS=0 (all cores)  NET=seed5
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bash "$here/scripts/setup.sh"
bash "$here/scripts/build.sh" >/dev/null
cnn="$here/build/cnn"
out="$here/out"
mkdir -p "$out"
net=${NET:-seed5}
model="$out/$net.cnn"
rm -f "$out/$net-metrics.csv"

"$cnn" train --net "$net" --epochs "${EPOCHS:-10}" --threads "${THREADS:-0}" --out "$model" --metrics "$out/$net-metrics.csv"
echo
"$cnn" eval --model "$model"
echo
# Pictures of the trained model: its kernels, its learning curves, its confusion matrix.
mkdir -p "$out/pictures"
"$cnn" show kernels --model "$model" --out "$out/pictures"
"$cnn" show curves "$out/$net-metrics.csv" --out "$out/pictures/curves.svg"
"$cnn" show confusion --model "$model" --out "$out/pictures/confusion.png"
echo "pictures: $out/pictures/"
echo "model:    $model"
echo "metrics:  $out/$net-metrics.csv"
echo "next:     $cnn predict --model $model YOUR_IMAGE.png"
