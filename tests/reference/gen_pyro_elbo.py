#!/usr/bin/env python3
"""Reference ELBO estimates and gradients from Pyro itself, for tests/stat/test_pyro_reference.c.

Run (the peers' environment has Pyro): bench/peers/setup.sh, then
  build/peers-venv/bin/python tests/reference/gen_pyro_elbo.py > tests/reference/pyro_elbo.txt

The library's tests check its estimators against closed forms worked out from reading Pyro's
source. This file checks the reading: thirteen small programs, written here as a Pyro user
writes them and in the test as a trelbo user does, each exercising semantics where a misreading
would change the expected value of the estimate or of its gradient (subsampled plates and their
scale, the scale and mask handlers, factor, score-function terms (in plates, of every discrete
family, in RenyiELBO), model latents absent from the guide, params of the model, analytic KL
with the Monte Carlo fallback, RenyiELBO's bound per datum, every reparameterized family as a
guide (the implicit gradients of Dirichlet, Beta, Gamma and StudentT's df included) and the
constraint transforms of the params). Pyro's estimator is run over BATCHES independent batches
of PARTICLES vectorized particles; a row holds the mean over batches of the estimate and of the
gradient of the loss (-ELBO) with respect to each unconstrained param, in the order PROGRAMS
lists them (flattened row-major), and their standard errors:
  <program> elbo_mean,elbo_se grad_mean... grad_se...
The test computes the same means with the library and requires agreement within 5 combined
standard errors. RenyiELBO's estimate depends on its particle count, so its batches are small
(RENYI_PARTICLES) and many; the test uses the same count.
"""
import math
import sys

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine
from pyro.distributions import constraints
from pyro.infer import RenyiELBO, Trace_ELBO, TraceMeanField_ELBO

PARTICLES, BATCHES = 10000, 400
RENYI_PARTICLES, RENYI_BATCHES = 8, 40000

Y8 = [0.3, -1.2, 2.1, 0.7, -0.4, 1.5, 0.9, -2.0]
Y6 = [1.2, -0.8, 0.4, 2.2, -1.5, 0.1]
Y5 = [0.8, 1.9, -0.3, 1.1, 0.6]
Y4 = [0.4, 1.1, -0.3, 0.9]


def t(v):
    return torch.tensor(v, dtype=torch.float32)


def t_idx(v):
    """A fixed minibatch (the test conditions the plate's index site to the same indices)."""
    return torch.tensor(v, dtype=torch.long)


# ---- subsample_local: a global and a local latent, the data plate's minibatch 3 of 8 ----
def subsample_local_model():
    mu = pyro.sample("mu", dist.Normal(0.0, 2.0))
    with pyro.plate("data", 8, subsample=t_idx([1, 4, 6])) as idx:
        z = pyro.sample("z", dist.Normal(mu, 1.0))
        pyro.sample("y", dist.Normal(z, 0.5), obs=t(Y8)[idx])


def subsample_local_guide():
    m = pyro.param("m", t(0.3))
    s = pyro.param("s", t(0.8), constraint=constraints.positive)
    pyro.sample("mu", dist.Normal(m, s))
    a = pyro.param("a", t([0.1 * i - 0.3 for i in range(8)]))  # rounded once to float32, as the test's
    sd = pyro.param("t", t(0.7), constraint=constraints.positive)
    with pyro.plate("data", 8, subsample=t_idx([1, 4, 6])) as idx:
        pyro.sample("z", dist.Normal(a[idx], sd))


# ---- scale_mask_factor: scale handlers of different size in model and guide, a mask, a factor ----
def scale_mask_factor_model():
    mu = pyro.sample("mu", dist.Normal(0.0, 1.0))
    with poutine.scale(scale=0.25):
        tau = pyro.sample("tau", dist.Normal(mu, 1.5))
    with pyro.plate("obs", 4), poutine.mask(mask=torch.tensor([True, False, True, True])):
        pyro.sample("y", dist.Normal(mu + tau, 1.0), obs=t([0.5, 3.0, -0.2, 1.1]))
    pyro.factor("pen", -0.3 * mu**2)
    pyro.deterministic("d", mu + tau)


def scale_mask_factor_guide():
    m1 = pyro.param("m1", t(0.2))
    s1 = pyro.param("s1", t(0.9), constraint=constraints.positive)
    pyro.sample("mu", dist.Normal(m1, s1))
    m2 = pyro.param("m2", t(-0.4))
    s2 = pyro.param("s2", t(1.3), constraint=constraints.positive)
    with poutine.scale(scale=0.5):
        pyro.sample("tau", dist.Normal(m2, s2))


