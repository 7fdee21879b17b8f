# emscripten.cmake - toolchain of the wasm-* presets: Emscripten's own toolchain file, under
# KITE_EMSCRIPTEN_ROOT (a cache variable; default: the environment's KITE_EMSCRIPTEN_ROOT, else
# Debian's /usr/share/emscripten). Another install: -DKITE_EMSCRIPTEN_ROOT=.../emscripten
# (docs/TOOLCHAIN.md).
if(NOT KITE_EMSCRIPTEN_ROOT)
  if(DEFINED ENV{KITE_EMSCRIPTEN_ROOT})
    set(KITE_EMSCRIPTEN_ROOT "$ENV{KITE_EMSCRIPTEN_ROOT}" CACHE PATH "Emscripten's root directory (holds emcc)")
  else()
    set(KITE_EMSCRIPTEN_ROOT "/usr/share/emscripten" CACHE PATH "Emscripten's root directory (holds emcc)")
  endif()
endif()
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES KITE_EMSCRIPTEN_ROOT)
include("${KITE_EMSCRIPTEN_ROOT}/cmake/Modules/Platform/Emscripten.cmake")
