#!/usr/bin/python3
"""PyTorch's side of tests/test_parity.cpp: the same network, the same initial weights, the same batches of real
images, plain SGD; writes the loss of every step, the gradients of every step and the final weights back.

Usage: /usr/bin/python3 torch_steps.py DIR

DIR/manifest.json (written by the C++ test):
  {"input": [c, h, w], "steps": S, "batch": B, "lr": lr, "param_count": P,
   "layers": [{"type": "conv2d", "filters", "kernel": [kh, kw], "stride", "pads": [top, left, bottom, right]},
              {"type": "relu"}, {"type": "maxpool2d", "kernel", "stride"}, {"type": "dense", "units", "inputs"}, ...],
   "params": [{"layer": i, "name": "weight", "shape": [...], "offset": o, "size": n}, ...]}   (cnn's flat layout)
DIR/params.f32 (P float32, cnn's layout: conv weight [out, in, kh, kw], dense weight [in, out]),
DIR/images.f32 (S·B·c·h·w float32), DIR/labels.i32 (S·B int32).
Writes DIR/torch_losses.f64 (S float64), DIR/torch_grads.f32 (S·P float32, cnn's layout), DIR/torch_params.f32.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


class Pad(torch.nn.Module):
    def __init__(self, top, left, bottom, right):
        super().__init__()
        self.pad = (left, right, top, bottom)

    def forward(self, x):
        return F.pad(x, self.pad)


def build(manifest):
    mods, owners = [], {}  # owners[layer index] = the torch module holding its parameters
    for i, l in enumerate(manifest["layers"]):
        t = l["type"]
        if t == "conv2d":
            top, left, bottom, right = l["pads"]
            if any(l["pads"]):
                mods.append(Pad(top, left, bottom, right))
            m = torch.nn.Conv2d(l["in_channels"], l["filters"], tuple(l["kernel"]), stride=l["stride"], padding=0)
            mods.append(m)
            owners[i] = m
        elif t == "maxpool2d":
            mods.append(torch.nn.MaxPool2d(l["kernel"], l["stride"]))
        elif t == "avgpool2d":
            mods.append(torch.nn.AvgPool2d(l["kernel"], l["stride"]))
        elif t == "l2pool2d":
            mods.append(torch.nn.LPPool2d(2, l["kernel"], l["stride"]))
        elif t == "dense":
            mods.append(torch.nn.Flatten())
            m = torch.nn.Linear(l["inputs"], l["units"])
            mods.append(m)
            owners[i] = m
        elif t == "relu":
            mods.append(torch.nn.ReLU())
        elif t == "leaky_relu":
            mods.append(torch.nn.LeakyReLU(l.get("alpha", 0.1)))
        elif t == "sigmoid":
            mods.append(torch.nn.Sigmoid())
        elif t == "tanh":
            mods.append(torch.nn.Tanh())
        elif t == "flatten":
            mods.append(torch.nn.Flatten())
        else:
            raise SystemExit("torch_steps.py: layer %d: type %s is not handled" % (i, t))
    return torch.nn.Sequential(*mods), owners


def torch_param(owners, p):
    m = owners[p["layer"]]
    return m.weight if p["name"] == "weight" else m.bias


def main():
    d = sys.argv[1]
    with open(os.path.join(d, "manifest.json")) as f:
        man = json.load(f)
    c, h, w = man["input"]
    S, B, P = man["steps"], man["batch"], man["param_count"]
    flat = np.fromfile(os.path.join(d, "params.f32"), dtype=np.float32)
    images = np.fromfile(os.path.join(d, "images.f32"), dtype=np.float32).reshape(S, B, c, h, w)
    labels = np.fromfile(os.path.join(d, "labels.i32"), dtype=np.int32).reshape(S, B).astype(np.int64)
    assert flat.size == P

    net, owners = build(man)
    with torch.no_grad():
        for p in man["params"]:
            v = flat[p["offset"]:p["offset"] + p["size"]].reshape(p["shape"])
            if man["layers"][p["layer"]]["type"] == "dense" and p["name"] == "weight":
                v = v.T  # cnn stores W [inputs, outputs]; torch.nn.Linear holds [outputs, inputs]
            torch_param(owners, p).copy_(torch.from_numpy(np.ascontiguousarray(v)))

    opt = torch.optim.SGD(net.parameters(), lr=man["lr"])
    loss_fn = torch.nn.CrossEntropyLoss()  # the batch mean, as cnn's SoftmaxCrossEntropy
    losses = np.zeros(S, dtype=np.float64)
    grads = np.zeros((S, P), dtype=np.float32)
    before = np.zeros((S, P), dtype=np.float32)  # the parameters each step starts from

    def gather(values):
        out = np.zeros(P, dtype=np.float32)
        for p in man["params"]:
            v = values(torch_param(owners, p)).detach().numpy()
            if man["layers"][p["layer"]]["type"] == "dense" and p["name"] == "weight":
                v = v.T
            out[p["offset"]:p["offset"] + p["size"]] = v.reshape(-1)
        return out

    for s in range(S):
        before[s] = gather(lambda t: t)
        opt.zero_grad()
        loss = loss_fn(net(torch.from_numpy(images[s])), torch.from_numpy(labels[s]))
        loss.backward()
        losses[s] = loss.item()
        grads[s] = gather(lambda t: t.grad)
        opt.step()

    losses.tofile(os.path.join(d, "torch_losses.f64"))
    grads.tofile(os.path.join(d, "torch_grads.f32"))
    before.tofile(os.path.join(d, "torch_params_before.f32"))
    gather(lambda t: t).tofile(os.path.join(d, "torch_params.f32"))


if __name__ == "__main__":
    main()
