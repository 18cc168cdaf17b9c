"""The benchmark suite in Pyro: the models and mean-field guides of bench/bench_models.c, written
as a Pyro user would for Trace_ELBO(vectorize_particles=True, max_plate_nesting=2): the particle
plate sits at dim -3, left of every model plate, so sample values carry shapes like [P, 1, 1, D]
and the code uses broadcasting and gather rather than one-particle shapes. Data come
from models.make_data (the C program's data)."""
from __future__ import annotations

import torch
import pyro
import pyro.distributions as dist
from pyro.distributions import constraints

from models import Data

POS = constraints.positive
MAX_PLATE_NESTING = 2


def conjugate_normal(x):
    mu = pyro.sample("mu", dist.Normal(0.0, 10.0))
    with pyro.plate("data", x.shape[0]):
        pyro.sample("obs", dist.Normal(mu, 1.0), obs=x)


def conjugate_normal_guide(x):
    loc = pyro.param("q_loc", torch.tensor(1.0))
    scale = pyro.param("q_scale", torch.tensor(0.2), constraint=POS)
    pyro.sample("mu", dist.Normal(loc, scale))


def logistic_regression(x, y):
    d = x.shape[1]
    w = pyro.sample("w", dist.Normal(0.0, 1.0).expand([d]).to_event(1))
    with pyro.plate("data", x.shape[0]):
        # w is [D], or [P, 1, 1, D] under the particle plate: its batch dim -1 (size 1) is where
        # the data plate goes, so drop it before the product -> logits [N] or [P, 1, N]
        logits = w @ x.T if w.dim() == 1 else w.squeeze(-2) @ x.T
        pyro.sample("y", dist.Bernoulli(logits=logits), obs=y)


def logistic_regression_guide(x, y):
    d = x.shape[1]
    loc = pyro.param("w_loc", torch.zeros(d))
    scale = pyro.param("w_scale", torch.full((d,), 0.1), constraint=POS)
    pyro.sample("w", dist.Normal(loc, scale).to_event(1))


def eight_schools(sigma, y):
    mu = pyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = pyro.sample("tau", dist.HalfCauchy(5.0))
    with pyro.plate("schools", 8):
        theta_tilde = pyro.sample("theta_tilde", dist.Normal(0.0, 1.0))
        theta = mu + tau * theta_tilde
        pyro.sample("y", dist.Normal(theta, sigma), obs=y)


def eight_schools_guide(sigma, y):
    pyro.sample("mu", dist.Normal(pyro.param("mu_loc", torch.tensor(0.0)),
                                  pyro.param("mu_scale", torch.tensor(1.0), constraint=POS)))
    pyro.sample("tau", dist.LogNormal(pyro.param("tau_loc", torch.tensor(0.0)),
                                      pyro.param("tau_scale", torch.tensor(1.0), constraint=POS)))
    loc = pyro.param("tt_loc", torch.zeros(8))
    scale = pyro.param("tt_scale", torch.ones(8), constraint=POS)
    with pyro.plate("schools", 8):
        pyro.sample("theta_tilde", dist.Normal(loc, scale))


def hierarchical_linear(x, y, idx, groups):
    d = x.shape[1]
    w0 = pyro.sample("w0", dist.Normal(0.0, 1.0).expand([d]).to_event(1))
    sigma = pyro.sample("sigma", dist.HalfNormal(1.0))
    with pyro.plate("groups", groups):
        w = pyro.sample("w", dist.Normal(w0, 1.0).to_event(1))       # [G, D] or [P, 1, G, D]
    mean = (x * w.index_select(-2, idx)).sum(-1)                     # [N] or [P, 1, N]
    with pyro.plate("data", x.shape[0]):
        pyro.sample("y", dist.Normal(mean, sigma), obs=y)


def hierarchical_linear_guide(x, y, idx, groups):
    d = x.shape[1]
    pyro.sample("w0", dist.Normal(pyro.param("w0_loc", torch.zeros(d)),
                                  pyro.param("w0_scale", torch.full((d,), 0.1), constraint=POS)).to_event(1))
    pyro.sample("sigma", dist.LogNormal(pyro.param("sigma_loc", torch.tensor(0.0)),
                                        pyro.param("sigma_scale", torch.tensor(0.1), constraint=POS)))
    loc = pyro.param("w_loc", torch.zeros(groups, d))
    scale = pyro.param("w_scale", torch.full((groups, d), 0.1), constraint=POS)
    with pyro.plate("groups", groups):
        pyro.sample("w", dist.Normal(loc, scale).to_event(1))


def gaussian_mixture(x, k):
    with pyro.plate("components", k):
        locs = pyro.sample("locs", dist.Normal(0.0, 10.0))           # [K] or [P, 1, K]
    with pyro.plate("data", x.shape[0]):
        z = pyro.sample("z", dist.Categorical(logits=torch.zeros(k)))  # [N] or [P, 1, N]
        # locs[z] per particle: locs' last dim is the components plate, z's the data plate
        pyro.sample("x", dist.Normal(locs.gather(-1, z), 1.0), obs=x)


def gaussian_mixture_guide(x, k):
    n = x.shape[0]
    loc = pyro.param("locs_loc", torch.zeros(k))
    scale = pyro.param("locs_scale", torch.ones(k), constraint=POS)
    with pyro.plate("components", k):
        pyro.sample("locs", dist.Normal(loc, scale))
    logits = pyro.param("z_logits", torch.zeros(n, k))
    with pyro.plate("data", n):
        pyro.sample("z", dist.Categorical(logits=logits))


def irt_1pl(y):
    n, q = y.shape
    students = pyro.plate("students", n, dim=-2)
    questions = pyro.plate("questions", q, dim=-1)
    with students:
        ability = pyro.sample("ability", dist.Normal(0.0, 1.0))       # [N, 1]
    with questions:
        difficulty = pyro.sample("difficulty", dist.Normal(0.0, 1.0))  # [Q]
    with students, questions:
        pyro.sample("y", dist.Bernoulli(logits=ability - difficulty), obs=y)


def irt_1pl_guide(y):
    n, q = y.shape
    al = pyro.param("ability_loc", torch.zeros(n, 1))
    as_ = pyro.param("ability_scale", torch.ones(n, 1), constraint=POS)
    dl = pyro.param("difficulty_loc", torch.zeros(q))
    ds = pyro.param("difficulty_scale", torch.ones(q), constraint=POS)
    with pyro.plate("students", n, dim=-2):
        pyro.sample("ability", dist.Normal(al, as_))
    with pyro.plate("questions", q, dim=-1):
        pyro.sample("difficulty", dist.Normal(dl, ds))


def program(data: Data):
    """(model, guide, args, kwargs) for one model's data; args are float32 / int64 tensors."""
    f32 = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    name = data.name
    if name == "conjugate_normal":
        return conjugate_normal, conjugate_normal_guide, (f32(data.x),), {}
    if name == "logistic_regression":
        return logistic_regression, logistic_regression_guide, (f32(data.x), f32(data.y)), {}
    if name == "eight_schools":
        return eight_schools, eight_schools_guide, (f32(data.x), f32(data.y)), {}
    if name == "hierarchical_linear":
        return (hierarchical_linear, hierarchical_linear_guide,
                (f32(data.x), f32(data.y), torch.as_tensor(data.idx, dtype=torch.int64)), {"groups": data.g})
    if name == "gaussian_mixture":
        return gaussian_mixture, gaussian_mixture_guide, (f32(data.x),), {"k": data.k}
    if name == "irt_1pl":
        return irt_1pl, irt_1pl_guide, (f32(data.y),), {}
    raise KeyError(name)
