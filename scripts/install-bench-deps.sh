#!/usr/bin/env bash
# Installs what bench/pytorch_fashion_mnist.py needs to train the reference model in PyTorch, from
# Debian's packages (the engine itself never uses pip). libopenblas0-openmp is the BLAS PyTorch's CPU
# matmuls run on when LD_LIBRARY_PATH points at its openblas-openmp directory.
set -euo pipefail
packages=(python3-torch python3-numpy libopenblas0-openmp)
bash "$(dirname "$0")/apt-install.sh" "${packages[@]}"
