#!/usr/bin/env python3
"""Checks merge_runs.py (standard library only; ctest runs it as bench_merge_runs)."""
import json
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import merge_runs  # noqa: E402


def row(model, grad, p, median, system="trelbo", **extra):
    r = {"system": system, "backend": "cpu", "model": model, "grad": grad, "particles": p,
         "median_s": median, "elbo": -median}
    r.update(extra)
    return r


class MergeRuns(unittest.TestCase):
    def test_median_run_kept_whole(self):
        docs = [{"machine": {"gemm_gflops": g}, "results": [row("m", True, 8, t)]}
                for g, t in ((100.0, 3.0), (150.0, 1.0), (120.0, 2.0))]
        out = merge_runs.merge(docs)
        (r,) = out["results"]
        self.assertEqual(r["median_s"], 2.0)
        self.assertEqual(r["elbo"], -2.0)          # the whole row of that run
        self.assertEqual(r["run_medians_s"], [3.0, 1.0, 2.0])
        self.assertEqual(out["machine"]["gemm_gflops"], 120.0)
        self.assertEqual(out["machine"]["runs"], 3)

    def test_even_count_takes_lower_middle(self):
        docs = [{"results": [row("m", False, 1, t)]} for t in (4.0, 1.0, 3.0, 2.0)]
        (r,) = merge_runs.merge(docs)["results"]
        self.assertEqual(r["median_s"], 2.0)

    def test_configurations_kept_apart(self):
        docs = [{"results": [row("a", False, 1, 1.0), row("a", True, 1, 5.0), row("b", False, 1, 7.0)]},
                {"results": [row("a", False, 16, 2.0)]}]
        got = {(r["model"], r["grad"], r["particles"]): r["median_s"] for r in merge_runs.merge(docs)["results"]}
        self.assertEqual(got, {("a", False, 1): 1.0, ("a", True, 1): 5.0, ("b", False, 1): 7.0,
                               ("a", False, 16): 2.0})

    def test_measured_beats_skipped(self):
        skip = {"system": "pyro", "backend": "cpu", "model": "m", "grad": True, "particles": 4096,
                "reason": "predicted 80 s"}
        other = dict(skip, particles=8192)
        docs = [{"results": [], "skipped": [skip, other]},
                {"results": [row("m", True, 4096, 9.0, system="pyro")], "skipped": []}]
        out = merge_runs.merge(docs)
        self.assertEqual([r["particles"] for r in out["results"]], [4096])
        self.assertEqual([s["particles"] for s in out["skipped"]], [8192])

    def test_source_recorded(self):
        docs = [{"machine": {"gemm_gflops": 100.0}, "results": [row("m", True, 8, 1.0)]}]
        self.assertEqual(merge_runs.merge(docs, "abc1234")["machine"]["source"], "abc1234")
        self.assertNotIn("source", merge_runs.merge(docs)["machine"])
        # files without a machine entry (the peers' partial runs) still get it
        bare = merge_runs.merge([{"results": [row("m", True, 8, 1.0)]}], "abc1234")
        self.assertEqual(bare["machine"], {"source": "abc1234"})

    def test_cli_refuses_mixed_systems_and_reads_nan(self):
        with tempfile.TemporaryDirectory() as d:
            a, b, o = Path(d, "a.json"), Path(d, "b.json"), Path(d, "o.json")
            a.write_text('{"results": [{"system": "trelbo", "backend": "cpu", "model": "m", '
                         '"grad": false, "particles": 1, "median_s": 1.0, "stderr": nan}]}')
            b.write_text(json.dumps({"results": [row("m", False, 1, 2.0, system="pyro")]}))
            script = Path(__file__).with_name("merge_runs.py")
            bad = subprocess.run([sys.executable, str(script), "--out", str(o), str(a), str(b)],
                                 capture_output=True, text=True)
            self.assertEqual(bad.returncode, 2)
            self.assertIn("several systems", bad.stderr)
            ok = subprocess.run([sys.executable, str(script), "--out", str(o), str(a)])
            self.assertEqual(ok.returncode, 0)
            self.assertIsNone(json.loads(o.read_text())["results"][0]["stderr"])


if __name__ == "__main__":
    unittest.main()
