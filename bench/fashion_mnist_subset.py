#!/usr/bin/env python3
"""Writes the first N Fashion-MNIST training images as a uint8 .npy of shape (N, 28, 28), with the
standard library only (docs/REGULARISATION.md trains on such a subset to show overfitting).

usage: bench/fashion_mnist_subset.py N OUT.npy [IDX.gz]
"""
import gzip
import os
import struct
import sys

DEFAULT = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    count, out = int(sys.argv[1]), sys.argv[2]
    source = sys.argv[3] if len(sys.argv) == 4 else DEFAULT
    with gzip.open(source, "rb") as f:
        magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
        if magic != 0x803:
            sys.exit(f"{source}: not an IDX file of uint8 images (magic {magic:#x})")
        if not 0 < count <= n:
            sys.exit(f"{source} holds {n} images; N must be in 1..{n}")
        pixels = f.read(count * rows * cols)
    header = f"{{'descr': '|u1', 'fortran_order': False, 'shape': ({count}, {rows}, {cols}), }}"
    header += " " * (-(10 + len(header) + 1) % 64) + "\n"  # the data starts on a 64-byte boundary
    with open(out + ".tmp", "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + pixels)
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()