# ---- score_plate: Bernoulli guide sites in a subsampled plate (score function, Rao-Blackwellized) ----
def score_plate_model():
    mu = pyro.sample("mu", dist.Normal(0.0, 1.0))
    with pyro.plate("data", 6, subsample=t_idx([0, 2, 3, 5])) as idx:
        c = pyro.sample("c", dist.Bernoulli(0.3))
        pyro.sample("y", dist.Normal(mu + 2.0 * c - 1.0, 1.0), obs=t(Y6)[idx])


def score_plate_guide():
    m = pyro.param("m", t(0.1))
    s = pyro.param("s", t(0.6), constraint=constraints.positive)
    pyro.sample("mu", dist.Normal(m, s))
    p = pyro.param("p", t([0.2, 0.5, 0.7, 0.4, 0.6, 0.3]), constraint=constraints.unit_interval)
    with pyro.plate("data", 6, subsample=t_idx([0, 2, 3, 5])) as idx:
        pyro.sample("c", dist.Bernoulli(p[idx]))


# ---- model_only: a model latent the guide lacks (drawn from the prior, pathwise), a model param ----
def model_only_model():
    w = pyro.param("w", t(0.5))
    u = pyro.sample("u", dist.Normal(w, 1.5))
    z = pyro.sample("z", dist.Normal(0.0, 1.0))
    with pyro.plate("obs", 3):
        pyro.sample("y", dist.Normal(u + z, 1.0), obs=t([1.3, 0.2, 2.0]))


def model_only_guide():
    m = pyro.param("m", t(0.4))
    s = pyro.param("s", t(0.7), constraint=constraints.positive)
    pyro.sample("z", dist.Normal(m, s))


# ---- meanfield: analytic KL (Normal, in a subsampled plate) and the Monte Carlo fallback ----
def meanfield_model():
    mu = pyro.sample("mu", dist.Normal(0.0, 2.0))
    sigma = pyro.sample("sigma", dist.Gamma(2.0, 2.0))
    with pyro.plate("data", 5, subsample=t_idx([1, 3])) as idx:
        z = pyro.sample("z", dist.Normal(mu, 1.0))
        pyro.sample("y", dist.Normal(z, sigma), obs=t(Y5)[idx])


def meanfield_guide():
    m = pyro.param("m", t(0.5))
    s = pyro.param("s", t(0.6), constraint=constraints.positive)
    pyro.sample("mu", dist.Normal(m, s))
    lm = pyro.param("lm", t(-0.2))
    ls = pyro.param("ls", t(0.4), constraint=constraints.positive)
    pyro.sample("sigma", dist.LogNormal(lm, ls))
    a = pyro.param("a", t([0.6, 1.2, 0.1, 0.9, 0.5]))
    sd = pyro.param("t", t(0.8), constraint=constraints.positive)
    with pyro.plate("data", 5, subsample=t_idx([1, 3])) as idx:
        pyro.sample("z", dist.Normal(a[idx], sd))


# ---- renyi_global: RenyiELBO(0.5), a global latent: one bound over whole particles ----
def renyi_global_model():
    mu = pyro.sample("mu", dist.Normal(0.0, 1.0))
    with pyro.plate("obs", 4):
        pyro.sample("y", dist.Normal(mu, 1.0), obs=t(Y4))


def renyi_global_guide():
    m = pyro.param("m", t(0.2))
    s = pyro.param("s", t(0.9), constraint=constraints.positive)
    pyro.sample("mu", dist.Normal(m, s))


# ---- renyi_local: RenyiELBO(0.3), every site in the data plate: a bound per datum, summed ----
def renyi_local_model():
    with pyro.plate("data", 4):
        z = pyro.sample("z", dist.Normal(0.0, 1.0))
        pyro.sample("y", dist.Normal(z, 1.0), obs=t(Y4))


def renyi_local_guide():
    a = pyro.param("a", t([1.0, -0.8, 0.9, -0.6]))
    sd = pyro.param("t", t(0.5), constraint=constraints.positive)
    with pyro.plate("data", 4):
        pyro.sample("z", dist.Normal(a, sd))


