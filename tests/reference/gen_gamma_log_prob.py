#!/usr/bin/env python3
"""Reference values for the gamma group (Gamma, Beta, StudentT, Dirichlet) and the special
functions behind them, for tests/fixture/test_gamma_log_prob.c and tests/unit/test_gamma_math.c.

Run: .venv/bin/python tests/reference/gen_gamma_log_prob.py > tests/reference/gamma_log_prob.txt

Log-densities: parameters and values are rounded to float32 first, and the references are
computed in double at those rounded values (the library receives float32 inputs, so that is the
distribution it must evaluate), with SciPy's special functions; where scipy.stats can evaluate
the same point it is asserted to agree. The edges of the supports follow PyTorch's xlogy
convention ((a - 1) log x is 0 for a = 1, also at x = 0).

Special functions (double inputs): lgamma, digamma and log Beta from scipy.special (gammaln,
psi, betaln), each beside its value from mpmath at 50 digits; the regularized lower incomplete
gamma from scipy.special.gammainc (checked here against mpmath). The implicit derivative of
a standard gamma draw, ds/da = -(dP(a, s)/da) / p(s; a), has no SciPy function: it comes from
mpmath (numerical differentiation of the incomplete gamma at 50 digits), and so do those of Beta
and StudentT draws (through the incomplete beta); the incomplete beta itself is scipy's betainc.

Rows (fields are comma-separated lists of equal length unless said otherwise):
  lgamma x scipy mpmath | digamma x scipy mpmath | lbeta a b scipy mpmath
  gamma_p a x ref | std_gamma_grad a s ref | beta_inc a b x ref
  beta_rsample_grad a b x dx/da dx/db | student_t_rsample_ddf df t dt/ddf
  gamma x concentration rate lp
  beta x concentration1 concentration0 lp
  student_t x df loc scale lp
  <family>_grid p1 [p2 [p3]] x lp      params of length R, values of length M, lp R*M row-major
  dirichlet_K<k> x concentration lp    x and concentration N*k row-major, lp of length N
  dirichlet_grid concentration x lp    concentration R*k, x M*k, lp R*M
"""
import sys

import mpmath as mp
import numpy as np
from scipy import special, stats

mp.mp.dps = 50
F32_TINY = float(np.finfo(np.float32).tiny)


def f32(v):
    with np.errstate(over="ignore"):
        return np.asarray(v, dtype=np.float32).astype(np.float64)


def fmt(values):
    out = []
    for v in np.ravel(values):
        if np.isnan(v):
            out.append("nan")
        elif np.isinf(v):
            out.append("inf" if v > 0 else "-inf")
        else:
            out.append(repr(float(v)))
    return ",".join(out)


def row(name, *fields):
    print(name, " ".join(fmt(f) for f in fields))


def check_close(what, got, ref, rtol, atol=0.0):
    got, ref = np.asarray(got, float), np.asarray(ref, float)
    bad = ~((got == ref) | (np.abs(got - ref) <= rtol * np.abs(ref) + atol))
    if bad.any():
        i = int(np.argmax(bad))
        sys.exit(f"{what}: SciPy {got[i]!r} vs mpmath {ref[i]!r} at index {i}")


# ---- special functions ----------------------------------------------------------------------

SPECIAL_X = [1e-300, 1e-10, 1e-3, 0.1, 0.5, 0.9, 0.999, 1.0, 1.0 + 2**-30, 1.001,
             1.4616321449683622, 1.5, 1.999, 2.0 - 2**-30, 2.0, 2.001, 2.5, 3.7, 7.25, 9.999, 10.0,
             10.5, 100.25, 1e4, 1e4 + 0.5, 1e6, 1e10, 1e15]
LBETA_AB = [(1e-3, 1e-3), (1e-3, 1.0), (0.5, 0.5), (1.0, 1.0), (1.0, 2.5), (2.5, 3.5), (9.5, 10.5),
            (10.0, 10.0), (1e4, 1e-3), (1e4, 1.0), (1e4, 1e4), (1e-3, 1e4), (1e8, 2.0),
            (1e6, 1e6), (0.3, 1e10), (50.0, 1e3), (0.5, 1e3)]


