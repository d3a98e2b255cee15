# Warning sets as INTERFACE targets: strict for the library and programs,
# without -Wconversion for tests (Criterion's new asserts trip it, see STYLE.md).
# Warnings as errors are for CI (`./run test` turns them on): a user's build
# with another compiler or optimisation level must not fail on a new warning.
option(PW_WERROR "Treat warnings as errors" OFF)

add_library(pw_warnings_base INTERFACE)
target_compile_options(pw_warnings_base INTERFACE
    -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wformat=2 -Wcast-qual -Wundef -Wvla -Wnull-dereference -Wdouble-promotion)
if(PW_WERROR)
    target_compile_options(pw_warnings_base INTERFACE -Werror)
endif()

add_library(pw_warnings_strict INTERFACE)
target_link_libraries(pw_warnings_strict INTERFACE pw_warnings_base)
target_compile_options(pw_warnings_strict INTERFACE -Wconversion -Wsign-conversion)
