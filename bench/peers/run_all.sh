#!/usr/bin/env bash
# One command for the whole comparison: builds trelbo-bench (Release), makes the peers' venv
# (bench/peers/setup.sh), runs trelbo-bench, NumPyro and Pyro on the same models with the same
# options, writes bench/results/<date>-{trelbo,numpyro,pyro}.json and their text tables
# (bench/results/tmp/), then bench/compare: <date>-compare.md and the plots in bench/results/.
#
#   bench/peers/run_all.sh [--model NAME|all] [--particles 1,16,256,1024,4096] [--reps 10]
#                          [--mode value|grad|both] [--n N] [--d D] [--max-rep-s 60]
#                          [--build-dir build] [--tag DATE] [--systems trelbo,numpyro,pyro]
#
# --max-rep-s: the peers skip (with a note in their JSON and in the table) a configuration whose
# step takes, or is predicted from the previous particle count to take, longer than that.
# TRELBO_BACKEND=cpu|cuda picks trelbo's backend as for trelbo-bench.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

model=all particles=1,16,256,1024,4096 reps=10 mode=both n=0 d=0 max_rep_s=60
build=build tag=$(date +%F) systems=trelbo,numpyro,pyro
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || { echo "run_all.sh: missing value after $1" >&2; exit 2; }
    case $1 in
        --model) model=$2 ;;
        --particles) particles=$2 ;;
        --reps) reps=$2 ;;
        --mode) mode=$2 ;;
        --n) n=$2 ;;
        --d) d=$2 ;;
        --max-rep-s) max_rep_s=$2 ;;
        --build-dir) build=$2 ;;
        --tag) tag=$2 ;;
        --systems) systems=$2 ;;
        *) sed -n '2,14p' "$0" >&2; exit 2 ;;
    esac
    shift 2
done

out=bench/results
mkdir -p "$out/tmp"
common=(--model "$model" --particles "$particles" --reps "$reps" --mode "$mode" --n "$n" --d "$d")
has() { case ",$systems," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

python=$(bench/peers/setup.sh | tail -n 1)
jsons=()
start=$(date +%s)

if has trelbo; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j"$(nproc)" --target trelbo-bench
    echo "== trelbo-bench -> $out/$tag-trelbo.json" >&2
    "$build/bench/trelbo-bench" "${common[@]}" --json "$out/$tag-trelbo.json" | tee "$out/tmp/$tag-trelbo.txt"
    jsons+=("$out/$tag-trelbo.json")
fi
for peer in numpyro pyro; do
    has "$peer" || continue
    echo "== $peer -> $out/$tag-$peer.json" >&2
    "$python" "bench/peers/${peer}_bench.py" "${common[@]}" --max-rep-s "$max_rep_s" \
        --json "$out/$tag-$peer.json" | tee "$out/tmp/$tag-$peer.txt"
    jsons+=("$out/$tag-$peer.json")
done

"$python" bench/compare "${jsons[@]}" --out "$out" --prefix "$tag-"
echo "done in $(( $(date +%s) - start )) s: $out/$tag-compare.md" >&2
