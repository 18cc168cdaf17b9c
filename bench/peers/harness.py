"""What numpyro_bench.py and pyro_bench.py share: trelbo-bench's options, the sweep, the timing
loop, the skip rule for configurations too slow to time, the text table and the JSON rows (the
same keys as trelbo-bench --json writes)."""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import signal
import sys
import time
from typing import Callable

from models import MODEL_NAMES, make_data

DEFAULT_PARTICLES = "1,16,256,1024,4096,16384"


def parse_args(system: str, argv=None, extra=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog=f"{system}_bench.py",
        description=f"The trelbo benchmark suite in {system}: Trace_ELBO, particles vectorized, "
                    "same models, guides and data as trelbo-bench.")
    p.add_argument("--model", default="all", help="model name or all: " + ", ".join(MODEL_NAMES))
    p.add_argument("--particles", default=DEFAULT_PARTICLES, help="comma-separated particle counts")
    p.add_argument("--n", type=int, default=0, help="data size N (0: the model's default)")
    p.add_argument("--d", type=int, default=0, help="second size D/K/questions (0: default)")
    p.add_argument("--mode", default="both", choices=("value", "grad", "both"))
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", default=None, help="write the rows to this file")
    p.add_argument("--max-rep-s", type=float, default=60.0,
                   help="skip a configuration whose one step takes (or is predicted to take) longer")
    if extra:
        extra(p)
    a = p.parse_args(argv)
    if a.model != "all" and a.model not in MODEL_NAMES:
        p.error(f"unknown model {a.model}")
    try:
        a.particles = [int(s) for s in a.particles.split(",") if s]
    except ValueError:
        p.error("bad --particles list")
    if not a.particles or min(a.particles) < 1:
        p.error("--particles must be >= 1")
    if a.reps < 1:
        p.error("--reps must be >= 1")
    a.models = list(MODEL_NAMES) if a.model == "all" else [a.model]
    a.modes = {"value": [False], "grad": [True], "both": [False, True]}[a.mode]
    return a


def cpu_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


_peak_reset_took = False


def peak_rss_reset() -> None:
    """Restarts the kernel's high-water mark of the resident set (Linux), as trelbo-bench does
    before each configuration, so that peak_rss_mib is the configuration's own peak."""
    global _peak_reset_took
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        _peak_reset_took = True
    except OSError:
        _peak_reset_took = False


def peak_rss_mib() -> tuple[float, str]:
    """(MiB, scope): the peak resident set since peak_rss_reset ("configuration"), or the
    process's lifetime peak ("process") where the reset is not available."""
    if _peak_reset_took:
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024.0, "configuration"
        except OSError:
            pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, "process"


class StepTimeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise StepTimeout()


def timed_call(fn: Callable[[], float], limit_s: float) -> tuple[float, float]:
    """(seconds, result) of fn(); raises StepTimeout when Python regains control after limit_s
    (a running native kernel is not interrupted, only the Python around it)."""
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        t0 = time.perf_counter()
        r = fn()
        return time.perf_counter() - t0, r
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class Writer:
    def __init__(self, system: str, path: str | None, machine: dict):
        self.system, self.path, self.machine = system, path, machine
        self.rows: list[dict] = []
        self.skipped: list[dict] = []

    def flush(self):
        if not self.path:
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"machine": self.machine, "results": self.rows, "skipped": self.skipped}, f, indent=1)
            f.write("\n")
        os.replace(tmp, self.path)


# A system's "prepare(data, particles, grad, seed)" returns a step: step(rep) runs one Trace_ELBO
# evaluation (rep -1 is the warm-up) to completion and returns that step's ELBO estimate
# (-loss). Anything a step needs that is not part of the step (compiling, param init) happens in
# prepare, untimed.
Prepare = Callable[..., Callable[[int], float]]


