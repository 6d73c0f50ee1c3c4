"""Logical functions: comparisons, logical operators, elementwise min/max, sign,
NaN/Inf handling, ``where`` and ``searchsorted``.

Comparisons and logical operators return 0/1 in the input's float type (float32 for
integer or boolean inputs) and pass no gradient, as in NNabla.
"""
import jax
import jax.numpy as jnp
import numpy as np

from ._common import call, lowering
from .arithmetic import _broadcast_shape, _check_scalar, _shape



def _float_of(cond, like):
    dtype = like.dtype if jnp.issubdtype(like.dtype, jnp.floating) else jnp.float32
    return jax.lax.stop_gradient(cond.astype(dtype))


def _truth(x):
    return x != 0


# ---------------------------------------------------------------- sign, min, max
@lowering("Sign")
def _sign(x, alpha=1.0):
    one = jnp.ones_like(x)
    y = jnp.where(x > 0, one, jnp.where(x < 0, -one, jnp.asarray(alpha, x.dtype)))
    # straight-through: dy/dx = 1
    return x + jax.lax.stop_gradient(y - x)


@lowering("Maximum2")
def _maximum2(x0, x1):
    # the gradient goes to x0 where x0 > x1, to x1 otherwise (ties: x1)
    return jnp.where(x0 > x1, x0, x1)


@lowering("Minimum2")
def _minimum2(x0, x1):
    # the gradient goes to x0 where x0 < x1, to x1 otherwise (ties: x1)
    return jnp.where(x0 < x1, x0, x1)


@lowering("MaximumScalar")
def _maximum_scalar(x, val=1.0):
    return jnp.where(x > val, x, jnp.asarray(val, x.dtype))


@lowering("MinimumScalar")
def _minimum_scalar(x, val=1.0):
    return jnp.where(x < val, x, jnp.asarray(val, x.dtype))


# ---------------------------------------------------------------- comparisons
_COMPARE = {"Equal": jnp.equal, "NotEqual": jnp.not_equal,
            "GreaterEqual": jnp.greater_equal, "Greater": jnp.greater,
            "LessEqual": jnp.less_equal, "Less": jnp.less}

_LOGICAL = {"LogicalAnd": jnp.logical_and, "LogicalOr": jnp.logical_or,
            "LogicalXor": jnp.logical_xor}


def _register_compare(type_name, op):
    @lowering(type_name)
    def two(x0, x1):
        return _float_of(op(x0, x1), x0)

    @lowering(type_name + "Scalar")
    def scalar(x0, val=1.0):
        return _float_of(op(x0, val), x0)


def _register_logical(type_name, op):
    @lowering(type_name)
    def two(x0, x1):
        return _float_of(op(_truth(x0), _truth(x1)), x0)

    @lowering(type_name + "Scalar")
    def scalar(x0, val):
        return _float_of(op(_truth(x0), bool(val)), x0)


for _name, _op in _COMPARE.items():
    _register_compare(_name, _op)
for _name, _op in _LOGICAL.items():
    _register_logical(_name, _op)


@lowering("LogicalNot")
def _logical_not(x0):
    return _float_of(x0 == 0, x0)


@lowering("IsNaN")
def _isnan(x0):
    return _float_of(jnp.isnan(x0), x0)


@lowering("IsInf")
def _isinf(x0):
    return _float_of(jnp.isinf(x0), x0)


@lowering("ResetNaN")
def _reset_nan(x0, val=0.0):
    return jnp.where(jnp.isnan(x0), jnp.asarray(val, x0.dtype), x0)


@lowering("ResetInf")
def _reset_inf(x0, val=0.0):
    return jnp.where(jnp.isinf(x0), jnp.asarray(val, x0.dtype), x0)


@lowering("Where")
def _where(condition, x_true, x_false):
    cond = condition.reshape(condition.shape + (1,) * (x_true.ndim - condition.ndim))
    return jnp.where(cond != 0, x_true, x_false)


@lowering("SearchSorted")
def _searchsorted(sorted_sequence, values, right=False):
    side = "right" if right else "left"
    lead = values.shape[:-1]
    seq = sorted_sequence.reshape((-1, sorted_sequence.shape[-1]))
    vals = values.reshape((-1, values.shape[-1]))
    idx = jax.vmap(lambda s, v: jnp.searchsorted(s, v, side=side))(seq, vals)
    out_dtype = values.dtype if jnp.issubdtype(values.dtype, jnp.floating) else jnp.float32
    return jax.lax.stop_gradient(idx.reshape(lead + values.shape[-1:]).astype(out_dtype))


