"""Arithmetic: two-operand (with numpy broadcasting) and scalar functions."""
import jax.numpy as jnp

from ._common import call, lowering

_CAT = "Arithmetic"


@lowering("Add2", category=_CAT)
def _add2(x0, x1, inplace=False):
    return x0 + x1


@lowering("BcAdd2", category=_CAT)
def _bc_add2(x0, x1, inplace=False):
    return x0 + x1


@lowering("Sub2", category=_CAT)
def _sub2(x0, x1, inplace=False):
    return x0 - x1


@lowering("Mul2", category=_CAT)
def _mul2(x0, x1, inplace=False):
    return x0 * x1


@lowering("Div2", category=_CAT)
def _div2(x0, x1, inplace=False):
    return x0 / x1


@lowering("Pow2", category=_CAT)
def _pow2(x0, x1, inplace=False):
    return x0 ** x1


@lowering("AddScalar", category=_CAT)
def _add_scalar(x, val=1.0, inplace=False):
    return x + jnp.asarray(val, x.dtype)


@lowering("MulScalar", category=_CAT)
def _mul_scalar(x, val=1.0, inplace=False):
    return x * jnp.asarray(val, x.dtype)


@lowering("PowScalar", category=_CAT)
def _pow_scalar(x, val=1.0, inplace=False):
    if float(val) == int(val):
        return lax_integer_pow(x, int(val))
    return x ** jnp.asarray(val, x.dtype)


def lax_integer_pow(x, n):
    from jax import lax
    if n >= 0:
        return lax.integer_pow(x, n)
    return 1.0 / lax.integer_pow(x, -n)


@lowering("RSubScalar", category=_CAT)
def _r_sub_scalar(x, val=1.0):
    return jnp.asarray(val, x.dtype) - x


@lowering("RDivScalar", category=_CAT)
def _r_div_scalar(x, val=1.0):
    return jnp.asarray(val, x.dtype) / x


@lowering("RPowScalar", category=_CAT)
def _r_pow_scalar(x, val=1.0):
    return jnp.asarray(val, x.dtype) ** x


@lowering("AddN", category=_CAT)
def _add_n(*xs):
    total = xs[0]
    for x in xs[1:]:
        total = total + x
    return total


@lowering("MulN", category=_CAT)
def _mul_n(*xs):
    total = xs[0]
    for x in xs[1:]:
        total = total * x
    return total


def add2(x0, x1, inplace=False, outputs=None):
    """Elementwise ``x0 + x1`` (numpy broadcasting)."""
    return call("Add2", [x0, x1], dict(inplace=inplace), outputs)


def bc_add2(x0, x1, inplace=False, outputs=None):
    """Broadcasting ``x0 + x1``."""
    return call("BcAdd2", [x0, x1], dict(inplace=inplace), outputs)


def sub2(x0, x1, inplace=False, outputs=None):
    """Elementwise ``x0 - x1``."""
    return call("Sub2", [x0, x1], dict(inplace=inplace), outputs)


def mul2(x0, x1, inplace=False, outputs=None):
    """Elementwise ``x0 * x1``."""
    return call("Mul2", [x0, x1], dict(inplace=inplace), outputs)


def div2(x0, x1, inplace=False, outputs=None):
    """Elementwise ``x0 / x1``."""
    return call("Div2", [x0, x1], dict(inplace=inplace), outputs)


def pow2(x0, x1, inplace=False, outputs=None):
    """Elementwise ``x0 ** x1``."""
    return call("Pow2", [x0, x1], dict(inplace=inplace), outputs)


def add_scalar(x, val=1, inplace=False, outputs=None):
    """``x + val``."""
    return call("AddScalar", [x], dict(val=float(val), inplace=inplace), outputs)


def mul_scalar(x, val=1, inplace=False, outputs=None):
    """``x * val``."""
    return call("MulScalar", [x], dict(val=float(val), inplace=inplace), outputs)


def pow_scalar(x, val=1, inplace=False, outputs=None):
    """``x ** val``."""
    return call("PowScalar", [x], dict(val=float(val), inplace=inplace), outputs)


def r_sub_scalar(x, val=1, outputs=None):
    """``val - x``."""
    return call("RSubScalar", [x], dict(val=float(val)), outputs)


def r_div_scalar(x, val=1, outputs=None):
    """``val / x``."""
    return call("RDivScalar", [x], dict(val=float(val)), outputs)


def r_pow_scalar(x, val=1, outputs=None):
    """``val ** x``."""
    return call("RPowScalar", [x], dict(val=float(val)), outputs)


def add_n(*x, **kw):
    """Sum of all inputs."""
    if not x:
        raise ValueError("add_n: at least one input is required")
    return call("AddN", list(x), {}, kw.get("outputs"))


def mul_n(*x, **kw):
    """Product of all inputs."""
    if not x:
        raise ValueError("mul_n: at least one input is required")
    return call("MulN", list(x), {}, kw.get("outputs"))
