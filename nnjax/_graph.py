"""Graph traversal and lowering of a recorded (sub)graph to a pure JAX function.

``build_plan`` turns the functions reachable from some output Variables into
a ``Plan``: the root variables (leaves whose values are inputs), and a tuple
of steps (type name, frozen args, input slots, output slots). The steps are
pure data: they form the compile key and are all ``run_steps`` needs.
"""
import weakref

import numpy as np
import jax
import jax.numpy as jnp
from jax import lax

from ._registry import REGISTRY


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
    """A hashable form of function args (lists become tuples, arrays bytes)."""
    if isinstance(value, dict):
        return tuple((k, freeze(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    if isinstance(value, np.ndarray):
        return ("ndarray", value.shape, str(value.dtype), value.tobytes())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and value != value:
        return "nan"
    if callable(value) or hasattr(value, "__dict__"):
        return ("object", id(value))
    return value


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
        self.steps = steps          # tuple of (type_name, frozen args, ins, outs)
        self.variables = variables  # slot -> Variable
        self.rng_functions = rng_functions


def build_plan(outputs):
    functions = functions_in_order(outputs)
    index, roots, steps, variables, rng_functions = {}, [], [], [], []
    for fn in functions:
        ins = []
        for v in fn._inputs:
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
        for o in fn.outputs:
            slot = len(variables)
            index[id(o)] = slot
            variables.append(o)
            outs.append(slot)
        if fn.spec.rng:
            rng_functions.append(fn)
        steps.append((fn.spec.type_name, freeze(fn.info.args), tuple(ins), tuple(outs),
                      id(fn.python_function) if fn.python_function is not None else None))
    for v in outputs:
        if id(v) not in index:  # a leaf asked for itself
            index[id(v)] = len(variables)
            variables.append(v)
            roots.append(v)
    return Plan(functions, roots, index, tuple(steps), variables, rng_functions)


def step_callables(plan):
    """What running the steps needs beyond the key: specs, args, host functions."""
    return tuple((fn.spec, fn.info.args, fn.python_function) for fn in plan.functions)


def run_steps(steps, callables, env, rng_keys=None, stop=frozenset(), perturb=None):
    """Run the lowered steps over ``env`` (a list indexed by slot), in place.

    Returns the in-place state updates as {input slot: new value}.
    ``stop``: slots whose value is cut from differentiation (need_grad=False).
    ``perturb``: {slot: array} added to outputs (to read intermediate grads).
    """
    state_updates = {}
    rng_i = 0
    for (type_name, _, ins, outs, _), (spec, args, pyfunc) in zip(steps, callables):
        vals = [env[i] if i >= 0 else None for i in ins]
        if pyfunc is not None:
            result = pyfunc._lower(*vals)
        elif spec.rng:
            result = spec.lower(rng_keys[rng_i], *vals, **args)
            rng_i += 1
        else:
            result = spec.lower(*vals, **args)
        if not isinstance(result, (tuple, list)):
            result = (result,)
        n_state = len(spec.state_inputs)
        if n_state:
            for k, value in zip(spec.state_inputs, result[len(result) - n_state:]):
                if k < len(ins) and ins[k] >= 0:
                    state_updates[ins[k]] = lax.stop_gradient(value)
            result = result[:len(result) - n_state]
        for slot, value in zip(outs, result):
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
    structs = [None if m is None else jax.ShapeDtypeStruct(m[0], _jax_dtype(m[1]))
               for m in inputs_meta]

    def f(*xs):
        if python_function is not None:
            result = python_function._lower(*xs)
        elif spec.rng:
            result = spec.lower(jnp.zeros((2,), jnp.uint32), *xs, **args)
        else:
            result = spec.lower(*xs, **args)
        if not isinstance(result, (tuple, list)):
            result = (result,)
        n_state = len(spec.state_inputs)
        return tuple(result[:len(result) - n_state] if n_state else result)

    try:
        out = jax.eval_shape(f, *structs)
    except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError,
            AssertionError) as e:
        shapes = ", ".join("None" if m is None else str(tuple(m[0])) for m in inputs_meta)
        msg = str(e).split("\n")[0]
        raise ValueError(f"{spec.type_name}: invalid inputs or arguments "
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


def _jax_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        return np.dtype(np.float32)
    if dtype == np.int64:
        return np.dtype(np.int32)
    if dtype == np.uint64:
        return np.dtype(np.uint32)
    return dtype


def copy_graph_without_grad(output):
    """Replay the graph up to ``output`` with every variable need_grad=False."""
    from ._variable import Function, Variable
    mapping = {}

    def mapped(v):
        if v is None:
            return None
        m = mapping.get(id(v))
        if m is None:
            m = v.get_unlinked_variable(need_grad=False)
            mapping[id(v)] = m
        return m

    for fn in functions_in_order([output]):
        new_fn = Function(fn.spec, dict(fn.info.args), [mapped(v) for v in fn._inputs],
                          fn.python_function)
        new_fn.info.type_name = fn.info.type_name
        for o in fn.outputs:
            nv = Variable(o.shape, need_grad=False)
            nv._buffers.data._dtype = o.data.dtype
            nv._parent = new_fn
            new_fn.outputs.append(nv)
            mapping[id(o)] = nv
        for v in new_fn._inputs:
            if v is not None:
                v._consumers.append(weakref.ref(new_fn))
    return mapped(output)
