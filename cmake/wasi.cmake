# WASI toolchain: clang-14 with Debian's wasi-libc sysroot (no threads).
# KITE_WASI_RELAXED=ON (preset wasi-tests-relaxed): clang-19 with -mrelaxed-simd instead (clang 14
# lacks the relaxed builtins); it links against clang 14's wasm32 builtins library, the one
# Debian ships (clang-19 has none for wasm32).
set(CMAKE_SYSTEM_NAME WASI)
set(CMAKE_SYSTEM_VERSION 1)
set(CMAKE_SYSTEM_PROCESSOR wasm32)
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES KITE_WASI_RELAXED)
set(kite_wasi_simd "-msimd128")
set(kite_wasi_link "")
if(KITE_WASI_RELAXED)
  set(CMAKE_C_COMPILER clang-19)
  set(kite_wasi_simd "-msimd128 -mrelaxed-simd")
  file(GLOB kite_clang14_rt /usr/lib/llvm-14/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a)
  list(GET kite_clang14_rt 0 kite_clang14_rt)
  get_filename_component(kite_clang14_res ${kite_clang14_rt} DIRECTORY)   # .../lib/wasi
  get_filename_component(kite_clang14_res ${kite_clang14_res} DIRECTORY)  # .../lib
  get_filename_component(kite_clang14_res ${kite_clang14_res} DIRECTORY)  # the resource dir
  # -O0 at link: clang-19 then skips running wasm-opt, whose Debian version (binaryen 108)
  # rejects final relaxed-SIMD opcodes (the code itself is compiled at the build type's -O)
  set(kite_wasi_link "-resource-dir=${kite_clang14_res} -O0 ")
else()
  set(CMAKE_C_COMPILER clang-14)
endif()
set(CMAKE_C_COMPILER_TARGET wasm32-wasi)
set(CMAKE_SYSROOT /usr)
set(CMAKE_C_FLAGS_INIT "${kite_wasi_simd} -D_WASI_EMULATED_MMAN -D_WASI_EMULATED_SIGNAL -D_WASI_EMULATED_PROCESS_CLOCKS -D_WASI_EMULATED_GETPID")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${kite_wasi_link}-lwasi-emulated-mman -lwasi-emulated-signal -lwasi-emulated-process-clocks -lwasi-emulated-getpid -Wl,--stack-first -Wl,-z,stack-size=8388608")
set(CMAKE_EXECUTABLE_SUFFIX ".wasm")
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
