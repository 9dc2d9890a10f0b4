#!/usr/bin/env bash
# Builds and runs the whole test suite (unit, model, end-to-end, golden).
# --sanitize: the same in an address/undefined-behaviour sanitizer build.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build
flags=(-DCMAKE_BUILD_TYPE=Release)
if [ "${1:-}" = "--sanitize" ]; then
  dir=build-asan
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DATTNSIM_SANITIZE=ON -DATTNSIM_BENCH=OFF)
  export ASAN_OPTIONS=detect_leaks=0   # SystemC's kernel keeps its objects until exit
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1   # undefined behaviour fails the test
fi
cmake -S . -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
cd "$dir" && ctest -j"$(nproc)" --output-on-failure --timeout 900
