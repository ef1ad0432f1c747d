"""net.fit against cnn train on Fashion-MNIST (Debian's dataset-fashion-mnist): seed5, one epoch, alternating runs.
    PYTHONPATH=build/python /usr/bin/python3 python/bench_fit.py [build/cnn]"""
import gzip
import subprocess
import sys

import numpy as np

import cnn

tool = sys.argv[1] if len(sys.argv) > 1 else "build/cnn"
d = "/usr/share/datasets/fashion-mnist/"
x = np.frombuffer(gzip.open(d + "train-images-idx3-ubyte.gz").read()[16:], np.uint8).reshape(-1, 28, 28)
y = np.frombuffer(gzip.open(d + "train-labels-idx1-ubyte.gz").read()[8:], np.uint8)
for run in range(3):
    for threads in (1, 2):
        history = cnn.Network.preset("seed5").fit(x, y, epochs=1, seed=1, threads=threads)
        out = subprocess.run([tool, "train", "--net", "seed5", "--epochs", "1", "--threads", str(threads), "--quiet",
                              "--out", "/tmp/bench_fit.cnn"], capture_output=True, text=True, check=True).stdout
        cli = [line for line in out.splitlines() if line.startswith("epoch 1/1")][0].split()[-2]
        print(f"threads {threads}: net.fit {history[0]['images_per_second']:.0f} img/s, cnn train {cli} img/s")
