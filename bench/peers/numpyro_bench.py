#!/usr/bin/env python3
"""The trelbo benchmark suite in NumPyro (JAX on the CPU; JAX_PLATFORMS=cuda runs it on the GPU,
the peer of trelbo's CUDA backend, the rows' backend then "cuda"): for each model, particle count and mode, one
jitted step of Trace_ELBO(num_particles=P, vectorize_particles=True) -- the loss (value) or the
loss and its gradient with respect to the guide's unconstrained params (grad) -- compiled ahead of
time, warmed up, then timed over --reps runs with a fixed PRNG key per rep and
block_until_ready. Rows as trelbo-bench --json writes them, system "numpyro".

    build/peers-venv/bin/python bench/peers/numpyro_bench.py --particles 1,1024 --reps 5 --json out.json
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpyro  # noqa: E402
from numpyro import handlers  # noqa: E402
from numpyro.distributions import constraints  # noqa: E402
from numpyro.distributions.transforms import biject_to  # noqa: E402
from numpyro.infer import Trace_ELBO  # noqa: E402

import harness  # noqa: E402
import numpyro_models  # noqa: E402


def guide_params(guide, args, kwargs):
    """The guide's params at their initial values, with their constraints' bijections."""
    tr = handlers.trace(handlers.seed(guide, 0)).get_trace(*args, **kwargs)
    init, bij = {}, {}
    for name, site in tr.items():
        if site["type"] == "param":
            bij[name] = biject_to(site["kwargs"].get("constraint", constraints.real))
            init[name] = bij[name].inv(jnp.asarray(site["value"]))
    return init, bij


_KEYS: dict[int, list] = {}


def rep_keys(seed: int) -> list:
    """Per-rep PRNG keys (index rep + 1; 0 is the warm-up's), made once, outside the timing."""
    if seed not in _KEYS:
        _KEYS[seed] = list(jax.random.split(jax.random.PRNGKey(seed), 1025))
    return _KEYS[seed]


def prepare(data, particles: int, grad: bool, seed: int):
    model, guide, args, kwargs = numpyro_models.program(data)
    elbo = Trace_ELBO(num_particles=particles, vectorize_particles=True)
    unconstrained, bij = guide_params(guide, args, kwargs)

    def loss(u, key, *a):
        params = {name: bij[name](v) for name, v in u.items()}
        return elbo.loss(key, params, model, guide, *a, **kwargs)

    fn = jax.value_and_grad(loss) if grad else loss
    keys = rep_keys(seed)
    compiled = jax.jit(fn).lower(unconstrained, keys[0], *args).compile()

    def step(rep: int) -> float:
        key = keys[rep + 1] if rep + 1 < len(keys) else jax.random.fold_in(keys[0], rep + 1)
        out = jax.block_until_ready(compiled(unconstrained, key, *args))
        value = out[0] if grad else out
        return -float(value)

    return step


def notes(name: str, grad: bool):
    if name == "gaussian_mixture" and grad:
        return ("NumPyro's Trace_ELBO adds no score-function term for the non-reparameterizable "
                "z: its z_logits gradient is not the REINFORCE estimate Pyro's and trelbo's are")
    return None


def main(argv=None) -> int:
    args = harness.parse_args("numpyro", argv)
    from importlib.metadata import version
    versions = {p: version(p) for p in ("numpyro", "jax", "jaxlib", "numpy")}
    machine = harness.machine_info("numpyro", versions)
    machine["jax_devices"] = [str(d) for d in jax.devices()]
    # JAX's own default: on a GPU, float32 products may run in TF32 unless this says "highest"
    machine["jax_default_matmul_precision"] = jax.config.jax_default_matmul_precision
    backend = {"gpu": "cuda"}.get(jax.default_backend(), jax.default_backend())
    return harness.run("numpyro", backend, machine, prepare, args, notes)


if __name__ == "__main__":
    sys.exit(main())
