// The kernel tests compile twice: against the host SIMT emulation (suites EmulatedKernels*) and, in
// CUDA builds, against the real runtime (GpuKernels*). KERNEL_SUITE(Loss) names the suite of this
// build: CUAE_KERNEL_SUITE_PREFIX is set by tests/ops/CMakeLists.txt.
#pragma once

#ifndef CUAE_KERNEL_SUITE_PREFIX
#error "define CUAE_KERNEL_SUITE_PREFIX (EmulatedKernels or GpuKernels)"
#endif
#define CUAE_KERNEL_CAT_(a, b) a##b
#define CUAE_KERNEL_CAT(a, b) CUAE_KERNEL_CAT_(a, b)
#define KERNEL_SUITE(name) CUAE_KERNEL_CAT(CUAE_KERNEL_SUITE_PREFIX, name)
