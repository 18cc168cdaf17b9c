"""The benchmark suite's synthetic data and sizes, made exactly as bench/bench_models.c makes them.

bench_models.c draws its data from one xorshift64 stream (shifts 13, 7, 17), reset to the same
state before each model: unif() = ((state >> 11) + 0.5) / 2**53 and
gauss() = sqrt(-2 log u1) cos(2 pi u2), u1 drawn first. The stream is linear over GF(2), so
instead of stepping it one value at a time in Python, `xorshift_states` doubles a block of
consecutive states with the 64x64 bit matrix of "k steps ahead" (numpy, vectorized): the states,
hence the data, are the C program's bit for bit (values then rounded to float32 as the C code does;
log/exp/cos are NumPy's, which may differ from glibc's in the last bit of a double, below float32
rounding).

The NumPyro and Pyro versions of the models and guides are in numpyro_models.py and
pyro_models.py; both take the arrays made here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

MODEL_NAMES = (
    "conjugate_normal",
    "logistic_regression",
    "eight_schools",
    "hierarchical_linear",
    "gaussian_mixture",
    "irt_1pl",
)

SEED_STATE = 88172645463325252
_U64 = np.uint64


def _step_scalar(s: int) -> int:
    m = (1 << 64) - 1
    s ^= (s << 13) & m
    s ^= s >> 7
    s ^= (s << 17) & m
    return s


def _apply(cols: np.ndarray, s: np.ndarray) -> np.ndarray:
    """The GF(2)-linear map whose column j is cols[j], applied to every state in s: one
    256-entry table per byte of the state (8 gathers instead of 64 bit tests)."""
    v = np.arange(256, dtype=_U64)
    out = np.zeros_like(s)
    for b in range(8):
        table = np.zeros(256, dtype=_U64)
        for i in range(8):
            table ^= cols[8 * b + i] * ((v >> _U64(i)) & _U64(1))
        out ^= table[((s >> _U64(8 * b)) & _U64(255)).astype(np.intp)]
    return out


def _compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Columns of the map a . b (b first)."""
    return _apply(a, b)


def xorshift_states(count: int, state: int = SEED_STATE) -> np.ndarray:
    """The next `count` states of the C generator starting from `state` (the value of each
    unif() call's state after its update), as uint64."""
    out = np.empty(max(count, 0), dtype=_U64)
    if count <= 0:
        return out
    # first block sequentially, then double: states[k + n] = M^n states[k]
    first = min(count, 64)
    s = state
    for i in range(first):
        s = _step_scalar(s)
        out[i] = s
    n = first
    # columns of M^n: step each basis vector n times (vectorized over the 64 of them)
    cols = np.array([1 << j for j in range(64)], dtype=_U64)
    for _ in range(n):
        cols ^= cols << _U64(13)
        cols ^= cols >> _U64(7)
        cols ^= cols << _U64(17)
    while n < count:
        take = min(n, count - n)
        out[n:n + take] = _apply(cols, out[:take])
        n += take
        if n < count:
            cols = _compose(cols, cols)  # M^n . M^n = M^(2n), valid while n doubles exactly
    return out


class Stream:
    """Consumes the xorshift stream in the C program's order."""

    def __init__(self, count: int):
        self.u = ((xorshift_states(count) >> _U64(11)).astype(np.float64) + 0.5) / 9007199254740992.0
        self.pos = 0

    def unif(self, n: int) -> np.ndarray:
        if self.pos + n > self.u.size:
            raise RuntimeError("xorshift stream too short")
        v = self.u[self.pos:self.pos + n]
        self.pos += n
        return v

    @staticmethod
    def gauss_from(u: np.ndarray) -> np.ndarray:
        """Pairs (u1, u2) laid out as u[0::2], u[1::2]."""
        return np.sqrt(-2.0 * np.log(u[0::2])) * np.cos(6.283185307179586 * u[1::2])

    def gauss(self, n: int) -> np.ndarray:
        return self.gauss_from(self.unif(2 * n))


@dataclass
class Data:
    """One model's data: the same fields as bdata in bench_models.c (numpy arrays)."""
    name: str
    sizes: str
    n: int = 0
    d: int = 0
    g: int = 0
    k: int = 0
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    idx: np.ndarray | None = None
    closed_form: float | None = None
    extra: dict = field(default_factory=dict)

    def terms(self) -> int:
        """Log-density terms per particle, as bench_models.c counts them."""
        n, d, g, k = self.n, self.d, self.g, self.k
        return {
            "conjugate_normal": n + 2,
            "logistic_regression": n + 2 * d,
            "eight_schools": 2 * (2 + 8) + 8,
            "hierarchical_linear": n + 2 * (d + 1 + g * d),
            "gaussian_mixture": 2 * k + 3 * n,
            "irt_1pl": n * d + 2 * (n + d),
        }[self.name]


