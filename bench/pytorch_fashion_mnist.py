#!/usr/bin/env python3
"""The PyTorch side of cuae's quality bar: the same autoencoder as

    cuae train --data fashion-mnist --layers 784,64 --epochs 5 --batch 256 --lr 1e-3 --seed 0

i.e. Linear(784, 64) + ReLU -> Linear(64, 784) + sigmoid, binary cross-entropy (mean over elements),
Adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8), batch 256 (last batch partial), a fresh shuffle every
epoch, Glorot-uniform weights and zero biases (cuae's default init), pixels / 255. Prints the train and
validation BCE and samples/s per epoch. The shuffles and initial weights come from different generators
than cuae's, so the two runs agree statistically, not bit for bit.

Setup and run (Debian packages, see docs/QUALITY.md):
    bash scripts/install-bench-deps.sh
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 bench/pytorch_fashion_mnist.py
"""
import argparse
import gzip
import struct
import time

import numpy as np
import torch
from torch import nn

DATA_DIR = "/usr/share/datasets/fashion-mnist"


def load_idx_images(path):
    with gzip.open(path, "rb") as f:
        magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
        if magic != 0x803:
            raise SystemExit(f"{path}: not an IDX image file (magic {magic:#x})")
        pixels = np.frombuffer(f.read(), dtype=np.uint8)
    if pixels.size != n * rows * cols:
        raise SystemExit(f"{path}: truncated ({pixels.size} of {n * rows * cols} bytes)")
    return torch.from_numpy(pixels.reshape(n, rows * cols).astype(np.float32) / 255.0)


def make_model(layers):
    dims = layers + layers[-2::-1]
    modules = []
    for i in range(len(dims) - 1):
        linear = nn.Linear(dims[i], dims[i + 1])
        nn.init.xavier_uniform_(linear.weight)  # glorot_uniform, as cuae's default Init
        nn.init.zeros_(linear.bias)
        modules += [linear, nn.Sigmoid() if i == len(dims) - 2 else nn.ReLU()]
    return nn.Sequential(*modules)


@torch.no_grad()
def mean_bce(model, data, batch=1024):
    total = 0.0
    for start in range(0, data.shape[0], batch):
        x = data[start:start + batch]
        total += nn.functional.binary_cross_entropy(model(x), x, reduction="sum").item()
    return total / data.numel()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="784,64")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    train = load_idx_images(f"{DATA_DIR}/train-images-idx3-ubyte.gz")
    val = load_idx_images(f"{DATA_DIR}/t10k-images-idx3-ubyte.gz")
    model = make_model([int(v) for v in args.layers.split(",")])
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
    loss_fn = nn.BCELoss()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {train.shape[0]} train rows, "
          f"{val.shape[0]} validation rows")
    print("epoch,train_loss,val_loss,seconds,samples_per_s")
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        order = torch.randperm(train.shape[0])
        loss_sum = 0.0
        for first in range(0, train.shape[0], args.batch):
            x = train[order[first:first + args.batch]]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), x)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * x.shape[0]
        seconds = time.perf_counter() - start  # training only, like cuae's samples/s
        val_loss = mean_bce(model, val)
        print(f"{epoch},{loss_sum / train.shape[0]:.6f},{val_loss:.6f},{seconds:.2f},{train.shape[0] / seconds:.0f}",
              flush=True)


if __name__ == "__main__":
    main()
