#!/usr/bin/env bash
# The prepared GPU check: one command, under 8 minutes, that brings back every figure and every failure.
#
#   bench/gpu_bundle.sh                    here, where the Debian packages are: makes out/gpu-bundle
#   bench/gpu_check.sh OUTDIR              on the GPU machine, in the repository with out/gpu-bundle
#   bench/gpu_check.sh --dry-run OUTDIR    anywhere: checks the bundle, runs nothing on a GPU
#
# Stages, each with its own time limit inside the global 8 minutes; OUTDIR/summary.json and
# OUTDIR/summary.md are rewritten after every stage, so a run cut short still reports what it did:
#   1 machine      nvidia-smi -q, driver, toolkit, where cuBLAS, cuDNN and NCCL were found
#   2 primitives   bin/cuae_primitive_selftest (GPU results against the emulation's), when bundled
#   3 kernels      the kernel tests, then a subset under compute-sanitizer memcheck, racecheck,
#                  synccheck and initcheck
#   4 backend      the backend tests, and the cuDNN tests in their own process
#   5 bench        cuae bench, classic and wide models, every forward path, with and without TF32
#   6 pytorch      bench/compare_pytorch.py with the machine's own PyTorch, on the same GPU
#   7 gbench       the Google Benchmark GPU suites, in what time is left
# A failing test binary is run again with CUDA_LAUNCH_BLOCKING=1, so the log names the kernel that
# faulted rather than a later, unrelated check. Each program gets its own environment: only cuae's
# binaries see the bundle's libraries; Python runs with the machine's own.
# Exit status: 0 when every stage that ran passed, 1 otherwise, 2 for a missing bundle or bad usage.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
dry_run=0
if [ "${1:-}" = "--dry-run" ]; then dry_run=1; shift; fi
out=${1:?usage: bench/gpu_check.sh [--dry-run] OUTDIR}
readonly kBudgetSeconds=480
bundle=${CUAE_GPU_BUNDLE:-out/gpu-bundle}
if [ ! -x "$bundle/bin/cuae" ]; then
  echo "gpu_check: no bundle at $bundle: make it with bench/gpu_bundle.sh on a machine with the Debian packages, then bring the repository with $bundle (git-ignored: name it when copying) here" >&2
  exit 2
fi
bundle=$(cd "$bundle" && pwd)
mkdir -p "$out" && out=$(cd "$out" && pwd)
scratch=$(mktemp -d) && trap 'rm -rf "$scratch"' EXIT