def special_rows():
    # SciPy loses relative accuracy near the zeros of lgamma (1e-8 at 2 - 2^-30) and in betaln
    # with one large argument (1e-12): each row carries the mpmath value too, which the C test
    # holds the library to; SciPy's value only has to be matched as closely as SciPy itself is.
    x = np.array(SPECIAL_X)
    lg, lg_mp = special.gammaln(x), np.array([float(mp.loggamma(mp.mpf(v))) for v in x])
    dg, dg_mp = special.psi(x), np.array([float(mp.digamma(mp.mpf(v))) for v in x])
    check_close("gammaln", lg, lg_mp, 1e-7)
    check_close("psi", dg, dg_mp, 1e-7, 1e-16)
    row("lgamma", x, lg, lg_mp)
    row("digamma", x, dg, dg_mp)
    a = np.array([p[0] for p in LBETA_AB])
    b = np.array([p[1] for p in LBETA_AB])
    lb = special.betaln(a, b)
    lb_mp = np.array([float(mp.log(mp.beta(mp.mpf(p), mp.mpf(q)))) for p, q in zip(a, b)])
    check_close("betaln", lb, lb_mp, 1e-10)
    row("lbeta", a, b, lb, lb_mp)


GAMMA_A = [1e-3, 0.1, 0.5, 1.0, 2.5, 7.0, 30.0, 150.0, 999.0, 5000.0, 2e4, 1e5]
QUANTILES = [1e-4, 0.05, 0.5, 0.95, 0.9999]


def gamma_cdf_rows():
    aa, xx = [], []
    for a in GAMMA_A:
        for q in QUANTILES:
            x = float(stats.gamma.ppf(q, a))
            if x > 1e-300:
                aa.append(a)
                xx.append(x)
    aa, xx = np.array(aa), np.array(xx)
    p = special.gammainc(aa, xx)
    check_close("gammainc", p, [float(mp.gammainc(mp.mpf(a), 0, mp.mpf(x), regularized=True))
                                for a, x in zip(aa, xx)], 1e-11)
    row("gamma_p", aa, xx, p)

    grad = []
    for a, x in zip(aa, xx):
        a_, x_ = mp.mpf(a), mp.mpf(x)
        dp = mp.diff(lambda s: mp.gammainc(s, 0, x_, regularized=True), a_)
        dens = mp.exp(-x_ + (a_ - 1) * mp.log(x_) - mp.loggamma(a_))
        grad.append(float(-dp / dens))
    row("std_gamma_grad", aa, xx, np.array(grad))


BETA_AB = [(0.1, 0.1), (0.5, 2.0), (1.0, 1.0), (2.0, 5.0), (30.0, 0.7), (0.01, 3.0), (1e3, 500.0),
           (5e3, 5e3)]
T_DF = [0.3, 1.0, 2.5, 30.0, 1e4]


def beta_cdf_rows():
    """Incomplete beta against SciPy; implicit derivatives of Beta and StudentT draws from mpmath
    (on the side of the median where the CDF's complement is small, its complement is
    differentiated, so that the reference keeps its digits in the tails)."""
    aa, bb, xx = [], [], []
    for a, b in BETA_AB:
        for q in QUANTILES:
            x = float(stats.beta.ppf(q, a, b))
            if 1e-300 < x < 1.0:
                aa.append(a)
                bb.append(b)
                xx.append(x)
    aa, bb, xx = np.array(aa), np.array(bb), np.array(xx)
    ref = special.betainc(aa, bb, xx)
    check_close("betainc", ref, [float(mp.betainc(mp.mpf(a), mp.mpf(b), 0, mp.mpf(x), regularized=True))
                                 for a, b, x in zip(aa, bb, xx)], 1e-11, 1e-300)
    row("beta_inc", aa, bb, xx, ref)

    da, db = [], []
    for a, b, x in zip(aa, bb, xx):
        a_, b_, x_ = mp.mpf(a), mp.mpf(b), mp.mpf(x)
        dens = mp.exp((a_ - 1) * mp.log(x_) + (b_ - 1) * mp.log1p(-x_) - mp.log(mp.beta(a_, b_)))
        if x_ > a_ / (a_ + b_):
            cdf = lambda p, q: -mp.betainc(p, q, x_, 1, regularized=True)
        else:
            cdf = lambda p, q: mp.betainc(p, q, 0, x_, regularized=True)
        da.append(float(-mp.diff(lambda p: cdf(p, b_), a_) / dens))
        db.append(float(-mp.diff(lambda q: cdf(a_, q), b_) / dens))
    row("beta_rsample_grad", aa, bb, xx, np.array(da), np.array(db))

    dd, tt, ref = [], [], []
    for df in T_DF:
        for q in [1e-4, 0.05, 0.3, 0.5, 0.7, 0.95, 0.9999]:
            t = float(stats.t.ppf(q, df))
            n_, t_ = mp.mpf(df), mp.mpf(t)
            dens = mp.exp(mp.loggamma((n_ + 1) / 2) - mp.loggamma(n_ / 2) - mp.log(n_ * mp.pi) / 2
                          - (n_ + 1) / 2 * mp.log1p(t_ * t_ / n_))
            # the tail beyond |t|: I_y(df/2, 1/2) / 2, y = df / (df + t^2); F = tail (t < 0) or 1 - tail
            tail = lambda n: mp.betainc(n / 2, mp.mpf(1) / 2, 0, n / (n + t_ * t_), regularized=True) / 2
            d = mp.diff(tail, n_) / dens
            dd.append(df)
            tt.append(t)
            ref.append(float(d if t > 0 else -d))
    row("student_t_rsample_ddf", np.array(dd), np.array(tt), np.array(ref))


