#!/usr/bin/python3
"""PyTorch's side of bench/cifar.sh: a colour preset (nets/<name>.json) trained on CIFAR-10 with the preset's own
recipe, the way `cnn train --net <name> --data DIR` trains it, for a side-by-side accuracy figure.

  /usr/bin/python3 bench/cifar_torch.py --net nets/resnet8.json --data DIR [--seed 1] [--threads 2] [--epochs E]

The same of everything that the recipe and the description fix: the layers (built from the description file:
conv2d, batchnorm2d, relu, maxpool2d, dropout, dense, add, global_avgpool2d, normalize), PyTorch's default
initialisation (the rule cnn also draws from, U(±1/√fan_in)), the input standardised by the training set's
per-channel mean and standard deviation, SGD with the recipe's momentum, Nesterov and weight decay (on every
parameter, as cnn), the schedule (one-cycle: OneCycleLR with cycle_momentum=False, stepped per batch; cos:
CosineAnnealingLR stepped per epoch), batch size, mirror and pad-and-crop augmentation, the epochs. What differs is
what no two frameworks share: the random draws (initial weights, shuffling, augmentation, dropout), so figures are
compared as means over seeds. Prints one JSON line per epoch: {"epoch", "test_accuracy", "train_loss", "seconds"}.
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F


def load_cifar(folder):
    d = folder
    if os.path.isdir(os.path.join(d, "cifar-10-batches-bin")):
        d = os.path.join(d, "cifar-10-batches-bin")

    def read(name):
        raw = np.fromfile(os.path.join(d, name), dtype=np.uint8).reshape(-1, 3073)
        return raw[:, 1:].reshape(-1, 3, 32, 32), raw[:, 0].astype(np.int64)

    parts = [read(f"data_batch_{i}.bin") for i in range(1, 6)]
    xtr = np.concatenate([p[0] for p in parts])
    ytr = np.concatenate([p[1] for p in parts])
    xte, yte = read("test_batch.bin")
    return xtr, ytr, xte, yte


class Normalize(torch.nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


class Add(torch.nn.Module):
    def forward(self, *xs):
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        return y


class Graph(torch.nn.Module):
    def __init__(self, mods, inputs):
        super().__init__()
        self.mods = torch.nn.ModuleList(mods)
        self.inputs = inputs

    def forward(self, x):
        values = {"input": x}
        last = "input"
        for m, (name, ins) in zip(self.mods, self.inputs):
            values[name] = m(*[values[i] for i in ins])
            last = name
        return values[last]


def build(desc, mean, std):
    """The description's layers as torch modules; shapes are inferred by running a dummy batch through."""
    c, h, w = desc["input"]
    mods, inputs, shapes = [], [], {"input": (c, h, w)}
    prev = "input"
    for i, l in enumerate(desc["layers"]):
        t = l["type"]
        name = l.get("name", f"#{i}")
        ins = l.get("inputs", [prev])
        ic = shapes[ins[0]][0]
        if t == "conv2d":
            k = l["kernel"]
            pad = l.get("padding", 0)
            m = torch.nn.Conv2d(ic, l["filters"], k, stride=l.get("stride", 1), padding=pad, bias=l.get("bias", True))
        elif t == "batchnorm2d":
            m = torch.nn.BatchNorm2d(ic, eps=l.get("eps", 1e-5), momentum=l.get("momentum", 0.1))
        elif t == "relu":
            m = torch.nn.ReLU()
        elif t == "maxpool2d":
            m = torch.nn.MaxPool2d(l["kernel"], l.get("stride", l["kernel"]))
        elif t == "dropout":
            m = torch.nn.Dropout(l["rate"])
        elif t == "dense":
            feat = int(np.prod(shapes[ins[0]]))
            m = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(feat, l["units"]))
        elif t == "add":
            m = Add()
        elif t == "global_avgpool2d":
            m = torch.nn.AdaptiveAvgPool2d(1)
        elif t == "normalize":
            m = Normalize(mean, std)
        else:
            raise SystemExit(f"cifar_torch.py: layer {i}: type {t} is not handled")
        with torch.no_grad():
            out = m.eval()(*[torch.zeros((1,) + shapes[j]) for j in ins])
        shapes[name] = tuple(out.shape[1:])
        mods.append(m)
        inputs.append((name, ins))
        prev = name
    return Graph(mods, inputs)