# ---- structured: Dirichlet, Beta, Gamma and MultivariateNormal guides (implicit gradients) ----
def structured_model():
    theta = pyro.sample("theta", dist.Dirichlet(t([1.5, 2.0, 1.0])))
    with pyro.plate("o1", 5):
        pyro.sample("x", dist.Categorical(logits=theta.log()), obs=t([0, 1, 1, 2, 1]))
    rho = pyro.sample("rho", dist.Beta(2.0, 3.0))
    with pyro.plate("o2", 4):
        pyro.sample("b", dist.Bernoulli(probs=rho), obs=t([1, 0, 0, 1]))
    lam = pyro.sample("lam", dist.Gamma(3.0, 1.0))
    with pyro.plate("o3", 3):
        pyro.sample("k", dist.Poisson(lam), obs=t([2, 4, 3]))
    v = pyro.sample("v", dist.MultivariateNormal(torch.zeros(2), scale_tril=t([[1.0, 0.0], [0.5, 1.0]])))
    pyro.sample("w", dist.Normal(v, 1.0).to_event(1), obs=t([0.7, -0.4]))


def structured_guide():
    alpha = pyro.param("alpha", t([2.0, 2.5, 1.5]), constraint=constraints.positive)
    pyro.sample("theta", dist.Dirichlet(alpha))
    c1 = pyro.param("c1", t(2.5), constraint=constraints.positive)
    c0 = pyro.param("c0", t(3.5), constraint=constraints.positive)
    pyro.sample("rho", dist.Beta(c1, c0))
    gc = pyro.param("gc", t(4.0), constraint=constraints.positive)
    gr = pyro.param("gr", t(1.2), constraint=constraints.positive)
    pyro.sample("lam", dist.Gamma(gc, gr))
    vl = pyro.param("vl", t([0.2, -0.1]))
    vL = pyro.param("vL", t([[0.8, 0.0], [0.3, 0.6]]), constraint=constraints.lower_cholesky)
    pyro.sample("v", dist.MultivariateNormal(vl, scale_tril=vL))


# ---- discrete: Poisson, Binomial and Categorical guides (score function terms of each family) ----
def discrete_model():
    n = pyro.sample("n", dist.Poisson(3.0))
    k = pyro.sample("k", dist.Binomial(10, 0.3))
    c = pyro.sample("c", dist.Categorical(logits=t([0.1, 0.5, -0.3])))
    with pyro.plate("obs", 3):
        loc = 0.3 * n + 0.2 * k + t([-0.5, 0.0, 0.8])[c]
        pyro.sample("y", dist.Normal(loc, 1.0), obs=t([1.5, 2.2, 0.9]))


def discrete_guide():
    pyro.sample("n", dist.Poisson(pyro.param("rate", t(2.5), constraint=constraints.positive)))
    pyro.sample("k", dist.Binomial(10, pyro.param("kp", t(0.4), constraint=constraints.unit_interval)))
    pyro.sample("c", dist.Categorical(logits=pyro.param("cl", t([0.0, 0.2, -0.1]))))


# ---- renyi_discrete: RenyiELBO(0.5) with Bernoulli guide sites (its alpha / (1 - alpha) log q term) ----
def renyi_discrete_model():
    mu = pyro.sample("mu", dist.Normal(0.0, 1.0))
    with pyro.plate("data", 4):
        c = pyro.sample("c", dist.Bernoulli(0.4))
        pyro.sample("y", dist.Normal(mu + c, 1.0), obs=t(Y4))


def renyi_discrete_guide():
    m = pyro.param("m", t(0.2))
    s = pyro.param("s", t(0.9), constraint=constraints.positive)
    pyro.sample("mu", dist.Normal(m, s))
    p = pyro.param("p", t([0.3, 0.6, 0.2, 0.5]), constraint=constraints.unit_interval)
    with pyro.plate("data", 4):
        pyro.sample("c", dist.Bernoulli(p))


# ---- nested: a minibatch of groups (dim -2) around a plate of items (dim -1), Categorical
# guide sites scored in both plates, data and params picked by the groups' indices ----
Y45 = [0.5 * ((j * 7) % 11) - 2.0 for j in range(20)]
CL0 = [0.1 * (j % 7) - 0.3 for j in range(60)]


