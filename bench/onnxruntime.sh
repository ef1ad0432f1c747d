#!/usr/bin/env bash
# Inference against ONNX Runtime (issue 21, part 4): each net trained briefly by cnn_bench (its inference timed
# there), exported with `cnn export`, and the same .onnx file run by onnxruntime-node on the same 10,000 Fashion-MNIST
# test images: batch 50 (images/s, best of three passes) and batch 1 (the median latency of 200 images), threads 1
# and 2 (ONNX Runtime: intraOpNumThreads, interOpNumThreads 1, sequential execution, all graph optimisations).
#   bash bench/onnxruntime.sh          (CNN_BENCH_NETS="seed5 lenet5 alexnet-small", CNN_BENCH_THREADS="1 2")
# Installs onnxruntime-node 1.30.0 into build-bench/npm (ONNXRUNTIME_NODE_INSTALL=skip: its CPU build only) and
# builds build-bench/ like bench/run.sh. The raw lines go to bench/results/ort-*.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
nets="${CNN_BENCH_NETS:-seed5 lenet5 alexnet-small}"
threads_list="${CNN_BENCH_THREADS:-1 2}"
data=/usr/share/datasets/fashion-mnist

bb=${CNN_BENCH_BUILD:-build-bench}  # another build folder configured with -DCNN_BUILD_BENCH=ON also does
[ -f "$bb/build.ninja" ] ||
  cmake -S . -B "$bb" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCNN_BUILD_BENCH=ON -DCNN_BUILD_TESTS=OFF >/dev/null
ninja -C "$bb" cnn_bench cnn_tool >/dev/null
ort=$bb/npm/node_modules
if [ ! -d "$ort/onnxruntime-node" ]; then
  ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix "$bb/npm" --no-audit --no-fund --loglevel=error \
    onnxruntime-node@1.30.0 >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p bench/results
out="bench/results/ort-$(date +%Y%m%d-%H%M%S).txt"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC')  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores" \
  >"$out"
for net in $nets; do
  for t in $threads_list; do
    echo "bench: $net, $t thread(s): ours, onnxruntime" >&2
    OPENBLAS_NUM_THREADS=$t "./$bb/bench/cnn_bench" --net "$net" --threads "$t" --train-limit 5000 \
      --save "$work/$net.cnn" | sed "s/^/ours /" >>"$out"
    [ -f "$work/$net.onnx" ] || "./$bb/cnn" export --model "$work/$net.cnn" --onnx "$work/$net.onnx" >/dev/null
    ORT_MODULES=$ort node bench/ort_bench.js "$work/$net.onnx" "$data/t10k-images-idx3-ubyte.gz" "$t" |
      sed "s/^/ort net=$net /" >>"$out"
  done
done

/usr/bin/python3 - "$out" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    if line.startswith("#"):
        print(line.strip())
        continue
    who, rest = line.split(" ", 1)
    kv = dict(p.split("=") for p in rest.split())
    rows.setdefault((kv["net"], int(kv["threads"])), {})[who] = kv
print("| net | threads | batch 50 img/s ours | onnxruntime | ratio | batch 1 µs ours | onnxruntime | ratio |")
print("|---|---|---|---|---|---|---|---|")
for (net, t), r in rows.items():
    o, x = r["ours"], r["ort"]
    print(f"| {net} | {t} | {float(o['infer_ips']):.0f} | {float(x['infer_ips']):.0f} | "
          f"{float(o['infer_ips']) / float(x['infer_ips']):.2f}x | {float(o['latency1_us']):.1f} | "
          f"{float(x['latency1_us']):.1f} | {float(x['latency1_us']) / float(o['latency1_us']):.2f}x |")
PY
echo "(raw lines: $out)"
