# libFuzzer builds (fuzz/run): clang only, in a build tree of their own.
# Every target is instrumented for coverage and checked by ASan and UBSan, so
# the fuzzer sees inside pw_proto too; the harness binaries add libFuzzer's
# main() at link time (fuzz/CMakeLists.txt).
option(PW_FUZZ "Build the libFuzzer harnesses (clang; see fuzz/run)" OFF)
if(PW_FUZZ)
    if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
        message(FATAL_ERROR "PW_FUZZ needs clang (-DCMAKE_C_COMPILER=clang-14), not "
                            "${CMAKE_C_COMPILER_ID}")
    endif()
    if(PW_SANITIZE)
        message(FATAL_ERROR "PW_FUZZ already sanitizes; do not combine it with PW_SANITIZE")
    endif()
    add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
                        -fno-omit-frame-pointer -g -O1)
    add_link_options(-fsanitize=address,undefined)
endif()
