# cmake --install: headers, libcuae, the cuae program, and a CMake package so that another project
# can find_package(cuae) and link cuae::cuae.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS cuae EXPORT cuaeTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET cuae_cli)
  install(TARGETS cuae_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/cuae DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/generated/include/cuae/config.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/cuae)
install(EXPORT cuaeTargets NAMESPACE cuae:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/cuae)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/cuaeConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cuaeConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/cuae)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cuaeConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cuaeConfig.cmake ${PROJECT_BINARY_DIR}/cuaeConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/cuae)

# Consumers compile cuae's headers as C++20, and the installed library and program find their
# dependencies (OpenBLAS's OpenMP build, CUDA) through the directories they were linked from.
target_compile_features(cuae PUBLIC cxx_std_20)
set_target_properties(cuae PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)
if(TARGET cuae_cli)
  set_target_properties(cuae_cli PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}"
                                            INSTALL_RPATH_USE_LINK_PATH ON)
endif()
