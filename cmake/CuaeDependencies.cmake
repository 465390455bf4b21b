# Third-party libraries, all from Debian's packages (scripts/install-deps.sh installs them).
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(ZLIB REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(fmt REQUIRED)
find_package(CLI11 REQUIRED)
find_package(Threads REQUIRED)

# OpenBLAS's OpenMP build, so that its threads and ours share one pool (libopenblas-openmp-dev).
find_path(CUAE_OPENBLAS_INCLUDE_DIR cblas.h
  PATHS /usr/include/x86_64-linux-gnu/openblas-openmp /usr/include/openblas NO_DEFAULT_PATH)
find_library(CUAE_OPENBLAS_LIBRARY NAMES openblas
  PATHS /usr/lib/x86_64-linux-gnu/openblas-openmp NO_DEFAULT_PATH)
if(NOT CUAE_OPENBLAS_INCLUDE_DIR OR NOT CUAE_OPENBLAS_LIBRARY)
  message(FATAL_ERROR "cuae: OpenBLAS (OpenMP build) not found; run scripts/install-deps.sh "
                      "(Debian package libopenblas-openmp-dev)")
endif()
add_library(cuae_openblas INTERFACE)
target_include_directories(cuae_openblas SYSTEM INTERFACE ${CUAE_OPENBLAS_INCLUDE_DIR})
target_link_libraries(cuae_openblas INTERFACE ${CUAE_OPENBLAS_LIBRARY})

find_path(CUAE_STB_INCLUDE_DIR stb_image_write.h PATHS /usr/include/stb REQUIRED)

if(CUAE_BUILD_TESTS)
  find_package(GTest REQUIRED)
  find_package(Boost 1.74 REQUIRED COMPONENTS context)
endif()
if(CUAE_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