# ---- log-densities ----------------------------------------------------------------------------

def xlogy(a, x):
    return special.xlogy(a, x)


def gamma_lp(x, a, b):
    lp = xlogy(a, b) + xlogy(a - 1, x) - b * x - special.gammaln(a)
    lp = np.where(x < 0, -np.inf, lp)
    inside = (x > 0) & np.isfinite(lp)
    ref = stats.gamma.logpdf(x[inside], a[inside], scale=1 / b[inside])
    # both lose ~1e-11 to cancellation at a = 1e4, far below the C test's tolerance
    assert np.allclose(lp[inside], ref, rtol=1e-9, atol=1e-9), "gamma: scipy.stats disagrees"
    return lp


def beta_lp(x, a, b):
    lp = xlogy(a - 1, x) + special.xlog1py(b - 1, -x) - special.betaln(a, b)
    lp = np.where((x < 0) | (x > 1), -np.inf, lp)
    inside = (x > 0) & (x < 1) & np.isfinite(lp)
    ref = stats.beta.logpdf(x[inside], a[inside], b[inside])
    assert np.allclose(lp[inside], ref, rtol=1e-10, atol=1e-10), "beta: scipy.stats disagrees"
    return lp


def student_t_lp(x, df, loc, scale):
    lp = stats.t.logpdf(x, df, loc, scale)
    # cross-check by the normalizer through log Beta, which does not cancel at large df
    y = (x - loc) / scale
    alt = -0.5 * (df + 1) * np.log1p(y * y / df) - np.log(scale) - 0.5 * np.log(df) - special.betaln(df / 2, 0.5)
    assert np.allclose(lp, alt, rtol=1e-11, atol=1e-11), "student_t: two formulas disagree"
    return lp


def quantile_values(ppf, params, qs, extra):
    xs = [float(ppf(q, *params)) for q in qs] + list(extra)
    return xs


GAMMA_PARAMS = [(1e-3, 1.0), (0.1, 2.0), (0.5, 1e-3), (1.0, 1.0), (1.0, 7.5), (2.5, 0.5), (10.0, 1e3),
                (1e3, 1.0), (1e4, 3.0), (1e4, 1e-3)]
BETA_PARAMS = [(1e-3, 1e-3), (0.1, 0.5), (0.5, 0.5), (1.0, 1.0), (1.0, 3.0), (2.5, 0.7), (10.0, 10.0),
               (1e3, 5.0), (1e4, 1e4), (1e-3, 1e4)]
T_PARAMS = [(0.1, 0.0, 1.0), (1.0, -2.0, 0.5), (2.5, 3.0, 10.0), (30.0, 0.0, 1e-3), (1e4, 1.0, 2.0),
            (1e8, 0.0, 1.0)]
QS = [1e-6, 0.01, 0.3, 0.5, 0.99, 1 - 1e-6]


def elementwise_rows():
    # Gamma: quantiles, the edge 0 (+inf, log rate, -inf for a <, =, > 1), FLT_MIN, far tail
    xs, ps = [], []
    for a, b in GAMMA_PARAMS:
        for x in quantile_values(lambda q, a, b: stats.gamma.ppf(q, a, scale=1 / b), (a, b), QS,
                                 [0.0, F32_TINY, 1e-30, 0.5, 1e5]):
            xs.append(x)
            ps.append((a, b))
    x, a, b = f32(xs), f32([p[0] for p in ps]), f32([p[1] for p in ps])
    row("gamma", x, a, b, gamma_lp(x, a, b))

    xs, ps = [], []
    for a, b in BETA_PARAMS:
        for x in quantile_values(stats.beta.ppf, (a, b), QS, [0.0, 1.0, F32_TINY, 1 - 2**-24, 0.5]):
            if 0 <= x <= 1 and (x == 0 or f32(x) > 0):
                xs.append(x)
                ps.append((a, b))
    x, a, b = f32(xs), f32([p[0] for p in ps]), f32([p[1] for p in ps])
    row("beta", x, a, b, beta_lp(x, a, b))

    xs, ps = [], []
    for df, loc, scale in T_PARAMS:
        for x in quantile_values(stats.t.ppf, (df, loc, scale), QS, [loc, loc + 1e6 * scale, -1e30]):
            xs.append(x)
            ps.append((df, loc, scale))
    keep = np.isfinite(f32(xs))  # df = 0.1 has quantiles beyond the float32 range
    x = f32(xs)[keep]
    df, loc, scale = (f32([p[i] for p in ps])[keep] for i in range(3))
    row("student_t", x, df, loc, scale, student_t_lp(x, df, loc, scale))


