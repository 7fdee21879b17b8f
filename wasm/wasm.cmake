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

# memory64 (wasm64): a separate build, kite-<flavor>64, for models larger than wasm32's 4 GiB;
# the JS picks it only for such a model, where the engine has memory64. Debian ships no wasm64
# system libraries: emcc builds them once into a writable, repo-local cache (KITE_EMCACHE64,
# made by scripts/setup.sh), through a config naming it and a node wrapper that drops a flag
# Node 20 refuses (docs/TOOLCHAIN.md). Single thread only.
option(KITE_WASM_MEMORY64 "memory64 build (wasm/em-wasm64.config.in)" OFF)
set(KITE_EMCACHE64 "${CMAKE_SOURCE_DIR}/build/emcache-wasm64" CACHE PATH "Emscripten cache holding the wasm64 system libraries")
set(KITE_LLVM14_BIN "/usr/bin" CACHE PATH "the clang/wasm-ld emcc 3.1.6 uses (clang 14): the memory64 build")
if(KITE_WASM_MEMORY64)
  if(KITE_WASM_FLAVOR STREQUAL "mt" OR KITE_WASM_RELAXED)
    message(FATAL_ERROR "the memory64 build is single-thread SIMD128 only (KITE_WASM_FLAVOR=st, KITE_WASM_RELAXED=OFF)")
  endif()
  if(NOT EXISTS ${KITE_EMCACHE64}/sysroot/lib/wasm64-emscripten/libc.a)
    message(FATAL_ERROR "${KITE_EMCACHE64} has no wasm64 libc: run scripts/build_emcache64.sh once (docs/TOOLCHAIN.md)")
  endif()
  set(KITE_WASM_NAME kite-${KITE_WASM_FLAVOR}64)
  set(KITE_NODE_WRAPPER ${CMAKE_SOURCE_DIR}/wasm/node-no-bigint-flag.sh)
  # emcc's clang 14, as for the libc (wasm-ld 19 writes 64-bit tables that binaryen 108 cannot
  # read); the cache is read only.
  set(KITE_WASM64_LLVM_BIN ${KITE_LLVM14_BIN})
  set(KITE_EMCACHE64_FROZEN True)
  configure_file(${CMAKE_SOURCE_DIR}/wasm/em-wasm64.config.in ${CMAKE_BINARY_DIR}/em-wasm64.config @ONLY)
  set(em_env "${em_env} KITE_NODE=${KITE_NODE} EM_CONFIG=${CMAKE_BINARY_DIR}/em-wasm64.config")
  set_property(GLOBAL PROPERTY RULE_LAUNCH_COMPILE "${em_env}")
  set_property(GLOBAL PROPERTY RULE_LAUNCH_LINK "${em_env}")
  # clang 14 crashes selecting some auto-vectorized wasm64 SIMD code ("Cannot select:
  # extract_vector_elt ... Constant:i64"): the loop and SLP vectorizers are off here; the
  # kernels' explicit SIMD128 intrinsics stay.
  target_compile_options(kite PRIVATE -sMEMORY64=1 -fno-vectorize -fno-slp-vectorize)
  # Its explicit f32x4 lane extractions crash clang 14 the same way: the kernel files that
  # have them are compiled by clang 19 (emcc --em-config beats EM_CONFIG), whose objects wasm-ld
  # 14 links.
  set(KITE_WASM64_LLVM_BIN ${KITE_LLVM19_BIN})
  configure_file(${CMAKE_SOURCE_DIR}/wasm/em-wasm64.config.in ${CMAKE_BINARY_DIR}/em-wasm64-clang19.config @ONLY)
  set(KITE_WASM64_LLVM_BIN ${KITE_LLVM14_BIN})
  set_source_files_properties(${CMAKE_SOURCE_DIR}/src/kernels/attend_wasm.c ${CMAKE_SOURCE_DIR}/src/kernels/kernels_wasm.c
    ${CMAKE_SOURCE_DIR}/src/kernels/glu_wasm.c ${CMAKE_SOURCE_DIR}/src/kernels/rmsnorm_wasm.c
    TARGET_DIRECTORY kite PROPERTIES COMPILE_OPTIONS
    "--em-config;${CMAKE_BINARY_DIR}/em-wasm64-clang19.config;-mno-reference-types;-mno-multivalue;-Wno-version-check")
endif()

# The WebGPU backend (src/model/backend_webgpu.c; web/webgpu/README.md): a separate build,
# kite-<flavor>-webgpu (presets wasm-st-webgpu, wasm-mt-webgpu), that the worker loads for device
# 'webgpu' (or 'auto' with an adapter): mt where the page may use threads. Only the kite worker
# (the thread that owns the GPU device) calls the imports: the pool threads run CPU ops only. Its imports come from wasm/library_kite_webgpu.js.
option(KITE_WEBGPU "Build the WebGPU backend" OFF)
if(KITE_WEBGPU)
  set(KITE_WASM_NAME ${KITE_WASM_NAME}-webgpu)
endif()

file(GLOB KITE_WASM_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/wasm/exports*.c)
if(KITE_WASM_MEMORY64)
  list(APPEND KITE_WASM_SRC ${CMAKE_SOURCE_DIR}/wasm/wasm64_tf2.c)
endif()
# The npm package's chat takes tools through the same OpenAI request code as kite serve
# (openai/, exports_tools.c).
file(GLOB KITE_OPENAI_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/openai/*.c)
list(APPEND KITE_WASM_SRC ${KITE_OPENAI_SRC})
add_executable(kite_wasm ${KITE_WASM_SRC})
target_include_directories(kite_wasm PRIVATE ${CMAKE_SOURCE_DIR}/openai)
set_target_properties(kite_wasm PROPERTIES OUTPUT_NAME ${KITE_WASM_NAME} SUFFIX ".js")
target_compile_options(kite_wasm PRIVATE ${KITE_WARN})
target_link_libraries(kite_wasm PRIVATE kite)
# Every translation unit gets SIMD128: the core's scalar code auto-vectorises too.
target_compile_options(kite PRIVATE -msimd128)
target_compile_options(kite_wasm PRIVATE -msimd128)
if(KITE_WASM_MEMORY64)
  target_compile_options(kite_wasm PRIVATE -sMEMORY64=1 -fno-vectorize -fno-slp-vectorize)
endif()

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
if(KITE_WASM_MEMORY64)
  # 16 GiB: the most a browser gives one memory64 instance today (Chromium).
  # emcc 3.1.6 has no wasm64 emmalloc; dlmalloc's 2 GiB block limit is a wasm32 one (half of
  # size_t), so on wasm64 it takes a model in one block.
  list(REMOVE_ITEM KITE_WASM_LINK -sMAXIMUM_MEMORY=4GB -sMALLOC=emmalloc)
  list(APPEND KITE_WASM_LINK -sMEMORY64=1 -sMAXIMUM_MEMORY=16GB -sMALLOC=dlmalloc)
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
