#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds (with the CUDA backend where nvcc
# exists, warnings as errors), runs every ctest label, builds and runs them again with clang, then
# rebuilds the library with AddressSanitizer + UndefinedBehaviorSanitizer and without
# -march=native and runs the unit suite under them, and the CUDA backend's code in its emulated
# (host) build against the CPU backend.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh clang libomp-dev
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")
# the installed library, linked by a separate project the way a training binary would
cmake --install build --prefix build/install-test >/dev/null
cmake -S examples/installed_consumer -B build/consumer -DCMAKE_PREFIX_PATH="$PWD/build/install-test"
cmake --build build/consumer -j"$jobs"
build/consumer/train

# The same library and tests built by clang, warnings as errors (a training binary may be built
# with either compiler)
CC=clang cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=Release -DTRELBO_CUDA=OFF
cmake --build build-clang -j"$jobs"
(cd build-clang && ctest --output-on-failure -j"$jobs")

# (without -march=native: the kernels' portable paths, which the native builds never take; the
# emulated build below runs the unit suite natively under the same sanitizers)
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTRELBO_CUDA=OFF -DTRELBO_NATIVE=OFF \
  -DTRELBO_SANITIZE=address,undefined
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest -L unit --output-on-failure -j"$jobs")
# The CUDA backend's own source compiled as host C++ (no GPU needed) under the sanitizers: its
# kernels run serially and the gpu parity test compares them with the CPU backend.
cmake -S . -B build-emu -DCMAKE_BUILD_TYPE=Debug -DTRELBO_CUDA_EMULATE=ON \
  -DTRELBO_SANITIZE=address,undefined
cmake --build build-emu -j"$jobs"
(cd build-emu && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest -L "unit|gpu" --output-on-failure -j"$jobs")
echo "trelbo: all tests passed"
