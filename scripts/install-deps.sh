#!/usr/bin/env bash
# Installs everything cuae needs to build, test and run its main job, from Debian's packages.
# The CUDA toolkit is expected under /usr/local/cuda (it is on the project's machines); without it
# the CPU-only build is used.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config
  python3                     # scripts/test_summary.py
  libopenblas-openmp-dev      # CPU GEMMs; the OpenMP build shares one thread pool with our OpenMP code
  libgtest-dev libgmock-dev googletest
  libbenchmark-dev
  libboost-context-dev        # fibers for the host SIMT emulation of CUDA kernels
  libcli11-dev nlohmann-json3-dev libfmt-dev libstb-dev zlib1g-dev
  dataset-fashion-mnist       # the real data set the main job trains on
  clang-14 libclang-rt-14-dev # libFuzzer + ASan/UBSan runtimes for scripts/fuzz.sh
)
bash "$(dirname "$0")/apt-install.sh" "${packages[@]}"
