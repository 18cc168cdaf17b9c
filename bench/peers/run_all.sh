#!/usr/bin/env bash
# One command for the whole comparison: builds trelbo-bench (Release), makes the peers' venv
# (bench/peers/setup.sh), runs trelbo-bench, NumPyro and Pyro on the same models with the same
# options, writes bench/results/<date>-{trelbo,numpyro,pyro}.json and their text tables
# (bench/results/tmp/), then bench/compare: <date>-compare.md and the plots in bench/results/.
#
#   bench/peers/run_all.sh [--model NAME|all] [--particles 1,16,256,1024,4096] [--reps 10]
#                          [--mode value|grad|both] [--n N] [--d D] [--max-rep-s 60]
#                          [--rounds 1] [--build-dir build] [--tag DATE]
#                          [--systems trelbo,numpyro,pyro]
#
# The systems take turns model by model (one invocation per system and model, the first system
# rotating), so that a machine whose speed drifts over minutes slows all of them alike rather
# than whichever ran in the slow minutes. --rounds K repeats the whole sequence K times and
# keeps, per configuration, the run with the median time (bench/peers/merge_runs.py; every
# run's median stays in the row as run_medians_s).
# --max-rep-s: the peers skip (with a note in their JSON and in the table) a configuration whose
# step takes, or is predicted from the previous particle count to take, longer than that.
# TRELBO_BACKEND=cpu|cuda picks trelbo's backend as for trelbo-bench.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

model=all particles=1,16,256,1024,4096 reps=10 mode=both n=0 d=0 max_rep_s=60
build=build tag=$(date +%F) systems=trelbo,numpyro,pyro rounds=1
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
        --rounds) rounds=$2 ;;
        *) sed -n '2,20p' "$0" >&2; exit 2 ;;
    esac
    shift 2
done

case $rounds in '' | *[!0-9]* | 0) echo "run_all.sh: --rounds must be a positive integer" >&2; exit 2 ;; esac

out=bench/results
mkdir -p "$out/tmp"
sizes=(--particles "$particles" --reps "$reps" --mode "$mode" --n "$n" --d "$d")
has() { case ",$systems," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

python=$(bench/peers/setup.sh | tail -n 1)
start=$(date +%s)
# what trelbo's numbers measured: the commit, marked when tracked files differed from it
source=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- . ':(exclude)bench/results' 2>/dev/null || source="$source+changes"
if [ "$model" = all ]; then
    models=$(cd bench/peers && "$python" -c 'from models import MODEL_NAMES; print(" ".join(MODEL_NAMES))')
else
    models=$model
fi
order=()
for s in trelbo numpyro pyro; do has "$s" && order+=("$s"); done
[ ${#order[@]} -gt 0 ] || { echo "run_all.sh: no known system in --systems $systems" >&2; exit 2; }

if has trelbo; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j"$(nproc)" --target trelbo-bench
    . scripts/openblas-env.sh "$build/bench/trelbo-bench"
fi

# run_one SYSTEM MODEL JSON: one invocation, its text table appended to tmp/<tag>-<system>.txt
run_one() {
    echo "== $1 $2 -> $3" >&2
    if [ "$1" = trelbo ]; then
        "$build/bench/trelbo-bench" --model "$2" "${sizes[@]}" --json "$3"
    else
        "$python" "bench/peers/$1_bench.py" --model "$2" "${sizes[@]}" --max-rep-s "$max_rep_s" --json "$3"
    fi | tee -a "$out/tmp/$tag-$1.txt"
}

for s in "${order[@]}"; do : >"$out/tmp/$tag-$s.txt"; rm -f "$out/tmp/$tag-$s".r*.json; done
turn=0
for round in $(seq 1 "$rounds"); do
    for m in $models; do
        for i in "${!order[@]}"; do
            s=${order[$(( (turn + i) % ${#order[@]} ))]}
            run_one "$s" "$m" "$out/tmp/$tag-$s.r$round.$m.json"
        done
        turn=$(( turn + 1 ))
    done
done

jsons=()
for s in "${order[@]}"; do
    "$python" bench/peers/merge_runs.py --source "$source" --out "$out/$tag-$s.json" \
        "$out/tmp/$tag-$s".r*.json
    jsons+=("$out/$tag-$s.json")
done
"$python" bench/compare "${jsons[@]}" --out "$out" --prefix "$tag-"
echo "done in $(( $(date +%s) - start )) s: $out/$tag-compare.md" >&2
