#!/usr/bin/python3
"""Photo-like pictures of MNIST test digits, and how many of them `cnn predict` gets right.

MNIST's digits are light strokes on black, fitted into 20x20 and centred by mass in 28x28; a photo of a digit
written on paper is dark ink on a large, unevenly lit, grey-ish page. This makes such photos from the real IDX test
digits, so that the tool's fitting can be measured on pictures like a user's:

  /usr/bin/python3 bench/photo_digits.py make --data build/data/mnist-digits --out /tmp/photos   # 100 JPEGs
  /usr/bin/python3 bench/photo_digits.py score --cnn build/cnn --model digits.cnn --photos /tmp/photos [-- --fit pad]

Each picture: the digit upscaled to a random size (15-55% of the page's shorter side) with a random pen width,
slant and position; ink of reflectance 0.05-0.35 on paper of 0.6-0.95; light that falls off across the page
(a gradient and a vignette) and a soft shadow; sensor noise, a little blur, a few specks of dust, a warm tint; saved
as JPEG at quality 55-90. The pictures are a function of the seed and the digits alone.
Needs OpenCV's and NumPy's Python modules (Debian: python3-opencv, python3-numpy).
"""
import argparse
import gzip
import os
import re
import subprocess
import sys

import cv2
import numpy as np


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(folder, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    sys.exit(f"photo_digits: {folder} has no {stem}[.gz]")


def photo(digit, rng):
    """One photo-like BGR picture of a 28x28 light-on-black digit."""
    H = int(rng.integers(360, 640))
    W = int(H * rng.uniform(0.75, 1.4))
    size = int(min(H, W) * rng.uniform(0.15, 0.55))  # the 28x28 frame's side on the page
    # Smooth strokes at the page's scale: cubic upscaling, then a threshold whose level sets the pen's width.
    big = cv2.resize(digit.astype(np.float32) / 255, (size, size), interpolation=cv2.INTER_CUBIC)
    big = cv2.GaussianBlur(big, (0, 0), size / 70)
    ink = np.clip((big - rng.uniform(0.25, 0.6)) * 8, 0, 1)
    # Slant and turn a little, then place anywhere the frame fits.
    angle, shear = rng.uniform(-12, 12), rng.uniform(-0.2, 0.2)
    m = cv2.getRotationMatrix2D((size / 2, size / 2), angle, 1.0)
    m[0, 1] += shear
    m[0, 2] -= shear * size / 2
    ink = cv2.warpAffine(ink, m, (size, size))
    page = np.zeros((H, W), np.float32)
    y0, x0 = int(rng.integers(0, H - size)), int(rng.integers(0, W - size))
    page[y0:y0 + size, x0:x0 + size] = ink
    # Specks of dust and a paper grain.
    for _ in range(int(rng.integers(0, 6))):
        cv2.circle(page, (int(rng.integers(0, W)), int(rng.integers(0, H))), int(rng.integers(1, 3)),
                   float(rng.uniform(0.3, 0.8)), -1)
    paper, ink_tone = rng.uniform(0.6, 0.95), rng.uniform(0.05, 0.35)
    reflect = paper + (ink_tone - paper) * page
    reflect *= 1 + cv2.GaussianBlur(rng.normal(0, 0.03, (H, W)).astype(np.float32), (0, 0), 1.5)
    # Light: a gradient across the page, a vignette, and a soft shadow over part of it.
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    grad = (np.cos(theta) * (xs / W - 0.5) + np.sin(theta) * (ys / H - 0.5))
    light = rng.uniform(180, 300) * (1 + rng.uniform(0.2, 0.6) * grad)
    r2 = ((xs - W * rng.uniform(0.3, 0.7)) / W) ** 2 + ((ys - H * rng.uniform(0.3, 0.7)) / H) ** 2
    light *= 1 - rng.uniform(0.1, 0.5) * r2
    shadow = np.zeros((H, W), np.float32)
    phi = rng.uniform(0, 2 * np.pi)
    cut = np.cos(phi) * (xs - W * rng.uniform(0.2, 0.8)) + np.sin(phi) * (ys - H * rng.uniform(0.2, 0.8))
    shadow[cut > 0] = rng.uniform(0.15, 0.45) if rng.uniform() < 0.7 else 0
    shadow = cv2.GaussianBlur(shadow, (0, 0), min(H, W) * rng.uniform(0.03, 0.12))
    grey = reflect * light * (1 - shadow)
    grey = cv2.GaussianBlur(grey, (0, 0), rng.uniform(0.5, 1.5)) + rng.normal(0, rng.uniform(1, 5), (H, W))
    tint = np.array([rng.uniform(0.85, 0.97), rng.uniform(0.95, 1.0), 1.0], np.float32)  # B, G, R: warm paper
    return np.clip(grey[:, :, None] * tint, 0, 255).astype(np.uint8)


def make(args):
    images = read_idx(find(args.data, "t10k-images-idx3-ubyte"))
    labels = read_idx(find(args.data, "t10k-labels-idx1-ubyte"))
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)
    for i in range(args.count):
        name = os.path.join(args.out, f"{i:03d}-{labels[i]}.jpg")
        cv2.imwrite(name, photo(images[i], rng), [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(55, 91))])
    print(f"{args.count} photo-like pictures of the first test digits of {args.data} in {args.out}")


def score(args):
    files = sorted(os.path.join(args.photos, f) for f in os.listdir(args.photos) if re.match(r"\d+-\d\.jpg$", f))
    out = subprocess.run([args.cnn, "predict", "--model", args.model, "--top", "1", *args.extra, *files],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"photo_digits: cnn predict failed: {out.stderr.strip()}")
    right = 0
    for line in out.stdout.splitlines():
        m = re.match(r"(.*-(\d)\.jpg): (\S+) ", line)
        if m and m.group(2) == m.group(3):
            right += 1
    print(f"{right} of {len(files)} right  (cnn predict {' '.join(args.extra)})")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="verb", required=True)
    m = sub.add_parser("make", help="write the pictures")
    m.add_argument("--data", required=True, help="a folder with t10k-images-idx3-ubyte[.gz] and its labels")
    m.add_argument("--out", required=True)
    m.add_argument("--count", type=int, default=100)
    m.add_argument("--seed", type=int, default=19)
    s = sub.add_parser("score", help="how many cnn predict gets right (arguments after -- go to cnn predict)")
    s.add_argument("--cnn", required=True)
    s.add_argument("--model", required=True)
    s.add_argument("--photos", required=True)
    s.add_argument("extra", nargs="*")
    args = p.parse_args()
    make(args) if args.verb == "make" else score(args)


if __name__ == "__main__":
    main()
