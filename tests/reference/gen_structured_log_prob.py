#!/usr/bin/env python3
"""Reference log-densities of the structured families (Categorical by logits, MultivariateNormal
by scale_tril) from SciPy, for tests/fixture/test_structured_log_prob.c.

Run: .venv/bin/python tests/reference/gen_structured_log_prob.py > tests/reference/structured_log_prob.txt

Parameters and values are rounded to float32 first, and the references are computed in double
at those rounded values: that is the distribution the library is given. Each tensor is written
as a shape field [particles, dims...] followed by its data (particle-major). Rows:
  cat_<case> logits_shape logits value_shape value spec expected
  mvn_<case> loc_shape loc tril_shape tril value_shape value spec expected
spec = [to_event_n, n_expand, expand dims..., out_particles, out_ndim, out dims...]: the
distribution is expanded (when n_expand > 0) to the expand dims, then to_event(to_event_n);
expected is log_prob of the value, with particle extent out_particles and shape out dims.

Categorical: log_softmax(logits)[value]. The reference uses the form
  (l_v - max) - log1p(sum over k != argmax of exp(l_k - max))
which keeps relative accuracy for log-probabilities near 0 (logits +50 / -50 give -3.7e-44,
where scipy.special.log_softmax returns -0.0); it is checked against log_softmax to 1e-12.
MultivariateNormal: scipy.stats.multivariate_normal.logpdf with cov = L L^T. For the
ill-conditioned case cond(L L^T) = cond(L)^2 is beyond what a covariance factorization resolves,
so the reference is the same density computed from L by a triangular solve
(scipy.linalg.solve_triangular); both are computed for every case and must agree to 1e-10
wherever cond(L) < 1e4.
"""
import numpy as np
import scipy
from scipy import linalg, special, stats


def f32(v):
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


def align(a, ndim):
    """Array [P, *shape] with `shape` left-padded by ones to ndim dims."""
    return a.reshape((a.shape[0],) + (1,) * (ndim - (a.ndim - 1)) + a.shape[1:])


def log_softmax(l):
    m = np.max(l, axis=-1, keepdims=True)
    am = np.argmax(l, axis=-1)[..., None]
    e = np.exp(l - m)
    np.put_along_axis(e, am, 0.0, axis=-1)
    lsm = (l - m) - np.log1p(np.sum(e, axis=-1, keepdims=True))
    ref = special.log_softmax(l, axis=-1)
    assert np.allclose(lsm, ref, rtol=1e-12, atol=1e-12, equal_nan=True), (lsm, ref)
    return lsm


def spec_field(to_event, expand, out):
    s = [to_event, len(expand)] + list(expand) + [out.shape[0], out.ndim - 1] + list(out.shape[1:])
    return np.array(s, dtype=np.float64)


def shape_field(a):
    return np.array(a.shape, dtype=np.float64)


def cat_case(name, logits, value, expand=(), to_event=0):
    """logits [Pl, *bl, K], value [Pv, *bv] (value holds category indices)."""
    logits, value = f32(logits), f32(value)
    lsm = log_softmax(logits)                     # [Pl, *bl, K]
    batch = list(logits.shape[1:-1])
    if expand:
        lsm = np.broadcast_to(align(lsm, len(expand) + 1), (lsm.shape[0],) + tuple(expand) + (lsm.shape[-1],))
        batch = list(expand)
    nd = max(len(batch), value.ndim - 1)
    lsm = align(lsm, nd + 1)
    v = align(value, nd)
    pl, pv = lsm.shape[0], v.shape[0]
    P = max(pl, pv)
    shape = np.broadcast_shapes(lsm.shape[1:-1], v.shape[1:])
    lsm = np.broadcast_to(lsm, (P,) + shape + (lsm.shape[-1],))
    v = np.broadcast_to(v, (P,) + shape).astype(np.int64)
    out = np.take_along_axis(lsm, v[..., None], axis=-1)[..., 0]
    if to_event:
        out = out.sum(axis=tuple(range(out.ndim - to_event, out.ndim)))
    row("cat_" + name, shape_field(logits), logits, shape_field(value), value,
        spec_field(to_event, expand, out), out)


