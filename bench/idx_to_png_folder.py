#!/usr/bin/python3
"""MNIST-format IDX files (plain or .gz) as a folder of PNG pictures: OUT/train/<label>/<index>.png and
OUT/test/<label>/<index>.png, the index zero-padded so that the files' names keep the IDX order.

Usage: idx_to_png_folder.py IDX_DIR OUT_DIR

The PNG writer is the standard library's zlib and struct (8-bit grey, no filter), so nothing beyond Python is needed.
"""
import gzip
import os
import struct
import sys
import zlib


def read_idx(folder, stem):
    for name in (stem, stem + ".gz"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            with (gzip.open if name.endswith(".gz") else open)(path, "rb") as f:
                return f.read()
    sys.exit(f"{os.path.join(folder, stem)}: no such file (plain or .gz)")


def png(pixels, h, w):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + pixels[y * w:(y + 1) * w] for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def convert(idx_dir, out_dir, part, images_stem, labels_stem):
    images, labels = read_idx(idx_dir, images_stem), read_idx(idx_dir, labels_stem)
    magic, n, h, w = struct.unpack(">IIII", images[:16])
    lmagic, ln = struct.unpack(">II", labels[:8])
    if magic != 0x803 or lmagic != 0x801 or n != ln or len(images) != 16 + n * h * w or len(labels) != 8 + n:
        sys.exit(f"{idx_dir}: {images_stem} and {labels_stem} are not matching IDX files")
    width = max(5, len(str(n - 1)))
    for i in range(n):
        folder = os.path.join(out_dir, part, str(labels[8 + i]))
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{i:0{width}d}.png"), "wb") as f:
            f.write(png(images[16 + i * h * w:16 + (i + 1) * h * w], h, w))
    return n


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    idx_dir, out_dir = sys.argv[1], sys.argv[2]
    n_train = convert(idx_dir, out_dir, "train", "train-images-idx3-ubyte", "train-labels-idx1-ubyte")
    n_test = convert(idx_dir, out_dir, "test", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    print(f"{out_dir}: {n_train} training and {n_test} test pictures")


if __name__ == "__main__":
    main()
