"""``nn.grad``: gradients as Variables of a ``Grad`` node (differentiable again).

The ``Grad`` node's lowering evaluates the subgraph from its roots and returns the
``jax.vjp`` cotangents of the requested inputs; since that is an ordinary JAX
function of the roots and the output seeds, the node can itself be differentiated
(double backward: gradient penalties, ``nn.grad`` of ``nn.grad``).

Stochastic functions inside the subgraph (dropout, ...) make the ``Grad`` node
stochastic too: at each forward it takes the keys those functions drew in the same
forward (fresh ones when they did not run since), so the gradient is that of the
forward that ran, with new masks every step, as NNabla's backward graph reuses the
masks of its forward nodes.
"""
import jax
import jax.numpy as jnp
import numpy as np

from . import _modes
from ._apply import apply_function
from ._forward import function_op, set_inner_rng
from ._plan import build_plan, rng_rows, run_steps, step_callables
from ._queue import enqueue
from ._registry import internal_spec
from ._variable import Variable


class _GradLowering:
    """Pure function of the subgraph's root values and the output seeds.

    Instances are interned per structure (steps, slots): the object's
    identity is part of the compiled-program key, so one structure must map to one
    object that stays alive (an id is never reused by a different subgraph).
    """

    _interned = {}

    @classmethod
    def get(cls, plan, out_slots, wrt_slots, stop):
        new = cls(plan, out_slots, wrt_slots, stop)
        key = (plan.steps, new.root_slots, out_slots, wrt_slots, stop, new.rng_rows,
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
        # one key row per stochastic function inside (more for a Grad node inside)
        self.rng_rows = sum(rng_rows(fn.spec, fn.python_function) for fn in plan.rng_functions)
        self.wrt_meta = [(plan.variables[s].shape, plan.variables[s]._buffers.data.dtype)
                         for s in wrt_slots]

    def _lower(self, *values, rng_keys=None):
        keys = None
        if self.rng_rows:
            keys = rng_keys
            if isinstance(keys, (list, tuple)):  # typed keys (a StableHLO export)
                keys = jnp.stack(keys)
            else:  # uint32 key data (shape inference passes one key)
                keys = jnp.broadcast_to(jnp.reshape(jnp.asarray(keys, jnp.uint32), (-1, 2)),
                                        (self.rng_rows, 2))
        n_roots = len(self.root_slots)
        roots, seeds = values[:n_roots], values[n_roots:]
        root_of = dict(zip(self.root_slots, roots))
        wrt_inner = {s for s in self.wrt_slots if s not in root_of}

        def f(deltas):
            env = [None] * self.n_vars
            for s, v in root_of.items():
                env[s] = v + deltas[s] if s in deltas else v
            run_steps(self.steps, self.callables, env, keys, stop=self.stop, perturb={s: deltas[s] for s in wrt_inner})
            return [env[s] for s in self.out_slots]

        zeros = {s: jnp.zeros(shape, jnp.float32) for s, (shape, _) in
                 zip(self.wrt_slots, self.wrt_meta)}
        outs, vjp = jax.vjp(f, zeros)
        cot = [jnp.broadcast_to(jnp.asarray(sd, o.dtype), o.shape) for sd, o in zip(seeds, outs)]
        (g,) = vjp(cot)
        return tuple(g[s] for s in self.wrt_slots)


def _as_list(x):
    if isinstance(x, list):
        return x
    if isinstance(x, Variable) or not hasattr(x, "__iter__"):
        return [x]
    return list(x)


def _check_grad_outputs(outputs, grad_outputs):
    if grad_outputs is None:
        return [None] * len(outputs)
    if not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, (o, g) in enumerate(zip(outputs, grad_outputs)):
        shape = getattr(g, "shape", None)
        if shape is not None and not isinstance(g, np.generic) and tuple(shape) != () \
                and tuple(shape) != tuple(o.shape):
            raise ValueError(f"grad: grad_outputs[{i}] shape {tuple(shape)} differs from "
                             f"outputs[{i}] shape {tuple(o.shape)}")
    return grad_outputs


def _seed_variable(o, g):
    if isinstance(g, Variable):
        return g
    if g is None:
        g = 1.0
    elif hasattr(g, "data") and hasattr(g, "cast") and not isinstance(g, np.ndarray):
        g = g.data  # an NdArray
    return Variable.from_numpy_array(
        np.broadcast_to(np.asarray(g, np.float32), o.shape).copy())


def _zeros_like(v):
    return Variable.from_numpy_array(np.zeros(v.shape, np.float32))


def grad_variables(outputs, inputs, grad_outputs=None, persistent_outputs=None):
    """Gradients of ``outputs`` w.r.t. ``inputs`` (zeros where an input is not reached)."""
    outputs = _as_list(outputs)
    inputs = _as_list(inputs)
    for name, vs in (("outputs", outputs), ("inputs", inputs)):
        for i, v in enumerate(vs):
            if not isinstance(v, Variable):
                raise ValueError(f"grad: {name}[{i}] must be an nnabla.Variable, "
                                 f"got {type(v).__name__}")
    grad_outputs = _check_grad_outputs(outputs, grad_outputs)
    if persistent_outputs:
        if len(persistent_outputs) != len(outputs):
            raise ValueError(f"grad: {len(persistent_outputs)} persistent_outputs for "
                             f"{len(outputs)} outputs")
    else:
        persistent_outputs = [True] * len(outputs)
    for o, p in zip(outputs, persistent_outputs):
        o.persistent = p
    plan = build_plan(outputs)
    stop = frozenset(s for s, v in enumerate(plan.variables)
                     if v._parent is not None and v._need_grad is False)
    # An input matches every graph variable with the same buffers (a parameter from
    # nn.get_parameters() and each use of it in the graph are handles of one variable);
    # its gradient is the sum over them. One the outputs do not reach gets zeros.
    slots_of_buffers = {}
    for s, v in enumerate(plan.variables):
        if v._need_grad is not False and s not in stop:
            slots_of_buffers.setdefault(id(v._buffers), []).append(s)
    slots = [slots_of_buffers.get(id(v._buffers), []) for v in inputs]
    wrt = tuple(dict.fromkeys(s for ss in slots for s in ss))
    results = [None] * len(inputs)
    if wrt:
        seeds = [_seed_variable(o, g) for o, g in zip(outputs, grad_outputs)]
        lowering = _GradLowering.get(plan, tuple(plan.index[id(o)] for o in outputs), wrt,
                                     stop)
        spec = internal_spec("Grad", rng=bool(lowering.rng_rows))
        auto = _modes.get_auto_forward()
        with _modes.auto_forward(False):  # the node's inner functions are set first
            result = apply_function("Grad", list(plan.roots) + seeds, {},
                                    python_function=lowering, spec=spec)
        result = list(result) if isinstance(result, tuple) else [result]
        if lowering.rng_rows:
            set_inner_rng(result[0].parent, plan.rng_functions)
        if auto:
            enqueue(function_op(result[0].parent))
        grad_of_slot = dict(zip(wrt, result))
        for i, ss in enumerate(slots):
            for s in ss:
                g = grad_of_slot[s]
                results[i] = g if results[i] is None else results[i] + g
    return [r if r is not None else _zeros_like(inputs[i]) for i, r in enumerate(results)]
