# WASI toolchain: clang-14 with Debian's wasi-libc sysroot (no threads).
# KITE_WASI_RELAXED=ON (preset wasi-tests-relaxed): clang-19 with -mrelaxed-simd instead (clang 14
# lacks the relaxed builtins); it links against clang 14's wasm32 builtins library, the one
# Debian ships (clang-19 has none for wasm32). Tool paths are cache variables with Debian's
# defaults (docs/TOOLCHAIN.md): KITE_WASI_CC, KITE_WASI_CC_RELAXED, KITE_WASI_SYSROOT,
# KITE_WASI_BUILTINS.
set(CMAKE_SYSTEM_NAME WASI)
set(CMAKE_SYSTEM_VERSION 1)
set(CMAKE_SYSTEM_PROCESSOR wasm32)
set(KITE_WASI_CC "clang-14" CACHE FILEPATH "clang that targets wasm32-wasi (SIMD128 builds)")
set(KITE_WASI_CC_RELAXED "clang-19" CACHE FILEPATH "clang with the relaxed-SIMD builtins (wasi-tests-relaxed)")
set(KITE_WASI_SYSROOT "/usr" CACHE PATH "wasi-libc sysroot (include/wasm32-wasi, lib/wasm32-wasi)")
if(KITE_WASI_RELAXED AND NOT KITE_WASI_BUILTINS)
  file(GLOB kite_clang14_rt /usr/lib/llvm-14/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a)
  if(NOT kite_clang14_rt)
    message(FATAL_ERROR "no libclang_rt.builtins-wasm32.a under /usr/lib/llvm-14 (libclang-rt-14-dev-wasm32): set KITE_WASI_BUILTINS")
  endif()
  list(GET kite_clang14_rt 0 kite_clang14_rt)
  set(KITE_WASI_BUILTINS "${kite_clang14_rt}" CACHE FILEPATH "libclang_rt.builtins-wasm32.a to link the relaxed build with")
endif()
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES KITE_WASI_RELAXED KITE_WASI_CC KITE_WASI_CC_RELAXED KITE_WASI_SYSROOT
     KITE_WASI_BUILTINS)
set(kite_wasi_simd "-msimd128")
set(kite_wasi_link "")
if(KITE_WASI_RELAXED)
  set(CMAKE_C_COMPILER ${KITE_WASI_CC_RELAXED})
  set(kite_wasi_simd "-msimd128 -mrelaxed-simd")
  get_filename_component(kite_clang14_res ${KITE_WASI_BUILTINS} DIRECTORY)   # .../lib/wasi
  get_filename_component(kite_clang14_res ${kite_clang14_res} DIRECTORY)     # .../lib
  get_filename_component(kite_clang14_res ${kite_clang14_res} DIRECTORY)     # the resource dir
  # -O0 at link: clang-19 then skips running wasm-opt, whose Debian version (binaryen 108)
  # rejects final relaxed-SIMD opcodes (the code itself is compiled at the build type's -O)
  set(kite_wasi_link "-resource-dir=${kite_clang14_res} -O0 ")
else()
  set(CMAKE_C_COMPILER ${KITE_WASI_CC})
endif()
set(CMAKE_C_COMPILER_TARGET wasm32-wasi)
set(CMAKE_SYSROOT ${KITE_WASI_SYSROOT})
set(CMAKE_C_FLAGS_INIT "${kite_wasi_simd} -D_WASI_EMULATED_MMAN -D_WASI_EMULATED_SIGNAL -D_WASI_EMULATED_PROCESS_CLOCKS -D_WASI_EMULATED_GETPID")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${kite_wasi_link}-lwasi-emulated-mman -lwasi-emulated-signal -lwasi-emulated-process-clocks -lwasi-emulated-getpid -Wl,--stack-first -Wl,-z,stack-size=8388608")
set(CMAKE_EXECUTABLE_SUFFIX ".wasm")
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
