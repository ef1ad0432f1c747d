#!/usr/bin/python3
"""PyTorch's side of tests/test_parity.cpp: the same network (a graph of layers), the same initial weights and
buffers, the same batches of real images, plain SGD; writes the loss, the logits and the gradients of every step,
the parameters and buffers every step starts from, and the final ones, back.

Usage: /usr/bin/python3 torch_steps.py DIR

DIR/manifest.json (written by the C++ test):
  {"input": [c, h, w], "steps": S, "batch": B, "lr": lr, "eval_lr": lr of the eval-mode steps,
   "param_count": P, "buffer_count": R, "outputs": K, "float64_reference": true | false (absent: false),
   "modes": ["train" | "eval", ...]   (one per step; absent: every step trains),
   "layers": [{"type": "conv2d", "inputs": [-1], "filters", "in_channels", "kernel": [kh, kw], "stride",
               "pads": [top, left, bottom, right], "bias": true | false},
              {"type": "batchnorm2d", "inputs": [0], "channels", "momentum", "eps"}, {"type": "normalize", "channels"},
              {"type": "relu", "inputs": [1]}, {"type": "maxpool2d", "kernel", "stride"}, {"type": "add"},
              {"type": "concat"}, {"type": "global_avgpool2d"}, {"type": "dense", "units", "in_features"}, ...],
   "params": [{"layer": i, "name": "weight" | "bias" | "gamma" | "beta", "shape": [...], "offset": o, "size": n}],
   "buffers": [{"layer": i, "name": "running_mean" | "running_var" | "mean" | "std", "offset": o, "size": n}]}
  (cnn's flat layouts)
  A layer's "inputs" are the indices of the layers it reads, -1 for the network's input; absent: the layer before.
  The last layer is the output.
DIR/params.f32 (P float32, cnn's layout: conv weight [out, in, kh, kw], dense weight [in, out], batchnorm
[gamma(C), beta(C)]), DIR/buffers.f32 (R float32: [running mean(C), running var(C)] per batchnorm layer),
DIR/images.f32 (S·B·c·h·w float32), DIR/labels.i32 (S·B int32).
"loss": "softmax_cross_entropy" (absent) or "squared_error" (cnn's ½Σ(y − onehot)², the batch mean).
A {"type": "subsampling", "kernel", "stride", "channels"} layer has the parameters "beta" and "bias" (C each):
β_c·(the k×k block sums) + b_c. A {"type": "dropout", "mask_offset", "mask_size"} layer multiplies, in a training
step, by cnn's own mask of that step (the same draws on both sides): DIR/dropout_masks.f32 holds S steps of
"mask_floats" floats, each dropout layer's B·features values 0 or 1/(1 − p) at its mask_offset.
Writes DIR/torch_losses.f64 (S float64), DIR/torch_logits.f32 (S·B·K), DIR/torch_grads.f32 (S·P, cnn's layout),
DIR/torch_grads64.f32 (with float64_reference: S·P, every step's gradient computed in float64 from the float32
run's parameters and buffers of that step, rounded to float32; else empty), DIR/torch_params64.f32 and
DIR/torch_buffers64.f32 (with float64_reference: P and R, the final state of a whole run in float64 from the same
start, rounded to float32; else empty),
DIR/torch_params_before.f32 (S·P), DIR/torch_params.f32 (P), DIR/torch_buffers_before.f32 (S·R),
DIR/torch_buffers.f32 (R), and DIR/torch_relu.u8: for every step and every ReLU layer in order, the bits x > 0
of its input (where it lets the gradient through) in NCHW order, packed 8 to a byte, first element in the high bit
(numpy.packbits), each ReLU's bits starting on a new byte.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

# cnn's parameter names → the attribute of the torch module that holds them
TORCH_NAME = {"weight": "weight", "bias": "bias", "gamma": "weight", "beta": "bias",
              "running_mean": "running_mean", "running_var": "running_var", "mean": "mean", "std": "std"}


class Pad(torch.nn.Module):
    def __init__(self, top, left, bottom, right):
        super().__init__()
        self.pad = (left, right, top, bottom)

    def forward(self, x):
        return F.pad(x, self.pad)


class Normalize(torch.nn.Module):
    """(x - mean_c) / std_c: torchvision's transforms.Normalize, as a module whose statistics are buffers."""

    def __init__(self, channels):
        super().__init__()
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))

    def forward(self, x):
        return (x - self.mean[None, :, None, None]) / self.std[None, :, None, None]


