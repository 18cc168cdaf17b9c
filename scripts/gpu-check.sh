#!/usr/bin/env bash
# The GPU check, for a machine with a CUDA device: builds trelbo with the CUDA backend (Release,
# for this machine's GPU unless TRELBO_CUDA_ARCHS says otherwise), runs the gpu tests (the CUDA
# backend against the CPU backend, op by op and whole ELBOs; SVI steps replayed from CUDA graphs
# against eager ones), the parity and step-graph tests under compute-sanitizer's memcheck and
# racecheck, the minibatch example (data refilled by tre_tensor_write under replayed graphs),
# the fault-injection sweep (every backend failure point of a graphed training run on the CUDA
# backend), and a short benchmark on the CUDA backend (eager, with graphed SVI steps, and the
# benchmark issue's GPU configuration: logistic regression 100,000 x 50 at P = 4096 and 16384,
# with NumPyro on the same GPU as the peer and bench/compare's check of the GPU targets), then
# prints a summary table. Exits nonzero when a step fails or was not run (no GPU).
#   TRELBO_PEER_PYTHON a python3 with JAX (CUDA) and NumPyro (default python3: the device
#                      image's has both); the peer step is a SKIP when it has neither
#   TRELBO_GPU_BUILD   build directory (default build-gpu)
#   TRELBO_CUDA_ARCHS  CMAKE_CUDA_ARCHITECTURES (default native: the GPUs of this machine)
#   TRELBO_GPU_BENCH   extra trelbo-bench arguments (default: two particle counts, 5 reps)
#   TRELBO_GPU_BUDGET_S  seconds after which the remaining steps are skipped (default 500: the
#                      device tool stops a command at 600 s); the steps run most important
#                      first (build, gpu tests, the GPU target and its peer, then the rest)
# On the device tool: run scripts/gpu-deps.sh here first (it copies cmocka and OpenBLAS into
# .devdeps/, which this script uses where the device's image lacks them), then
#   run(command="scripts/gpu-check.sh", carry=[".devdeps"], timeout_s=600)
# With $OUT set (the device tool), the summary and a tarball of every log and JSON land there.
# shellcheck disable=SC2317  # the step functions are called through run_step
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
build=${TRELBO_GPU_BUILD:-build-gpu}
archs=${TRELBO_CUDA_ARCHS:-native}
logs=$build/gpu-check
rm -rf "$logs" # this run's logs only: the summary shows every log it finds
mkdir -p "$logs"

rows=()
failed=0
budget=${TRELBO_GPU_BUDGET_S:-500}
# run_step NAME COMMAND...: runs it with its output in $logs/NAME.log; exit status 77 is SKIP
run_step() {
  local name=$1
  shift
  local log="$logs/$name.log" t0=$SECONDS rc res
  if [ "$SECONDS" -ge "$budget" ]; then
    rows+=("$(printf '%-22s %-10s %6ss   %s' "$name" "SKIP" 0 "(over the ${budget} s budget)")")
    failed=1
    return 77
  fi
  echo "== $name"
  "$@" >"$log" 2>&1
  rc=$?
  case $rc in
    0) res=PASS ;;
    77) res=SKIP; failed=1 ;;
    *) res="FAIL ($rc)"; failed=1 ;;
  esac
  rows+=("$(printf '%-22s %-10s %6ss   %s' "$name" "$res" "$((SECONDS - t0))" "$log")")
  [ "$rc" -eq 0 ] || { echo "   $res, last lines of $log:"; tail -n 15 "$log" | sed 's/^/   | /'; }
  return "$rc"
}

# ctest reports a test that exited 77 as "Not Run" with a zero status: make that a SKIP
gpu_tests() {
  local out
  out=$(cd "$build" && ctest -L gpu --output-on-failure --no-tests=error 2>&1)
  local rc=$?
  echo "$out"
  [ "$rc" -ne 0 ] && return "$rc"
  grep -q "Not Run\|Skipped" <<<"$out" && return 77
  return 0
}

