#!/usr/bin/env bash
# Installs what bench/pytorch_fashion_mnist.py needs to train the reference model in PyTorch, from
# Debian's packages (the engine itself never uses pip). libopenblas0-openmp is the BLAS PyTorch's CPU
# matmuls run on when LD_LIBRARY_PATH points at its openblas-openmp directory.
set -euo pipefail
packages=(python3-torch python3-numpy libopenblas0-openmp)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
