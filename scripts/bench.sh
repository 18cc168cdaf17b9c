#!/usr/bin/env bash
# The main job: builds trelbo and runs the multi-particle ELBO benchmark on the default backend.
# Extra arguments go to trelbo-bench (see trelbo-bench --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target trelbo-bench
# One OpenMP pool shared by the kernels and BLAS; passive waiting keeps a busy neighbour process
# from stalling every parallel region by a scheduler quantum (measured: 16 ms steps otherwise).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
. scripts/openblas-env.sh build/bench/trelbo-bench
exec build/bench/trelbo-bench "$@"
