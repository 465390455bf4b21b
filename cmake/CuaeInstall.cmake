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
