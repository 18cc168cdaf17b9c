#!/usr/bin/env python3
"""Merges one system's benchmark JSON files from several runs (run_all.sh runs each model of
each round as its own invocation, the systems taking turns) into one file of the same format.

Per configuration (model, mode, particles) the row kept whole is the one whose median step time
is the median over the runs that measured it (the lower middle one for an even count), so its
ELBO, spread and memory stay those of one real run; the row gains `run_medians_s`, every run's
median, so the drift between runs stays visible. A configuration that some run skipped and
another measured keeps the measured row. The machine entry is the first file's, with the
measured ceilings (gemm_gflops, bandwidth_gbs, where present) replaced by their medians over the
files and `runs` set to the number of files; `--source REV` records, as the machine entry's
`source`, what was measured (run_all.sh passes the git commit, with `+changes` when the work
tree differed from it).

    python bench/peers/merge_runs.py --out merged.json run1-model-a.json run1-model-b.json ...
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

CEILING_KEYS = ("gemm_gflops", "bandwidth_gbs")


def load(path: Path) -> dict:
    text = path.read_text()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        # C's printf writes nan / inf where JSON has no word for them
        return json.loads(re.sub(r"(?<![\w\"])-?(nan|inf)(?![\w\"])", "null", text))


def config_key(row: dict) -> tuple:
    return (row["model"], bool(row["grad"]), int(row["particles"]), row.get("backend"))


def lower_median_row(rows: list[dict]) -> dict:
    timed = sorted((r for r in rows if r.get("median_s") is not None), key=lambda r: r["median_s"])
    if not timed:
        return dict(rows[0])
    chosen = dict(timed[(len(timed) - 1) // 2])
    chosen["run_medians_s"] = [r.get("median_s") for r in rows]
    return chosen


def merge(docs: list[dict], source: str | None = None) -> dict:
    rows: dict[tuple, list[dict]] = {}
    skipped: dict[tuple, dict] = {}
    for doc in docs:
        for r in doc.get("results", []):
            rows.setdefault(config_key(r), []).append(r)
        for s in doc.get("skipped", []):
            skipped.setdefault(config_key(s), s)
    machine = None
    machines = [d["machine"] for d in docs if d.get("machine")]
    if machines:
        machine = dict(machines[0])
        for k in CEILING_KEYS:
            vals = [m[k] for m in machines if isinstance(m.get(k), (int, float))]
            if vals:
                machine[k] = round(statistics.median(vals), 3)
        machine["runs"] = len(docs)
    if source:
        machine = machine or {}
        machine["source"] = source
    return {"machine": machine,
            "results": [lower_median_row(v) for v in rows.values()],
            "skipped": [s for k, s in skipped.items() if k not in rows]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path, help="JSON files of one system (--json output)")
    ap.add_argument("--out", type=Path, required=True, help="the merged JSON file")
    ap.add_argument("--source", help="what was measured (a git commit), kept in the machine entry")
    a = ap.parse_args(argv)
    docs = [load(f) for f in a.files]
    systems = {r.get("system") for d in docs for r in d.get("results", []) + d.get("skipped", [])}
    if len(systems) > 1:
        print(f"merge_runs: files of several systems: {sorted(map(str, systems))}", file=sys.stderr)
        return 2
    merged = merge(docs, a.source)
    a.out.write_text(json.dumps(merged, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
