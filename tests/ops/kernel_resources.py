#!/usr/bin/env python3
"""KernelResources: every kernel instantiation of one kernels/*.cu file, compiled by the real nvcc for
one architecture with -Xptxas -v (this toolkit has no cuobjdump), must fit the hardware as launched:

  registers x threads per block <= 65536   (the register file of one SM)
  static shared memory <= 48 KiB           (more needs cudaFuncSetAttribute, which no launcher does)
  no spill stores or loads, no stack frame (local memory is a silent slowdown)

Threads per block come from the launchers, in the table below; a kernel missing from it fails, so a
new kernel is added here when its launcher is written. Prints one line per kernel and exits 1 on any
violation.

usage: kernel_resources.py NVCC ARCH FILE.cu [-I DIR ...] [-D DEF ...]
"""
import re
import subprocess
import sys

# Kernel name (as demangled, without template arguments) -> threads per block, from its launcher.
THREADS = {
    "activation_backward_kernel": 256,   # kernels/activation_backward.cu: kThreads
    "bias_grad_columns_kernel": 32 * 8,  # kernels/bias_grad.cu: kColumns x kRowLanes
    "bias_grad_chunks_kernel": 256,
    "bias_act_forward_kernel": 256,      # kernels/dense_forward.cu
    "gather_rows_kernel": 256,           # kernels/gather.cu
    "sum_squares_kernel": 256,           # kernels/grad_clip.cu
    "clip_scale_kernel": 256,
    "loss_partials_kernel": 256,         # kernels/loss.cu: kLossThreads
    "loss_finalize_kernel": 256,         # kFinalizeThreads
    "optimizer_begin_kernel": 1,         # kernels/optimizer.cu
    "adam_update_kernel": 256,
    "sgd_update_kernel": 256,
}
REGISTER_FILE = 65536
STATIC_SHARED_LIMIT = 48 * 1024


def threads_of(name):
    base = re.sub(r"<.*", "", name.split("(")[0]).split("::")[-1].strip()
    if base == "dense_forward_kernel":
        # dense_forward_kernel<BM, BN, BK, TM, TN, ...>: (BM / TM) x (BN / TN) threads.
        bm, bn, _, tm, tn = (int(v) for v in re.search(r"<(\d+), (\d+), (\d+), (\d+), (\d+)", name).groups())
        return base, (bm // tm) * (bn // tn)
    return base, THREADS.get(base)


def demangle(symbols):
    out = subprocess.run(["c++filt"], input="\n".join(symbols), capture_output=True, text=True, check=True).stdout
    return dict(zip(symbols, (n.replace("(anonymous namespace)::", "") for n in out.splitlines())))


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    nvcc, arch, source, extra = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    command = [nvcc, "-std=c++20", "--expt-relaxed-constexpr", f"-arch=sm_{arch}", "-Xptxas", "-v", "-c", source,
               "-o", "/dev/null", *extra]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        print(" ".join(command) + "\n" + run.stderr)
        sys.exit(f"KernelResources: nvcc failed on {source}")
    kernels = {}  # mangled name -> {registers, shared, stack, spill_stores, spill_loads}
    current = None
    for line in run.stderr.splitlines():
        if m := re.search(r"Compiling entry function '(\w+)' for 'sm_\d+'", line):
            current = kernels.setdefault(m.group(1), {})
        elif m := re.search(r"Function properties for (\w+)", line):
            current = kernels.setdefault(m.group(1), {})
        elif current is not None and (m := re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)):
            current.update(stack=int(m.group(1)), spill_stores=int(m.group(2)), spill_loads=int(m.group(3)))
        elif current is not None and (m := re.search(r"Used (\d+) registers", line)):
            current["registers"] = int(m.group(1))
            s = re.search(r"(\d+) bytes smem", line)
            current["shared"] = int(s.group(1)) if s else 0
    if not kernels:
        sys.exit(f"KernelResources: no kernel found in the ptxas output for {source}:\n{run.stderr}")
    names = demangle(list(kernels))
    failures = 0
    print(f"{'kernel':<72} {'regs':>4} {'thr':>4} {'regs*thr':>8} {'smem':>6} {'stack':>5} {'spill':>5}")
    for mangled, k in sorted(kernels.items(), key=lambda item: names[item[0]]):
        if "registers" not in k:
            continue  # a device function's properties, not an entry
        base, threads = threads_of(names[mangled])
        problems = []
        if threads is None:
            problems.append(f"not in the THREADS table of {sys.argv[0]}")
            threads = 0
        if k["registers"] * threads > REGISTER_FILE:
            problems.append(f"{k['registers']} registers x {threads} threads > {REGISTER_FILE}")
        if k["shared"] > STATIC_SHARED_LIMIT:
            problems.append(f"{k['shared']} B static shared memory > 48 KiB")
        if k.get("stack", 0) or k.get("spill_stores", 0) or k.get("spill_loads", 0):
            problems.append(f"stack frame {k.get('stack')} B, spills {k.get('spill_stores')}/{k.get('spill_loads')} B")
        label = names[mangled].split("(")[0]
        print(f"{label[:72]:<72} {k['registers']:>4} {threads:>4} {k['registers'] * threads:>8} {k['shared']:>6} "
              f"{k.get('stack', 0):>5} {k.get('spill_stores', 0):>5}" + ("  FAIL: " + "; ".join(problems) if problems else ""))
        failures += bool(problems)
    if failures:
        sys.exit(f"KernelResources: {failures} kernel(s) of {source} for sm_{arch} break a limit")


if __name__ == "__main__":
    main()
