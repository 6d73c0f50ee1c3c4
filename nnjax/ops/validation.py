"""Validation metrics."""
import jax.numpy as jnp
from jax import lax

from ._common import call, lowering, norm_axis

_CAT = "Validation"


@lowering("TopNError", category=_CAT)
def _top_n_error(x, target, axis, n=1):
    label = lax.stop_gradient(target).astype(jnp.int32)
    score = jnp.take_along_axis(x, label, axis=axis)
    higher = jnp.sum((x > score).astype(jnp.int32), axis=axis, keepdims=True)
    return (higher >= n).astype(x.dtype)


def top_n_error(x, target, axis=None, n=1, outputs=None):
    """1 where the target's score is not among the ``n`` highest along ``axis``, else 0."""
    axis = len(x.shape) - 1 if axis is None else norm_axis(axis, len(x.shape), "top_n_error")
    return call("TopNError", [x, target], dict(axis=axis, n=int(n)), outputs)
