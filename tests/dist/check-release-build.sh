#!/bin/sh
# Warnings are errors only when asked for (CI asks: ./run test), and the
# release build has none: a default configure compiles without -Werror, and
# -DCMAKE_BUILD_TYPE=Release (gcc -O3, whose inlining finds warnings -O2
# does not) with -DPW_WERROR=ON builds the program, so the library, every
# module it links and the program itself. Tests and benchmarks are not built:
# the suite compiles them already.
#   check-release-build.sh SOURCE_DIR C_COMPILER
set -eu
src=$1 cc=$2
dir=$(mktemp -d /tmp/pw-release-XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "check-release-build: $*" >&2; exit 1; }

cmake -S "$src" -B "$dir/default" -DCMAKE_C_COMPILER="$cc" -DPW_TESTS=OFF >/dev/null ||
    fail "default configure failed"
if grep -q -e '-Werror' "$dir/default/compile_commands.json"; then
    fail "a default build compiles with -Werror (PW_WERROR must be OFF unless asked)"
fi
cmake -S "$src" -B "$dir/release" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Release \
    -DPW_WERROR=ON -DPW_TESTS=OFF >/dev/null || fail "release configure failed"
if ! cmake --build "$dir/release" --target planwatch -j "$(nproc)" >"$dir/build.log" 2>&1; then
    grep -E -A3 'error|warning' "$dir/build.log" | grep -v '^\[' | head -40 >&2
    fail "-DCMAKE_BUILD_TYPE=Release -DPW_WERROR=ON does not build"
fi
echo "check-release-build: no -Werror by default; the Release build with it is clean"