class Subsampling(torch.nn.Module):
    """LeNet-5's S layers: per map a trainable coefficient on the k×k block sums and a trainable bias."""

    def __init__(self, channels, kernel, stride):
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.coef = torch.nn.Parameter(torch.ones(channels))
        self.shift = torch.nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        sums = F.avg_pool2d(x, self.kernel, self.stride) * (self.kernel * self.kernel)
        return self.coef[None, :, None, None] * sums + self.shift[None, :, None, None]


class SharedMaskDropout(torch.nn.Module):
    """Dropout whose mask is given (cnn's, of the current step); the identity in eval mode."""

    def __init__(self):
        super().__init__()
        self.mask = None

    def forward(self, x):
        return x * self.mask.reshape(x.shape) if self.training else x


class GlobalAvgPool(torch.nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3), keepdim=True)


class Add(torch.nn.Module):
    def forward(self, *xs):
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        return y


class Concat(torch.nn.Module):
    def forward(self, *xs):
        return torch.cat(xs, dim=1)


class Graph(torch.nn.Module):
    """Evaluates the layers in the manifest's order; layer i reads the values of its "inputs"."""

    def __init__(self, mods, inputs):
        super().__init__()
        self.mods = torch.nn.ModuleList(mods)
        self.inputs = inputs
        self.relu_decisions = []  # of the last forward pass: per ReLU, where its input let the gradient through

    def forward(self, x):
        values = {-1: x}
        self.relu_decisions = []
        for i, (m, ins) in enumerate(zip(self.mods, self.inputs)):
            args = [values[j] for j in ins]
            if isinstance(m, torch.nn.ReLU):
                self.relu_decisions.append(np.packbits(args[0].detach().numpy().reshape(-1) > 0))
            values[i] = m(*args)
        return values[len(self.mods) - 1]


def layer_module(i, l):
    """The torch module of layer i, and the module that holds its parameters and buffers (or None)."""
    t = l["type"]
    if t == "conv2d":
        top, left, bottom, right = l["pads"]
        bias = l.get("bias", True)
        if top == bottom and left == right:
            m = torch.nn.Conv2d(l["in_channels"], l["filters"], tuple(l["kernel"]), stride=l["stride"],
                                padding=(top, left), bias=bias)
            return m, m
        m = torch.nn.Conv2d(l["in_channels"], l["filters"], tuple(l["kernel"]), stride=l["stride"], padding=0,
                            bias=bias)
        return torch.nn.Sequential(Pad(top, left, bottom, right), m), m
    if t == "batchnorm2d":
        m = torch.nn.BatchNorm2d(l["channels"], eps=l["eps"], momentum=l["momentum"])
        return m, m
    if t == "normalize":
        m = Normalize(l["channels"])
        return m, m
    if t == "subsampling":
        m = Subsampling(l["channels"], l["kernel"], l["stride"])
        return m, m
    if t == "dropout":
        return SharedMaskDropout(), None
    if t == "dense":
        m = torch.nn.Linear(l["in_features"], l["units"])
        return torch.nn.Sequential(torch.nn.Flatten(), m), m
    simple = {
        "maxpool2d": lambda: torch.nn.MaxPool2d(l["kernel"], l["stride"]),
        "avgpool2d": lambda: torch.nn.AvgPool2d(l["kernel"], l["stride"]),
        "l2pool2d": lambda: torch.nn.LPPool2d(2, l["kernel"], l["stride"]),
        "global_avgpool2d": GlobalAvgPool,
        "add": Add,
        "concat": Concat,
        "relu": torch.nn.ReLU,
        "leaky_relu": lambda: torch.nn.LeakyReLU(l.get("alpha", 0.1)),
        "sigmoid": torch.nn.Sigmoid,
        "tanh": torch.nn.Tanh,
        "flatten": torch.nn.Flatten,
    }
    if t not in simple:
        raise SystemExit("torch_steps.py: layer %d: type %s is not handled" % (i, t))
    return simple[t](), None


