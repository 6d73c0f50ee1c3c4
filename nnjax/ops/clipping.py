"""Clipping of gradients (clip_grad_by_value/norm) and of values (clip_by_value/norm)."""
import jax
import jax.numpy as jnp
import numpy as np

from .._ndarray import NdArray
from .._variable import Variable
from . import arithmetic, logical, reduction
from ._common import as_axes, call, int_shape, lowering


# ---------------------------------------------------------------- gradient clipping
@jax.custom_vjp
def _clip_grad_value_fn(x, lo, hi):
    return x


def _clip_grad_value_fwd(x, lo, hi):
    return x, (lo, hi)


def _clip_grad_value_bwd(res, g):
    lo, hi = res
    clipped = jnp.where(g > hi, hi, jnp.where(g < lo, lo, g))
    return clipped, jnp.zeros_like(lo), jnp.zeros_like(hi)


_clip_grad_value_fn.defvjp(_clip_grad_value_fwd, _clip_grad_value_bwd)


@lowering("ClipGradByValue")
def _clip_grad_by_value(x, min, max):
    return _clip_grad_value_fn(x, min.astype(x.dtype), max.astype(x.dtype))


def clip_grad_by_value(x, min, max, n_outputs=-1, outputs=None):
    """Identity forward; backward clips the gradient elementwise to [min, max]
    (``min`` / ``max`` have x's shape and receive no gradient)."""
    fname = "clip_grad_by_value"
    for name, v in (("min", min), ("max", max)):
        if int_shape(v) != int_shape(x):
            raise ValueError(f"{fname}: {name} shape {int_shape(v)} must equal x shape "
                             f"{int_shape(x)}")
    return call("ClipGradByValue", [x, min, max], {}, outputs)


def _make_clip_grad_norm(clip_norm, axes):
    @jax.custom_vjp
    def f(x):
        return x

    def fwd(x):
        return x, None

    def bwd(_, g):
        norm = jnp.sqrt(jnp.sum(g * g, axis=axes, keepdims=True))
        return (clip_norm * g / norm,)

    f.defvjp(fwd, bwd)
    return f


@lowering("ClipGradByNorm")
def _clip_grad_by_norm(x, clip_norm=1.0, axes=None):
    return _make_clip_grad_norm(clip_norm, tuple(axes))(x)


def clip_grad_by_norm(x, clip_norm=1.0, axes=None, n_outputs=-1, outputs=None):
    """Identity forward; backward ``g_x = clip_norm * g_y / ||g_y||`` with the L2 norm
    over ``axes`` (default: all)."""
    fname = "clip_grad_by_norm"
    clip_norm = 1.0 if clip_norm is None else float(clip_norm)
    axes = list(range(len(x.shape))) if axes is None else as_axes(fname, axes, len(x.shape))
    return call("ClipGradByNorm", [x], dict(clip_norm=clip_norm, axes=axes), outputs)


def clip_by_value(x, min, max):
    """``x`` clipped to [min, max]; ``min`` / ``max`` are scalars or arrays of x's shape
    (composite of maximum and minimum functions)."""
    if np.isscalar(min):
        lower = logical.maximum_scalar(x, min)
    elif isinstance(min, (Variable, NdArray)):
        lower = logical.maximum2(x, min)
    else:
        raise TypeError("clip_by_value: min must be Variable, NdArray, or scalar.")
    if np.isscalar(max):
        return logical.minimum_scalar(lower, max)
    if isinstance(max, (Variable, NdArray)):
        return logical.minimum2(lower, max)
    raise TypeError("clip_by_value: max must be Variable, NdArray, or scalar.")


def clip_by_norm(x, clip_norm, axis=None):
    """``x * clip_norm / max(||x||_2, clip_norm)`` with the norm over ``axis``
    (default: all axes), i.e. x rescaled when its norm exceeds ``clip_norm``."""
    if axis is None:
        axis = list(range(len(x.shape)))
    elif not hasattr(axis, "__iter__"):
        axis = [axis]
    x_norm = arithmetic.pow_scalar(reduction.sum(arithmetic.pow_scalar(x, 2.0), axis, True),
                                   0.5)
    if isinstance(clip_norm, (Variable, NdArray)):
        return x * clip_norm / logical.maximum2(x_norm, clip_norm)
    if clip_norm <= 0:
        raise ValueError("clip_by_norm: clip_norm must be positive.")
    return x * clip_norm / logical.maximum_scalar(x_norm, clip_norm)
