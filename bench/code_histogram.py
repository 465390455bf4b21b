#!/usr/bin/env python3
"""A text histogram of the code activations that `cuae encode` wrote (a float32 .npy), with the
fraction of exact zeros and the mean activation, standard library only (docs/REGULARISATION.md).

usage: bench/code_histogram.py CODES.npy [BINS]
"""
import ast
import struct
import sys


def read_f32_npy(path):
    with open(path, "rb") as f:
        if f.read(6) != b"\x93NUMPY":
            sys.exit(f"{path}: not a .npy file")
        major = f.read(2)[0]
        length = struct.unpack("<H" if major == 1 else "<I", f.read(2 if major == 1 else 4))[0]
        header = ast.literal_eval(f.read(length).decode("latin1"))
        if header["descr"] != "<f4" or header["fortran_order"]:
            sys.exit(f"{path}: expected C-order float32, got {header}")
        rows, cols = header["shape"]
        values = struct.unpack(f"<{rows * cols}f", f.read(4 * rows * cols))
    return rows, cols, values


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    rows, cols, values = read_f32_npy(sys.argv[1])
    bins = int(sys.argv[2]) if len(sys.argv) == 3 else 10
    top = max(values) or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int(v / top * bins)) if v > 0 else 0] += 1
    zeros = sum(1 for v in values if v == 0)
    print(f"{rows} codes of {cols} units: {zeros / len(values):.1%} exact zeros, mean {sum(values) / len(values):.4f},"
          f" max {top:.3f}")
    for i, c in enumerate(counts):
        lo, hi = top * i / bins, top * (i + 1) / bins
        print(f"[{lo:7.3f}, {hi:7.3f}) {c / len(values):7.2%} {'#' * round(60 * c / len(values))}")


if __name__ == "__main__":
    main()
