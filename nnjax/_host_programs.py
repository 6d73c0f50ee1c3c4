"""Programs run by numpy instead of XLA: those that only move data, fill
constants, or add, subtract and multiply arrays of 32- or 64-bit numbers.

A one-off graph runs function by function, and each function of a new shape
costs an XLA compile (about 15 ms for ``x * 2``, plus its lowering). Many of
those functions are glue around the graph a user or a test cares about
(``Identity``, ``Sink``, ``MulScalar``, the backward of ``Sum``: gradients
broadcast or accumulated). Their traced programs are checked here; one whose
every live equation numpy computes with the same IEEE rounding as XLA's CPU
code runs in numpy from then on, with no lowering and no compile.

Left to XLA: reductions (their order of summation differs), conversions,
divisions and every other primitive; half-precision arithmetic (XLA may round
through float32 differently from numpy); anything on other backends. One
difference remains: XLA's CPU code flushes subnormal numbers to zero in
arithmetic, numpy (like NNabla's CPU kernels) keeps them.
"""
import numpy as np

import jax
from jax.extend.core import Literal

# dtypes whose +, -, * numpy rounds exactly as XLA's CPU code does
_ARITHMETIC_DTYPES = frozenset(np.dtype(t) for t in (
    np.float32, np.float64, np.int8, np.int16, np.int32, np.int64,
    np.uint8, np.uint16, np.uint32, np.uint64))
_UFUNCS = {"mul": np.multiply, "add": np.add, "sub": np.subtract}
_MOVES = frozenset({"broadcast_in_dim", "reshape", "squeeze", "copy"})
# primitives holding a program of their own, and the parameter holding it
_CALLS = {"pjit": "jaxpr", "jit": "jaxpr", "closed_call": "call_jaxpr",
          "custom_vjp_call": "call_jaxpr", "custom_jvp_call": "call_jaxpr"}


def host_runner(traced):
    """A function computing the traced program in numpy (called as its
    executable is: ``run(*args)`` returning the flat results), or None when
    some live equation is not one numpy computes exactly as XLA."""
    if (jax.default_backend() != "cpu" or jax.process_count() > 1 or traced.jaxpr.consts
            or traced.jaxpr.effects):
        return None  # (effects: callbacks, prints, ordered I/O stay XLA's)
    steps = _plan(traced.jaxpr.jaxpr)
    if steps is None:
        return None
    in_tree = traced.in_tree
    avals = [(tuple(a.shape), np.dtype(a.dtype)) for a in traced.jaxpr.in_avals]
    out_avals = [(tuple(a.shape), np.dtype(a.dtype)) for a in traced.jaxpr.out_avals]

    def run(*args):
        leaves, tree = jax.tree_util.tree_flatten((args, {}))
        if tree != in_tree or len(leaves) != len(avals):
            raise TypeError("host program: arguments of another structure")
        for k, (value, (shape, dtype)) in enumerate(zip(leaves, avals)):
            given = _dtype(value)
            if np.shape(value) != shape or (
                    given != dtype and jax.dtypes.canonicalize_dtype(given) != dtype):
                # as an executable does: the caller lowers again for the new shapes
                raise TypeError(f"host program: argument {np.shape(value)} "
                                f"{given} where {shape} {dtype} was traced")
            if given != dtype:  # (a float64 value where jax runs float32, as jax converts it)
                leaves[k] = np.asarray(value, dtype)
        outs = _evaluate(steps, leaves)
        handed_out = set()
        owned = []
        for out, (shape, dtype) in zip(outs, out_avals):
            out = _owned(out, leaves, handed_out, shape, dtype)
            handed_out.add(id(out))
            owned.append(out)
        return owned

    return run


class _Steps:
    """A program's live equations, ready to evaluate: (name, params, inputs,
    output ids, output aval or inner _Steps); inputs are ids or literal values."""

    __slots__ = ("invars", "equations", "outputs")

    def __init__(self, invars, equations, outputs):
        self.invars = invars
        self.equations = equations
        self.outputs = outputs


