#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang + ASan + UBSan) in build-fuzz and runs each for
# FUZZ_SECONDS (default 60, or the first argument), two at a time. Seeds come from
# tests/fuzz/corpus/<target>; the growing corpus and any crash inputs stay under build-fuzz/.
# Exits non-zero when any target reports a crash, leak, timeout, over-limit allocation or sanitizer
# error; the reproducer's path is printed (turn it into a test in tests/reliability_test.cpp).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-${FUZZ_SECONDS:-60}}
parallel=${FUZZ_PARALLEL:-2}
targets=(idx idx_gz npy npz csv safetensors config)
cxx=${FUZZ_CXX:-clang++-14}
command -v "$cxx" >/dev/null || { echo "fuzz.sh: $cxx not found (apt-get install clang-14)" >&2; exit 2; }

cmake -S tests/fuzz -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
cmake --build build-fuzz -j"${FUZZ_BUILD_JOBS:-$(nproc)}"

run_one() {
  local target=$1 dir=build-fuzz/runs/$1
  rm -rf "$dir/artifacts" && mkdir -p "$dir/corpus" "$dir/artifacts"
  # A malicious header must be refused before it allocates, so any single allocation over 256 MB is
  # a finding, as is an input that takes over 10 s.
  build-fuzz/"${target}"_fuzz "$dir/corpus" "tests/fuzz/corpus/$target" -max_total_time="$seconds" \
    -malloc_limit_mb=256 -rss_limit_mb=2048 -timeout=10 -max_len=8192 -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/" >"$dir/log" 2>&1
}

pids=() names=()
status=0
for target in "${targets[@]}"; do
  run_one "$target" & pids+=($!) names+=("$target")
  if [ ${#pids[@]} -ge "$parallel" ]; then
    wait "${pids[0]}" || true
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || true; done

printf '%-12s %10s %8s %s\n' target execs corpus result
for target in "${targets[@]}"; do
  dir=build-fuzz/runs/$target
  execs=$(grep -oP 'stat::number_of_executed_units:\s*\K[0-9]+' "$dir/log" || echo '?')
  corpus=$(find "$dir/corpus" -type f | wc -l)
  crashes=$(find "$dir/artifacts" -type f | wc -l)
  if [ "$crashes" -gt 0 ] || grep -qE 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|runtime error:' "$dir/log"; then
    printf '%-12s %10s %8s FAILED: %s (log: %s)\n' "$target" "$execs" "$corpus" \
      "$(find "$dir/artifacts" -type f | tr '\n' ' ')" "$dir/log"
    status=1
  else
    printf '%-12s %10s %8s ok (%ss)\n' "$target" "$execs" "$corpus" "$seconds"
  fi
done
exit $status
