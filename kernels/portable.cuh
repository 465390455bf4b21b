// Qualifiers for code shared by host C++ and CUDA (including the host SIMT emulation).
#pragma once

#if defined(__CUDACC__) || defined(CUAE_SIMT_EMULATION)
#define CUAE_HOST_DEVICE __host__ __device__
#else
#define CUAE_HOST_DEVICE
#endif
