#!/usr/bin/env bash
# Training speed of the colour presets side by side with PyTorch (issue 21's colour-net shapes): each net trained one
# epoch by `cnn train` and by bench/cifar_torch.py (the same net built from its description, the same recipe: SGD
# with momentum, batch 128, augmentation), on 1 and 2 threads, the same CIFAR-format files; images/s per side and
# their ratio, and the core's FMA peak measured in the same run.
#
#   bash bench/colour_speed.sh                          # resnet8, resnet20, alexnet-cifar; threads 1 and 2
#   CNN_SPEED_NETS=resnet8 CNN_SPEED_THREADS=1 bash bench/colour_speed.sh
#
# The data are CIFAR-10's binary format made from Debian's Fashion-MNIST (2,560 training images: each picture padded
# to 32×32 with the planes x, 255 − x and x²/255), so the bench needs no download; speed does not depend on what
# the pictures show. Raw lines go to bench/results/colour-speed-<time>.txt (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
nets="${CNN_SPEED_NETS:-resnet8 resnet20 alexnet-cifar}"
threads_list="${CNN_SPEED_THREADS:-1 2}"
bb=${CNN_BENCH_BUILD:-build-bench}
[ -f "$bb/build.ninja" ] ||
  cmake -S . -B "$bb" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCNN_BUILD_BENCH=ON -DCNN_BUILD_TESTS=OFF >/dev/null
ninja -C "$bb" cnn cnn_bench >/dev/null

data="$bb/colour-speed-data"
if [[ ! -f "$data/test_batch.bin" ]]; then
  mkdir -p "$data"
  /usr/bin/python3 - "$data" <<'EOF'
import gzip, os, sys
import numpy as np
src, out = "/usr/share/datasets/fashion-mnist", sys.argv[1]
def idx(name):
    for n in (name, name + ".gz"):
        p = os.path.join(src, n)
        if os.path.exists(p):
            raw = (gzip.open if n.endswith(".gz") else open)(p, "rb").read()
            return np.frombuffer(raw, dtype=np.uint8)
    raise SystemExit("colour_speed: " + name + " not found in " + src)
x = idx("train-images-idx3-ubyte")[16:].reshape(-1, 28, 28)[:2816]
y = idx("train-labels-idx1-ubyte")[8:][:2816]
g = np.pad(x, ((0, 0), (2, 2), (2, 2))).astype(np.uint16)
planes = np.stack([g, 255 - g, g * g // 255], axis=1).astype(np.uint8).reshape(len(g), -1)
rec = np.concatenate([y[:, None], planes], axis=1)
for i in range(5):
    rec[512 * i:512 * (i + 1)].tofile(os.path.join(out, "data_batch_%d.bin" % (i + 1)))
rec[2560:].tofile(os.path.join(out, "test_batch.bin"))
open(os.path.join(out, "batches.meta.txt"), "w").write("\n".join("class%d" % k for k in range(10)) + "\n")
EOF
fi

mkdir -p bench/results
out="bench/results/colour-speed-$(date +%Y%m%d-%H%M%S).txt"
cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
peak=$("$bb/cnn" info --cpu 2>/dev/null | grep -iE "peak|GFLOP" | head -3 | tr '\n' ' ' || true)
{
  echo "# $(date -u +%FT%TZ) build $(git rev-parse --short HEAD) on $cpu"
  echo "# $peak"
} | tee "$out"
printf "%-14s %7s %12s %12s %7s\n" net threads "cnn img/s" "torch img/s" ratio | tee -a "$out"
for net in $nets; do
  for t in $threads_list; do
    m=$(mktemp --suffix=.jsonl)
    OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t "$bb/cnn" train --net "$net" --data "$data" --epochs 1 --threads "$t" \
      --quiet --metrics "$m" --out "$m.cnn" >/dev/null
    ours=$(/usr/bin/python3 -c "import json,sys; print(round(json.loads(open(sys.argv[1]).readline())['images_per_second']))" "$m")
    secs=$(OMP_NUM_THREADS=$t /usr/bin/python3 bench/cifar_torch.py --net "nets/$net.json" --data "$data" --epochs 1 \
      --threads "$t" | /usr/bin/python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['seconds'])")
    theirs=$(/usr/bin/python3 -c "print(round(2560 / $secs))")
    ratio=$(/usr/bin/python3 -c "print('%.2f' % ($ours / $theirs))")
    printf "%-14s %7s %12s %12s %6sx\n" "$net" "$t" "$ours" "$theirs" "$ratio" | tee -a "$out"
    rm -f "$m" "$m.cnn"
  done
done