find_sanitizer() {
  command -v compute-sanitizer && return
  for d in "${CUDA_HOME:-}" /usr/local/cuda; do
    [ -n "$d" ] && [ -x "$d/bin/compute-sanitizer" ] && { echo "$d/bin/compute-sanitizer"; return; }
  done
  return 1
}

sanitize() { # TOOL [TEST]: a gpu test (default the parity test) under compute-sanitizer
  local tool=$1 test=${2:-test_gpu_parity} cs
  cs=$(find_sanitizer) || { echo "compute-sanitizer not found"; return 77; }
  local extra=()
  [ "$tool" = memcheck ] && extra=(--leak-check full)
  [ "$tool" = racecheck ] && extra=(--racecheck-report hazard)
  # API errors are not reported: the test provokes one on purpose (a failed cudaMalloc must
  # come back as TRE_ERR_OUT_OF_MEMORY), and the test itself fails on any other
  "$cs" --tool "$tool" ${extra[@]+"${extra[@]}"} --report-api-errors no --error-exitcode 1 \
    "$build/tests/$test"
}

bench() {
  # shellcheck disable=SC2086
  TRELBO_BACKEND=cuda "$build/bench/trelbo-bench" ${TRELBO_GPU_BENCH:---particles 1024,16384 --reps 5} \
    --json "$build/gpu-check/bench.json"
}

bench_graph() { # value + gradient as SVI steps, each configuration replayed from one CUDA graph
  # shellcheck disable=SC2086
  TRELBO_BACKEND=cuda "$build/bench/trelbo-bench" ${TRELBO_GPU_BENCH:---particles 1024,16384 --reps 5} \
    --mode grad --graph --json "$build/gpu-check/bench-graph.json"
}

bench_lr_target() { # the GPU target's configuration (NumPyro on the same GPU is the peer)
  TRELBO_BACKEND=cuda "$build/bench/trelbo-bench" "${lr_target_args[@]}" --json "$logs/bench-lr-target.json"
}

lr_target_args=(--model logistic_regression --n 100000 --d 50 --particles "4096,16384" --mode grad --reps 5)
peer_python=${TRELBO_PEER_PYTHON:-python3}

bench_lr_peer() { # NumPyro (jit, vmap) with JAX on the same GPU: the GPU target's peer
  "$peer_python" -c 'import jax, numpyro' 2>/dev/null || { echo "$peer_python has no jax or numpyro"; return 77; }
  JAX_PLATFORMS=cuda PYTHONUNBUFFERED=1 "$peer_python" bench/peers/numpyro_bench.py "${lr_target_args[@]}" \
    --json "$logs/numpyro-lr-target.json"
}

compare_lr_target() { # both systems side by side, and the GPU targets met or not
  [ -f "$logs/numpyro-lr-target.json" ] || { echo "no NumPyro result to compare with"; return 77; }
  local plots=() # the table alone where the peer's python has no matplotlib
  "$peer_python" -c 'import matplotlib' 2>/dev/null || plots=(--no-plots)
  "$peer_python" bench/compare "$logs/bench-lr-target.json" "$logs/numpyro-lr-target.json" \
    --out "$logs" --prefix lr-target- ${plots[@]+"${plots[@]}"}
}

echo "device:"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/  /'
else
  echo "  (nvidia-smi not found)"
fi
# CMake finds the CUDA compiler through PATH (or CUDACXX): take the toolkit's own when PATH has none
if ! command -v nvcc >/dev/null; then
  for d in "${CUDA_HOME:-}" /usr/local/cuda; do
    if [ -n "$d" ] && [ -x "$d/bin/nvcc" ]; then export PATH="$d/bin:$PATH"; break; fi
  done
  command -v nvcc >/dev/null || echo "warning: nvcc not found: the CUDA backend will not be built"
fi
echo "nvcc: $(command -v nvcc || echo none); cmake: $(cmake --version 2>/dev/null | head -n 1)"

