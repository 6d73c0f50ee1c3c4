"""Elementwise math and matrix products."""
import jax.numpy as jnp

from ._common import call, lowering

_CAT = "Math"


@lowering("Identity", category=_CAT)
def _identity(x):
    return x


@lowering("Abs", category=_CAT)
def _abs(x):
    return jnp.abs(x)


@lowering("Exp", category=_CAT)
def _exp(x):
    return jnp.exp(x)


@lowering("Log", category=_CAT)
def _log(x):
    return jnp.log(x)


@lowering("BatchMatmul", category=_CAT)
def _batch_matmul(a, b, transpose_a=False, transpose_b=False):
    if transpose_a:
        a = jnp.swapaxes(a, -1, -2)
    if transpose_b:
        b = jnp.swapaxes(b, -1, -2)
    return jnp.matmul(a, b)


def identity(x, outputs=None):
    """Returns ``x`` unchanged (a new graph node)."""
    return call("Identity", [x], {}, outputs)


def abs(x, outputs=None):
    """Elementwise absolute value."""
    return call("Abs", [x], {}, outputs)


def exp(x, outputs=None):
    """Elementwise exponential."""
    return call("Exp", [x], {}, outputs)


def log(x, outputs=None):
    """Elementwise natural logarithm."""
    return call("Log", [x], {}, outputs)


def batch_matmul(a, b, transpose_a=False, transpose_b=False, outputs=None):
    """Batched matrix product over the last two axes (leading axes broadcast)."""
    if len(a.shape) < 2 or len(b.shape) < 2:
        raise ValueError(f"batch_matmul: inputs need at least 2 dimensions, got shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    return call("BatchMatmul", [a, b], dict(transpose_a=bool(transpose_a),
                                            transpose_b=bool(transpose_b)), outputs)


def matmul(a, b):
    """numpy-style matrix product (``a @ b``)."""
    if len(a.shape) == 2 and len(b.shape) == 2:
        return batch_matmul(a, b)
    if len(a.shape) < 2 or len(b.shape) < 2:
        raise ValueError(f"matmul: 1-d operands are not supported, got shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    return batch_matmul(a, b)
