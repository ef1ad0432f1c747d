#!/usr/bin/env bash
# Scaling out: the same training step as 1 process × T threads and as P processes × 1 thread (mpirun), over shared
# memory and over TCP, on the same images; seconds per epoch from the tool's own per-epoch line, the time rank 0
# spends in MPI per step, and a check that every run wrote the same model file.
#
#   bash bench/mpi_scaling.sh CIFAR_DIR   # resnet20: 5,120 CIFAR-10 images in batches of 128; lenet5: Fashion-MNIST
#   CNN_MPI_IMAGES=2560 CNN_MPI_RANKS=2 bash bench/mpi_scaling.sh CIFAR_DIR
#
# Runs one thing at a time; meant for a machine doing nothing else (the figures go in the README's "Scaling out").
set -euo pipefail
cd "$(dirname "$0")/.."
cifar="${1:?usage: bash bench/mpi_scaling.sh CIFAR_DIR}"
images="${CNN_MPI_IMAGES:-5120}"
ranks="${CNN_MPI_RANKS:-2}"
bash scripts/build.sh >/dev/null
cnn="$PWD/build/cnn"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mpi=(mpirun --allow-run-as-root --oversubscribe --bind-to none)
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $("$cnn" --version | tail -1)"
printf '%-10s %-26s %12s %12s %14s  %s\n' net run "s/epoch" "images/s" "MPI ms/step" model

measure() {  # net data batch images threads label [launcher...]
  local net=$1 data=$2 batch=$3 limit=$4 threads=$5 label=$6
  shift 6
  local log="$work/run.log" out="$work/$net-${label// /_}.cnn"
  "$@" "$cnn" train --net "$net" --data "$data" --epochs 1 --batch "$batch" --train-limit "$limit" --test-limit 100 \
    --lr 0.05 --momentum 0.9 --threads "$threads" --quiet --out "$out" >"$log"
  local line secs ips ms same=first
  line=$(grep -m1 '^epoch 1/1' "$log")
  secs=$(sed -E 's/.* ([0-9.]+) s .*/\1/' <<<"$line")
  ips=$(sed -E 's/.* ([0-9]+) img\/s.*/\1/' <<<"$line")
  ms=$(grep -m1 'processes:' "$log" | sed -E 's/.*\(([0-9.]+) ms a step\).*/\1/' || true)
  if [ -f "$work/$net.first" ]; then
    cmp -s "$out" "$(cat "$work/$net.first")" && same=same || same=DIFFERENT
  else
    echo "$out" >"$work/$net.first"
  fi
  printf '%-10s %-26s %12s %12s %14s  %s\n' "$net" "$label" "$secs" "$ips" "${ms:--}" "$same"
}

for spec in "resnet20 $cifar 128 $images" "lenet5 /usr/share/datasets/fashion-mnist 50 0"; do
  read -r net data batch limit <<<"$spec"
  measure "$net" "$data" "$batch" "$limit" "$ranks" "1 process x $ranks threads"
  measure "$net" "$data" "$batch" "$limit" 1 "$ranks processes x 1, shm" "${mpi[@]}" -np "$ranks"
  measure "$net" "$data" "$batch" "$limit" 1 "$ranks processes x 1, tcp" "${mpi[@]}" --mca btl tcp,self -np "$ranks"
done
