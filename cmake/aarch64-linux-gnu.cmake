# Cross toolchain for aarch64 Linux; binaries (and ctest) run through qemu-aarch64. The compiler
# and the emulator are cache variables with Debian's names (docs/TOOLCHAIN.md).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(KITE_AARCH64_CC "aarch64-linux-gnu-gcc" CACHE FILEPATH "aarch64 Linux cross C compiler")
set(KITE_QEMU_AARCH64 "qemu-aarch64" CACHE FILEPATH "qemu user-mode emulator for aarch64 (runs the tests)")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES KITE_AARCH64_CC KITE_QEMU_AARCH64)
set(CMAKE_C_COMPILER ${KITE_AARCH64_CC})
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_CROSSCOMPILING_EMULATOR ${KITE_QEMU_AARCH64})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