def _conjugate_normal(n: int, d: int) -> Data:
    n = n or 10000
    st = Stream(2 * n)
    x = (1.0 + st.gauss(n)).astype(np.float32)
    # closed-form ELBO at the guide's initial values q = N(1, 0.2), as the C code sums it
    l2pi, a, q, s0 = math.log(2 * math.pi), 1.0, 0.2, 10.0
    xd = x.astype(np.float64)
    terms = -0.5 * l2pi - ((xd - a) * (xd - a) + q * q) / 2.0
    e = math.fsum(terms.tolist())
    e += -0.5 * l2pi - math.log(s0) - (a * a + q * q) / (2 * s0 * s0)
    closed = e - (-0.5 * l2pi - math.log(q) - 0.5)
    return Data("conjugate_normal", f"N={n}", n=n, x=x, closed_form=closed)


def _logistic_regression(n: int, d: int) -> Data:
    n, d = n or 10000, d or 50
    st = Stream(2 * d + n * (2 * d + 1))
    w = st.gauss(d) / math.sqrt(d) * 3
    # per row: d gaussians (2 unifs each), then one unif for the label
    u = st.unif(n * (2 * d + 1)).reshape(n, 2 * d + 1)
    x = Stream.gauss_from(u[:, :2 * d].reshape(-1)).reshape(n, d).astype(np.float32)
    z = np.zeros(n)
    for j in range(d):  # the C loop's order of additions, on the float32-rounded x
        z += x[:, j].astype(np.float64) * w[j]
    y = (u[:, 2 * d] < 1 / (1 + np.exp(-z))).astype(np.float32)
    return Data("logistic_regression", f"N={n} D={d}", n=n, d=d, x=x, y=y, extra={"w_true": w})


ES_Y = np.array([28, 8, -3, 7, -1, 1, 18, 12], dtype=np.float32)
ES_SIGMA = np.array([15, 10, 16, 11, 9, 11, 10, 18], dtype=np.float32)


def _eight_schools(n: int, d: int) -> Data:
    return Data("eight_schools", "J=8", n=8, x=ES_SIGMA.copy(), y=ES_Y.copy())


def _hierarchical_linear(n: int, d: int) -> Data:
    n, d, g = n or 2000, d or 5, 20
    dw = min(d, 64)
    st = Stream(2 * g * dw + n * (2 * d + 2))
    w = st.gauss(g * dw).reshape(g, dw)
    u = st.unif(n * (2 * d + 2)).reshape(n, 2 * d + 2)
    x = Stream.gauss_from(u[:, :2 * d].reshape(-1)).reshape(n, d).astype(np.float32)
    gi = (np.arange(n) % g).astype(np.int32)
    z = np.zeros(n)
    for j in range(d):
        z += x[:, j].astype(np.float64) * w[gi, j % 64]
    y = (z + 0.5 * Stream.gauss_from(u[:, 2 * d:].reshape(-1))).astype(np.float32)
    return Data("hierarchical_linear", f"N={n} D={d} G={g}", n=n, d=d, g=g, x=x, y=y, idx=gi)


def _gaussian_mixture(n: int, d: int) -> Data:
    n, k = n or 10000, d or 5
    st = Stream(2 * n)
    x = (5.0 * (np.arange(n) % k).astype(np.float64) - 10.0 + st.gauss(n)).astype(np.float32)
    return Data("gaussian_mixture", f"N={n} K={k}", n=n, k=k, x=x)


def _irt_1pl(n: int, d: int) -> Data:
    n, d = n or 400, d or 100
    st = Stream(2 * n + 2 * d + n * d)
    ab = st.gauss(n)
    df = st.gauss(d)
    u = st.unif(n * d).reshape(n, d)
    y = (u < 1 / (1 + np.exp(df[None, :] - ab[:, None]))).astype(np.float32)
    return Data("irt_1pl", f"students={n} questions={d}", n=n, d=d, y=y)


_MAKERS = {
    "conjugate_normal": _conjugate_normal,
    "logistic_regression": _logistic_regression,
    "eight_schools": _eight_schools,
    "hierarchical_linear": _hierarchical_linear,
    "gaussian_mixture": _gaussian_mixture,
    "irt_1pl": _irt_1pl,
}


def make_data(name: str, n: int = 0, d: int = 0) -> Data:
    """The data of model `name` at size (n, d), 0 meaning the model's default (as trelbo-bench's
    --n and --d)."""
    if name not in _MAKERS:
        raise KeyError(f"unknown model {name}; known: {', '.join(MODEL_NAMES)}")
    return _MAKERS[name](n, d)
