#!/usr/bin/python3
"""PyTorch's side of tests/test_optimizer_parity.cpp: torch.optim and torch.optim.lr_scheduler given the same
parameters and the same gradients as cnn's Optimizer, step after step; and torch.nn's losses on the same logits.

Usage: /usr/bin/python3 torch_optim.py DIR

DIR/manifest.json:
  {"params": P, "cases": [{"name", "steps": T, "batches": batches per epoch,
      "optimizer": {"kind": "sgd" | "adam", "lr", "momentum", "nesterov", "weight_decay", "beta1", "beta2", "eps"},
      "schedule": {"kind": "constant" | "step" | "exponential" | "cosine" | "onecycle", "gamma", "epochs" (step:
                   epochs per step; cosine, onecycle: the epochs the curve spans), "pct", "warmup" (epochs)},
      "groups": [{"offset", "size", "lr"}]}, ...],   (one group per layer with parameters, with its own base rate)
   "losses": [{"name", "kind": "softmax_cross_entropy" | "squared_error", "smoothing", "n", "k"}, ...]}
DIR/params.f32 (P float32: the parameters every case starts from), DIR/grads_<case>.f32 (T·P float32: the
gradient of each step), DIR/logits_<loss>.f32 (n·k float32), DIR/labels_<loss>.i32 (n int32).
Writes DIR/torch_params_<case>.f32 (T·P: the parameters after each step), DIR/torch_lr_<case>.f64 (T: the base
rate each step used), DIR/torch_loss_<loss>.f64 (1) and DIR/torch_dlogits_<loss>.f32 (n·k).
"""
import json
import math
import os
import sys

import numpy as np
import torch

torch.set_num_threads(1)


def scheduler(opt, s, case):
    """The torch scheduler of schedule s (None: constant) and whether it steps per batch."""
    kind, batches = s["kind"], case["batches"]
    if kind == "constant":
        return None, False
    if kind == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=s["epochs"], gamma=s["gamma"]), False
    if kind == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(opt, gamma=s["gamma"]), False
    if kind == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=s["epochs"]), False
    if kind == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=[g["lr"] for g in opt.param_groups], total_steps=s["epochs"] * batches,
            pct_start=s["pct"], anneal_strategy="cos", div_factor=25.0, final_div_factor=1e4,
            cycle_momentum=False), True
    raise SystemExit("torch_optim.py: schedule %s is not handled" % kind)


def run_case(d, flat, case):
    T, P = case["steps"], flat.size
    o = case["optimizer"]
    grads = np.fromfile(os.path.join(d, "grads_%s.f32" % case["name"]), dtype=np.float32).reshape(T, P)
    tensors = [torch.nn.Parameter(torch.from_numpy(flat[g["offset"]:g["offset"] + g["size"]].copy()))
               for g in case["groups"]]
    groups = [{"params": [t], "lr": g["lr"]} for t, g in zip(tensors, case["groups"])]
    if o["kind"] == "sgd":
        opt = torch.optim.SGD(groups, lr=o["lr"], momentum=o["momentum"], nesterov=o["nesterov"],
                              weight_decay=o["weight_decay"])
    else:
        opt = torch.optim.Adam(groups, lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"],
                               weight_decay=o["weight_decay"])
    # The schedule moves a twin optimizer's rates; the real one gets them times the linear warm-up (cnn's own
    # addition, optimizer.h: the factor × (t + 1)/(W·batches) for the first W epochs' steps t).
    twin = torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": g["lr"]} for g in case["groups"]],
                           lr=o["lr"])
    sched, per_batch = scheduler(twin, case["schedule"], case)
    warm_steps = case["schedule"].get("warmup", 0.0) * case["batches"]
    after = np.zeros((T, P), dtype=np.float32)
    lrs = np.zeros(T, dtype=np.float64)
    for t in range(T):
        warm = (t + 1.0) / warm_steps if warm_steps > 0 and t < warm_steps else 1.0
        for g, tg in zip(opt.param_groups, twin.param_groups):
            g["lr"] = tg["lr"] * warm
        lrs[t] = opt.param_groups[0]["lr"]
        for tensor, g in zip(tensors, case["groups"]):
            tensor.grad = torch.from_numpy(grads[t, g["offset"]:g["offset"] + g["size"]].copy())
        opt.step()
        for tensor, g in zip(tensors, case["groups"]):
            after[t, g["offset"]:g["offset"] + g["size"]] = tensor.detach().numpy()
        if sched is not None and (per_batch or (t + 1) % case["batches"] == 0):
            sched.step()
    after.tofile(os.path.join(d, "torch_params_%s.f32" % case["name"]))
    lrs.tofile(os.path.join(d, "torch_lr_%s.f64" % case["name"]))


def run_loss(d, l):
    n, k = l["n"], l["k"]
    z = torch.from_numpy(np.fromfile(os.path.join(d, "logits_%s.f32" % l["name"]), dtype=np.float32).reshape(n, k))
    y = torch.from_numpy(np.fromfile(os.path.join(d, "labels_%s.i32" % l["name"]), dtype=np.int32).astype(np.int64))
    z = z.double().requires_grad_(True)
    if l["kind"] == "softmax_cross_entropy":
        loss = torch.nn.CrossEntropyLoss(label_smoothing=l["smoothing"])(z, y)
    else:  # cnn's ½Σ(y − onehot)² over the batch mean
        loss = 0.5 * torch.nn.MSELoss(reduction="sum")(z, torch.nn.functional.one_hot(y, k).double()) / n
    loss.backward()
    np.array([loss.item()], dtype=np.float64).tofile(os.path.join(d, "torch_loss_%s.f64" % l["name"]))
    z.grad.float().numpy().tofile(os.path.join(d, "torch_dlogits_%s.f32" % l["name"]))


def main():
    d = sys.argv[1]
    with open(os.path.join(d, "manifest.json")) as f:
        man = json.load(f)
    flat = np.fromfile(os.path.join(d, "params.f32"), dtype=np.float32)
    assert flat.size == man["params"]
    for case in man["cases"]:
        run_case(d, flat, case)
    for l in man.get("losses", []):
        run_loss(d, l)


if __name__ == "__main__":
    main()
