# wasm.cmake - the Emscripten host: links libkite and wasm/exports*.c into kite-<flavor>.js/.wasm
# (flavor mt: SIMD128 + pthreads, st: SIMD128 only). Included by CMakeLists.txt when EMSCRIPTEN.
# `npm run build:wasm` configures both presets and copies the outputs to dist/.
set(KITE_WASM_FLAVOR "st" CACHE STRING "Emscripten flavour: mt (pthreads) or st (single thread)")
if(KITE_WASM_FLAVOR STREQUAL "mt" AND NOT KITE_THREADS)
  message(FATAL_ERROR "KITE_WASM_FLAVOR=mt needs KITE_THREADS=ON")
endif()

# Relaxed SIMD (i32x4.relaxed_dot_i8x16_i7x16_add_s in the int8 kernels): a separate build,
# kite-<flavor>-relaxed, that the JS picks where WebAssembly.validate accepts relaxed ops.
option(KITE_WASM_RELAXED "Relaxed-SIMD build (clang-19 through wasm/em-relaxed.config.in)" OFF)
set(KITE_WASM_NAME kite-${KITE_WASM_FLAVOR})
# Where the tools are (docs/TOOLCHAIN.md): Debian's places by default.
set(KITE_EMCC_NODE_PATH "/usr/share/nodejs" CACHE PATH "Node module directory holding acorn (emcc's JS optimizer)")
set(KITE_LLVM19_BIN "/usr/lib/llvm-19/bin" CACHE PATH "LLVM 19's bin directory (relaxed-SIMD builds)")
set(KITE_BINARYEN_ROOT "/usr" CACHE PATH "binaryen's prefix (bin/wasm-opt)")
set(KITE_NODE "/usr/bin/node" CACHE FILEPATH "node, for emcc")
# emcc's JS optimizer needs Debian's acorn (docs/TOOLCHAIN.md): every link gets NODE_PATH, so a
# plain `cmake --build --preset wasm-st` works without it in the environment.
set(em_env "${CMAKE_COMMAND} -E env NODE_PATH=${KITE_EMCC_NODE_PATH}")
if(KITE_WASM_RELAXED)
  set(KITE_WASM_NAME kite-${KITE_WASM_FLAVOR}-relaxed)
  # clang 14 (emcc's own) lacks the relaxed builtins: every compile and link of this build
  # directory runs emcc with a config naming clang-19 (docs/TOOLCHAIN.md).
  configure_file(${CMAKE_SOURCE_DIR}/wasm/em-relaxed.config.in ${CMAKE_BINARY_DIR}/em-relaxed.config @ONLY)
  set(em_env "${em_env} EM_CONFIG=${CMAKE_BINARY_DIR}/em-relaxed.config")
  set_property(GLOBAL PROPERTY RULE_LAUNCH_COMPILE "${em_env}")
  target_compile_options(kite PRIVATE -mrelaxed-simd)
endif()
set_property(GLOBAL PROPERTY RULE_LAUNCH_LINK "${em_env}")

# The WebGPU backend (src/model/backend_webgpu.c; web/webgpu/README.md): a separate build,
# kite-<flavor>-webgpu (preset wasm-st-webgpu), that the worker loads for device 'webgpu' (or
# 'auto' with an adapter). Its imports come from wasm/library_kite_webgpu.js.
option(KITE_WEBGPU "Build the WebGPU backend" OFF)
if(KITE_WEBGPU)
  set(KITE_WASM_NAME ${KITE_WASM_NAME}-webgpu)
endif()

file(GLOB KITE_WASM_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/wasm/exports*.c)
add_executable(kite_wasm ${KITE_WASM_SRC})
set_target_properties(kite_wasm PROPERTIES OUTPUT_NAME ${KITE_WASM_NAME} SUFFIX ".js")
target_compile_options(kite_wasm PRIVATE ${KITE_WARN})
target_link_libraries(kite_wasm PRIVATE kite)
# Every translation unit gets SIMD128: the core's scalar code auto-vectorises too.
target_compile_options(kite PRIVATE -msimd128)
target_compile_options(kite_wasm PRIVATE -msimd128)

