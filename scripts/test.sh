#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds (CUDA backend too when nvcc exists), runs
# every test through ctest, fuzzes every file parser (scripts/fuzz.sh), and finally rebuilds the CPU
# and emulated-kernel tests under AddressSanitizer + UndefinedBehaviorSanitizer and runs them.
# Real-GPU tests skip with a reason where there is no GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs" --timeout 600 --output-junit ctest-junit.xml

# The GPU check's bundle, made from this build, must start and resolve its libraries (issue 12):
# bench/gpu_check.sh --dry-run checks it in seconds, so it cannot rot between GPU runs.
if grep -q '#define CUAE_HAS_CUDA 1' build/generated/include/cuae/config.h; then
  CUAE_BUNDLE_BUILD_DIR=build bash bench/gpu_bundle.sh > build/gpu-bundle.log
  bash bench/gpu_check.sh --dry-run build/gpu-check-dry-run
fi

# Fuzz every parser (tests/fuzz) for 60 s per target, two at a time: about 3 minutes plus the build.
bash scripts/fuzz.sh "${FUZZ_SECONDS:-60}"

# -O1 with line tables: sanitizer reports keep file:line, and the instrumented build compiles in
# less time than -O2 -g on CI's 2 cores.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
      -DCUAE_SANITIZE=ON -DCUAE_CUDA=OFF -DCUAE_BUILD_BENCH=OFF
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" --timeout 900 -LE no_sanitizer \
  --output-junit ctest-junit.xml

# What ran, what was skipped and why (GPU tests skip without a device), for both ctest runs.
python3 scripts/test_summary.py "Release build (ctest)=build/ctest-junit.xml" \
  "ASan + UBSan build (ctest)=build-asan/ctest-junit.xml"
