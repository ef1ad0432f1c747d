#!/usr/bin/env bash
# The side-by-side benchmark of issue 6, in one command:
#
#   bash bench/run.sh            # PyTorch vs this project: seed5 and LeNet-5, threads 1 and 2, one table
#   bash bench/run.sh --micro    # then also the Google Benchmark kernels (GFLOP/s beside a large SGEMM)
#   CNN_BENCH_AVX2=1 bash bench/run.sh   # also ours on the AVX2 path (CNN_ISA=avx2) beside the best one
#   CNN_BENCH_ISAS="avx2 avx512" bash bench/run.sh   # also ours on each of these paths (CNN_ISA=...)
#
# Workload (both sides identical): Fashion-MNIST (/usr/share/datasets/fashion-mnist), batch 50, plain SGD lr 0.1,
# one epoch of the 60,000 training images, then inference over the 10,000 test images in batches of 50 (best of
# three passes). Each run is its own process, so peak RSS is that run's. Every (net, threads) pair runs with seeds
# 1..CNN_BENCH_SEEDS (default 5; ours and PyTorch's runs alternate, so a busy spell of the machine hits both), and
# PyTorch's run of a seed starts from our initial weights and takes the first epoch's batches in our order
# (cnn_bench --save-start, torch_bench.py --start), so both sides train the same trajectory up to rounding (after one
# epoch at lr 0.1 the accuracy of independent draws swings by 1–1.6 points from seed to seed, which would hide any
# real difference). The table (bench/table.py, which also reads any earlier results file) gives the median speed, the
# median of the per-seed ratios (each pair runs back to back, so a slow spell of this shared VM falls on both sides of
# a ratio), the mean ± standard deviation of the test accuracy over the seeds, and the mean per-seed difference. PyTorch is Debian's python3-torch, run with
# /usr/bin/python3, with OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and torch.set_num_threads all set to the thread count.
# Installs what it needs (python3-torch, python3-numpy, libbenchmark-dev) only when missing, builds into
# build-bench/, and keeps the raw lines in bench/results/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."

micro=0
[[ "${1:-}" == "--micro" ]] && micro=1
threads_list="${CNN_BENCH_THREADS:-1 2}"
nets="${CNN_BENCH_NETS:-seed5 lenet5}"
seeds="${CNN_BENCH_SEEDS:-5}"
isas="${CNN_BENCH_ISAS:-}"
[[ "${CNN_BENCH_AVX2:-0}" == 1 ]] && isas="avx2 $isas"

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

bb=${CNN_BENCH_BUILD:-build-bench}  # another build folder configured with -DCNN_BUILD_BENCH=ON also does
[ -f "$bb/build.ninja" ] ||
  cmake -S . -B "$bb" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCNN_BUILD_BENCH=ON -DCNN_BUILD_TESTS=OFF >/dev/null
ninja -C "$bb" cnn_bench cnn_microbench >/dev/null

mkdir -p bench/results
start=$(mktemp -d)  # each seed's initial weights and first-epoch order, shared by both sides
trap 'rm -rf "$start"' EXIT
out="bench/results/$(date +%Y%m%d-%H%M%S).txt"
{
  echo "# $(date -u '+%Y-%m-%d %H:%M UTC')  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
  echo "# torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')"
} >"$out"
for net in $nets; do
  for t in $threads_list; do
    for seed in $(seq 1 "$seeds"); do
      echo "bench: $net, $t thread(s), seed $seed: ours, pytorch" >&2
      OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t "./$bb/bench/cnn_bench" --net "$net" --threads "$t" \
        --seed "$seed" --save-start "$start/$net-$seed" | sed "s/^/ours seed=$seed /" >>"$out"
      for isa in $isas; do
        CNN_ISA=$isa OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t "./$bb/bench/cnn_bench" --net "$net" \
          --threads "$t" --seed "$seed" | sed "s/^/ours-$isa seed=$seed /" >>"$out"
      done
      OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t MKL_NUM_THREADS=$t /usr/bin/python3 bench/torch_bench.py \
        --net "$net" --threads "$t" --seed "$seed" --start "$start/$net-$seed" | sed "s/^/torch seed=$seed /" >>"$out"
    done
  done
done

/usr/bin/python3 bench/table.py "$out"
echo "(raw lines: $out)"

if ((micro)); then
  "./$bb/bench/cnn_microbench" --benchmark_min_time=0.2
fi