# Libraries the device's image may lack, from .devdeps/ (scripts/gpu-deps.sh): cmocka for the
# tests, OpenBLAS (OpenMP build) for the CPU backend, each only where the system has none.
cmake_deps=()
use_devdeps() {
  local d=$PWD/.devdeps arch
  [ -d "$d" ] || return 0
  arch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
  local force=${TRELBO_DEVDEPS_FORCE:-0} # 1: use .devdeps even where the system has the library (a dry run)
  if [ ! -f /usr/include/cmocka.h ] || [ "$force" = 1 ]; then
    cmake_deps+=(-DCMOCKA_INCLUDE_DIR="$d/include" -DCMOCKA_LIBRARY="$d/lib/libcmocka.so")
    echo "cmocka from .devdeps"
  fi
  if [ ! -e "/usr/lib/$arch/openblas-openmp/libopenblas.so" ] || [ "$force" = 1 ]; then
    [ -f "$d/lib/libopenblas.so.0" ] || gzip -dc "$d/lib/libopenblas.so.0.gz" >"$d/lib/libopenblas.so.0"
    ln -sf libopenblas.so.0 "$d/lib/libopenblas.so"
    cmake_deps+=(-DTRELBO_OPENBLAS_OPENMP="$d/lib/libopenblas.so")
    export CPATH="$d/include${CPATH:+:$CPATH}"
    echo "OpenBLAS from .devdeps"
  fi
  export LD_LIBRARY_PATH="$d/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}
use_devdeps

# what the steps below run, and nothing else (the unit suite runs on the CPU machines)
targets=(trelbo-bench minibatch_regression test_gpu_parity test_gpu_step_graph test_fault_injection)

# warnings are not errors here: the device's toolkit may warn where this machine's does not
run_step configure cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTRELBO_CUDA=ON -DTRELBO_WERROR=OFF \
  -DCMAKE_CUDA_ARCHITECTURES="$archs" ${cmake_deps[@]+"${cmake_deps[@]}"} &&
  run_step build cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" &&
  {
    run_step gpu-tests gpu_tests
    run_step bench-lr-target bench_lr_target
    run_step numpyro-lr-target bench_lr_peer
    run_step compare-lr-target compare_lr_target
    run_step minibatch-example env TRELBO_BACKEND=cuda "$build/examples/minibatch_regression" --check
    run_step fault-injection "$build/tests/test_fault_injection"
    run_step bench bench
    run_step bench-graph bench_graph
    run_step memcheck sanitize memcheck
    run_step memcheck-graph sanitize memcheck test_gpu_step_graph
    run_step racecheck sanitize racecheck
    run_step racecheck-graph sanitize racecheck test_gpu_step_graph
  }

summary() {
echo
echo "trelbo GPU check ($(date -u '+%Y-%m-%d %H:%M UTC'), ${SECONDS} s)"
printf '%-22s %-10s %7s   %s\n' step result time log
for r in "${rows[@]}"; do echo "$r"; done
for b in bench bench-graph bench-lr-target; do
  [ -f "$logs/$b.log" ] || continue
  echo
  case $b in
    bench) echo "benchmark (CUDA backend):" ;;
    bench-graph) echo "benchmark (CUDA backend, graphed SVI steps):" ;;
    *) echo "benchmark (CUDA backend, logistic regression 100,000 x 50: the GPU target):" ;;
  esac
  # the progress lines are rewritten in place with carriage returns: keep the rest
  tr '\r' '\n' <"$logs/$b.log" | grep -v ' rep [0-9]*/[0-9]*' | grep -v '^ *$' | sed 's/^/  /'
done
if [ -f "$logs/lr-target-compare.md" ]; then
  echo
  echo "GPU targets ($logs/lr-target-compare.md):"
  sed -n '/^## Targets of the benchmark issue (GPU/,$p' "$logs/lr-target-compare.md" | sed 's/^/  /'
fi
}
if [ -n "${OUT:-}" ] && [ -d "$OUT" ]; then
  summary | tee "$OUT/gpu-check-summary.txt"
  tar czf "$OUT/gpu-check-logs.tar.gz" -C "$build" gpu-check 2>/dev/null || true
else
  summary
fi
exit "$failed"