def grid_rows():
    # params [R], values [M]: the shape tests broadcast [R, 1] against [M]
    a, b = f32([0.1, 1.0, 3.5, 250.0]), f32([2.0, 0.5, 1.0, 40.0])
    x = f32([0.0, 1e-3, 0.4, 2.0, 9.0, 300.0])
    row("gamma_grid", a, b, x, gamma_lp(np.tile(x, len(a)), np.repeat(a, len(x)), np.repeat(b, len(x))))
    a, b = f32([0.3, 1.0, 2.0, 80.0]), f32([0.7, 1.0, 5.0, 20.0])
    x = f32([0.0, 0.01, 0.25, 0.5, 0.8, 1.0])
    row("beta_grid", a, b, x, beta_lp(np.tile(x, len(a)), np.repeat(a, len(x)), np.repeat(b, len(x))))
    df, loc, scale = f32([0.5, 3.0, 12.0, 1e3]), f32([0.0, -1.0, 2.0, 0.5]), f32([1.0, 0.2, 3.0, 1e-2])
    x = f32([-50.0, -1.0, 0.0, 0.4, 2.5, 1e4])
    M = len(x)
    row("student_t_grid", df, loc, scale, x,
        student_t_lp(np.tile(x, len(df)), np.repeat(df, M), np.repeat(loc, M), np.repeat(scale, M)))


def dirichlet_lp(x, alpha):
    """x, alpha: [..., k]"""
    return (xlogy(alpha - 1, x).sum(-1) + special.gammaln(alpha.sum(-1)) - special.gammaln(alpha).sum(-1))


def dirichlet_rows():
    rng = np.random.default_rng(20240611)
    for k, alphas in [(3, [[0.1, 0.1, 0.1], [1.0, 1.0, 1.0], [0.5, 2.0, 7.0], [1e3, 2e3, 5e2],
                           [1e-3, 1.0, 30.0]]),
                      (5, [[0.3, 0.8, 1.0, 4.0, 12.0], [2.0, 2.0, 2.0, 2.0, 2.0], [1e4, 1.0, 1e-2, 5.0, 50.0]])]:
        xs, al = [], []
        for alpha in alphas:
            alpha = np.array(alpha)
            draws = rng.dirichlet(np.maximum(alpha, 0.5), size=4)   # interior points, not too extreme
            for d in draws:
                xs.append(d)
                al.append(alpha)
            # faces: a zero component where its concentration is 1 (finite), < 1 (+inf), > 1 (-inf)
            for j in range(k):
                face = np.full(k, 1.0 / (k - 1))
                face[j] = 0.0
                xs.append(face)
                al.append(alpha)
        x, alpha = f32(np.array(xs)), f32(np.array(al))
        row(f"dirichlet_K{k}", x, alpha, dirichlet_lp(x, alpha))
    # grid: concentration [R, k], values [M, k]
    alpha = f32([[0.4, 0.4, 0.4], [1.0, 2.0, 3.0], [30.0, 5.0, 0.9]])
    x = f32([[0.2, 0.3, 0.5], [0.9, 0.05, 0.05], [0.01, 0.01, 0.98], [1 / 3, 1 / 3, 1 / 3]])
    lp = np.array([[dirichlet_lp(xm, ar) for xm in x] for ar in alpha])
    row("dirichlet_grid", alpha, x, lp)


def main():
    np.seterr(divide="ignore", invalid="ignore")
    print(f"# generated by gen_gamma_log_prob.py (SciPy {__import__('scipy').__version__}, "
          f"mpmath {mp.__version__}); do not edit")
    special_rows()
    gamma_cdf_rows()
    beta_cdf_rows()
    elementwise_rows()
    grid_rows()
    dirichlet_rows()


if __name__ == "__main__":
    main()
