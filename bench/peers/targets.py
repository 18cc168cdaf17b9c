"""The benchmark issue's CPU targets, checked against one comparison's rows (standard library
only; bench/compare writes the result as a section of compare.md, so that every run states
which targets it meets, with the numbers).

rows: (model, grad, particles) -> system -> row, as bench/compare collects them. A target whose
rows are missing (a model not run, a peer skipped) is listed as not measured, never as met.
"""
from __future__ import annotations

P_TARGET = 1024               # the particle count of the speed targets
VS_NUMPYRO_ALL = 1.0          # faster than NumPyro on every model
VS_NUMPYRO_NOT_GEMM = 3.0     # on the models not bound by one large matrix product
VS_PYRO_ALL = 10.0            # and faster than Pyro by this on all
GEMM_ROOFLINE_RATIO = 1.25    # a GEMM-bound step against its products at the measured rate
SMALL_MODEL = "eight_schools"
SMALL_MODEL_P1_S = 20e-6      # its step at P = 1


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


def section(rows, ref: str = "trelbo", models=None) -> list[str]:
    """The markdown section (empty when the reference system has no CPU rows)."""
    results = check(rows, ref, models)
    if not results:
        return []
    md = ["", "## Targets of the benchmark issue (CPU backend, value + gradient)", "",
          "| target | measured | limit | met |", "|---|---|---|---|"]
    for t in results:
        m = "-" if t["measured"] is None else f"{t['measured']:.3g}"
        met = "not measured" if t["met"] is None else ("yes" if t["met"] else "**no**")
        md.append(f"| {t['text']} | {m} | {t['limit']:g} | {met} |")
    n_met = sum(1 for t in results if t["met"])
    md += ["", f"{n_met} of {len(results)} targets met."]
    return md
