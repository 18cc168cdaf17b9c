#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds (with the CUDA backend where nvcc
# exists, warnings as errors), runs every ctest label, then rebuilds the library with
# AddressSanitizer + UndefinedBehaviorSanitizer and runs the unit suite under them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTRELBO_CUDA=OFF \
  -DTRELBO_SANITIZE=address,undefined
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest -L unit --output-on-failure -j"$jobs")
echo "trelbo: all tests passed"