# ---- the bundle's environment (cuae's binaries only) ----
# Libraries over 8 MiB travel gzip-compressed (gpu_bundle.sh); they are unpacked into scratch.
mkdir -p "$scratch/lib"
for packed in "$bundle"/lib/*.gz; do
  [ -e "$packed" ] && gunzip -c "$packed" > "$scratch/lib/$(basename "${packed%.gz}")"
done
bundle_libs="$bundle/lib:$scratch/lib"
# cuDNN is loaded at run time; GPU images often carry it only inside PyTorch's wheels.
wheel_dirs=""
for dir in $(env -u LD_LIBRARY_PATH python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2> /dev/null); do
  for lib in 'libcudnn.so.9' 'libnvrtc.so.*'; do
    found=$(find "$dir/nvidia" -name "$lib" 2> /dev/null | sort | head -n1)
    [ -n "$found" ] && wheel_dirs="$wheel_dirs:$(dirname "$found")"
  done
done
bundle_path="$bundle_libs:/usr/local/cuda/lib64${wheel_dirs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The system's libstdc++ first (the bundled one needs glibc 2.36); the bundled fallback if that fails.
if ! env LD_LIBRARY_PATH="$bundle_path" "$bundle/bin/cuae" --version > /dev/null 2>&1 && [ -d "$bundle/lib/fallback" ]; then
  bundle_path="$bundle/lib/fallback:$bundle_path"
fi
bundled() { env LD_LIBRARY_PATH="$bundle_path" "$@"; }
bundled_within() { local seconds=$1; shift; timeout "$seconds" env LD_LIBRARY_PATH="$bundle_path" "$@"; }
# compare_pytorch.py runs `cuae` itself: give it a wrapper carrying the bundle's environment.
printf '#!/bin/sh\nexec env LD_LIBRARY_PATH="%s" "%s" "$@"\n' "$bundle_path" "$bundle/bin/cuae" > "$scratch/cuae"
chmod +x "$scratch/cuae"

# ---- the summary, rewritten after every stage ----
names=() statuses=() times=() details=() logs=()
json_string() {
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/ }
  printf '"%s"' "$s"
}
bundle_mib=$(du -sm "$bundle" | cut -f1)
write_summary() {
  local result=$1 i
  {
    printf '{"started": %s, "host": %s, "dry_run": %s, "bundle": %s, "bundle_mib": %s, "seconds": %s, "result": %s,\n "stages": [' \
      "$(json_string "$started")" "$(json_string "$(hostname)")" "$([ $dry_run = 1 ] && echo true || echo false)" \
      "$(json_string "$bundle")" "$bundle_mib" "$SECONDS" "$(json_string "$result")"
    for i in "${!names[@]}"; do
      printf '%s\n  {"stage": %s, "status": %s, "seconds": %s, "detail": %s, "log": %s}' "$([ "$i" = 0 ] || echo ,)" \
        "$(json_string "${names[$i]}")" "$(json_string "${statuses[$i]}")" "${times[$i]}" \
        "$(json_string "${details[$i]}")" "$(json_string "${logs[$i]}")"
    done
    printf ']}\n'
  } > "$out/summary.json.tmp" && mv "$out/summary.json.tmp" "$out/summary.json"
  {
    echo "# cuae GPU check, $started on $(hostname)"
    echo
    echo "bundle: $bundle ($bundle_mib MiB); result: $result after $SECONDS s"
    echo
    echo "| stage | status | s | detail | log |"
    echo "|---|---|---|---|---|"
    for i in "${!names[@]}"; do
      echo "| ${names[$i]} | ${statuses[$i]} | ${times[$i]} | $(echo "${details[$i]}" | tr '\n|' ' /') | ${logs[$i]} |"
    done
  } > "$out/summary.md.tmp" && mv "$out/summary.md.tmp" "$out/summary.md"
}
record() {  # NAME STATUS SECONDS DETAIL LOG
  names+=("$1") statuses+=("$2") times+=("$3") details+=("$4") logs+=("$5")
  local line="gpu_check: $1: $2 ($3 s) $4"
  echo "${line:0:2000}"
  write_summary "running"
}

# Runs stage function $2 named $1 with at most $3 seconds (less when the budget is nearly spent).
# The function sets `detail` and `log` and returns 0 (passed), 1 (failed) or 77 (skipped).
overall=0
stage() {
  local name=$1 fn=$2 want=$3 left=$((kBudgetSeconds - SECONDS - 10)) start=$SECONDS rc
  if [ $dry_run = 1 ]; then record "$name" "not run: dry run, no GPU" 0 "" ""; return; fi
  if [ $left -lt 15 ]; then record "$name" "not run: the 8-minute budget is spent" 0 "" ""; return; fi
  limit=$((want < left ? want : left))
  detail="" log=""
  "$fn"
  rc=$?
  case $rc in
    0) record "$name" passed $((SECONDS - start)) "$detail" "$log" ;;
    77) record "$name" "skipped: $detail" $((SECONDS - start)) "" "$log" ;;
    *) overall=1; record "$name" failed $((SECONDS - start)) "$detail" "$log" ;;
  esac
}

# A gtest binary under `timeout`; on failure again with CUDA_LAUNCH_BLOCKING=1 (its own log).
gtest_counts() { grep -E '^\[  (PASSED|FAILED|SKIPPED) *\] [0-9]+ tests?' "$1" | sed 's/, listed below://' | tr '\n' ' '; }
run_gtest() {  # LOGNAME SECONDS BINARY ARGS...
  local name=$1 seconds=$2 exe=$3 rc
  shift 3
  bundled_within "$seconds" "$exe" "$@" \
    --gtest_output="xml:$out/$name.xml" > "$out/$name.log" 2>&1
  rc=$?
  detail="$detail$name: rc=$rc $(gtest_counts "$out/$name.log"); "
  log="$log$name.log "
  if [ $rc -ne 0 ]; then
    bundled_within "$seconds" env CUDA_LAUNCH_BLOCKING=1 "$exe" "$@" \
      > "$out/$name.blocking.log" 2>&1
    detail="$detail(rerun with CUDA_LAUNCH_BLOCKING=1: $(grep -m1 -E 'FAILED|error|fault' "$out/$name.blocking.log" | head -c 300)); "
    log="$log$name.blocking.log "
  fi
  return $((rc == 0 ? 0 : 1))
}

# ---- the stages ----
stage_machine() {
  log="machine.txt"
  {
    nvidia-smi -q 2>&1
    echo "== nvidia-smi --query-gpu"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.sm,persistence_mode,ecc.mode.current \
      --format=csv 2>&1
    echo "== nvcc"
    /usr/local/cuda/bin/nvcc --version 2>&1
    echo "== libraries"
    for lib in libcudart.so libcublas.so libcublasLt.so libcudnn.so.9 libnccl.so; do
      echo "$lib: $(ldconfig -p 2> /dev/null | awk -v l="$lib" '$1 ~ l {print $NF; exit}') $(ls /usr/local/cuda/lib64/$lib* 2> /dev/null | head -n1)"
    done
    echo "wheel library dirs: ${wheel_dirs:-none}"
    echo "== cuae info"
    bundled "$bundle/bin/cuae" info 2>&1
  } > "$out/machine.txt"
  detail="$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -n1); $(/usr/local/cuda/bin/nvcc --version 2>/dev/null | tail -n1); $(grep -E '^(cuda:|cudnn:)' "$out/machine.txt" | tr '\n' ' ')"
  nvidia-smi > /dev/null 2>&1
}
stage_primitives() {
  if [ ! -x "$bundle/bin/cuae_primitive_selftest" ]; then detail="not in this bundle"; return 77; fi
  log="primitives.log primitives.json"
  bundled_within "$limit" "$bundle/bin/cuae_primitive_selftest" \
    "$out/primitives.json" > "$out/primitives.log" 2>&1
  local rc=$?
  detail="$(tail -n 3 "$out/primitives.log" | tr '\n' ' ')"
  [ $rc -eq 77 ] && return 77
  return $((rc == 0 ? 0 : 1))
}
stage_kernels() {
  local exe="$bundle/bin/cuae_gpu_kernel_tests" status=0 tool sanitizer
  [ -x "$exe" ] || { detail="cuae_gpu_kernel_tests not in this bundle"; return 1; }
  run_gtest kernels $((limit / 2)) "$exe" || status=1
  sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  if [ ! -x "$sanitizer" ]; then detail="${detail}compute-sanitizer not found; "; return $status; fi
  # Small shapes only: every kernel once, under each tool.
  local filter='*ZeroRows*:*Loss.BceMatches*:*BiasGrad.Matches*:*ActivationBackward.Matches*:*Gather.Copies*:*BiasActMatches*:*Adam*'
  for tool in memcheck racecheck synccheck initcheck; do
    [ $((kBudgetSeconds - SECONDS)) -gt 60 ] || { detail="${detail}$tool: not run, out of time; "; continue; }
    bundled_within 40 "$sanitizer" --tool "$tool" --error-exitcode 9 \
      "$exe" --gtest_filter="$filter" > "$out/sanitizer-$tool.log" 2>&1
    local rc=$?
    [ $rc -ne 0 ] && status=1
    detail="${detail}$tool: rc=$rc $(grep -m1 -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/sanitizer-$tool.log"); "
    log="${log}sanitizer-$tool.log "
  done
  return $status
}
stage_backend() {
  local status=0
  [ -x "$bundle/bin/cuae_gpu_backend_tests" ] || { detail="cuae_gpu_backend_tests not in this bundle"; return 1; }
  run_gtest backend $((limit * 2 / 3)) "$bundle/bin/cuae_gpu_backend_tests" || status=1
  # cuDNN in its own process: a foreign cuDNN that crashes cannot take the other results with it.
  if [ -x "$bundle/bin/cuae_gpu_cudnn_tests" ]; then run_gtest cudnn $((limit / 3)) "$bundle/bin/cuae_gpu_cudnn_tests" || status=1; fi
  return $status
}
stage_bench() {
  local status=0 shape name layers batch steps extra
  for shape in "classic 784,64 256 300" "wide 1024,1024 4096 100" "wide-tf32 1024,1024 4096 100 --allow-tf32"; do
    read -r name layers batch steps extra <<< "$shape"
    bundled_within $((limit / 3)) "$bundle/bin/cuae" bench --device cuda \
      --layers "$layers" --batch "$batch" --steps "$steps" --warmup 20 --forward all ${extra:-} \
      --json "$out/bench-$name.json" > "$out/bench-$name.log" 2>&1 || status=1
    local figures
    figures=$(grep -E '^forward |throughput' "$out/bench-$name.log" | tr '\n' ';' | head -c 600)
    detail="$detail$name: ${figures:-$(tail -n 1 "$out/bench-$name.log" | head -c 300)} "
    log="${log}bench-$name.log "
  done
  return $status
}
stage_pytorch() {
  log="pytorch.log"
  # The machine's own PyTorch, with the machine's own environment (none of the bundle's libraries).
  if ! env -u LD_LIBRARY_PATH python3 -c 'import torch, sys; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available()); sys.exit(0 if torch.cuda.is_available() else 3)' > "$out/pytorch.log" 2>&1; then
    detail="PyTorch cannot use the GPU here: $(tail -n 1 "$out/pytorch.log")"
    return 77
  fi
  timeout "$limit" env -u LD_LIBRARY_PATH python3 bench/compare_pytorch.py --cuae "$scratch/cuae" --device cuda \
    --shapes classic,wide --modes eager,graph --steps 200 --json "$out/compare-pytorch.json" >> "$out/pytorch.log" 2>&1
  local rc=$?
  detail="$(head -n 1 "$out/pytorch.log"); $(tail -n 4 "$out/pytorch.log" | tr '\n' ';')"
  return $((rc == 0 ? 0 : 1))
}
stage_gbench() {
  local status=0 exe base
  for exe in "$bundle"/bin/gpu_*_bench; do
    [ -x "$exe" ] || continue
    base=$(basename "$exe")
    [ $((kBudgetSeconds - SECONDS)) -gt 30 ] || { detail="$detail$base: not run, out of time; "; continue; }
    bundled_within $((limit / 2)) "$exe" --benchmark_min_time=0.05 \
      --benchmark_out="$out/$base.json" --benchmark_out_format=json > "$out/$base.log" 2>&1 || status=1
    detail="$detail$base: $(grep -c '^BM_\|^[A-Za-z].*/' "$out/$base.log") lines; "
    log="$log$base.log "
  done
  return $status
}

