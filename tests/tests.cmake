# C tests: every tests/unit/test_*.c is one executable and one ctest test.
# They find models through KITE_MODELS (default: ../shared/models beside the repo).
if(DEFINED ENV{KITE_MODELS})
  set(KITE_MODELS_DIR $ENV{KITE_MODELS})
else()
  get_filename_component(KITE_MODELS_DIR ${CMAKE_SOURCE_DIR}/../shared/models ABSOLUTE)
endif()
file(GLOB KITE_TEST_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/test_*.c)
set(KITE_WASI_TESTS OFF)
if(CMAKE_SYSTEM_NAME STREQUAL "WASI")
  # WASI (preset wasi-tests): no fork, exec, dlopen or threads. Build the tests that need none
  # (sys/wait.h and cli_run.h mean a child process, dlsym/dlclose a llama.cpp library, pthread.h
  # threads; test_kernels compiles its dlopen part out, below); Node runs them
  # (tests/node/wasm_kernels.test.mjs), so no ctest entries. Benches are not built.
  set(KITE_WASI_TESTS ON)
  foreach(src ${KITE_TEST_SRC})
    file(READ ${src} body)
    if(NOT src MATCHES "/test_kernels\\.c$" AND body MATCHES "sys/wait\\.h|cli_run\\.h|dlfcn\\.h|dl(sym|close)\\(|pthread\\.h")
      list(REMOVE_ITEM KITE_TEST_SRC ${src})
    endif()
  endforeach()
  file(GLOB bench_src ${CMAKE_SOURCE_DIR}/bench/*_bench.c)
  foreach(src ${bench_src})
    get_filename_component(name ${src} NAME_WE)
    if(TARGET ${name})
      set_target_properties(${name} PROPERTIES EXCLUDE_FROM_ALL ON)
    endif()
  endforeach()
endif()
foreach(src ${KITE_TEST_SRC})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_compile_options(${name} PRIVATE ${KITE_WARN})
  if(KITE_ARCH STREQUAL "arm" AND CMAKE_C_COMPILER_ID STREQUAL "GNU" AND CMAKE_C_COMPILER_VERSION VERSION_LESS 13)
    # gcc 12 for aarch64 crashes (ICE in vect_transform_reduction) vectorizing the tests'
    # double-precision reference loops; the tests need no vectorization.
    target_compile_options(${name} PRIVATE -fno-tree-loop-vectorize)
  endif()
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit)
  target_link_libraries(${name} PRIVATE kite)
  target_link_libraries(${name} PRIVATE ${CMAKE_DL_LIBS}) # ggml_ref.h dlopens llama.cpp's libggml-base.so
  if(KITE_WASI_TESTS)
    continue()
  endif()
  add_test(NAME ${name} COMMAND ${name})
  # A test that needs a reference the machine lacks (llama.cpp's libraries from node-llama-cpp,
  # the shared models) prints "skip: <what is missing>" and exits 77: ctest lists it as skipped.
  # Under CI=true a missing reference is a failure instead (check.h). Labels say which references
  # a test reads: needs-llama, needs-shared (`ctest -LE needs-shared` runs the rest).
  file(READ ${src} body)
  set(labels "")
  if(body MATCHES "llama_lib\\.h|ggml_ref\\.h|llama_ref\\.h|llama_quant_ref\\.h")
    list(APPEND labels needs-llama)
  endif()
  # (stories260K.gguf comes from the repository's models/: reading only it needs nothing shared)
  if(body MATCHES "check_read_model\\(([^\"]|\"[^s])|check_models_dir|KITE_MODELS")
    list(APPEND labels needs-shared)
  endif()
  # KITE_EMULATED: the test runs under CMAKE_CROSSCOMPILING_EMULATOR (qemu): slow passes may be left out
  # (and gets twice the time: test_batch_invariance alone takes 500+ s of qemu, more beside others)
  set(emulated 0)
  set(timeout 900)
  if(CMAKE_CROSSCOMPILING AND CMAKE_CROSSCOMPILING_EMULATOR)
    set(emulated 1)
    set(timeout 1800)
  endif()
  set_tests_properties(${name} PROPERTIES
    ENVIRONMENT "KITE_MODELS=${KITE_MODELS_DIR};KITE_ROOT=${CMAKE_SOURCE_DIR};KITE_BIN=$<TARGET_FILE:kite_cli>;KITE_EMULATED=${emulated}"
    SKIP_RETURN_CODE 77 LABELS "${labels}" TIMEOUT ${timeout})
endforeach()

# webgpu_ref: writes the C core's reference values for the WebGPU kernel tests
# (tests/node/webgpu.test.mjs runs it); a tool, not a ctest.
if(NOT KITE_WASI_TESTS AND NOT CMAKE_SYSTEM_NAME STREQUAL "Emscripten")
  add_executable(webgpu_ref ${CMAKE_SOURCE_DIR}/tests/unit/webgpu_ref.c)
  target_compile_options(webgpu_ref PRIVATE ${KITE_WARN})
  target_link_libraries(webgpu_ref PRIVATE kite m)
endif()

# The module graph: includes point down (base <- gguf, blocks, sampler, chat <- quant, kernels,
# tokenizer <- model <- hosts); hosts use the public API only.
if(NOT KITE_WASI_TESTS)
  add_test(NAME check_layering COMMAND sh ${CMAKE_SOURCE_DIR}/scripts/check_layering.sh ${CMAKE_SOURCE_DIR})
  set_tests_properties(check_layering PROPERTIES LABELS "lint")
endif()
