#!/usr/bin/python3
"""PyTorch's side of bench/run.sh: the same nets, data, batch, optimizer and measurements as build-*/bench/cnn_bench.

  /usr/bin/python3 bench/torch_bench.py --net seed5 --threads 1 [--data DIR] [--train-limit N] [--start PREFIX]

Prints one line of key=value pairs in cnn_bench's format. --start PREFIX starts from cnn_bench --save-start's
initial weights and first-epoch order instead of PyTorch's own draw, so both sides train the same trajectory. Run with OPENBLAS_NUM_THREADS and OMP_NUM_THREADS set to
--threads as well (bench/run.sh does): without them PyTorch's "1 thread" still uses every core in places.
"""
import argparse
import gzip
import resource
import time

import numpy as np
import torch
import torch.nn as nn


def load_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def build(name):
    if name == "seed5":  # nets/seed5.json
        return nn.Sequential(
            nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 12, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(192, 10))
    if name == "lenet5":  # nets/lenet5.json
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    raise SystemExit(f"torch_bench: unknown net {name}")


def load_start(net, prefix):
    """cnn's flat parameters, layer by layer: conv weight [out, in, kh, kw] then bias, dense weight [in, out] then bias."""
    flat = np.fromfile(f"{prefix}.params.f32", dtype=np.float32)
    off = 0
    with torch.no_grad():
        for m in net:
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                w = m.weight
                n = w.numel()
                block = flat[off:off + n]
                block = block.reshape(w.shape) if isinstance(m, nn.Conv2d) else block.reshape(w.shape[1], w.shape[0]).T
                w.copy_(torch.from_numpy(np.ascontiguousarray(block)))
                off += n
                m.bias.copy_(torch.from_numpy(flat[off:off + m.bias.numel()]))
                off += m.bias.numel()
    if off != flat.size:
        raise SystemExit(f"torch_bench: {prefix}.params.f32 holds {flat.size} floats, the net has {off}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--net", default="seed5")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--infer-batch", type=int, default=50)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--train-limit", type=int, default=0)
    p.add_argument("--epochs", type=int, default=1, help="epochs to train (the timing covers all of them)")
    p.add_argument("--start", default="", help="PREFIX of cnn_bench --save-start's weights and first-epoch order")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr = torch.from_numpy(load_idx(f"{a.data}/train-images-idx3-ubyte.gz").copy())
    ytr = torch.from_numpy(load_idx(f"{a.data}/train-labels-idx1-ubyte.gz").astype(np.int64))
    xte = torch.from_numpy(load_idx(f"{a.data}/t10k-images-idx3-ubyte.gz").copy())
    yte = torch.from_numpy(load_idx(f"{a.data}/t10k-labels-idx1-ubyte.gz").astype(np.int64))
    if a.train_limit:
        xtr, ytr = xtr[:a.train_limit], ytr[:a.train_limit]

    net = build(a.net)
    first_order = None
    if a.start:
        load_start(net, a.start)
        first_order = torch.from_numpy(np.fromfile(f"{a.start}.order.u32", dtype=np.uint32).astype(np.int64))
        if len(first_order) != len(ytr):
            raise SystemExit(f"torch_bench: {a.start}.order.u32 holds {len(first_order)} indices, not {len(ytr)}")
    opt = torch.optim.SGD(net.parameters(), lr=a.lr)
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    t0 = time.perf_counter()
    for epoch in range(a.epochs):
        # a fresh shuffle every epoch (the first one cnn_bench's, with --start)
        order = first_order if first_order is not None and epoch == 0 else torch.randperm(len(ytr))
        loss_sum = 0.0
        for b in range(0, len(ytr), a.batch):
            idx = order[b:b + a.batch]
            x = xtr[idx].unsqueeze(1).float().div_(255.0)
            y = ytr[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(x), y)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
    train_s = time.perf_counter() - t0

    net.eval()
    best = float("inf")
    with torch.no_grad():
        for _ in range(3):
            t0 = time.perf_counter()
            correct = 0
            for b in range(0, len(yte), a.infer_batch):
                x = xte[b:b + a.infer_batch].unsqueeze(1).float().div_(255.0)
                correct += int((net(x).argmax(1) == yte[b:b + a.infer_batch]).sum())
            best = min(best, time.perf_counter() - t0)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"net={a.net} threads={torch.get_num_threads()} epochs={a.epochs} train_ips={a.epochs * len(ytr) / train_s:.0f} "
          f"infer_ips={len(yte) / best:.0f} accuracy={correct / len(yte):.4f} peak_rss_mb={rss_mb:.1f} "
          f"train_s={train_s:.3f} loss={loss_sum / len(ytr):.4f}")


if __name__ == "__main__":
    main()
