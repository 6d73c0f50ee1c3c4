"""Math: constants and ranges, elementwise math, rounding (straight-through
gradients), trigonometric and hyperbolic functions, erf, batched matrix products."""
import builtins

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._common import call, lowering
from .arithmetic import _broadcast_shape, _check_scalar, _shape



# ---------------------------------------------------------------- generators
@lowering("Constant")
def _constant(val=0.0, shape=()):
    return jnp.full(tuple(shape), val, jnp.float32)


def _arange_values(start, stop, step):
    """NNabla's float32 accumulation ``v = start; v += step`` while ``v`` is in range."""
    start32, stop32, step32 = np.float32(start), np.float32(stop), np.float32(step)
    estimate = int(np.ceil((float(stop32) - float(start32)) / float(step32)))
    n = builtins.max(estimate, 0) + 2
    seq = np.full(n, step32, np.float32)
    seq[0] = start32
    values = np.cumsum(seq, dtype=np.float32)  # sequential float32 additions
    inside = values > stop32 if step32 < 0 else values < stop32
    count = int(np.argmin(inside)) if not inside.all() else n
    return values[:count]


@lowering("Arange")
def _arange(start, stop, step=1.0):
    return jnp.asarray(_arange_values(start, stop, step))


def _linspace_values(start, stop, num):
    start, stop = float(np.float32(start)), float(np.float32(stop))
    step = (stop - start) / (num - 1) if num > 1 else 0.0
    return (start + step * np.arange(num, dtype=np.float64)).astype(np.float32)


@lowering("Linspace")
def _linspace(start, stop, num):
    return jnp.asarray(_linspace_values(start, stop, num))


def constant(val=0, shape=[], n_outputs=-1, outputs=None):
    """An array of ``shape`` filled with ``val`` (no inputs)."""
    val = _check_scalar("constant", val)
    if isinstance(shape, (int, np.integer)):
        shape = [shape]
    shape = [int(s) for s in shape]
    if any(s < 0 for s in shape):
        raise ValueError(f"constant: shape {shape} has a negative dimension")
    return call("Constant", [], dict(val=val, shape=shape), outputs)


def arange(start, stop, step=1, n_outputs=-1, outputs=None):
    """Values ``start, start + step, ...`` in the half-open interval [start, stop).

    The values accumulate in float32 as NNabla computes them.
    """
    start = _check_scalar("arange", start, "start")
    stop = _check_scalar("arange", stop, "stop")
    step = _check_scalar("arange", step, "step")
    if step == 0:
        raise ValueError("arange: step must not be zero")
    return call("Arange", [], dict(start=start, stop=stop, step=step), outputs)


def linspace(start, stop, num, n_outputs=-1, outputs=None):
    """``num`` evenly spaced values from ``start`` to ``stop`` inclusive."""
    start = _check_scalar("linspace", start, "start")
    stop = _check_scalar("linspace", stop, "stop")
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)):
        raise TypeError(f"linspace: num must be an int, got {type(num).__name__}")
    if num < 0:
        raise ValueError(f"linspace: num must be non-negative, got {num}")
    return call("Linspace", [], dict(start=start, stop=stop, num=int(num)), outputs)


# ---------------------------------------------------------------- elementwise
def _straight_through(x, y):
    """``y`` in the forward pass, identity gradient with respect to ``x``."""
    return x + lax.stop_gradient(y - x)


def _round_half_away(x):
    return jnp.sign(x) * jnp.floor(jnp.abs(x) + 0.5)


