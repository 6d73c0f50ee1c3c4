"""Validation metrics (no gradients, as in NNabla)."""
import jax.numpy as jnp
from jax import lax

from ._common import call, lowering, norm_axis



@lowering("TopNError")
def _top_n_error(x, target, axis, n=1):
    x = lax.stop_gradient(x)
    label = lax.stop_gradient(target).astype(jnp.int32)
    score = jnp.take_along_axis(x, label, axis=axis)
    at_least = jnp.sum((x >= score).astype(jnp.int32), axis=axis, keepdims=True)
    return (at_least > n).astype(x.dtype)


@lowering("BinaryError")
def _binary_error(x, target):
    x = lax.stop_gradient(x)
    t = lax.stop_gradient(target)
    return ((x >= 0.5) != (t >= 0.5)).astype(x.dtype)


@lowering("ConfusionMatrix")
def _confusion_matrix(x, target, axis):
    x = lax.stop_gradient(x)
    n = x.shape[axis]
    pred = jnp.argmax(x, axis=axis).reshape(-1)
    label = jnp.squeeze(lax.stop_gradient(target), axis=axis).astype(jnp.int32).reshape(-1)
    return jnp.zeros((n, n), jnp.int32).at[label, pred].add(1)


def _check_label(fname, x, target, axis):
    expected = tuple(x.shape[:axis]) + (1,) + tuple(x.shape[axis + 1:])
    if tuple(target.shape) != expected:
        raise ValueError(f"{fname}: target shape {tuple(target.shape)} does not match x shape "
                         f"{tuple(x.shape)} (expected {expected} for axis={axis})")


def top_n_error(x, target, axis=None, n=1, outputs=None):
    """1 where more than ``n`` scores along ``axis`` are >= the target's score, else 0.

    Output shape: ``x.shape`` with 1 at ``axis`` (the target's shape).
    """
    fname = "top_n_error"
    axis = len(x.shape) - 1 if axis is None else norm_axis(axis, len(x.shape), fname)
    _check_label(fname, x, target, axis)
    if int(n) < 1:
        raise ValueError(f"{fname}: n must be at least 1, got {n}")
    return call("TopNError", [x, target], dict(axis=axis, n=int(n)), outputs)


def binary_error(x, target, outputs=None):
    """Elementwise ``(x >= 0.5) != (target >= 0.5)`` as 0/1."""
    if tuple(x.shape) != tuple(target.shape):
        raise ValueError(f"binary_error: x shape {tuple(x.shape)} and target shape "
                         f"{tuple(target.shape)} differ")
    return call("BinaryError", [x, target], {}, outputs)


def confusion_matrix(x, target, axis=None, outputs=None):
    """Counts summed over samples: row = label, column = argmax of ``x`` along ``axis``
    (int32, shape (C, C) with C = ``x.shape[axis]``)."""
    fname = "confusion_matrix"
    axis = len(x.shape) - 1 if axis is None else norm_axis(axis, len(x.shape), fname)
    _check_label(fname, x, target, axis)
    return call("ConfusionMatrix", [x, target], dict(axis=axis), outputs)