def run(system: str, backend: str, machine: dict, prepare: Prepare, args: argparse.Namespace,
        notes: Callable[[str, bool], str | None] | None = None) -> int:
    w = Writer(system, args.json, machine)
    cap = args.max_rep_s
    for name in args.models:
        data = make_data(name, args.n, args.d)
        terms = data.terms()
        print(f"\n{name} ({data.sizes}), {system} on {backend}, Trace_ELBO, {args.reps} reps", flush=True)
        print(f"{'mode':>6} {'particles':>9} {'elbo':>14} {'stderr':>9} {'median_ms':>10} {'min_ms':>10} "
              f"{'max_ms':>10} {'particles/s':>12} {'terms/s':>12} {'host_MiB':>8}", flush=True)
        slow_value: dict[int, float] = {}   # particles -> seconds per value step (for grad's skip rule)
        for grad in args.modes:
            mode = "grad" if grad else "value"
            last: tuple[int, float] | None = None   # (particles, median s) of the last timed P
            for P in args.particles:
                reason = None
                if last and last[0] >= 16 and last[1] * P / last[0] > cap:
                    reason = (f"predicted {last[1] * P / last[0]:.0f} s per step from P={last[0]} "
                              f"(> {cap:.0f} s)")
                elif grad and P in slow_value and slow_value[P] > cap:
                    reason = f"the value step alone took {slow_value[P]:.0f} s (> {cap:.0f} s)"
                t_prep = None
                peak_rss_reset()
                if reason is None:
                    try:
                        t0 = time.perf_counter()
                        step = prepare(data, P, grad, args.seed)
                        t_prep = time.perf_counter() - t0
                        sys.stderr.write(f"\r  {name} {mode} P={P} warm-up   ")
                        sys.stderr.flush()
                        tw, _ = timed_call(lambda: step(-1), cap)
                        if tw > cap:
                            reason = f"warm-up step took {tw:.0f} s (> {cap:.0f} s)"
                    except StepTimeout:
                        reason = f"warm-up step still running after {cap:.0f} s: stopped"
                    except MemoryError:
                        reason = "out of memory"
                    except RuntimeError as e:   # torch's allocator, XLA's runtime errors
                        reason = "failed: " + (str(e).strip().splitlines() or ["?"])[0][:200]
                if reason is not None:
                    sys.stderr.write("\r" + " " * 70 + "\r")
                    print(f"{mode:>6} {P:>9}   skipped: {reason}", flush=True)
                    w.skipped.append({"system": system, "backend": backend, "model": name,
                                      "sizes": data.sizes, "particles": P, "grad": grad, "reason": reason})
                    if not grad:
                        slow_value[P] = math.inf
                    w.flush()
                    continue
                times, elbos = [], []
                shown = -1.0   # the progress line at most 5 times a second, as trelbo-bench's
                for k in range(args.reps):
                    if time.perf_counter() - shown >= 0.2:
                        sys.stderr.write(f"\r  {name} {mode} P={P} rep {k + 1}/{args.reps}   ")
                        sys.stderr.flush()
                        shown = time.perf_counter()
                    t0 = time.perf_counter()
                    e = step(k)
                    times.append(time.perf_counter() - t0)
                    elbos.append(e)
                sys.stderr.write("\r" + " " * 70 + "\r")
                del step
                times.sort()
                med = times[args.reps // 2]   # as trelbo-bench: the upper median for even reps
                mean = sum(elbos) / len(elbos)
                se = None
                if len(elbos) > 1:
                    var = sum((e - mean) ** 2 for e in elbos) / (len(elbos) - 1)
                    se = math.sqrt(var / len(elbos))
                rss, rss_scope = peak_rss_mib()
                last = (P, med)
                if not grad:
                    slow_value[P] = med
                row = {
                    "system": system, "backend": backend, "model": name, "sizes": data.sizes,
                    "particles": P, "estimator": "trace_elbo", "grad": grad, "reps": args.reps,
                    "elbo": mean, "stderr": se,
                    "closed_form": data.closed_form,
                    "median_s": med, "min_s": times[0], "max_s": times[-1],
                    "particles_per_s": P / med, "terms_per_s": P * terms / med,
                    "peak_rss_mib": round(rss, 1), "peak_rss_scope": rss_scope,
                    # trelbo's stderr comes from the per-particle spread within each step; the
                    # peers' Trace_ELBO returns only the mean, so theirs is the spread of the
                    # rep means (null with one rep)
                    "stderr_from": "reps",
                    "prepare_s": t_prep,
                }
                note = notes(name, grad) if notes else None
                if note:
                    row["note"] = note
                w.rows.append(row)
                w.flush()
                se_txt = f"{se:9.4f}" if se is not None else f"{'-':>9}"
                print(f"{mode:>6} {P:>9} {mean:14.4f} {se_txt} {med * 1e3:10.4f} {times[0] * 1e3:10.4f} "
                      f"{times[-1] * 1e3:10.4f} {P / med:12.4g} {P * terms / med:12.4g} {rss:8.1f}",
                      flush=True)
        if data.closed_form is not None:
            print(f"closed-form ELBO at the guide's initial values: {data.closed_form:.4f}")
    w.flush()
    return 0


def machine_info(system: str, versions: dict) -> dict:
    return {"system": system, "cpu_threads": cpu_threads(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(), "versions": versions}