def _plan(jaxpr):
    """The _Steps of ``jaxpr``, or None when a live equation is one numpy does
    not compute exactly as XLA."""
    equations = []
    for eqn in _live_equations(jaxpr):
        name = eqn.primitive.name
        if name in _CALLS:
            inner = eqn.params.get(_CALLS[name])
            if inner is None or getattr(inner, "consts", ()):
                return None
            how = _plan(getattr(inner, "jaxpr", inner))
            if how is None:
                return None
        elif name in _UFUNCS:
            how = eqn.outvars[0].aval
            if (eqn.params.get("out_dtype") is not None
                    or np.dtype(how.dtype) not in _ARITHMETIC_DTYPES):
                return None
        elif name in _MOVES:
            how = eqn.outvars[0].aval
        else:
            return None
        equations.append((name, eqn.params, [_ref(v) for v in eqn.invars],
                          [id(v) for v in eqn.outvars], how))
    return _Steps([id(v) for v in jaxpr.invars], equations, [_ref(v) for v in jaxpr.outvars])


def _live_equations(jaxpr):
    """The equations the outputs depend on, in order."""
    needed = {id(v) for v in jaxpr.outvars if not _is_literal(v)}
    live = []
    for eqn in reversed(jaxpr.eqns):
        if any(id(v) in needed for v in eqn.outvars):
            live.append(eqn)
            needed.update(id(v) for v in eqn.invars if not _is_literal(v))
    live.reverse()
    return live


def _ref(v):
    """An equation's input: the id of a variable, or a literal's value (an array)."""
    return np.asarray(v.val, v.aval.dtype) if _is_literal(v) else id(v)


def _evaluate(steps, args):
    env = dict(zip(steps.invars, args))
    for name, params, ins, outs, how in steps.equations:
        values = [env[r] if type(r) is int else r for r in ins]
        if type(how) is _Steps:
            results = _evaluate(how, values)
        else:
            results = [_apply(name, params, values, how)]
        for k, value in zip(outs, results):
            env[k] = value
    # (a literal result is copied: each run hands out arrays of its own)
    return [env[r] if type(r) is int else np.array(r) for r in steps.outputs]


def _apply(name, params, ins, aval):
    dtype = np.dtype(aval.dtype)
    if name in _UFUNCS:
        a, b = (np.asarray(x) for x in ins)
        return np.asarray(_UFUNCS[name](a, b, dtype=dtype))  # (0-d: an array, not a scalar)
    x = ins[0]
    if name == "broadcast_in_dim":
        x = np.asarray(x)
        shape = [1] * len(aval.shape)
        for axis, size in zip(params["broadcast_dimensions"], x.shape):
            shape[axis] = size
        return np.broadcast_to(x.reshape(shape), aval.shape)
    if name in ("reshape", "squeeze"):
        return np.reshape(np.asarray(x), aval.shape)
    return x  # copy: _owned copies what the caller passed in


def _owned(out, inputs, handed_out, shape, dtype):
    """A result the caller may keep: a device array passes as it is (they are
    immutable); a numpy array that is a view, one of the inputs or a result
    already handed out is copied (an NdArray writes into the numpy array it holds)."""
    if isinstance(out, np.ndarray):
        if (out.base is not None or not out.flags.writeable or id(out) in handed_out
                or out.shape != shape or any(out is x for x in inputs)):
            out = np.array(np.broadcast_to(out, shape), dtype=dtype, copy=True)
        return out
    if np.shape(out) != shape or _dtype(out) != dtype:
        return np.array(np.broadcast_to(np.asarray(out, dtype), shape))
    return out


def _dtype(value):
    dtype = getattr(value, "dtype", None)
    return np.dtype(dtype) if dtype is not None else np.asarray(value).dtype


def _is_literal(v):
    return isinstance(v, Literal)
