#!/usr/bin/env python3
"""Checks targets.py, the benchmark issue's targets per comparison (standard library only; ctest
runs it as bench_targets)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import targets  # noqa: E402


def rows_for(times, backend="cpu", **extra_by_model):
    """times: model -> (trelbo, numpyro, pyro) seconds at P = 1024, value + gradient."""
    rows = {}
    for model, (t, n, p) in times.items():
        ref = {"system": "trelbo", "backend": backend, "median_s": t, "bound": "memory"}
        ref.update(extra_by_model.get(model, {}))
        got = {"trelbo": ref}
        if n is not None:
            got["numpyro"] = {"system": "numpyro", "backend": "cpu", "median_s": n}
        if p is not None:
            got["pyro"] = {"system": "pyro", "backend": "cpu", "median_s": p}
        rows[(model, True, 1024)] = got
    return rows


def by_text(results):
    return {r["text"]: r for r in results}


class Targets(unittest.TestCase):
    def test_met_and_not(self):
        rows = rows_for({"irt_1pl": (0.05, 0.2, 0.6), "conjugate_normal": (0.01, 0.025, 0.5)})
        got = by_text(targets.check(rows))
        self.assertTrue(got["irt_1pl: P = 1024 step vs NumPyro (x)"]["met"])         # 4x >= 3
        self.assertTrue(got["irt_1pl: P = 1024 step vs Pyro (x)"]["met"])            # 12x >= 10
        self.assertFalse(got["conjugate_normal: P = 1024 step vs NumPyro (x)"]["met"])  # 2.5x < 3
        self.assertAlmostEqual(got["conjugate_normal: P = 1024 step vs Pyro (x)"]["measured"], 50.0)

    def test_gemm_bound_model(self):
        rows = rows_for({"logistic_regression": (0.03, 0.04, 0.2)},
                        logistic_regression={"bound": "gemm", "roofline_s": 0.02})
        got = by_text(targets.check(rows))
        # bound by its products: faster than NumPyro is enough, and the roofline ratio counts
        self.assertTrue(got["logistic_regression: P = 1024 step vs NumPyro (x)"]["met"])
        self.assertEqual(got["logistic_regression: P = 1024 step vs NumPyro (x)"]["limit"], 1.0)
        ratio = got["logistic_regression: P = 1024 step over its matrix products at the measured sgemm rate (x)"]
        self.assertAlmostEqual(ratio["measured"], 1.5)
        self.assertFalse(ratio["met"])
        self.assertFalse(got["logistic_regression: P = 1024 step vs Pyro (x)"]["met"])  # 6.7x

    def test_missing_peer_is_not_measured(self):
        rows = rows_for({"irt_1pl": (0.05, 0.2, None)})
        got = by_text(targets.check(rows))
        self.assertIsNone(got["irt_1pl: P = 1024 step vs Pyro (x)"]["met"])
        md = "\n".join(targets.section(rows))
        self.assertIn("not measured", md)
        self.assertIn("1 of 2 targets met.", md)

    def test_small_model_at_one_particle(self):
        rows = rows_for({"eight_schools": (1e-4, 7e-4, 2e-3)})
        rows[("eight_schools", True, 1)] = {"trelbo": {"system": "trelbo", "backend": "cpu", "median_s": 25e-6}}
        got = by_text(targets.check(rows))
        self.assertAlmostEqual(got["eight_schools: P = 1 step (us)"]["measured"], 25.0)
        self.assertFalse(got["eight_schools: P = 1 step (us)"]["met"])
        rows[("eight_schools", True, 1)]["trelbo"]["median_s"] = 15e-6
        self.assertTrue(by_text(targets.check(rows))["eight_schools: P = 1 step (us)"]["met"])

    def test_order_and_no_cpu_reference(self):
        rows = rows_for({"irt_1pl": (0.05, 0.2, 0.6), "conjugate_normal": (0.01, 0.1, 0.5)})
        texts = [r["text"] for r in targets.check(rows, models=["irt_1pl", "conjugate_normal"])]
        self.assertTrue(texts[0].startswith("irt_1pl"))
        self.assertEqual(targets.section(rows_for({"irt_1pl": (0.05, 0.2, 0.6)}, backend="cuda")), [])

    def test_gpu_targets(self):
        def gpu_row(system, t, **extra):
            r = {"system": system, "backend": "cuda", "median_s": t, "sizes": targets.GPU_SIZES}
            r.update(extra)
            return r
        rows = {("logistic_regression", True, 4096): {
                    "trelbo (cuda)": gpu_row("trelbo", 0.002, ceiling_fraction=0.55),
                    "numpyro (cuda)": gpu_row("numpyro", 0.005)},
                ("logistic_regression", True, 16384): {
                    "trelbo (cuda)": gpu_row("trelbo", 0.008, ceiling_fraction=0.3),
                    "numpyro (cuda)": gpu_row("numpyro", 0.012)},
                # below the GPU targets' particle counts, value only, or other sizes: not targets
                ("logistic_regression", True, 1024): {"trelbo (cuda)": gpu_row("trelbo", 1e-3)},
                ("logistic_regression", False, 4096): {"trelbo (cuda)": gpu_row("trelbo", 1e-3)},
                ("logistic_regression", True, 65536): {
                    "trelbo (cuda)": gpu_row("trelbo", 0.03, sizes="N=10000 D=50")}}
        got = targets.check_gpu(rows)
        self.assertEqual(got, targets.check_gpu(rows, "trelbo (cuda)"))  # compare's label for it
        self.assertEqual(len(got), 4)
        self.assertTrue(got[0]["text"].startswith("logistic_regression N=100000 D=50 on the GPU: P = 4096 step"))
        self.assertAlmostEqual(got[0]["measured"], 2.5)
        self.assertTrue(got[0]["met"] and got[1]["met"])          # 2.5x >= 2, 55% >= 40%
        self.assertFalse(got[2]["met"])                           # 1.5x
        self.assertFalse(got[3]["met"])                           # 30%
        del rows[("logistic_regression", True, 16384)]["numpyro (cuda)"]
        md = "\n".join(targets.section(rows))
        self.assertNotIn("CPU backend", md)                       # no CPU rows: no CPU section
        self.assertIn("GPU, CUDA backend", md)
        self.assertIn("not measured", md)
        self.assertIn("2 of 4 targets met.", md)


if __name__ == "__main__":
    unittest.main()