def mvn_logpdf_tril(x, loc, L):
    z = linalg.solve_triangular(L, x - loc, lower=True)
    d = L.shape[0]
    return -0.5 * z @ z - np.sum(np.log(np.diag(L))) - 0.5 * d * np.log(2 * np.pi)


def mvn_row(x, loc, L):
    ref = mvn_logpdf_tril(x, loc, L)
    if np.linalg.cond(L) < 1e4:
        sp = stats.multivariate_normal.logpdf(x, mean=loc, cov=L @ L.T)
        assert abs(sp - ref) <= 1e-10 * max(1.0, abs(ref)), (sp, ref)
        return sp
    return ref


def mvn_case(name, loc, tril, value, expand=(), to_event=0):
    """loc [Pm, *bm, D], tril [Pt, *bt, D, D], value [Pv, *bv, D]."""
    loc, tril, value = f32(loc), f32(tril), f32(value)
    D = loc.shape[-1]
    batch = np.broadcast_shapes(loc.shape[1:-1], tril.shape[1:-2])
    if expand:
        batch = tuple(expand)
    nd = max(len(batch), value.ndim - 2)
    P = max(loc.shape[0], tril.shape[0], value.shape[0])
    shape = np.broadcast_shapes(batch, value.shape[1:-1])
    assert len(shape) == nd
    lb = np.broadcast_to(loc.reshape((loc.shape[0],) + (1,) * (nd - (loc.ndim - 2)) + loc.shape[1:]),
                         (P,) + shape + (D,))
    tb = np.broadcast_to(tril.reshape((tril.shape[0],) + (1,) * (nd - (tril.ndim - 3)) + tril.shape[1:]),
                         (P,) + shape + (D, D))
    vb = np.broadcast_to(value.reshape((value.shape[0],) + (1,) * (nd - (value.ndim - 2)) + value.shape[1:]),
                         (P,) + shape + (D,))
    out = np.empty((P,) + shape)
    for idx in np.ndindex(*out.shape):
        out[idx] = mvn_row(vb[idx], lb[idx], tb[idx])
    if to_event:
        out = out.sum(axis=tuple(range(out.ndim - to_event, out.ndim)))
    row("mvn_" + name, shape_field(loc), loc, shape_field(tril), tril, shape_field(value), value,
        spec_field(to_event, expand, out), out)


def random_tril(rng, d, batch=(), diag=(0.5, 2.0), off=1.0):
    L = np.tril(rng.normal(0.0, off, size=batch + (d, d)), -1)
    idx = np.arange(d)
    L[..., idx, idx] = rng.uniform(*diag, size=batch + (d,))
    return L


