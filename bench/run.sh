#!/usr/bin/env bash
# The side-by-side benchmark of issue 6, in one command:
#
#   bash bench/run.sh            # PyTorch vs this project: seed5 and LeNet-5, threads 1 and 2, one table
#   bash bench/run.sh --micro    # then also the Google Benchmark kernels (GFLOP/s beside a large SGEMM)
#
# Workload (both sides identical): Fashion-MNIST (/usr/share/datasets/fashion-mnist), batch 50, plain SGD lr 0.1,
# one epoch of the 60,000 training images, then inference over the 10,000 test images in batches of 50 (best of
# three passes). Each run is its own process, so peak RSS is that run's. PyTorch is Debian's python3-torch, run with
# /usr/bin/python3, with OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and torch.set_num_threads all set to the thread count.
# Installs what it needs (python3-torch, python3-numpy, libbenchmark-dev) only when missing, builds into
# build-bench/, and keeps the raw lines in bench/results/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."

micro=0
[[ "${1:-}" == "--micro" ]] && micro=1
threads_list="${CNN_BENCH_THREADS:-1 2}"
nets="${CNN_BENCH_NETS:-seed5 lenet5}"

missing=()
for pkg in python3-torch python3-numpy libbenchmark-dev cmake ninja-build; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "bench: installing ${missing[*]}"
  sudo_cmd=""
  [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DCNN_BUILD_BENCH=ON -DCNN_BUILD_TESTS=OFF >/dev/null
ninja -C build-bench cnn_bench cnn_microbench >/dev/null

mkdir -p bench/results
out="bench/results/$(date +%Y%m%d-%H%M%S).txt"
{
  echo "# $(date -u '+%Y-%m-%d %H:%M UTC')  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
  echo "# torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')"
} >"$out"
for net in $nets; do
  for t in $threads_list; do
    echo "bench: $net, $t thread(s): ours" >&2
    OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t ./build-bench/bench/cnn_bench --net "$net" --threads "$t" \
      | sed 's/^/ours /' >>"$out"
    echo "bench: $net, $t thread(s): pytorch" >&2
    OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t MKL_NUM_THREADS=$t /usr/bin/python3 bench/torch_bench.py --net "$net" --threads "$t" \
      | sed 's/^/torch /' >>"$out"
  done
done

/usr/bin/python3 - "$out" <<'PY'
import sys
rows = {}
lines = open(sys.argv[1]).read().splitlines()
for line in lines:
    if line.startswith("#"):
        print(line)
        continue
    who, rest = line.split(" ", 1)
    kv = dict(p.split("=") for p in rest.split())
    rows.setdefault((kv["net"], int(kv["threads"])), {})[who] = kv
print("workload: Fashion-MNIST, batch 50, SGD lr 0.1, 1 epoch (60k images); inference 10k test images, batch 50")
hdr = ("net", "thr", "train img/s ours", "pytorch", "ratio", "infer img/s ours", "pytorch", "ratio",
       "peak RSS MB ours", "pytorch", "test acc ours", "pytorch")
fmt = "| {:<6} | {:>3} | {:>16} | {:>8} | {:>5} | {:>16} | {:>8} | {:>5} | {:>16} | {:>7} | {:>13} | {:>7} |"
print(fmt.format(*hdr))
print("|" + "|".join("-" * (len(c) + 2) for c in fmt.format(*hdr).split("|")[1:-1]) + "|")
for (net, t), r in sorted(rows.items()):
    o, p = r.get("ours"), r.get("torch")
    if not o or not p:
        continue
    print(fmt.format(net, t, f"{float(o['train_ips']):.0f}", f"{float(p['train_ips']):.0f}",
                     f"{float(o['train_ips']) / float(p['train_ips']):.2f}x",
                     f"{float(o['infer_ips']):.0f}", f"{float(p['infer_ips']):.0f}",
                     f"{float(o['infer_ips']) / float(p['infer_ips']):.2f}x",
                     o["peak_rss_mb"], p["peak_rss_mb"],
                     f"{100 * float(o['accuracy']):.2f}%", f"{100 * float(p['accuracy']):.2f}%"))
speed = {t: float(r["ours"]["train_ips"]) for (n, t), r in rows.items() if n == "seed5" and "ours" in r}
if 1 in speed and 2 in speed:
    print(f"seed5 training, ours, 2 threads / 1 thread: {speed[2] / speed[1]:.2f}x")
PY
echo "(raw lines: $out)"

if ((micro)); then
  ./build-bench/bench/cnn_microbench --benchmark_min_time=0.2
fi