_UNARY = {
    "Identity": ("identity", lambda x: x, "Returns ``x`` unchanged (a new graph node)."),
    "Abs": ("abs", jnp.abs, "Elementwise absolute value."),
    "Exp": ("exp", jnp.exp, "Elementwise natural exponential."),
    "Log": ("log", jnp.log, "Elementwise natural logarithm."),
    "Sin": ("sin", jnp.sin, "Elementwise sine."),
    "Cos": ("cos", jnp.cos, "Elementwise cosine."),
    "Tan": ("tan", jnp.tan, "Elementwise tangent."),
    "Sinh": ("sinh", jnp.sinh, "Elementwise hyperbolic sine."),
    "Cosh": ("cosh", jnp.cosh, "Elementwise hyperbolic cosine."),
    "ASin": ("asin", jnp.arcsin, "Elementwise arcsine."),
    "ACos": ("acos", jnp.arccos, "Elementwise arccosine."),
    "ATan": ("atan", jnp.arctan, "Elementwise arctangent."),
    "ASinh": ("asinh", jnp.arcsinh, "Elementwise hyperbolic arcsine."),
    "ACosh": ("acosh", jnp.arccosh, "Elementwise hyperbolic arccosine."),
    "ATanh": ("atanh", jnp.arctanh, "Elementwise hyperbolic arctangent."),
    "Erf": ("erf", jax.scipy.special.erf, "Elementwise Gauss error function."),
    "Round": ("round", lambda x: _straight_through(x, _round_half_away(x)),
              "Round to the nearest integer, halves away from zero.\n\n"
              "    The backward is straight-through: dy/dx = 1."),
    "Ceil": ("ceil", lambda x: _straight_through(x, jnp.ceil(x)),
             "Smallest integer not less than x.\n\n"
             "    The backward is straight-through: dy/dx = 1."),
    "Floor": ("floor", lambda x: _straight_through(x, jnp.floor(x)),
              "Largest integer not greater than x.\n\n"
              "    The backward is straight-through: dy/dx = 1."),
}


def _make_unary(type_name, snake, fn, doc):
    def lower(x):
        return fn(x)
    lower.__name__ = "_" + snake
    lowering(type_name)(lower)

    def wrapper(x, n_outputs=-1, outputs=None):
        return call(type_name, [x], {}, outputs)
    wrapper.__name__ = snake
    wrapper.__qualname__ = snake
    wrapper.__doc__ = doc
    wrapper.__module__ = __name__
    return wrapper


for _type, (_snake, _fn, _doc) in _UNARY.items():
    globals()[_snake] = _make_unary(_type, _snake, _fn, _doc)
del _type, _snake, _fn, _doc


@lowering("ATan2")
def _atan2(x0, x1):
    return jnp.arctan2(x0, x1)


def atan2(x0, x1, n_outputs=-1, outputs=None):
    """Elementwise ``arctan(x0 / x1)`` in the quadrant of (x1, x0) (broadcasting)."""
    _broadcast_shape("atan2", _shape(x0), _shape(x1))
    return call("ATan2", [x0, x1], {}, outputs)


# ---------------------------------------------------------------- matrices
@lowering("BatchMatmul")
def _batch_matmul(a, b, transpose_a=False, transpose_b=False):
    if transpose_a:
        a = jnp.swapaxes(a, -1, -2)
    if transpose_b:
        b = jnp.swapaxes(b, -1, -2)
    return jnp.matmul(a, b)


def batch_matmul(a, b, transpose_a=False, transpose_b=False, n_outputs=-1, outputs=None):
    """Batched matrix product over the last two axes; leading (batch) axes broadcast."""
    sa, sb = _shape(a), _shape(b)
    if len(sa) < 2 or len(sb) < 2:
        raise ValueError(f"batch_matmul: inputs need at least 2 dimensions, got shapes "
                         f"{sa} and {sb}")
    ka = sa[-2] if transpose_a else sa[-1]
    kb = sb[-1] if transpose_b else sb[-2]
    if ka != kb:
        raise ValueError(f"batch_matmul: inner dimensions differ ({ka} vs {kb}) for shapes "
                         f"{sa} and {sb} (transpose_a={transpose_a}, "
                         f"transpose_b={transpose_b})")
    _broadcast_shape("batch_matmul", sa[:-2], sb[:-2])
    return call("BatchMatmul", [a, b], dict(transpose_a=bool(transpose_a),
                                            transpose_b=bool(transpose_b)), outputs)
