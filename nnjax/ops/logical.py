"""Logical and comparison functions (results are 0/1 in the input's float type)."""
import jax.numpy as jnp

from ._common import call, lowering

_CAT = "Logical"


def _f(cond, like):
    dtype = like.dtype if jnp.issubdtype(like.dtype, jnp.floating) else jnp.float32
    return cond.astype(dtype)


@lowering("Maximum2", category=_CAT)
def _maximum2(x0, x1):
    return jnp.maximum(x0, x1)


@lowering("Minimum2", category=_CAT)
def _minimum2(x0, x1):
    return jnp.minimum(x0, x1)


@lowering("MaximumScalar", category=_CAT)
def _maximum_scalar(x, val=1.0):
    return jnp.maximum(x, jnp.asarray(val, x.dtype))


@lowering("MinimumScalar", category=_CAT)
def _minimum_scalar(x, val=1.0):
    return jnp.minimum(x, jnp.asarray(val, x.dtype))


_COMPARE = {"Equal": jnp.equal, "NotEqual": jnp.not_equal, "GreaterEqual": jnp.greater_equal,
            "Greater": jnp.greater, "LessEqual": jnp.less_equal, "Less": jnp.less}


def _register_compare(type_name, op):
    @lowering(type_name, category=_CAT)
    def two(x0, x1):
        return _f(op(x0, x1), x0)

    @lowering(type_name + "Scalar", category=_CAT)
    def scalar(x0, val=1.0):
        return _f(op(x0, val), x0)


for _name, _op in _COMPARE.items():
    _register_compare(_name, _op)


def maximum2(x0, x1, outputs=None):
    """Elementwise maximum."""
    return call("Maximum2", [x0, x1], {}, outputs)


def minimum2(x0, x1, outputs=None):
    """Elementwise minimum."""
    return call("Minimum2", [x0, x1], {}, outputs)


def maximum_scalar(x, val=1.0, outputs=None):
    """``max(x, val)``."""
    return call("MaximumScalar", [x], dict(val=float(val)), outputs)


def minimum_scalar(x, val=1.0, outputs=None):
    """``min(x, val)``."""
    return call("MinimumScalar", [x], dict(val=float(val)), outputs)


def equal(x0, x1, outputs=None):
    return call("Equal", [x0, x1], {}, outputs)


def not_equal(x0, x1, outputs=None):
    return call("NotEqual", [x0, x1], {}, outputs)


def greater_equal(x0, x1, outputs=None):
    return call("GreaterEqual", [x0, x1], {}, outputs)


def greater(x0, x1, outputs=None):
    return call("Greater", [x0, x1], {}, outputs)


def less_equal(x0, x1, outputs=None):
    return call("LessEqual", [x0, x1], {}, outputs)


def less(x0, x1, outputs=None):
    return call("Less", [x0, x1], {}, outputs)


def equal_scalar(x0, val=1, outputs=None):
    return call("EqualScalar", [x0], dict(val=float(val)), outputs)


def not_equal_scalar(x0, val=1, outputs=None):
    return call("NotEqualScalar", [x0], dict(val=float(val)), outputs)


def greater_equal_scalar(x0, val=1, outputs=None):
    return call("GreaterEqualScalar", [x0], dict(val=float(val)), outputs)


def greater_scalar(x0, val=1, outputs=None):
    return call("GreaterScalar", [x0], dict(val=float(val)), outputs)


def less_equal_scalar(x0, val=1, outputs=None):
    return call("LessEqualScalar", [x0], dict(val=float(val)), outputs)


def less_scalar(x0, val=1, outputs=None):
    return call("LessScalar", [x0], dict(val=float(val)), outputs)