def main():
    print(f"# generated by gen_structured_log_prob.py (SciPy {scipy.__version__}); do not edit")
    rng = np.random.default_rng(20240607)
    # ---- Categorical ----
    cat_case("basic", np.array([[0.5, -1.0, 2.0]]), np.array([2.0]))
    cat_case("values", np.array([[0.5, -1.0, 2.0]]), np.array([[0.0, 1.0, 2.0, 2.0]]))
    cat_case("batch", rng.normal(0, 2, size=(1, 2, 4)), np.array([[3.0, 1.0]]))
    cat_case("k1", np.array([[0.7]]), np.array([[0.0, 0.0, 0.0]]))
    cat_case("k100", rng.normal(0, 3, size=(1, 2, 100)), np.array([[17.0, 99.0]]))
    cat_case("k100_all", rng.normal(0, 3, size=(1, 100)), np.arange(100.0)[None, :])
    cat_case("extreme", np.array([[50.0, -50.0, 0.0, 50.0, -50.0]]), np.array([[0.0, 1.0, 2.0, 3.0, 4.0]]))
    cat_case("extreme_pair", np.array([[50.0, -50.0]]), np.array([[0.0, 1.0]]))
    cat_case("neg_inf", np.array([[0.0, -np.inf, 1.0]]), np.array([[0.0, 1.0, 2.0]]))
    cat_case("large_equal", np.array([[1e4, 1e4, 1e4 - 1.0]]), np.array([[0.0, 1.0, 2.0]]))
    cat_case("logits_particles", rng.normal(0, 1, size=(3, 2, 3)), np.array([[2.0, 0.0]]))
    cat_case("value_particles", rng.normal(0, 1, size=(1, 2, 3)), np.array([[2.0, 0.0], [1.0, 1.0], [0.0, 2.0]]))
    cat_case("both_particles", rng.normal(0, 1, size=(2, 3)), np.array([[2.0], [1.0]]))
    cat_case("value_batch", rng.normal(0, 1, size=(1, 2, 3)), rng.integers(0, 3, size=(1, 4, 2)).astype(float))
    cat_case("expand", rng.normal(0, 1, size=(1, 1, 3)), rng.integers(0, 3, size=(1, 2, 3)).astype(float), expand=(2, 3))
    cat_case("to_event", rng.normal(0, 1, size=(1, 2, 3, 4)), rng.integers(0, 4, size=(2, 2, 3)).astype(float), to_event=1)
    cat_case("expand_to_event", rng.normal(0, 1, size=(2, 3, 4)), rng.integers(0, 4, size=(1, 2, 3)).astype(float),
             expand=(2, 3), to_event=2)
    # ---- MultivariateNormal ----
    mvn_case("d1", np.array([[0.5]]), np.array([[[2.0]]]), np.array([[[-1.0], [0.5], [3.0]]]))
    L3 = random_tril(rng, 3, (1,))
    mvn_case("d3", rng.normal(0, 1, size=(1, 3)), L3, rng.normal(0, 2, size=(1, 3)))
    L10 = random_tril(rng, 10, (1,), off=0.3)
    mvn_case("d10", rng.normal(0, 1, size=(1, 10)), L10, rng.normal(0, 2, size=(1, 4, 10)))
    Lill = np.array([[[1.0, 0.0, 0.0, 0.0],
                      [0.999, 1e-3, 0.0, 0.0],
                      [5.0, -3.0, 1e3, 0.0],
                      [1.0, 1.0, 1.0, 1e-2]]])
    loc4 = np.array([[0.1, -0.2, 0.3, 0.0]])
    eps = rng.normal(0, 1, size=(1, 3, 4))
    mvn_case("ill_conditioned", loc4, Lill, loc4[:, None, :] + np.einsum("ij,pnj->pni", Lill[0], eps))
    mvn_case("far_value", np.array([[0.0, 0.0]]), np.array([[[1.0, 0.0], [0.5, 0.1]]]),
             np.array([[[1e3, -1e3], [30.0, 2.0]]]))
    mvn_case("batch_loc", rng.normal(0, 1, size=(1, 2, 3)), random_tril(rng, 3, (1,)), rng.normal(0, 1, size=(1, 2, 3)))
    mvn_case("batch_tril", rng.normal(0, 1, size=(1, 3)), random_tril(rng, 3, (1, 2)), rng.normal(0, 1, size=(1, 3)))
    mvn_case("value_batch", rng.normal(0, 1, size=(1, 3)), random_tril(rng, 3, (1,)), rng.normal(0, 1, size=(1, 4, 3)))
    mvn_case("loc_particles", rng.normal(0, 1, size=(3, 2)), random_tril(rng, 2, (1,)), rng.normal(0, 1, size=(1, 2)))
    mvn_case("tril_value_particles", rng.normal(0, 1, size=(1, 2)), random_tril(rng, 2, (2,)),
             rng.normal(0, 1, size=(2, 5, 2)))
    mvn_case("value_particles", rng.normal(0, 1, size=(1, 2, 3)), random_tril(rng, 3, (1, 2)),
             rng.normal(0, 1, size=(4, 2, 3)))
    mvn_case("expand", rng.normal(0, 1, size=(1, 3)), random_tril(rng, 3, (1,)), rng.normal(0, 1, size=(1, 2, 3)),
             expand=(2,))
    mvn_case("to_event", rng.normal(0, 1, size=(1, 2, 3)), random_tril(rng, 3, (1,)), rng.normal(0, 1, size=(2, 2, 3)),
             to_event=1)
    mvn_case("expand_to_event", rng.normal(0, 1, size=(1, 3)), random_tril(rng, 3, (1, 1)),
             rng.normal(0, 1, size=(1, 4, 3)), expand=(4,), to_event=1)


if __name__ == "__main__":
    main()