def nested_model():
    mus = t([-1.0, 0.0, 1.5])
    with pyro.plate("groups", 4, subsample=t_idx([0, 2, 3]), dim=-2) as gi:
        gm = pyro.sample("gm", dist.Normal(0.0, 1.0))
        with pyro.plate("items", 5, dim=-1):
            c = pyro.sample("c", dist.Categorical(logits=t([0.2, -0.4, 0.1])))
            pyro.sample("y", dist.Normal(gm + mus[c], 1.0), obs=t(Y45).reshape(4, 5)[gi])


def nested_guide():
    gl = pyro.param("gl", t([[0.3], [-0.2], [0.5], [0.1]]))
    gs = pyro.param("gs", t(0.7), constraint=constraints.positive)
    cl = pyro.param("cl", t(CL0).reshape(4, 5, 3))
    with pyro.plate("groups", 4, subsample=t_idx([0, 2, 3]), dim=-2) as gi:
        pyro.sample("gm", dist.Normal(gl[gi], gs))
        with pyro.plate("items", 5, dim=-1):
            pyro.sample("c", dist.Categorical(logits=cl[gi]))


# ---- families: every reparameterized family as a guide, against its prior; run with
# TraceMeanField_ELBO (analytic KL for the pairs both libraries know, Monte Carlo for the rest:
# either way the expected values are the same) and with Trace_ELBO (pathwise gradients) ----
def families_model():
    g = pyro.sample("g", dist.Gamma(2.0, 1.5))
    b = pyro.sample("b", dist.Beta(2.0, 2.0))
    d = pyro.sample("d", dist.Dirichlet(t([1.0, 2.0, 3.0])))
    h = pyro.sample("h", dist.HalfNormal(1.5))
    e = pyro.sample("e", dist.Gamma(2.0, 3.0))
    lap = pyro.sample("l", dist.Normal(0.5, 1.2))
    v = pyro.sample("v", dist.MultivariateNormal(t([0.2, -0.1]), scale_tril=t([[1.0, 0.0], [0.4, 0.8]])))
    u = pyro.sample("u", dist.Normal(0.3, 2.0))
    pyro.sample("r", dist.Uniform(0.0, 1.0))
    pyro.sample("c", dist.Cauchy(0.0, 1.0))
    n = pyro.sample("n", dist.LogNormal(0.0, 1.0))
    st = pyro.sample("st", dist.StudentT(4.0, 0.0, 1.0))
    hc = pyro.sample("hc", dist.HalfCauchy(1.0))
    pyro.sample("y", dist.Normal(lap + u + 0.5 * st, 1.0), obs=t(0.7))
    pyro.sample("k", dist.Poisson(g + e), obs=t(3.0))
    pyro.sample("q", dist.Bernoulli(probs=b), obs=t(1.0))
    pyro.sample("x", dist.Categorical(logits=d.log()), obs=t(2.0))
    pyro.sample("z", dist.Normal(v, 1.0).to_event(1), obs=t([0.1, -0.3]))
    pyro.sample("s", dist.Normal(0.0, 1.0 + h + hc), obs=t(0.4))
    pyro.sample("ln", dist.Normal(n.log(), 1.0), obs=t(0.2))


def families_guide():
    pos = constraints.positive
    pyro.sample("g", dist.Gamma(pyro.param("gc", t(3.0), constraint=pos), pyro.param("gr", t(2.0), constraint=pos)))
    pyro.sample("b", dist.Beta(pyro.param("bc1", t(1.5), constraint=pos), pyro.param("bc0", t(2.5), constraint=pos)))
    pyro.sample("d", dist.Dirichlet(pyro.param("da", t([2.0, 2.0, 2.0]), constraint=pos)))
    pyro.sample("h", dist.HalfNormal(pyro.param("hs", t(0.8), constraint=pos)))
    pyro.sample("e", dist.Exponential(pyro.param("er", t(2.0), constraint=pos)))
    pyro.sample("l", dist.Laplace(pyro.param("ll", t(0.1)), pyro.param("lb", t(0.7), constraint=pos)))
    vm = pyro.param("vm", t([0.3, -0.2]))
    vs = pyro.param("vs", t([0.6, 0.9]), constraint=pos)
    pyro.sample("v", dist.Normal(vm, vs).to_event(1))
    ulo = pyro.param("ulo", t(-0.5))
    pyro.sample("u", dist.Uniform(ulo, ulo + pyro.param("uw", t(1.5), constraint=pos)))
    pyro.sample("r", dist.Beta(pyro.param("rc1", t(2.0), constraint=pos), pyro.param("rc0", t(3.0), constraint=pos)))
    pyro.sample("c", dist.Cauchy(pyro.param("cl", t(0.2)), pyro.param("cs", t(0.5), constraint=pos)))
    pyro.sample("n", dist.LogNormal(pyro.param("nl", t(0.3)), pyro.param("ns", t(0.6), constraint=pos)))
    pyro.sample("st", dist.StudentT(pyro.param("sdf", t(5.0), constraint=pos), pyro.param("sl", t(0.1)),
                                    pyro.param("ss", t(0.9), constraint=pos)))
    pyro.sample("hc", dist.HalfCauchy(pyro.param("hcs", t(0.7), constraint=pos)))


