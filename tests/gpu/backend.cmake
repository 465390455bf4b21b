# The CUDA-backend comparison tests (tests/emulated/backend_test.cpp) on a real GPU, against libcuae.
# Suites are named GpuBackend*, so `ctest -R Gpu` selects them with the kernel tests; without a usable
# device every test skips with the runtime's reason. Included from tests/emulated/CMakeLists.txt (and
# safe to include again from tests/gpu/CMakeLists.txt).
if(NOT CUAE_HAS_CUDA OR TARGET cuae_gpu_backend_tests)
  return()
endif()
add_executable(cuae_gpu_backend_tests ${PROJECT_SOURCE_DIR}/tests/emulated/backend_test.cpp)
target_compile_definitions(cuae_gpu_backend_tests PRIVATE CUAE_BACKEND_SUITE_PREFIX=GpuBackend)
target_include_directories(cuae_gpu_backend_tests PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}
                                                          ${PROJECT_SOURCE_DIR}/tests)
target_link_libraries(cuae_gpu_backend_tests PRIVATE cuae GTest::gtest GTest::gtest_main)
cuae_strict_warnings(cuae_gpu_backend_tests)
gtest_discover_tests(cuae_gpu_backend_tests DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60)
