#!/usr/bin/env bash
# The main job: install the dependencies, build cuae (Release, in build/), train the classic 784-64-784
# autoencoder on Fashion-MNIST for 5 epochs (validating on the t10k split), then draw the loss curves
# and a grid of reconstructions. Outputs land in out/: model.safetensors, metrics.csv, loss.png,
# reconstructions.png. Losses and samples/s are printed per epoch.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCUAE_BUILD_BENCH=OFF
cmake --build build -j"$(nproc)" --target cuae_cli

mkdir -p out
cuae=build/src/cuae
"$cuae" info
"$cuae" train --data fashion-mnist --layers 784,64 --epochs 5 --batch 256 --lr 1e-3 --seed 0 --device auto \
  --out out/model.safetensors --metrics out/metrics.csv
"$cuae" plot --metrics out/metrics.csv --out out/loss.png --title "Fashion-MNIST 784-64-784, 5 epochs"
"$cuae" reconstruct --model out/model.safetensors --data fashion-mnist:test --out out/reconstructions.png --count 12
"$cuae" eval --model out/model.safetensors --data fashion-mnist:test
echo "metrics:"
cat out/metrics.csv
