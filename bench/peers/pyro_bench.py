#!/usr/bin/env python3
"""The trelbo benchmark suite in Pyro (PyTorch, CPU): for each model, particle count and mode, one
step of Trace_ELBO(num_particles=P, vectorize_particles=True, max_plate_nesting=2) -- elbo.loss
under torch.no_grad (value), or elbo.loss_and_grads followed by clearing the params' gradients
(grad) -- warmed up once, then timed over --reps runs with a fixed seed per rep. torch uses every
core of the machine. Rows as trelbo-bench --json writes them, system "pyro".

    build/peers-venv/bin/python bench/peers/pyro_bench.py --particles 1,1024 --reps 5 --json out.json
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
import pyro  # noqa: E402
from pyro.infer import Trace_ELBO  # noqa: E402

import harness  # noqa: E402
import pyro_models  # noqa: E402


def prepare(data, particles: int, grad: bool, seed: int):
    model, guide, args, kwargs = pyro_models.program(data)
    pyro.clear_param_store()
    elbo = Trace_ELBO(num_particles=particles, vectorize_particles=True,
                      max_plate_nesting=pyro_models.MAX_PLATE_NESTING)
    store = pyro.get_param_store()

    def step(rep: int) -> float:
        torch.manual_seed(seed * 1000003 + rep + 1)
        if grad:
            loss = elbo.loss_and_grads(model, guide, *args, **kwargs)
            for _, p in store.named_parameters():
                p.grad = None
        else:
            with torch.no_grad():
                loss = elbo.loss(model, guide, *args, **kwargs)
        return -float(loss)

    return step


def main(argv=None) -> int:
    args = harness.parse_args("pyro", argv, extra=lambda p: p.add_argument(
        "--threads", type=int, default=0, help="torch threads (0: every core of the machine)"))
    torch.set_num_threads(args.threads or harness.cpu_threads())
    pyro.enable_validation(False)   # argument checks are a debugging aid, not part of a step
    from importlib.metadata import version
    versions = {p: version(p) for p in ("pyro-ppl", "torch", "numpy")}
    machine = harness.machine_info("pyro", versions)
    machine["torch_threads"] = torch.get_num_threads()
    return harness.run("pyro", "cpu", machine, prepare, args)


if __name__ == "__main__":
    sys.exit(main())