# ---------------------------------------------------------------- wrappers
def _two(type_name, fname, x0, x1, outputs):
    _broadcast_shape(fname, _shape(x0), _shape(x1))
    return call(type_name, [x0, x1], {}, outputs)


def sign(x, alpha=1.0, n_outputs=-1, outputs=None):
    """1 where ``x > 0``, -1 where ``x < 0``, ``alpha`` where ``x == 0``.

    The backward is straight-through (the gradient passes unchanged).
    """
    return call("Sign", [x], dict(alpha=_check_scalar("sign", alpha, "alpha")), outputs)


def minimum2(x0, x1, n_outputs=-1, outputs=None):
    """Elementwise minimum (broadcasting)."""
    return _two("Minimum2", "minimum2", x0, x1, outputs)


def maximum2(x0, x1, n_outputs=-1, outputs=None):
    """Elementwise maximum (broadcasting)."""
    return _two("Maximum2", "maximum2", x0, x1, outputs)


def minimum_scalar(x, val=1.0, n_outputs=-1, outputs=None):
    """``min(x, val)``."""
    return call("MinimumScalar", [x], dict(val=_check_scalar("minimum_scalar", val)),
                outputs)


def maximum_scalar(x, val=1.0, n_outputs=-1, outputs=None):
    """``max(x, val)``."""
    return call("MaximumScalar", [x], dict(val=_check_scalar("maximum_scalar", val)),
                outputs)


def logical_and(x0, x1, n_outputs=-1, outputs=None):
    """1 where both inputs are non-zero."""
    return _two("LogicalAnd", "logical_and", x0, x1, outputs)


def logical_or(x0, x1, n_outputs=-1, outputs=None):
    """1 where either input is non-zero."""
    return _two("LogicalOr", "logical_or", x0, x1, outputs)


def logical_xor(x0, x1, n_outputs=-1, outputs=None):
    """1 where exactly one input is non-zero."""
    return _two("LogicalXor", "logical_xor", x0, x1, outputs)


def equal(x0, x1, n_outputs=-1, outputs=None):
    """1 where ``x0 == x1``."""
    return _two("Equal", "equal", x0, x1, outputs)


def not_equal(x0, x1, n_outputs=-1, outputs=None):
    """1 where ``x0 != x1``."""
    return _two("NotEqual", "not_equal", x0, x1, outputs)


def greater_equal(x0, x1, n_outputs=-1, outputs=None):
    """1 where ``x0 >= x1``."""
    return _two("GreaterEqual", "greater_equal", x0, x1, outputs)


def greater(x0, x1, n_outputs=-1, outputs=None):
    """1 where ``x0 > x1``."""
    return _two("Greater", "greater", x0, x1, outputs)


def less_equal(x0, x1, n_outputs=-1, outputs=None):
    """1 where ``x0 <= x1``."""
    return _two("LessEqual", "less_equal", x0, x1, outputs)


def less(x0, x1, n_outputs=-1, outputs=None):
    """1 where ``x0 < x1``."""
    return _two("Less", "less", x0, x1, outputs)


def searchsorted(sorted_sequence, values, right=False, n_outputs=-1, outputs=None):
    """Insertion indices of ``values`` into the innermost axis of ``sorted_sequence``.

    Both inputs have the same rank and the same leading dimensions. With
    ``right=False`` the index ``i`` satisfies ``a[i-1] < v <= a[i]``, with
    ``right=True`` it satisfies ``a[i-1] <= v < a[i]``. The indices are returned as
    floats of the shape of ``values``; no gradient flows through this function.
    """
    s, v = _shape(sorted_sequence), _shape(values)
    if len(s) != len(v) or len(s) == 0:
        raise ValueError(f"searchsorted: sorted_sequence {s} and values {v} must have the "
                         "same (non-zero) rank")
    if s[:-1] != v[:-1]:
        raise ValueError(f"searchsorted: sorted_sequence {s} and values {v} must match "
                         "except in the innermost dimension")
    if s[-1] == 0:
        raise ValueError(f"searchsorted: sorted_sequence {s} has an empty innermost axis")
    return call("SearchSorted", [sorted_sequence, values], dict(right=bool(right)), outputs)