string(TOUPPER ${KITE_WASM_FLAVOR} KITE_WASM_FLAVOR_UC)
set(KITE_WASM_LINK
  -O3 -msimd128
  -sMODULARIZE=1
  -sEXPORT_NAME=createKite${KITE_WASM_FLAVOR_UC}
  # web: the demo page's worker; node: worker_threads. The glue stays a classic script
  # because Emscripten 3.1.6's pthread worker cannot load an ES6 module (docs/TOOLCHAIN.md).
  -sENVIRONMENT=web,worker,node
  -sALLOW_MEMORY_GROWTH=1
  # wasm32 can address 4 GiB: the model is streamed into this heap, so allow all of it.
  -sMAXIMUM_MEMORY=4GB
  -sINITIAL_MEMORY=32MB
  # dlmalloc refuses single blocks of 2 GiB or more (HALF_MAX_SIZE_T); emmalloc takes any
  # size up to 4 GiB, and the model is one block.
  -sMALLOC=emmalloc
  -sTOTAL_STACK=1MB
  -sEXPORTED_FUNCTIONS=_malloc,_free
  -sEXPORTED_RUNTIME_METHODS=UTF8ToString,stringToUTF8,lengthBytesUTF8
  # Hostile input returns a status; an abort would only come from a programmer invariant.
  -sABORTING_MALLOC=0
  -sEXIT_RUNTIME=0
  -sFILESYSTEM=0)
if(KITE_WASM_FLAVOR STREQUAL "mt")
  # The pool is created before the module resolves, sized by the JS (Module.kitePoolSize):
  # a thread created later would need the kite worker's event loop, which C blocks.
  list(APPEND KITE_WASM_LINK -pthread "-sPTHREAD_POOL_SIZE=Module.kitePoolSize||0"
       -sPTHREAD_POOL_SIZE_STRICT=0 -Wno-pthreads-mem-growth)
endif()
if(KITE_WASM_RELAXED)
  # Debian's wasm-opt (binaryen 108) encodes relaxed ops from an old draft that browsers
  # reject: link at -O0 with WASM_BIGINT so emcc does not run it (the code is clang -O3).
  list(REMOVE_ITEM KITE_WASM_LINK -O3)
  list(APPEND KITE_WASM_LINK -O0 -sWASM_BIGINT)
endif()
if(KITE_WEBGPU)
  target_compile_definitions(kite PRIVATE KITE_WEBGPU)
  list(APPEND KITE_WASM_LINK --js-library ${CMAKE_SOURCE_DIR}/wasm/library_kite_webgpu.js)
endif()
target_link_options(kite_wasm PRIVATE ${KITE_WASM_LINK})

# Copy the outputs where the npm package loads them from (dist/, beside web/). dist/ gets a
# package.json saying "commonjs": the Emscripten glue is a classic script, and the package
# root is "type": "module".
set(KITE_DIST_DIR ${CMAKE_SOURCE_DIR}/dist)
set(KITE_WASM_OUTPUTS $<TARGET_FILE_DIR:kite_wasm>/${KITE_WASM_NAME}.js
    $<TARGET_FILE_DIR:kite_wasm>/${KITE_WASM_NAME}.wasm)
if(KITE_WASM_FLAVOR STREQUAL "mt")
  list(APPEND KITE_WASM_OUTPUTS $<TARGET_FILE_DIR:kite_wasm>/${KITE_WASM_NAME}.worker.js)
endif()
add_custom_command(TARGET kite_wasm POST_BUILD
  COMMAND ${CMAKE_COMMAND} -E make_directory ${KITE_DIST_DIR}
  COMMAND ${CMAKE_COMMAND} -E copy ${KITE_WASM_OUTPUTS} ${KITE_DIST_DIR}/
  COMMAND ${CMAKE_COMMAND} -E copy ${CMAKE_SOURCE_DIR}/wasm/dist-package.json ${KITE_DIST_DIR}/package.json
  COMMENT "kite: copying ${KITE_WASM_NAME} to dist/")
