"""net.fit against `cnn train` and against PyTorch on the same numpy arrays: Fashion-MNIST's 60,000 training images
(Debian's dataset-fashion-mnist), one epoch of plain SGD (lr 0.1, batch 50: both presets' recipe), alternating runs.
    PYTHONPATH=build/python /usr/bin/python3 python/bench_fit.py [--tool build/cnn] [--nets seed5,lenet5]
                                                                  [--repeats 3] [--threads 1]
PyTorch's nets are bench/torch_bench.py's, trained by the same loop as there. Prints images/s of each run, the
median of each side and of the runs' net.fit / PyTorch ratios, the CPU model and the load average before and after
(the figures are only as quiet as the machine)."""
import argparse
import gzip
import os
import statistics
import subprocess
import sys
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--tool", default="build/cnn", help="the built cnn tool")
parser.add_argument("--nets", default="seed5,lenet5")
parser.add_argument("--repeats", type=int, default=3)
parser.add_argument("--threads", type=int, default=1)
args = parser.parse_args()
# before torch is imported: without them PyTorch's "1 thread" still uses every core in places (bench/run.sh)
os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

import cnn  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from torch_bench import build  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist/"
# writable (a bytearray): torch.from_numpy warns on a read-only array
x = np.frombuffer(bytearray(gzip.open(DATA + "train-images-idx3-ubyte.gz").read()), np.uint8, offset=16)
x = x.reshape(-1, 28, 28)
y = np.frombuffer(bytearray(gzip.open(DATA + "train-labels-idx1-ubyte.gz").read()), np.uint8, offset=8)


def cnn_fit(net):
    return cnn.Network.preset(net).fit(x, y, epochs=1, seed=1, threads=args.threads)[0]["images_per_second"]


def cnn_train(net):
    out = subprocess.run([args.tool, "train", "--net", net, "--epochs", "1", "--seed", "1", "--threads",
                          str(args.threads), "--quiet", "--out", "/tmp/bench_fit.cnn"],
                         capture_output=True, text=True, check=True).stdout
    return float([line for line in out.splitlines() if line.startswith("epoch 1/1")][0].split()[-2])


def torch_fit(net):
    """One epoch of torch_bench.py's loop on tensors that share the numpy arrays' memory."""
    torch.manual_seed(1)
    model = build(net)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    start = time.perf_counter()
    order = torch.randperm(len(ys))
    for b in range(0, len(ys), 50):
        idx = order[b:b + 50]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xs[idx].unsqueeze(1).float().div_(255.0)), ys[idx])
        loss.backward()
        opt.step()
    return len(ys) / (time.perf_counter() - start)


def cpu_model():
    with open("/proc/cpuinfo") as f:
        return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "unknown CPU")


torch.set_num_threads(args.threads)
sides = {"net.fit": cnn_fit, "cnn train": cnn_train, "PyTorch": torch_fit}
print(f"{cpu_model()}, {os.cpu_count()} cores; {args.threads} thread(s) each; torch {torch.__version__}, "
      f"cnn {cnn.__version__}; load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
medians = {}
for net in args.nets.split(","):
    runs = {side: [] for side in sides}
    for r in range(args.repeats):  # alternating, so a slow spell of the machine hits every side
        for side, fit in sides.items():
            runs[side].append(fit(net))
        print(f"{net} run {r + 1}: " + ", ".join(f"{side} {runs[side][-1]:,.0f}" for side in sides) + " img/s",
              flush=True)
    medians[net] = {side: statistics.median(v) for side, v in runs.items()}
    medians[net]["ratio"] = statistics.median(f / t for f, t in zip(runs["net.fit"], runs["PyTorch"]))
print(f"load average after: {os.getloadavg()[0]:.2f}")
print(f"\nmedians of {args.repeats} runs (the ratio: of the runs' ratios, which a slow spell hits on both sides)")
print(f"| net | {' | '.join(side + ' img/s' for side in sides)} | net.fit / PyTorch |")
print(f"|---|{'---|' * (len(sides) + 1)}")
for net, m in medians.items():
    print(f"| {net} | " + " | ".join(f"{m[side]:,.0f}" for side in sides) + f" | {m['ratio']:.2f}× |")
