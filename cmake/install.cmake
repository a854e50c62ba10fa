# cmake --install: libgreen.so (the preload and the library a C++20 program
# links), every header under include/green, green-run, a CMake package
# (find_package(libgreen) -> libgreen::libgreen, with a version file) and a
# pkg-config file (pkg-config --cflags --libs libgreen). Both are
# relocatable: they find the tree from where they are installed, so
# `cmake --install build --prefix DIR` works for any DIR.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set_target_properties(green PROPERTIES EXPORT_NAME libgreen)
target_include_directories(green INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_compile_features(green INTERFACE cxx_std_20)

install(TARGETS green EXPORT libgreenTargets LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS green-run RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The whole directory, whatever headers it holds when the tree is installed.
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/green DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp")

set(cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/libgreen)
install(EXPORT libgreenTargets NAMESPACE libgreen:: DESTINATION ${cmake_dir})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/libgreenConfig.cmake.in
  ${CMAKE_BINARY_DIR}/libgreenConfig.cmake INSTALL_DESTINATION ${cmake_dir})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/libgreenConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/libgreenConfig.cmake ${CMAKE_BINARY_DIR}/libgreenConfigVersion.cmake
        DESTINATION ${cmake_dir})

file(RELATIVE_PATH pc_to_prefix /x/${CMAKE_INSTALL_LIBDIR}/pkgconfig /x)
configure_file(${CMAKE_SOURCE_DIR}/cmake/libgreen.pc.in ${CMAKE_BINARY_DIR}/libgreen.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/libgreen.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
