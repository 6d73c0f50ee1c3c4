"""Plans: a recorded (sub)graph as pure data, and running it on JAX values.

``build_plan`` turns the functions reachable from some output Variables into
a ``Plan``: the root variables (leaves whose values are inputs) and a tuple of
``Step`` records (type name, frozen args, input slots, output slots). Steps are
pure data: they form the compile key and are all ``run_steps`` needs besides
the functions' specs. ``call_lowering`` is the one place a lowering is called.

This module sees Variables and Functions only through their attributes
(``_parent``, ``_inputs``, ``outputs``, ``spec``, ``info``); it imports no
higher layer.
"""
import functools
import itertools
from collections import OrderedDict
from typing import NamedTuple

import numpy as np
import jax
import jax.numpy as jnp
from jax import lax

from ._registry import InvalidArgumentError

# Incremented whenever a graph's structure changes; cached plans compare it.
_graph_epoch = itertools.count()
graph_version = [0]
# Set once some variable's shape was changed in place (Variable.reset_shape): from
# then on a new plan first re-infers the shapes its functions compute.
_reshaped = [False]


def bump_graph(reshaped=False):
    """Invalidate cached plans (a graph's structure, flags or shapes changed)."""
    graph_version[0] = next(_graph_epoch) + 1
    if reshaped:
        _reshaped[0] = True


def functions_in_order(outputs):
    """Functions reachable from ``outputs`` in forward order (iterative DFS).

    Each function appears once; a function comes after the functions that
    compute its inputs, inputs being visited left to right.
    """
    order = []
    seen = set()
    stack = []
    for v in reversed(outputs):
        p = v._parent
        if p is not None:
            stack.append((p, False))
    while stack:
        fn, expanded = stack.pop()
        if expanded:
            order.append(fn)
            continue
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        stack.append((fn, True))
        for inp in reversed(fn._inputs):
            if inp is None:
                continue
            p = inp._parent
            if p is not None and id(p) not in seen:
                stack.append((p, False))
    return order


