#!/usr/bin/env bash
# The main job: builds trelbo and runs the multi-particle ELBO benchmark on the default backend.
# Extra arguments go to trelbo-bench (see trelbo-bench --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target trelbo-bench
exec build/bench/trelbo-bench "$@"
