#!/usr/bin/env bash
# Builds cuae for sm_90 (Release) HERE, where the Debian dev packages are, and bundles what a GPU
# machine without them needs to run the GPU tests and benchmarks: the GPU test executables, the Google
# Benchmark GPU suites, the cuae CLI, libcuae and every non-system shared library ldd shows
# (libcuae.so.0, libbenchmark, libgtest among them). CUDA's own libraries (cudart, cuBLAS: hundreds of MiB)
# and the driver are NOT bundled: the GPU machine's toolkit provides them (/usr/local/cuda/lib64).
#
#   bench/gpu_bundle.sh [BUNDLE_DIR]     default: out/gpu-bundle; the result must stay under 64 MiB
# Then, on the GPU machine: bench/gpu_check.sh OUTDIR (it finds out/gpu-bundle, or CUAE_GPU_BUNDLE).
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=${1:-out/gpu-bundle}
build=${CUAE_BUNDLE_BUILD_DIR:-build-gpu-bundle}  # an existing sm_90 build dir may be reused
jobs=${CUAE_JOBS:-2}

# CMake 3.25 lacks nvcc's C++20 flag table; tell it (harmless where it knows it).
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 \
      -DCUAE_BUILD_BENCH=ON -DCMAKE_CUDA20_STANDARD_COMPILE_OPTION=-std=c++20 \
      -DCMAKE_CUDA20_EXTENSION_COMPILE_OPTION=-std=c++20
grep -q '#define CUAE_HAS_CUDA 1' "$build/generated/include/cuae/config.h" ||
  { echo "gpu_bundle: nvcc not found, nothing to bundle" >&2; exit 1; }
# Every GPU test executable (cuae_gpu_*_tests) and GPU benchmark (gpu_*_bench) the build defines.
gpu_targets=$(ninja -C "$build" -t targets all | sed -n -E 's/^(cuae_gpu_[a-z_]+_tests|gpu_[a-z_]+_bench): .*/\1/p' | sort -u)
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

cat > "$bundle/README" <<TXT
cuae GPU bundle: built $(date -u +%FT%TZ) from $(git rev-parse --short HEAD 2>/dev/null || echo unknown)
with $(/usr/local/cuda/bin/nvcc --version | tail -1), sm_90. Run bench/gpu_check.sh OUTDIR next to it.
TXT
size=$(du -sm "$bundle" | cut -f1)
echo "gpu_bundle: $bundle holds ${size} MiB:"
ls -la "$bundle/bin" "$bundle/lib" "$bundle/lib/fallback"
if [ "$size" -ge 64 ]; then
  echo "gpu_bundle: over the 64 MiB limit" >&2
  exit 1
fi
