# libFuzzer targets: every tests/fuzz/fuzz_*.c is one executable built with clang's
# -fsanitize=fuzzer (plus ASan/UBSan from the fuzz preset). Seed corpora: tests/fuzz/seeds_<name without fuzz_>/ (scripts/test.sh copies them) or made by scripts/test.sh (run_fuzz).
file(GLOB KITE_FUZZ_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
foreach(src ${KITE_FUZZ_SRC})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/native ${CMAKE_SOURCE_DIR}/openai ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(${name} PRIVATE kite)
endforeach()