def freeze(value):
    """A hashable form of function args (lists become tuples, arrays bytes).
    Scalars keep their type: 1, 1.0 and True hash alike, but a lowering may
    make different dtypes from them."""
    if isinstance(value, dict):
        return tuple((k, freeze(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    if isinstance(value, np.ndarray):
        return ("ndarray", value.shape, str(value.dtype), value.tobytes())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return "nan"
    if isinstance(value, (bool, int, float)):
        return type(value).__name__, value
    if callable(value) or hasattr(value, "__dict__"):
        return ("object", id(value))
    return value


# An input slot of a function whose input is switched off (Function.set_active_input_mask):
# the lowering does not see it at all.
INACTIVE = -2


class Step(NamedTuple):
    """One function of a plan, as data (part of compile keys)."""
    type_name: str
    args: tuple        # frozen args
    ins: tuple         # input slots, -1 where an optional input is absent, INACTIVE
    outs: tuple        # output slots
    host_id: object    # id of the node's own lowering object, or None


class Plan:
    """The structure of a (sub)graph: its functions, roots and steps."""

    __slots__ = ("functions", "roots", "index", "steps", "variables", "rng_functions",
                 "cache", "observed_data", "observed_grad")

    def __init__(self, functions, roots, index, steps, variables, rng_functions):
        self.cache = {}               # op templates built for this plan
        self.observed_data = set()    # intermediate slots whose .d was read: materialize
        self.observed_grad = set()    # intermediate slots whose .g was read
        self.functions = functions
        self.roots = roots
        self.index = index          # id(Variable) -> slot
        self.steps = steps          # tuple of Step
        self.variables = variables  # slot -> Variable
        self.rng_functions = rng_functions


def _node_wiring(fn):
    return fn._inputs, fn.outputs


def _assemble(functions, outputs, wiring=_node_wiring):
    """The plan of ``functions`` (in forward order) computing ``outputs``;
    ``wiring(fn)`` gives a function's (positional inputs, outputs)."""
    index, roots, steps, variables, rng_functions = {}, [], [], [], []
    for fn in functions:
        fn_inputs, fn_outputs = wiring(fn)
        mask = getattr(fn, "_active_input_mask", None)
        ins = []
        for k, v in enumerate(fn_inputs):
            if mask is not None and k < len(mask) and not mask[k]:
                ins.append(INACTIVE)
                continue
            if v is None:
                ins.append(-1)
                continue
            slot = index.get(id(v))
            if slot is None:
                slot = len(variables)
                index[id(v)] = slot
                variables.append(v)
                roots.append(v)
            ins.append(slot)
        outs = []
        for o in fn_outputs:
            slot = len(variables)
            index[id(o)] = slot
            variables.append(o)
            outs.append(slot)
        if fn.spec.rng:
            rng_functions.append(fn)
        steps.append(Step(fn.spec.type_name, freeze(fn.lower_args), tuple(ins), tuple(outs),
                          id(fn.python_function) if fn.python_function is not None else None))
    for v in outputs:
        if id(v) not in index:  # a leaf asked for itself
            index[id(v)] = len(variables)
            variables.append(v)
            roots.append(v)
    return Plan(functions, roots, index, tuple(steps), variables, rng_functions)


def build_plan(outputs):
    """The plan computing ``outputs`` from the roots of their graph."""
    return _assemble(functions_in_order(outputs), outputs)


def single_function_plan(fn, inputs=None, outputs=None):
    """The plan of one function node, its inputs being the roots. ``inputs``
    (positional, None where absent) and ``outputs``: other Variables to run the
    node's function on (``Function.forward(inputs, outputs)``)."""
    # kept on the node until the graph changes: a finite-difference loop runs the
    # same function thousands of times, and its templates are cached on the plan
    key = (graph_version[0], None if inputs is None else tuple(map(id, inputs)),
           None if outputs is None else tuple(map(id, outputs)))
    cached = fn._single_plan
    if cached is not None and cached[0] == key:
        return cached[1]
    if inputs is None and outputs is None:
        plan = _assemble([fn], fn.outputs)
    else:
        inputs = fn._inputs if inputs is None else inputs
        outputs = fn.outputs if outputs is None else outputs
        plan = _assemble([fn], outputs, wiring=lambda _: (inputs, outputs))
    fn._single_plan = (key, plan)
    return plan


def get_plan(outputs):
    """``build_plan(outputs)``, cached on a single output until the graph changes."""
    head = outputs[0]
    cached = head._plan_cache
    version = graph_version[0]
    if cached is not None and cached[0] == version and len(outputs) == 1:
        return cached[1]
    plan = build_plan(outputs)
    if _reshaped[0] and _resetup(plan):
        version = graph_version[0]
        plan = build_plan(outputs)
    if len(outputs) == 1:
        head._plan_cache = (version, plan)
    return plan


def _resetup(plan):
    """Give each function's outputs the shapes its inputs now imply (NNabla's setup
    after an input was reshaped). Returns whether any output changed."""
    changed = False
    for fn in plan.functions:
        meta = [None if v is None else (tuple(v.shape), v._buffers.data.dtype)
                for v in fn._inputs]
        shapes = tuple(None if m is None else m[0] for m in meta)
        if fn.spec.resetup is not None and shapes != getattr(fn, "setup_shapes", shapes):
            fn.spec.resetup(fn)
            meta = [None if v is None else (tuple(v.shape), v._buffers.data.dtype)
                    for v in fn._inputs]
            shapes = fn.setup_shapes = tuple(None if m is None else m[0] for m in meta)
        if fn.spec.data_dependent and shapes != getattr(fn, "setup_shapes", shapes):
            # set up again after a reshape: sizes read from the inputs' values, as NNabla's
            fn.setup_shapes = shapes
            values = [None if v is None else v._buffers.data.get_data("r") for v in fn._inputs]
            fn.lower_args = dict(fn.info.args, **fn.spec.sizes(values, **fn.info.args))
        out_meta = infer_outputs(fn.spec, fn.lower_args, meta, fn.python_function)
        for o, (shape, _) in zip(fn.outputs, out_meta):
            if tuple(o.shape) != shape:
                o.reset_shape(shape, force=True)
                changed = True
    return changed


def step_callables(plan):
    """What running the steps needs beyond the key: specs, args, host functions."""
    return tuple((fn.spec, fn.lower_args, fn.python_function) for fn in plan.functions)


def rng_rows(spec, python_function):
    """How many random keys a step takes: one for a stochastic type, ``rng_rows``
    for a host lowering that runs stochastic functions inside (a ``Grad`` node)."""
    if not spec.rng:
        return 0
    return 1 if python_function is None else python_function.rng_rows


def call_lowering(spec, args, python_function, rng_key, values):
    """Run one function's lowering: (outputs tuple, in-place state updates tuple).
    A host lowering with ``rng`` gets its keys (shape (rng_rows, 2)) as ``rng_keys``."""
    if python_function is not None:
        result = (python_function._lower(*values, rng_keys=rng_key) if spec.rng
                  else python_function._lower(*values))
    elif spec.rng:
        result = _traced_once(spec, args)(rng_key, *values)
    else:
        result = _traced_once(spec, args)(*values)
    if not isinstance(result, (tuple, list)):
        result = (result,)
    n_state = len(spec.state_inputs)
    if not n_state:
        return tuple(result), ()
    return tuple(result[:len(result) - n_state]), tuple(result[len(result) - n_state:])


# A lowering per (type, args) as a jitted function: JAX traces it once per input
# types and reuses the trace (and its derivatives' traces) in every program that
# calls it (a test's forward, backward and finite-difference programs, a
# notebook's cells), instead of running the Python lowering again in each.
MAX_TRACED_LOWERINGS = 4096
_traced = OrderedDict()


def _traced_once(spec, args):
    key = (spec, freeze(args))
    fn = _traced.get(key)
    if fn is None:
        fn = jax.jit(functools.partial(spec.lower, **args), inline=True)
        if len(_traced) >= MAX_TRACED_LOWERINGS:
            _traced.popitem(last=False)
        _traced[key] = fn
    return fn


def run_steps(steps, callables, env, rng_keys=None, stop=frozenset(), perturb=None):
    """Run the lowered steps over ``env`` (a list indexed by slot), in place.

    Returns the in-place state updates as {input slot: new value}.
    ``stop``: slots whose value is cut from differentiation (need_grad=False).
    ``perturb``: {slot: array} added to outputs (to read intermediate grads).
    """
    state_updates = {}
    rng_i = 0
    for step, (spec, args, pyfunc) in zip(steps, callables):
        ins = step.ins
        key = None
        if spec.rng:
            if pyfunc is None:
                key = rng_keys[rng_i]
                rng_i += 1
            else:
                key = rng_keys[rng_i:rng_i + pyfunc.rng_rows]
                rng_i += pyfunc.rng_rows
        result, states = call_lowering(spec, args, pyfunc, key,
                                       [env[i] if i >= 0 else None for i in ins
                                        if i != INACTIVE])
        for k, value in zip(spec.state_inputs, states):
            if k < len(ins) and ins[k] >= 0:
                state_updates[ins[k]] = lax.stop_gradient(value)
        for slot, value in zip(step.outs, result):
            if slot in stop:
                value = lax.stop_gradient(value)
            elif perturb is not None and slot in perturb:
                value = value + perturb[slot]
            env[slot] = value
    return state_updates


# ---------------------------------------------------------------- shape inference
_shape_cache = {}


def infer_outputs(spec, args, inputs_meta, python_function=None):
    """Output (shape, dtype) list of one function, via ``jax.eval_shape``.

    ``inputs_meta``: list of (shape, dtype) or None for absent inputs.
    Raises ValueError naming the function and the input shapes on failure.
    """
    key = None
    if python_function is None:
        key = (spec, freeze(args), tuple(inputs_meta))
        hit = _shape_cache.get(key)
        if hit is not None:
            return hit
    structs = [None if m is None else jax.ShapeDtypeStruct(m[0], jax_dtype(m[1]))
               for m in inputs_meta]

    def f(*xs):
        return call_lowering(spec, args, python_function, jnp.zeros((2,), jnp.uint32), xs)[0]

    try:
        out = jax.eval_shape(f, *structs)
    except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError,
            AssertionError) as e:
        shapes = ", ".join("None" if m is None else str(tuple(m[0])) for m in inputs_meta)
        msg = str(e).split("\n")[0]
        raise InvalidArgumentError(f"{spec.type_name}: invalid inputs or arguments "
                         f"(input shapes: {shapes}; args: {_short_args(args)}): {msg}") from None
    result = [(tuple(o.shape), np.dtype(o.dtype)) for o in out]
    if key is not None:
        _shape_cache[key] = result
    return result


def _short_args(args):
    parts = []
    for k, v in args.items():
        r = repr(v)
        parts.append(f"{k}={r if len(r) < 40 else r[:37] + '...'}")
    return "{" + ", ".join(parts) + "}"


def jax_dtype(dtype):
    """The dtype JAX computes in (64-bit types narrowed, as JAX without x64 does)."""
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        return np.dtype(np.float32)
    if dtype == np.int64:
        return np.dtype(np.int32)
    if dtype == np.uint64:
        return np.dtype(np.uint32)
    return dtype


def group_by_buffer(arrays):
    """Distinct arrays (by identity) and, for each input position, its group index.

    Roots sharing one grad buffer (a parameter used through unlinked copies, or
    an input given twice as in ``x * x``) add their contributions into it once.
    """
    distinct, group_of = [], []
    for a in arrays:
        for i, d in enumerate(distinct):
            if d is a:
                group_of.append(i)
                break
        else:
            group_of.append(len(distinct))
            distinct.append(a)
    return distinct, tuple(group_of)


def sum_groups(group_of, n_groups, values):
    """Sum ``values`` into ``n_groups`` sums following ``group_of``."""
    sums = [None] * n_groups
    for i, g in zip(group_of, values):
        sums[i] = g if sums[i] is None else sums[i] + g
    return sums
