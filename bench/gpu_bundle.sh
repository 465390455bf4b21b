#!/usr/bin/env bash
# Builds cuae with sm_90 code (Release) HERE, where the Debian dev packages are, and bundles what a GPU
# machine without them needs for bench/gpu_check.sh: the GPU test executables, the Google Benchmark
# GPU suites, the primitive self-test (when the build has it), the cuae CLI, libcuae and every
# non-system shared library ldd shows (OpenBLAS, libgfortran, fmt, ...). CUDA's own libraries
# (cudart, cuBLAS: hundreds of MiB) and the driver are NOT bundled: the GPU machine's toolkit (or its
# PyTorch wheels) provides them, and gpu_check.sh records which it found where.
#
#   bench/gpu_bundle.sh [BUNDLE_DIR]     default: out/gpu-bundle
#   CUAE_BUNDLE_BUILD_DIR=build          reuse a configured build whose architectures include 90 (the
#                                        default build's 80,90 do): nothing is reconfigured
#
# Size: everything is stripped, and libraries over 8 MiB travel gzip-compressed (gpu_check.sh unpacks
# them), so the bundle stays under 40 MiB of the 64 MiB that can be carried to the GPU machine. Its
# size is printed and written to BUNDLE_DIR/README.
# Then: bring the repository with BUNDLE_DIR to the GPU machine and run bench/gpu_check.sh OUTDIR there.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=${1:-out/gpu-bundle}
build=${CUAE_BUNDLE_BUILD_DIR:-build-gpu-bundle}
jobs=${CUAE_JOBS:-2}
readonly kLimitMiB=40 kCompressOverBytes=$((8 << 20))

config="$build/generated/include/cuae/config.h"
if [ -f "$build/CMakeCache.txt" ] && [ -f "$config" ]; then
  archs=$(sed -n 's/^#define CUAE_CUDA_ARCHITECTURES "\(.*\)"/\1/p' "$config")
  [[ ",$archs," == *",90,"* ]] ||
    { echo "gpu_bundle: $build is built for '$archs', without sm_90; use another CUAE_BUNDLE_BUILD_DIR" >&2; exit 1; }
else
  # CMake 3.25 lacks nvcc's C++20 flag table; tell it (harmless where it knows it).
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 \
        -DCUAE_BUILD_BENCH=ON -DCMAKE_CUDA20_STANDARD_COMPILE_OPTION=-std=c++20 \
        -DCMAKE_CUDA20_EXTENSION_COMPILE_OPTION=-std=c++20
fi
grep -q '#define CUAE_HAS_CUDA 1' "$config" || { echo "gpu_bundle: nvcc not found, nothing to bundle" >&2; exit 1; }
# Every GPU test executable (cuae_gpu_*_tests), GPU benchmark (gpu_*_bench) and the primitive self-test.
gpu_targets=$(ninja -C "$build" -t targets all |
  sed -n -E 's/^(cuae_gpu_[a-z_]+_tests|gpu_[a-z_]+_bench|cuae_primitive_selftest): .*/\1/p' | sort -u)
targets=(cuae cuae_cli $gpu_targets)
cmake --build "$build" -j"$jobs" --target "${targets[@]}"

rm -rf "$bundle"
mkdir -p "$bundle/bin" "$bundle/lib" "$bundle/lib/fallback"
executables=("$build/src/cuae")
for t in $gpu_targets; do
  found=$(find "$build/tests" "$build/bench" -type f -name "$t" -perm -u+x | head -n1)
  [ -n "$found" ] && executables+=("$found")
done
cp "${executables[@]}" "$bundle/bin/"

# Shared libraries: everything ldd resolves, except glibc's, the CUDA toolkit's and the driver's.
system_re='/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*|libresolv|libutil)\.so'
cuda_re='/(libcuda|libcudart|libcublas|libcublasLt|libcudnn[^/]*|libnvidia[^/]*)\.so'
for exe in "${executables[@]}"; do
  ldd "$exe" | awk '/=> \// {print $3}'
done | sort -u | while read -r lib; do
  if [[ "$lib" =~ $system_re || "$lib" =~ $cuda_re ]]; then continue; fi
  # GCC's runtime goes to lib/fallback: Debian 12's libstdc++ needs glibc 2.36, which an Ubuntu 22.04
  # GPU image (glibc 2.35) lacks, while its own libstdc++ (GLIBCXX_3.4.30) serves our binaries.
  # gpu_check.sh adds lib/fallback only when the system's runtime cannot run them.
  if [[ "$lib" =~ /(libstdc\+\+|libgcc_s)\.so ]]; then
    cp -L "$lib" "$bundle/lib/fallback/$(basename "$lib")"
  else
    cp -L "$lib" "$bundle/lib/$(basename "$lib")"
  fi
done

# Stripped, and the large libraries compressed (gpu_check.sh unpacks lib/*.gz into a scratch folder).
strip --strip-unneeded "$bundle"/bin/* "$bundle"/lib/*.so* "$bundle"/lib/fallback/*.so* 2> /dev/null || true
for lib in "$bundle"/lib/*.so*; do
  if [ "$(stat -c %s "$lib")" -gt "$kCompressOverBytes" ]; then gzip -9 "$lib"; fi
done
size=$(du -sm "$bundle" | cut -f1)
cat > "$bundle/README" <<TXT
cuae GPU bundle: built $(date -u +%FT%TZ) from $(git rev-parse --short HEAD 2>/dev/null || echo unknown)
with $(/usr/local/cuda/bin/nvcc --version | tail -1), sm_90; ${size} MiB. Run bench/gpu_check.sh OUTDIR next to it.
TXT
echo "gpu_bundle: $bundle holds ${size} MiB:"
ls -la "$bundle/bin" "$bundle/lib" "$bundle/lib/fallback"
if [ "$size" -ge "$kLimitMiB" ]; then
  echo "gpu_bundle: ${size} MiB is over the ${kLimitMiB} MiB limit" >&2
  exit 1
fi