def build(manifest):
    mods, inputs, owners = [], [], {}  # owners[layer index] = the torch module holding its parameters
    for i, l in enumerate(manifest["layers"]):
        m, owner = layer_module(i, l)
        mods.append(m)
        inputs.append(l.get("inputs", [i - 1]))
        if owner is not None:
            owners[i] = owner
    return Graph(mods, inputs), owners


def tensor_of(owners, entry):
    owner = owners[entry["layer"]]
    if isinstance(owner, Subsampling):
        return owner.coef if entry["name"] == "beta" else owner.shift
    return getattr(owner, TORCH_NAME[entry["name"]])


def transposed(man, entry):
    # cnn stores a dense W as [inputs, outputs]; torch.nn.Linear holds [outputs, inputs]
    return man["layers"][entry["layer"]]["type"] == "dense" and entry["name"] == "weight"


def gather(man, owners, layout, size, values):
    """The tensors of `layout` (values(torch tensor) of each) in cnn's flat layout, as float32."""
    out = np.zeros(size, dtype=np.float32)
    for e in layout:
        v = values(tensor_of(owners, e)).detach().numpy()
        if transposed(man, e):
            v = v.T
        out[e["offset"]:e["offset"] + e["size"]] = v.reshape(-1)
    return out


def main():
    d = sys.argv[1]
    with open(os.path.join(d, "manifest.json")) as f:
        man = json.load(f)
    c, h, w = man["input"]
    S, B, P, K = man["steps"], man["batch"], man["param_count"], man["outputs"]
    R = man.get("buffer_count", 0)
    modes = man.get("modes", ["train"] * S)
    assert len(modes) == S
    flat = np.fromfile(os.path.join(d, "params.f32"), dtype=np.float32)
    flat_buffers = np.fromfile(os.path.join(d, "buffers.f32"), dtype=np.float32) if R else np.zeros(0, np.float32)
    images = np.fromfile(os.path.join(d, "images.f32"), dtype=np.float32).reshape(S, B, c, h, w)
    labels = np.fromfile(os.path.join(d, "labels.i32"), dtype=np.int32).reshape(S, B).astype(np.int64)
    assert flat.size == P and flat_buffers.size == R
    params, buffers = man["params"], man.get("buffers", [])

    net, owners = build(man)
    with torch.no_grad():
        for layout, src in ((params, flat), (buffers, flat_buffers)):
            for e in layout:
                v = src[e["offset"]:e["offset"] + e["size"]].reshape(e.get("shape", [e["size"]]))
                if transposed(man, e):
                    v = v.T
                tensor_of(owners, e).copy_(torch.from_numpy(np.ascontiguousarray(v)))
    # the same steps in float64, each from the float32 run's state of that step: the gradient without rounding;
    # and a whole float64 run of its own from the same start (run64), the trajectory without rounding
    exact = man.get("float64_reference", False)
    if exact:
        net64, owners64 = build(man)
        net64.double()
        run64, run64_owners = build(man)
        run64.double()
        run64.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in net.state_dict().items()})
        run64_opt = torch.optim.SGD(run64.parameters(), lr=man["lr"])

    opt = torch.optim.SGD(net.parameters(), lr=man["lr"])
    if man.get("loss", "softmax_cross_entropy") == "squared_error":
        def loss_fn(out, y):  # cnn's SquaredError: ½Σ(out − onehot)² over the batch mean
            t = F.one_hot(y, out.shape[1]).to(out.dtype)
            return 0.5 * ((out.reshape(t.shape) - t) ** 2).sum() / out.shape[0]
    else:
        loss_fn = torch.nn.CrossEntropyLoss()  # the batch mean, as cnn's SoftmaxCrossEntropy
    mask_floats = man.get("mask_floats", 0)
    masks = (np.fromfile(os.path.join(d, "dropout_masks.f32"), dtype=np.float32).reshape(S, mask_floats)
             if mask_floats else None)
    losses = np.zeros(S, dtype=np.float64)
    logits = np.zeros((S, B, K), dtype=np.float32)
    grads = np.zeros((S, P), dtype=np.float32)
    grads64 = np.zeros((S, P) if exact else (0, P), dtype=np.float32)
    before = np.zeros((S, P), dtype=np.float32)  # the parameters each step starts from
    buffers_before = np.zeros((S, R), dtype=np.float32)
    decisions = []

    for s in range(S):
        net.train(modes[s] == "train")
        for group in opt.param_groups:
            group["lr"] = man["lr"] if modes[s] == "train" else man.get("eval_lr", man["lr"])
        for i, l in enumerate(man["layers"]):
            if l["type"] == "dropout":
                m = torch.from_numpy(masks[s, l["mask_offset"]:l["mask_offset"] + l["mask_size"]].copy())
                net.mods[i].mask = m
                if exact:
                    net64.mods[i].mask = m.double()
                    run64.mods[i].mask = m.double()
        before[s] = gather(man, owners, params, P, lambda t: t)
        buffers_before[s] = gather(man, owners, buffers, R, lambda t: t)
        if exact:
            net64.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in net.state_dict().items()})
            net64.train(modes[s] == "train")
            net64.zero_grad()
            loss_fn(net64(torch.from_numpy(images[s]).double()), torch.from_numpy(labels[s])).backward()
            grads64[s] = gather(man, owners64, params, P, lambda t: t.grad)
            run64.train(modes[s] == "train")
            for group in run64_opt.param_groups:
                group["lr"] = man["lr"] if modes[s] == "train" else man.get("eval_lr", man["lr"])
            run64_opt.zero_grad()
            loss_fn(run64(torch.from_numpy(images[s]).double()), torch.from_numpy(labels[s])).backward()
            run64_opt.step()
        opt.zero_grad()
        out = net(torch.from_numpy(images[s]))
        loss = loss_fn(out, torch.from_numpy(labels[s]))
        loss.backward()
        losses[s] = loss.item()
        logits[s] = out.detach().numpy().reshape(B, K)
        grads[s] = gather(man, owners, params, P, lambda t: t.grad)
        decisions.extend(net.relu_decisions)
        opt.step()

    losses.tofile(os.path.join(d, "torch_losses.f64"))
    logits.tofile(os.path.join(d, "torch_logits.f32"))
    grads.tofile(os.path.join(d, "torch_grads.f32"))
    grads64.tofile(os.path.join(d, "torch_grads64.f32"))
    before.tofile(os.path.join(d, "torch_params_before.f32"))
    gather(man, owners, params, P, lambda t: t).tofile(os.path.join(d, "torch_params.f32"))
    buffers_before.tofile(os.path.join(d, "torch_buffers_before.f32"))
    gather(man, owners, buffers, R, lambda t: t).tofile(os.path.join(d, "torch_buffers.f32"))
    np.concatenate(decisions or [np.zeros(0, np.uint8)]).tofile(os.path.join(d, "torch_relu.u8"))
    if exact:
        run64_params = gather(man, run64_owners, params, P, lambda t: t)
        run64_buffers = gather(man, run64_owners, buffers, R, lambda t: t)
    else:
        run64_params, run64_buffers = np.zeros(0, np.float32), np.zeros(0, np.float32)
    run64_params.tofile(os.path.join(d, "torch_params64.f32"))
    run64_buffers.tofile(os.path.join(d, "torch_buffers64.f32"))


if __name__ == "__main__":
    main()