FAMILY_PARAMS = ["gc", "gr", "bc1", "bc0", "da", "hs", "er", "ll", "lb", "vm", "vs", "ulo", "uw", "rc1", "rc0",
                 "cl", "cs", "nl", "ns", "sdf", "sl", "ss", "hcs"]


# name, model, guide, estimator, params (in the order of the row's gradients)
PROGRAMS = [
    ("subsample_local", subsample_local_model, subsample_local_guide, "trace", ["m", "s", "a", "t"]),
    ("scale_mask_factor", scale_mask_factor_model, scale_mask_factor_guide, "trace", ["m1", "s1", "m2", "s2"]),
    ("score_plate", score_plate_model, score_plate_guide, "trace", ["m", "s", "p"]),
    ("model_only", model_only_model, model_only_guide, "trace", ["w", "m", "s"]),
    ("meanfield", meanfield_model, meanfield_guide, "meanfield", ["m", "s", "lm", "ls", "a", "t"]),
    ("renyi_global", renyi_global_model, renyi_global_guide, "renyi0.5", ["m", "s"]),
    ("renyi_local", renyi_local_model, renyi_local_guide, "renyi0.3", ["a", "t"]),
    ("structured", structured_model, structured_guide, "trace", ["alpha", "c1", "c0", "gc", "gr", "vl", "vL"]),
    ("discrete", discrete_model, discrete_guide, "trace", ["rate", "kp", "cl"]),
    ("renyi_discrete", renyi_discrete_model, renyi_discrete_guide, "renyi0.5", ["m", "s", "p"]),
    ("nested", nested_model, nested_guide, "trace", ["gl", "gs", "cl"]),
    ("families_meanfield", families_model, families_guide, "meanfield", FAMILY_PARAMS),
    ("families_trace", families_model, families_guide, "trace", FAMILY_PARAMS),
]


def estimator(kind):
    if kind == "trace":
        return Trace_ELBO(num_particles=PARTICLES, vectorize_particles=True, max_plate_nesting=2), BATCHES
    if kind == "meanfield":
        return TraceMeanField_ELBO(num_particles=PARTICLES, vectorize_particles=True, max_plate_nesting=2), BATCHES
    alpha = float(kind[len("renyi"):])
    return (RenyiELBO(alpha=alpha, num_particles=RENYI_PARTICLES, vectorize_particles=True, max_plate_nesting=2),
            RENYI_BATCHES)


def mean_se(rows):
    x = torch.tensor(rows, dtype=torch.float64)
    n = x.shape[0]
    return x.mean(0), x.std(0, unbiased=True) / math.sqrt(n)


def fmt(values):
    return ",".join(repr(float(v)) for v in values)


def main():
    print(f"# generated by gen_pyro_elbo.py (Pyro {pyro.__version__}, PyTorch {torch.__version__}); do not edit")
    print(f"# trace/meanfield: {BATCHES} batches of {PARTICLES} particles; renyi: {RENYI_BATCHES} of {RENYI_PARTICLES}")
    for name, model, guide, kind, params in PROGRAMS:
        pyro.clear_param_store()
        pyro.set_rng_seed(20261207)
        elbo, batches = estimator(kind)
        estimates, grads = [], []
        for _ in range(batches):
            loss = elbo.loss_and_grads(model, guide)
            store = pyro.get_param_store()
            row = []
            for p in params:
                u = store._params[p]  # the unconstrained tensor
                g = u.grad if u.grad is not None else torch.zeros_like(u)
                row.extend(g.detach().reshape(-1).double().tolist())
                u.grad = None
            estimates.append(-loss)
            grads.append(row)
        e_mean, e_se = mean_se([[e] for e in estimates])
        g_mean, g_se = mean_se(grads)
        print(name, fmt([e_mean[0], e_se[0]]), fmt(g_mean), fmt(g_se))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