def _logical_scalar(type_name, fname, x0, val, outputs):
    if not isinstance(val, (bool, np.bool_, int, float, np.integer, np.floating)):
        raise TypeError(f"{fname}: val must be a bool, got {type(val).__name__}")
    return call(type_name, [x0], dict(val=bool(val)), outputs)


def logical_and_scalar(x0, val, n_outputs=-1, outputs=None):
    """1 where ``x0 != 0`` and ``val`` is true."""
    return _logical_scalar("LogicalAndScalar", "logical_and_scalar", x0, val, outputs)


def logical_or_scalar(x0, val, n_outputs=-1, outputs=None):
    """1 where ``x0 != 0`` or ``val`` is true."""
    return _logical_scalar("LogicalOrScalar", "logical_or_scalar", x0, val, outputs)


def logical_xor_scalar(x0, val, n_outputs=-1, outputs=None):
    """1 where exactly one of ``x0 != 0`` and ``val`` is true."""
    return _logical_scalar("LogicalXorScalar", "logical_xor_scalar", x0, val, outputs)


def _compare_scalar(type_name, fname, x0, val, outputs):
    return call(type_name, [x0], dict(val=_check_scalar(fname, val)), outputs)


def equal_scalar(x0, val=1, n_outputs=-1, outputs=None):
    """1 where ``x0 == val``."""
    return _compare_scalar("EqualScalar", "equal_scalar", x0, val, outputs)


def not_equal_scalar(x0, val=1, n_outputs=-1, outputs=None):
    """1 where ``x0 != val``."""
    return _compare_scalar("NotEqualScalar", "not_equal_scalar", x0, val, outputs)


def greater_equal_scalar(x0, val=1, n_outputs=-1, outputs=None):
    """1 where ``x0 >= val``."""
    return _compare_scalar("GreaterEqualScalar", "greater_equal_scalar", x0, val, outputs)


def greater_scalar(x0, val=1, n_outputs=-1, outputs=None):
    """1 where ``x0 > val``."""
    return _compare_scalar("GreaterScalar", "greater_scalar", x0, val, outputs)


def less_equal_scalar(x0, val=1, n_outputs=-1, outputs=None):
    """1 where ``x0 <= val``."""
    return _compare_scalar("LessEqualScalar", "less_equal_scalar", x0, val, outputs)


def less_scalar(x0, val=1, n_outputs=-1, outputs=None):
    """1 where ``x0 < val``."""
    return _compare_scalar("LessScalar", "less_scalar", x0, val, outputs)


def logical_not(x0, n_outputs=-1, outputs=None):
    """1 where ``x0 == 0``."""
    return call("LogicalNot", [x0], {}, outputs)


def isnan(x0, n_outputs=-1, outputs=None):
    """1 where ``x0`` is NaN."""
    return call("IsNaN", [x0], {}, outputs)


def isinf(x0, n_outputs=-1, outputs=None):
    """1 where ``x0`` is +inf or -inf."""
    return call("IsInf", [x0], {}, outputs)


def reset_nan(x0, val=0, n_outputs=-1, outputs=None):
    """``x0`` with NaNs replaced by ``val`` (no gradient at those places)."""
    return call("ResetNaN", [x0], dict(val=_check_scalar("reset_nan", val)), outputs)


def reset_inf(x0, val=0, n_outputs=-1, outputs=None):
    """``x0`` with +-inf replaced by ``val`` (no gradient at those places)."""
    return call("ResetInf", [x0], dict(val=_check_scalar("reset_inf", val)), outputs)


def where(condition, x_true, x_false, n_outputs=-1, outputs=None):
    """Elements of ``x_true`` where ``condition`` is non-zero, else of ``x_false``.

    ``x_true`` and ``x_false`` have the same shape; ``condition`` has the shape of
    their leading dimensions (its value applies to all trailing elements). No
    gradient flows to ``condition``.
    """
    c, t, f = _shape(condition), _shape(x_true), _shape(x_false)
    if t != f:
        raise ValueError(f"where: x_true {t} and x_false {f} must have the same shape")
    if len(c) > len(t) or t[:len(c)] != c:
        raise ValueError(f"where: condition {c} must equal the leading dimensions of "
                         f"x_true {t}")
    return call("Where", [condition, x_true, x_false], {}, outputs)