def augment(x, gen, flip, shift):
    n = x.shape[0]
    if flip:
        m = torch.rand(n, generator=gen) < 0.5
        x[m] = x[m].flip(3)
    if shift:
        padded = F.pad(x, (shift, shift, shift, shift))
        dx = torch.randint(0, 2 * shift + 1, (n,), generator=gen)
        dy = torch.randint(0, 2 * shift + 1, (n,), generator=gen)
        out = torch.empty_like(x)
        for i in range(n):
            out[i] = padded[i, :, dy[i]:dy[i] + x.shape[2], dx[i]:dx[i] + x.shape[3]]
        x = out
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=0, help="0: the recipe's")
    ap.add_argument("--train-limit", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed + 1000)
    with open(a.net) as f:
        desc = json.load(f)
    r = desc["recipe"]
    epochs = a.epochs or r["epochs"]
    xtr, ytr, xte, yte = load_cifar(a.data)
    if a.train_limit:
        xtr, ytr = xtr[:a.train_limit], ytr[:a.train_limit]
    xtr_f = xtr.astype(np.float32) / 255.0
    mean = xtr_f.mean(axis=(0, 2, 3)).tolist()
    std = xtr_f.std(axis=(0, 2, 3)).tolist()
    xtr_t, ytr_t = torch.from_numpy(xtr_f), torch.from_numpy(ytr)
    xte_t, yte_t = torch.from_numpy(xte.astype(np.float32) / 255.0), torch.from_numpy(yte)
    net = build(desc, mean, std)

    opt = torch.optim.SGD(net.parameters(), lr=r["lr"], momentum=r.get("momentum", 0.0),
                          nesterov=r.get("nesterov", False), weight_decay=r.get("weight_decay", 0.0))
    B = r["batch"]
    batches = math.ceil(len(ytr) / B)
    sched_text = r.get("schedule", "none")
    per_batch = None
    per_epoch = None
    if sched_text == "onecycle":
        per_batch = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=r["lr"], total_steps=epochs * batches,
                                                        pct_start=0.3, cycle_momentum=False)
    elif sched_text == "cos":
        per_epoch = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    elif sched_text != "none":
        raise SystemExit(f"cifar_torch.py: schedule {sched_text} is not handled")
    aug = r.get("augment", "none")
    flip = "flip" in aug
    shift = 0
    for item in aug.split(","):
        if item.startswith("crop:") or item.startswith("shift:"):
            shift = int(item.split(":")[1])
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=r.get("label_smoothing", 0.0))

    for epoch in range(epochs):
        t0 = time.time()
        net.train()
        order = torch.randperm(len(ytr), generator=gen)
        loss_sum = 0.0
        for b in range(batches):
            idx = order[b * B:(b + 1) * B]
            x = augment(xtr_t[idx].clone(), gen, flip, shift)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(x), ytr_t[idx])
            loss.backward()
            opt.step()
            if per_batch:
                per_batch.step()
            loss_sum += loss.item() * len(idx)
        if per_epoch:
            per_epoch.step()
        secs = time.time() - t0
        net.eval()
        correct = 0
        with torch.no_grad():
            for s in range(0, len(yte), 500):
                correct += (net(xte_t[s:s + 500]).argmax(1) == yte_t[s:s + 500]).sum().item()
        print(json.dumps({"epoch": epoch + 1, "test_accuracy": correct / len(yte), "train_loss": loss_sum / len(ytr),
                          "seconds": secs}), flush=True)


if __name__ == "__main__":
    main()
