"""The benchmark suite in NumPyro: the models and mean-field guides of bench/bench_models.c,
written as a NumPyro user would. Particles are vectorized by Trace_ELBO (vmap), so each model is
written for one particle. Data come from models.make_data (the C program's data)."""
from __future__ import annotations

import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints

from models import Data

POS = constraints.positive


def conjugate_normal(x):
    mu = numpyro.sample("mu", dist.Normal(0.0, 10.0))
    with numpyro.plate("data", x.shape[0]):
        numpyro.sample("obs", dist.Normal(mu, 1.0), obs=x)


def conjugate_normal_guide(x):
    loc = numpyro.param("q_loc", jnp.array(1.0))
    scale = numpyro.param("q_scale", jnp.array(0.2), constraint=POS)
    numpyro.sample("mu", dist.Normal(loc, scale))


def logistic_regression(x, y):
    d = x.shape[1]
    w = numpyro.sample("w", dist.Normal(0.0, 1.0).expand([d]).to_event(1))
    with numpyro.plate("data", x.shape[0]):
        numpyro.sample("y", dist.Bernoulli(logits=x @ w), obs=y)


def logistic_regression_guide(x, y):
    d = x.shape[1]
    loc = numpyro.param("w_loc", jnp.zeros(d))
    scale = numpyro.param("w_scale", jnp.full(d, 0.1), constraint=POS)
    numpyro.sample("w", dist.Normal(loc, scale).to_event(1))


def eight_schools(sigma, y):
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
    with numpyro.plate("schools", 8):
        theta_tilde = numpyro.sample("theta_tilde", dist.Normal(0.0, 1.0))
        theta = mu + tau * theta_tilde
        numpyro.sample("y", dist.Normal(theta, sigma), obs=y)


def eight_schools_guide(sigma, y):
    numpyro.sample("mu", dist.Normal(numpyro.param("mu_loc", jnp.array(0.0)),
                                     numpyro.param("mu_scale", jnp.array(1.0), constraint=POS)))
    numpyro.sample("tau", dist.LogNormal(numpyro.param("tau_loc", jnp.array(0.0)),
                                         numpyro.param("tau_scale", jnp.array(1.0), constraint=POS)))
    loc = numpyro.param("tt_loc", jnp.zeros(8))
    scale = numpyro.param("tt_scale", jnp.ones(8), constraint=POS)
    with numpyro.plate("schools", 8):
        numpyro.sample("theta_tilde", dist.Normal(loc, scale))


def hierarchical_linear(x, y, idx, groups):
    d = x.shape[1]
    w0 = numpyro.sample("w0", dist.Normal(0.0, 1.0).expand([d]).to_event(1))
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    with numpyro.plate("groups", groups):
        w = numpyro.sample("w", dist.Normal(w0, 1.0).to_event(1))
    mean = (x * w[idx]).sum(-1)
    with numpyro.plate("data", x.shape[0]):
        numpyro.sample("y", dist.Normal(mean, sigma), obs=y)


def hierarchical_linear_guide(x, y, idx, groups):
    d = x.shape[1]
    numpyro.sample("w0", dist.Normal(numpyro.param("w0_loc", jnp.zeros(d)),
                                     numpyro.param("w0_scale", jnp.full(d, 0.1), constraint=POS)).to_event(1))
    numpyro.sample("sigma", dist.LogNormal(numpyro.param("sigma_loc", jnp.array(0.0)),
                                           numpyro.param("sigma_scale", jnp.array(0.1), constraint=POS)))
    loc = numpyro.param("w_loc", jnp.zeros((groups, d)))
    scale = numpyro.param("w_scale", jnp.full((groups, d), 0.1), constraint=POS)
    with numpyro.plate("groups", groups):
        numpyro.sample("w", dist.Normal(loc, scale).to_event(1))


def gaussian_mixture(x, k):
    with numpyro.plate("components", k):
        locs = numpyro.sample("locs", dist.Normal(0.0, 10.0))
    with numpyro.plate("data", x.shape[0]):
        z = numpyro.sample("z", dist.Categorical(logits=jnp.zeros(k)))
        numpyro.sample("x", dist.Normal(locs[z], 1.0), obs=x)


def gaussian_mixture_guide(x, k):
    n = x.shape[0]
    loc = numpyro.param("locs_loc", jnp.zeros(k))
    scale = numpyro.param("locs_scale", jnp.ones(k), constraint=POS)
    with numpyro.plate("components", k):
        numpyro.sample("locs", dist.Normal(loc, scale))
    logits = numpyro.param("z_logits", jnp.zeros((n, k)))
    with numpyro.plate("data", n):
        numpyro.sample("z", dist.Categorical(logits=logits))


def irt_1pl(y):
    n, q = y.shape
    students = numpyro.plate("students", n, dim=-2)
    questions = numpyro.plate("questions", q, dim=-1)
    with students:
        ability = numpyro.sample("ability", dist.Normal(0.0, 1.0))
    with questions:
        difficulty = numpyro.sample("difficulty", dist.Normal(0.0, 1.0))
    with students, questions:
        numpyro.sample("y", dist.Bernoulli(logits=ability - difficulty), obs=y)


def irt_1pl_guide(y):
    n, q = y.shape
    al = numpyro.param("ability_loc", jnp.zeros((n, 1)))
    as_ = numpyro.param("ability_scale", jnp.ones((n, 1)), constraint=POS)
    dl = numpyro.param("difficulty_loc", jnp.zeros(q))
    ds = numpyro.param("difficulty_scale", jnp.ones(q), constraint=POS)
    with numpyro.plate("students", n, dim=-2):
        numpyro.sample("ability", dist.Normal(al, as_))
    with numpyro.plate("questions", q, dim=-1):
        numpyro.sample("difficulty", dist.Normal(dl, ds))


def program(data: Data):
    """(model, guide, args, static_kwargs) for one model's data; args are device arrays."""
    f32 = lambda a: jnp.asarray(a, dtype=jnp.float32)  # noqa: E731
    name = data.name
    if name == "conjugate_normal":
        return conjugate_normal, conjugate_normal_guide, (f32(data.x),), {}
    if name == "logistic_regression":
        return logistic_regression, logistic_regression_guide, (f32(data.x), f32(data.y)), {}
    if name == "eight_schools":
        return eight_schools, eight_schools_guide, (f32(data.x), f32(data.y)), {}
    if name == "hierarchical_linear":
        return (hierarchical_linear, hierarchical_linear_guide,
                (f32(data.x), f32(data.y), jnp.asarray(data.idx, dtype=jnp.int32)), {"groups": data.g})
    if name == "gaussian_mixture":
        return gaussian_mixture, gaussian_mixture_guide, (f32(data.x),), {"k": data.k}
    if name == "irt_1pl":
        return irt_1pl, irt_1pl_guide, (f32(data.y),), {}
    raise KeyError(name)
