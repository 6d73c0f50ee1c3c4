"""Solver update rules, optax-style: small factories of pure (init, update) pairs.

A rule's ``update(param, grad, state, t, hyper)`` returns ``(param, state)``
for one parameter: ``state`` is a dict of arrays named as NNabla names them
(``get_states()`` shows them), ``t`` the step count after this update
(int32), ``hyper`` a dict of scalar arrays (learning rate and the like; they
are arguments of the compiled update, so changing them does not recompile).
The formulas are NNabla's own, which differ from optax's in places (Adam's
bias correction is applied to the step size; Momentum scales the gradient
by the learning rate before accumulating).
"""
from typing import Callable, NamedTuple

import jax.numpy as jnp


class SolverRule(NamedTuple):
    state_names: tuple
    update: Callable


def sgd():
    def update(p, g, state, t, h):
        return p - h["lr"] * g, state
    return SolverRule((), update)


def momentum():
    def update(p, g, state, t, h):
        m = h["momentum"] * state["m"] + h["lr"] * g
        return p - m, {"m": m}
    return SolverRule(("m",), update)


def adam():
    def update(p, g, state, t, h):
        b1, b2 = h["beta1"], h["beta2"]
        tf = t.astype(p.dtype)
        m = b1 * state["mean"] + (1 - b1) * g
        v = b2 * state["var"] + (1 - b2) * g * g
        alpha_t = h["alpha"] * jnp.sqrt(1 - b2 ** tf) / (1 - b1 ** tf)
        return p - alpha_t * m / (jnp.sqrt(v) + h["eps"]), {"mean": m, "var": v}
    return SolverRule(("mean", "var"), update)
