#!/usr/bin/env bash
# Accuracy side by side on CIFAR-10: each colour preset trained with its own recipe by `cnn train` and by PyTorch
# (bench/cifar_torch.py, the same net, recipe and data), seeds 1..N on each side, one table at the end.
#
#   bash bench/cifar.sh CIFAR_DIR                    # resnet8 and alexnet-cifar, 3 seeds each side, 2 threads
#   CNN_CIFAR_NETS=resnet20 CNN_CIFAR_SEEDS=1 bash bench/cifar.sh CIFAR_DIR
#
# CIFAR_DIR holds CIFAR-10's binary version (cifar-10-batches-bin/ or its files; see the README for where to get it).
# The per-epoch lines go to bench/results/cifar-<net>-<side>-<seed>.jsonl (ignored by git); a run whose file already
# has every epoch is not run again, so an interrupted bench continues where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:?usage: bash bench/cifar.sh CIFAR_DIR}"
nets="${CNN_CIFAR_NETS:-resnet8 alexnet-cifar}"
seeds="${CNN_CIFAR_SEEDS:-3}"
threads="${CNN_CIFAR_THREADS:-2}"
bash scripts/build.sh >/dev/null
mkdir -p bench/results
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads"

epochs_of() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['recipe']['epochs'])" "$1"; }
lines() { [[ -f "$1" ]] && wc -l <"$1" || echo 0; }

for net in $nets; do
  epochs=$(epochs_of "nets/$net.json")
  for seed in $(seq 1 "$seeds"); do
    ours="bench/results/cifar-$net-cnn-$seed.jsonl"
    theirs="bench/results/cifar-$net-torch-$seed.jsonl"
    if [[ $(lines "$ours") -lt $epochs ]]; then
      rm -f "$ours"
      echo "cnn:     $net seed $seed ($epochs epochs)"
      build/cnn train --net "$net" --data "$data" --seed "$seed" --threads "$threads" --quiet \
        --metrics "$ours" --out "bench/results/cifar-$net-$seed.cnn" >/dev/null
    fi
    if [[ $(lines "$theirs") -lt $epochs ]]; then
      echo "PyTorch: $net seed $seed ($epochs epochs)"
      /usr/bin/python3 bench/cifar_torch.py --net "nets/$net.json" --data "$data" --seed "$seed" \
        --threads "$threads" >"$theirs.tmp"
      mv "$theirs.tmp" "$theirs"
    fi
  done
done

/usr/bin/python3 - "$nets" "$seeds" <<'EOF'
import json, statistics, sys
nets, seeds = sys.argv[1].split(), int(sys.argv[2])
print("\n| net | epochs | cnn test accuracy | PyTorch test accuracy | difference | cnn s/epoch | PyTorch s/epoch |")
print("|---|---|---|---|---|---|---|")
for net in nets:
    acc, secs = {}, {}
    for side in ("cnn", "torch"):
        runs = [[json.loads(l) for l in open(f"bench/results/cifar-{net}-{side}-{s}.jsonl")] for s in range(1, seeds + 1)]
        acc[side] = [100 * r[-1]["test_accuracy"] for r in runs]
        secs[side] = statistics.median(e["seconds"] for r in runs for e in r)
        epochs = len(runs[0])
    sd = lambda v: statistics.stdev(v) if len(v) > 1 else 0.0
    m = {k: statistics.mean(v) for k, v in acc.items()}
    print(f"| {net} | {epochs} | {m['cnn']:.2f} ± {sd(acc['cnn']):.2f} | {m['torch']:.2f} ± {sd(acc['torch']):.2f} | "
          f"{m['cnn'] - m['torch']:+.2f} | {secs['cnn']:.0f} | {secs['torch']:.0f} |")
print(f"\nmean ± standard deviation over seeds 1..{seeds}; the last epoch's test accuracy")
EOF
