# tributary_add_plugin(<name> SOURCES ...): a plugin shared library lib<name>.so that exports
# only its entry symbol.
function(tributary_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE tributary::sdk)
  set_target_properties(${name} PROPERTIES PREFIX "lib" SUFFIX ".so"
    CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  # Hidden visibility leaves the standard library's weak template instances exported; the
  # version script keeps the entry symbol only, whatever the compiler and standard library.
  set(map "${CMAKE_CURRENT_BINARY_DIR}/tributary_plugin_exports.map")
  if(NOT EXISTS "${map}")
    file(WRITE "${map}" "{ global: tributary_plugin_entry; local: *; };\n")
  endif()
  target_link_options(${name} PRIVATE "LINKER:--version-script=${map}")
  set_property(TARGET ${name} APPEND PROPERTY LINK_DEPENDS "${map}")
endfunction()

# tributary_add_plugin_cases(<plugin target> <cases dir>): one ctest test per case directory,
# run by `tributary test-case` through the real loader and the cassette transport.
# Out of tree, the `tributary` installed beside this package (PREFIX/bin) is found first, then
# one on PATH; set TRIBUTARY_EXECUTABLE to use another.
set(_tributary_sdk_prefix "${CMAKE_CURRENT_LIST_DIR}/../../..")
function(tributary_add_plugin_cases plugin cases_dir)
  if(TARGET tributary)
    set(exe $<TARGET_FILE:tributary>)
  else()
    find_program(TRIBUTARY_EXECUTABLE tributary HINTS "${_tributary_sdk_prefix}/bin" REQUIRED)
    set(exe ${TRIBUTARY_EXECUTABLE})
  endif()
  file(GLOB cases LIST_DIRECTORIES true ${cases_dir}/*)
  foreach(case ${cases})
    if(IS_DIRECTORY ${case})
      get_filename_component(case_name ${case} NAME)
      add_test(NAME plugin.${plugin}.${case_name}
        COMMAND ${exe} test-case --plugin-dir $<TARGET_FILE_DIR:${plugin}> ${case})
    endif()
  endforeach()
endfunction()
