"""Arithmetic: two-operand functions (numpy broadcasting), n-ary sums/products and
scalar functions.

NNabla's two-operand functions broadcast dimensions of size 1; nnjax follows numpy's
rules (which also allow operands of different rank, aligned on the trailing axes).
"""
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._common import call, lowering



def _broadcast_shape(fname, *shapes):
    """The numpy broadcast of ``shapes``, or ValueError naming ``fname``."""
    try:
        return tuple(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError:
        shown = " and ".join(str(tuple(s)) for s in shapes)
        raise ValueError(f"{fname}: input shapes {shown} cannot be broadcast "
                         "together") from None


def _check_scalar(fname, val, name="val"):
    """``val`` as a Python float, or TypeError naming ``fname``."""
    if isinstance(val, (bool, np.bool_)):
        return float(val)
    if not isinstance(val, (int, float, np.integer, np.floating)):
        raise TypeError(f"{fname}: {name} must be a number, got {type(val).__name__}")
    return float(val)


def _shape(x):
    return tuple(getattr(x, "shape", np.shape(x)))


def _binary(type_name, fname, x0, x1, inplace, outputs):
    _broadcast_shape(fname, _shape(x0), _shape(x1))
    return call(type_name, [x0, x1], dict(inplace=bool(inplace)), outputs)


# ---------------------------------------------------------------- lowerings
@lowering("Add2")
def _add2(x0, x1, inplace=False):
    return x0 + x1


@lowering("BcAdd2")
def _bc_add2(x0, x1, inplace=False):
    return x0 + x1


@lowering("Sub2")
def _sub2(x0, x1, inplace=False):
    return x0 - x1


@lowering("Mul2")
def _mul2(x0, x1, inplace=False):
    return x0 * x1


@lowering("Div2")
def _div2(x0, x1, inplace=False):
    return x0 / x1


@lowering("Pow2")
def _pow2(x0, x1, inplace=False):
    return x0 ** x1


def _scalar_like(val, x):
    dtype = x.dtype if jnp.issubdtype(x.dtype, jnp.inexact) else jnp.float32
    return jnp.asarray(val, dtype)


@lowering("AddScalar")
def _add_scalar(x, val=1.0, inplace=False):
    return x + _scalar_like(val, x)


@lowering("MulScalar")
def _mul_scalar(x, val=1.0, inplace=False):
    return x * _scalar_like(val, x)


@lowering("PowScalar")
def _pow_scalar(x, val=1.0, inplace=False):
    if float(val).is_integer() and abs(val) < 2 ** 31:
        n = int(val)
        if n >= 0:
            return lax.integer_pow(x, n)
        return 1.0 / lax.integer_pow(x, -n)
    return x ** _scalar_like(val, x)


@lowering("RSubScalar")
def _r_sub_scalar(x, val=1.0):
    return _scalar_like(val, x) - x


@lowering("RDivScalar")
def _r_div_scalar(x, val=1.0):
    return _scalar_like(val, x) / x


@lowering("RPowScalar")
def _r_pow_scalar(x, val=1.0):
    return _scalar_like(val, x) ** x


@lowering("AddN")
def _add_n(*xs):
    total = xs[0]
    for x in xs[1:]:
        total = total + x
    return total


@lowering("MulN")
def _mul_n(*xs):
    total = xs[0]
    for x in xs[1:]:
        total = total * x
    return total


# ---------------------------------------------------------------- wrappers
def add2(x0, x1, inplace=False, n_outputs=-1, outputs=None):
    """Elementwise ``x0 + x1`` (broadcasting)."""
    return _binary("Add2", "add2", x0, x1, inplace, outputs)


def bc_add2(x0, x1, inplace=False, n_outputs=-1, outputs=None):
    """Broadcasting ``x0 + x1`` (NNabla's internal form of add2)."""
    return _binary("BcAdd2", "bc_add2", x0, x1, inplace, outputs)


def sub2(x0, x1, inplace=False, n_outputs=-1, outputs=None):
    """Elementwise ``x0 - x1`` (broadcasting)."""
    return _binary("Sub2", "sub2", x0, x1, inplace, outputs)


def mul2(x0, x1, inplace=False, n_outputs=-1, outputs=None):
    """Elementwise ``x0 * x1`` (broadcasting)."""
    return _binary("Mul2", "mul2", x0, x1, inplace, outputs)


def div2(x0, x1, inplace=False, n_outputs=-1, outputs=None):
    """Elementwise ``x0 / x1`` (broadcasting)."""
    return _binary("Div2", "div2", x0, x1, inplace, outputs)


def pow2(x0, x1, inplace=False, n_outputs=-1, outputs=None):
    """Elementwise ``x0 ** x1`` (broadcasting)."""
    return _binary("Pow2", "pow2", x0, x1, inplace, outputs)


def add_scalar(x, val=1, inplace=False, n_outputs=-1, outputs=None):
    """``x + val``."""
    return call("AddScalar", [x], dict(val=_check_scalar("add_scalar", val),
                                       inplace=bool(inplace)), outputs)


def mul_scalar(x, val=1, inplace=False, n_outputs=-1, outputs=None):
    """``x * val``."""
    return call("MulScalar", [x], dict(val=_check_scalar("mul_scalar", val),
                                       inplace=bool(inplace)), outputs)


def pow_scalar(x, val=1, inplace=False, n_outputs=-1, outputs=None):
    """``x ** val``."""
    return call("PowScalar", [x], dict(val=_check_scalar("pow_scalar", val),
                                       inplace=bool(inplace)), outputs)


def r_sub_scalar(x, val=1, n_outputs=-1, outputs=None):
    """``val - x``."""
    return call("RSubScalar", [x], dict(val=_check_scalar("r_sub_scalar", val)), outputs)


def r_div_scalar(x, val=1, n_outputs=-1, outputs=None):
    """``val / x``."""
    return call("RDivScalar", [x], dict(val=_check_scalar("r_div_scalar", val)), outputs)


def r_pow_scalar(x, val=1, n_outputs=-1, outputs=None):
    """``val ** x``."""
    return call("RPowScalar", [x], dict(val=_check_scalar("r_pow_scalar", val)), outputs)


def _n_ary(type_name, fname, xs, kw):
    outputs = kw.pop("outputs", None)
    kw.pop("n_outputs", None)
    if kw:
        raise TypeError(f"{fname}: unexpected arguments {sorted(kw)}")
    if len(xs) == 1 and isinstance(xs[0], (list, tuple)):
        xs = tuple(xs[0])
    if not xs:
        raise ValueError(f"{fname}: at least one input is required")
    s0 = _shape(xs[0])
    for i, x in enumerate(xs[1:], 1):
        if _shape(x) != s0:
            raise ValueError(f"{fname}: input {i} has shape {_shape(x)}, input 0 has "
                             f"shape {s0}; all inputs must have the same shape")
    return call(type_name, list(xs), {}, outputs)


def add_n(*x, **kw):
    """Elementwise sum of all inputs (same shapes)."""
    return _n_ary("AddN", "add_n", x, kw)


def mul_n(*x, **kw):
    """Elementwise product of all inputs (same shapes)."""
    return _n_ary("MulN", "mul_n", x, kw)
