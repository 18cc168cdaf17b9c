"""The benchmark issue's targets, checked against one comparison's rows (standard library
only; bench/compare writes the result as a section of compare.md, so that every run states
which targets it meets, with the numbers): the CPU targets where the reference system has CPU
rows, the GPU targets where it has CUDA rows of the GPU configuration.

rows: (model, grad, particles) -> system label -> row, as bench/compare collects them (a label
is the system's name, with " (backend)" after it for a backend other than the CPU). A target
whose rows are missing (a model not run, a peer skipped) is listed as not measured, never as met.
"""
from __future__ import annotations

P_TARGET = 1024               # the particle count of the speed targets
VS_NUMPYRO_ALL = 1.0          # faster than NumPyro on every model
VS_NUMPYRO_NOT_GEMM = 3.0     # on the models not bound by one large matrix product
VS_PYRO_ALL = 10.0            # and faster than Pyro by this on all
GEMM_ROOFLINE_RATIO = 1.25    # a GEMM-bound step against its products at the measured rate
SMALL_MODEL = "eight_schools"
SMALL_MODEL_P1_S = 20e-6      # its step at P = 1

GPU_BACKEND = "cuda"          # the backend label of the GPU rows (trelbo's and NumPyro's alike)
GPU_MODEL, GPU_SIZES = "logistic_regression", "N=100000 D=50"
GPU_MIN_PARTICLES = 4096      # the GPU targets hold at every P from here up
GPU_VS_NUMPYRO = 2.0          # faster than NumPyro with JAX on the same GPU
GPU_CEILING_FRACTION = 0.4    # of the measured FP32 or bandwidth ceiling, whichever binds


def _ratio(rows, model, peer, ref="trelbo"):
    got = rows.get((model, True, P_TARGET), {})
    if ref not in got or peer not in got or not got[ref].get("median_s") or not got[peer].get("median_s"):
        return None
    return got[peer]["median_s"] / got[ref]["median_s"]


def check(rows, ref: str = "trelbo", models=None) -> list[dict]:
    """One dict per target: text, measured (a number or None), limit, met (True, False or None
    when not measured). models: the order to list them in (default: sorted names)."""
    out = []
    models = list(models) if models is not None else sorted({k[0] for k in rows})
    cpu = [r for d in rows.values() for s, r in d.items() if s == ref and r.get("backend") == "cpu"]
    if not cpu:
        return out

    def add(text, measured, limit, higher_is_better):
        met = None if measured is None else (measured >= limit if higher_is_better else measured <= limit)
        out.append({"text": text, "measured": measured, "limit": limit, "met": met})

    for model in models:
        row = rows.get((model, True, P_TARGET), {}).get(ref)
        bound = row.get("bound") if row else None
        need = VS_NUMPYRO_ALL if bound == "gemm" else VS_NUMPYRO_NOT_GEMM
        add(f"{model}: P = {P_TARGET} step vs NumPyro (x)", _ratio(rows, model, "numpyro", ref), need, True)
        add(f"{model}: P = {P_TARGET} step vs Pyro (x)", _ratio(rows, model, "pyro", ref), VS_PYRO_ALL, True)
        if bound == "gemm":
            roof = row.get("roofline_s")
            add(f"{model}: P = {P_TARGET} step over its matrix products at the measured sgemm rate (x)",
                row["median_s"] / roof if roof else None, GEMM_ROOFLINE_RATIO, False)
    small = rows.get((SMALL_MODEL, True, 1), {}).get(ref)
    if SMALL_MODEL in models:
        add(f"{SMALL_MODEL}: P = 1 step (us)", small["median_s"] * 1e6 if small else None,
            SMALL_MODEL_P1_S * 1e6, False)
    return out


def check_gpu(rows, ref: str = "trelbo") -> list[dict]:
    """The GPU targets, one pair per particle count of the GPU configuration that the reference
    system ran on the GPU (value + gradient, P >= GPU_MIN_PARTICLES); empty when it ran none."""
    base = ref.split(" (")[0]  # the system's name, also when given as its GPU label
    mine, peer = f"{base} ({GPU_BACKEND})", f"numpyro ({GPU_BACKEND})"
    out = []
    for (model, grad, particles), got in sorted(rows.items(), key=lambda kv: kv[0][2]):
        row = got.get(mine)
        if model != GPU_MODEL or not grad or particles < GPU_MIN_PARTICLES or not row \
                or row.get("sizes") != GPU_SIZES:
            continue
        other = got.get(peer)
        ratio = other["median_s"] / row["median_s"] if other and other.get("median_s") and row.get("median_s") \
            else None
        frac = row.get("ceiling_fraction")
        for text, measured, limit in (
                (f"{model} {GPU_SIZES} on the GPU: P = {particles} step vs NumPyro on the same GPU (x)",
                 ratio, GPU_VS_NUMPYRO),
                (f"{model} {GPU_SIZES} on the GPU: P = {particles} fraction of the measured ceiling",
                 frac, GPU_CEILING_FRACTION)):
            out.append({"text": text, "measured": measured, "limit": limit,
                        "met": None if measured is None else measured >= limit})
    return out


def _table(title: str, results: list[dict]) -> list[str]:
    md = ["", title, "", "| target | measured | limit | met |", "|---|---|---|---|"]
    for t in results:
        m = "-" if t["measured"] is None else f"{t['measured']:.3g}"
        met = "not measured" if t["met"] is None else ("yes" if t["met"] else "**no**")
        md.append(f"| {t['text']} | {m} | {t['limit']:g} | {met} |")
    n_met = sum(1 for t in results if t["met"])
    return md + ["", f"{n_met} of {len(results)} targets met."]


def section(rows, ref: str = "trelbo", models=None) -> list[str]:
    """The markdown sections: the CPU targets where the reference system has CPU rows, the GPU
    targets where it has GPU rows of the GPU configuration (empty when neither)."""
    md = []
    cpu = check(rows, ref, models)
    if cpu:
        md += _table("## Targets of the benchmark issue (CPU backend, value + gradient)", cpu)
    gpu = check_gpu(rows, ref)
    if gpu:
        md += _table("## Targets of the benchmark issue (GPU, CUDA backend, value + gradient)", gpu)
    return md
