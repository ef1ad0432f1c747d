#!/usr/bin/env python3
"""Writes nets/resnet8.json and nets/resnet20.json: He et al. 2015's CIFAR-10 ResNet-(6n+2), section 4.2.

A 3x3 convolution of 16 maps, then three stages of n basic blocks with 16, 32 and 64 maps (the first block of stages
2 and 3 has stride 2 and a 1x1 projection shortcut, the paper's option B, since the shape changes), batch
normalisation after every convolution (whose bias it makes redundant), global average pooling and a dense layer of
10. n = 1 gives ResNet-8, n = 3 ResNet-20. Run again after changing it: python3 scripts/resnet_preset.py
"""
import json
import pathlib


# The recipes `cnn train` uses for them unless flags say otherwise: SGD with Nesterov momentum 0.9, weight decay
# 5e-4, batch 128, the standard CIFAR augmentation (mirror, pad 4 and crop); ResNet-8 is the short run compared with
# PyTorch (10 epochs of one-cycle), ResNet-20 the long one aimed at the paper's accuracy (a cosine over 40 epochs).
COMMON = {"batch": 128, "optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4,
          "augment": "flip,crop:4"}
RECIPES = {1: {"epochs": 10, **COMMON, "schedule": "onecycle"}, 3: {"epochs": 40, **COMMON, "schedule": "cos"}}


def resnet(n):
    layers = []

    def conv(name, filters, kernel, stride, inputs=None):
        layer = {"type": "conv2d", "name": name, "filters": filters, "kernel": kernel, "stride": stride,
                 "padding": kernel // 2, "bias": False}
        if inputs:
            layer["inputs"] = inputs
        layers.append(layer)
        layers.append({"type": "batchnorm2d", "name": name + "_bn"})

    layers.append({"type": "normalize", "name": "input_norm"})
    conv("stem", 16, 3, 1)
    layers.append({"type": "relu", "name": "stem_relu"})
    last = "stem_relu"
    for stage, filters in enumerate((16, 32, 64), start=1):
        for block in range(1, n + 1):
            b = f"s{stage}b{block}"
            stride = 2 if stage > 1 and block == 1 else 1
            conv(b + "_conv1", filters, 3, stride, [last])
            layers.append({"type": "relu"})
            conv(b + "_conv2", filters, 3, 1)
            shortcut = last
            if stride != 1:
                conv(b + "_proj", filters, 1, stride, [last])
                shortcut = b + "_proj_bn"
            layers.append({"type": "add", "name": b + "_add", "inputs": [b + "_conv2_bn", shortcut]})
            layers.append({"type": "relu", "name": b + "_relu"})
            last = b + "_relu"
    layers.append({"type": "global_avgpool2d"})
    layers.append({"type": "dense", "units": 10})
    return {
        "name": f"resnet{6 * n + 2}",
        "comment": f"He et al. 2015, CIFAR-10 ResNet-{6 * n + 2} (n = {n}): written by scripts/resnet_preset.py",
        "input": [3, 32, 32],
        "layers": layers,
        "loss": "softmax_cross_entropy",
        "recipe": RECIPES[n],
    }


def write(path, net):
    lines = [json.dumps(layer) for layer in net["layers"]]
    head = {k: v for k, v in net.items() if k not in ("layers", "loss", "recipe")}
    text = "{\n" + "".join(f'  "{k}": {json.dumps(v)},\n' for k, v in head.items())
    text += '  "layers": [\n    ' + ",\n    ".join(lines) + "\n  ],\n"
    text += f'  "loss": {json.dumps(net["loss"])},\n'
    text += f'  "recipe": {json.dumps(net["recipe"])}\n}}\n'
    path.write_text(text)


if __name__ == "__main__":
    nets = pathlib.Path(__file__).resolve().parent.parent / "nets"
    for n in (1, 3):
        write(nets / f"resnet{6 * n + 2}.json", resnet(n))
