# dsv4_module(NAME DEPS <targets...> [PRIVATE_DEPS <targets...>])
# Builds every *.cc in the calling folder (except *_test.cc, *_bench.cc and *_fuzz.cc) into the
# static library dsv4_<NAME>, and every *_test.cc into the test executable dsv4_<NAME>_test.
# The DEPS list is the only list of what the layer may include: an illegal include fails to link.
function(dsv4_module NAME)
  cmake_parse_arguments(M "" "" "DEPS;PRIVATE_DEPS;TEST_DEPS" ${ARGN})
  file(GLOB _all CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc ${CMAKE_CURRENT_SOURCE_DIR}/*/*.cc)
  set(_srcs)
  set(_tests)
  foreach(f ${_all})
    if(f MATCHES "_test\\.cc$")
      list(APPEND _tests ${f})
    elseif(NOT f MATCHES "_(bench|fuzz)\\.cc$")
      list(APPEND _srcs ${f})
    endif()
  endforeach()
  add_library(dsv4_${NAME} STATIC ${_srcs})
  target_include_directories(dsv4_${NAME} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(dsv4_${NAME} PUBLIC ${M_DEPS} PRIVATE ${M_PRIVATE_DEPS})
  if(DSV4_BUILD_TESTS AND _tests)
    add_executable(dsv4_${NAME}_test ${_tests})
    target_link_libraries(dsv4_${NAME}_test PRIVATE dsv4_${NAME} ${M_TEST_DEPS} GTest::gtest GTest::gtest_main)
    target_compile_definitions(dsv4_${NAME}_test PRIVATE
      DSV4_SHARED_DIR="${DSV4_SHARED_DIR}" DSV4_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
      DSV4_BINARY_DIR="${PROJECT_BINARY_DIR}")
    # GoogleTest's header costs ~2 s in every test file: compile it once per test binary.
    target_precompile_headers(dsv4_${NAME}_test PRIVATE <gtest/gtest.h>)
    gtest_discover_tests(dsv4_${NAME}_test DISCOVERY_TIMEOUT 60 PROPERTIES LABELS ${NAME})
  endif()
endfunction()