# ---- the bundle itself (both modes) ----
started=$(date -u +%FT%TZ)
bundle_check() {
  local exe missing status=0 rc
  : > "$out/bundle.txt"
  for exe in "$bundle"/bin/*; do
    [ -x "$exe" ] || continue
    # Everything but the driver (libcuda, libnvidia-*) must resolve on this machine.
    missing=$(LD_LIBRARY_PATH="$bundle_path" ldd "$exe" 2>&1 | grep 'not found' | grep -vE 'libcuda\.so|libnvidia' | sort -u | tr -s ' \t' ' ')
    case $(basename "$exe") in
      cuae) bundled "$exe" --version > "$scratch/start.log" 2>&1 ;;
      *_tests) bundled "$exe" --gtest_list_tests > "$scratch/start.log" 2>&1 ;;
      *_bench) bundled "$exe" --benchmark_list_tests > "$scratch/start.log" 2>&1 ;;
      *) bundled "$exe" --help > "$scratch/start.log" 2>&1 ;;
    esac
    rc=$?
    echo "$(basename "$exe"): starts rc=$rc${missing:+, missing:$missing}" >> "$out/bundle.txt"
    if [ -n "$missing" ] || [ $rc -ne 0 ]; then status=1; tail -n 3 "$scratch/start.log" >> "$out/bundle.txt"; fi
  done
  return $status
}
start=$SECONDS
if bundle_check; then
  record bundle passed $((SECONDS - start)) "$bundle_mib MiB; $(grep -c starts "$out/bundle.txt") programs start" bundle.txt
else
  overall=1
  record bundle failed $((SECONDS - start)) "$(grep -v 'rc=0$' "$out/bundle.txt" | head -n 5 | tr '\n' ' ')" bundle.txt
fi
[ "$bundle_mib" -lt 40 ] || { overall=1; record bundle-size failed 0 "$bundle_mib MiB, over the 40 MiB limit" ""; }

stage machine stage_machine 20
stage primitives stage_primitives 30
stage kernels stage_kernels 150
stage backend stage_backend 90
stage bench stage_bench 120
stage pytorch stage_pytorch 120
stage gbench stage_gbench 90
result=$([ $overall -eq 0 ] && echo PASS || echo FAIL)
write_summary "$result"
echo "gpu_check: $result after $SECONDS s; summary in $out/summary.md"
exit $overall
