# wasm.cmake - the Emscripten host: links libkite and wasm/exports*.c into kite-<flavor>.js/.wasm
# (flavor mt: SIMD128 + pthreads, st: SIMD128 only). Included by CMakeLists.txt when EMSCRIPTEN.
# `npm run build:wasm` configures both presets and copies the outputs to dist/.
set(KITE_WASM_FLAVOR "st" CACHE STRING "Emscripten flavour: mt (pthreads) or st (single thread)")
if(KITE_WASM_FLAVOR STREQUAL "mt" AND NOT KITE_THREADS)
  message(FATAL_ERROR "KITE_WASM_FLAVOR=mt needs KITE_THREADS=ON")
endif()

file(GLOB KITE_WASM_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/wasm/exports*.c)
add_executable(kite_wasm ${KITE_WASM_SRC})
set_target_properties(kite_wasm PROPERTIES OUTPUT_NAME kite-${KITE_WASM_FLAVOR} SUFFIX ".js")
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
  # because Emscripten 3.1.6's pthread worker cannot load an ES6 module (TOOLCHAIN.md).
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
target_link_options(kite_wasm PRIVATE ${KITE_WASM_LINK})

# Copy the outputs where the npm package loads them from (dist/, beside web/). dist/ gets a
# package.json saying "commonjs": the Emscripten glue is a classic script, and the package
# root is "type": "module".
set(KITE_DIST_DIR ${CMAKE_SOURCE_DIR}/dist)
set(KITE_WASM_OUTPUTS $<TARGET_FILE_DIR:kite_wasm>/kite-${KITE_WASM_FLAVOR}.js
    $<TARGET_FILE_DIR:kite_wasm>/kite-${KITE_WASM_FLAVOR}.wasm)
if(KITE_WASM_FLAVOR STREQUAL "mt")
  list(APPEND KITE_WASM_OUTPUTS $<TARGET_FILE_DIR:kite_wasm>/kite-mt.worker.js)
endif()
add_custom_command(TARGET kite_wasm POST_BUILD
  COMMAND ${CMAKE_COMMAND} -E make_directory ${KITE_DIST_DIR}
  COMMAND ${CMAKE_COMMAND} -E copy ${KITE_WASM_OUTPUTS} ${KITE_DIST_DIR}/
  COMMAND ${CMAKE_COMMAND} -E copy ${CMAKE_SOURCE_DIR}/wasm/dist-package.json ${KITE_DIST_DIR}/package.json
  COMMENT "kite: copying kite-${KITE_WASM_FLAVOR} to dist/")
