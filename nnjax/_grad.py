"""``nn.grad``: gradients as Variables of a ``Grad`` node (differentiable again).

The ``Grad`` node's lowering evaluates the subgraph from its roots and returns the
``jax.vjp`` cotangents of the requested inputs; since that is an ordinary JAX
function of the roots and the output seeds, the node can itself be differentiated
(double backward: gradient penalties, ``nn.grad`` of ``nn.grad``).

Stochastic functions inside the subgraph (dropout, ...) are re-evaluated with the
random keys they had when ``nn.grad`` was called (zeros when they never ran), not
with the keys of later forward passes.
"""
import jax
import jax.numpy as jnp
import numpy as np

from ._apply import apply_function
from ._plan import build_plan, run_steps, step_callables
from ._registry import internal_spec
from ._variable import Variable


class _GradLowering:
    """Pure function of the subgraph's root values and the output seeds.

    Instances are interned per structure (steps, slots, random keys): the object's
    identity is part of the compiled-program key, so one structure must map to one
    object that stays alive (an id is never reused by a different subgraph).
    """

    _interned = {}

    @classmethod
    def get(cls, plan, out_slots, wrt_slots, stop):
        new = cls(plan, out_slots, wrt_slots, stop)
        key = (plan.steps, new.root_slots, out_slots, wrt_slots, stop,
               None if new.keys is None else new.keys.tobytes(),
               tuple((tuple(shape), np.dtype(dtype).str) for shape, dtype in new.wrt_meta))
        return cls._interned.setdefault(key, new)

    def __init__(self, plan, out_slots, wrt_slots, stop):
        self.steps = plan.steps
        self.callables = step_callables(plan)
        self.root_slots = tuple(plan.index[id(r)] for r in plan.roots)
        self.n_vars = len(plan.variables)
        self.out_slots = out_slots
        self.wrt_slots = wrt_slots
        self.stop = stop
        keys = [fn.rng_key_data if fn.rng_key_data is not None else np.zeros(2, np.uint32)
                for fn in plan.rng_functions]
        self.keys = np.stack(keys) if keys else None
        self.wrt_meta = [(plan.variables[s].shape, plan.variables[s]._buffers.data.dtype)
                         for s in wrt_slots]

    def _lower(self, *values):
        n_roots = len(self.root_slots)
        roots, seeds = values[:n_roots], values[n_roots:]
        root_of = dict(zip(self.root_slots, roots))
        wrt_inner = {s for s in self.wrt_slots if s not in root_of}

        def f(deltas):
            env = [None] * self.n_vars
            for s, v in root_of.items():
                env[s] = v + deltas[s] if s in deltas else v
            run_steps(self.steps, self.callables, env,
                      None if self.keys is None else jnp.asarray(self.keys),
                      stop=self.stop, perturb={s: deltas[s] for s in wrt_inner})
            return [env[s] for s in self.out_slots]

        zeros = {s: jnp.zeros(shape, jnp.float32) for s, (shape, _) in
                 zip(self.wrt_slots, self.wrt_meta)}
        outs, vjp = jax.vjp(f, zeros)
        cot = [jnp.broadcast_to(jnp.asarray(sd, o.dtype), o.shape) for sd, o in zip(seeds, outs)]
        (g,) = vjp(cot)
        return tuple(g[s] for s in self.wrt_slots)


def grad_variables(outputs, inputs, grad_outputs=None):
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    plan = build_plan(outputs)
    wrt = []
    for i, v in enumerate(inputs):
        s = plan.index.get(id(v))
        if s is None:
            raise ValueError(f"grad: inputs[{i}] {v!r} is not part of the outputs' graph")
        wrt.append(s)
    if grad_outputs is None:
        grad_outputs = [1.0] * len(outputs)
    elif not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    seeds = []
    for o, g in zip(outputs, grad_outputs):
        if isinstance(g, Variable):
            seeds.append(g)
        else:
            seeds.append(Variable.from_numpy_array(
                np.broadcast_to(np.asarray(g if g is not None else 1.0, np.float32), o.shape)))
    stop = frozenset(s for s, v in enumerate(plan.variables)
                     if v._parent is not None and v._need_grad is False)
    lowering = _GradLowering.get(plan, tuple(plan.index[id(o)] for o in outputs), tuple(wrt),
                                 stop)
    spec = internal_spec("Grad")
    result = apply_function("Grad", list(plan.roots) + seeds, {}, python_function=lowering,
                            spec=spec)
    return list(result) if isinstance(result, tuple) else [result]
