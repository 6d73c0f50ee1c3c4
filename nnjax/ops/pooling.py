"""Pooling: max, average, sum and global average pooling, and unpooling.

Pooling windows act on the last ``len(kernel)`` axes (the axes before the last one
when ``channel_last``).
"""
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._common import as_list, call, int_shape, lowering



# ---------------------------------------------------------------- pooling
def _pool_out_size(i, k, s, p, ignore_border):
    """NNabla's pooling output length. Its division truncates toward zero, so a
    kernel up to ``s - 1`` larger than the padded input still gives one window."""
    span = i + 2 * p - k if ignore_border else i + p - 1
    return int(span / s) + 1


def _spatial_axes(ndim, n, channel_last):
    return list(range(ndim - n - 1, ndim - 1)) if channel_last else list(range(ndim - n, ndim))


def _pool_pad(x, kernel, stride, pad, ignore_border, channel_last, value):
    """Pad (or crop) the spatial axes so that plain VALID windows give NNabla's windows."""
    n = len(kernel)
    axes = _spatial_axes(x.ndim, n, channel_last)
    config = [(0, 0, 0)] * x.ndim
    for a, k, s, p in zip(axes, kernel, stride, pad):
        i = x.shape[a]
        o = _pool_out_size(i, k, s, p, ignore_border)
        config[a] = (p, (o - 1) * s + k - p - i, 0)
    return lax.pad(x, np.array(value, x.dtype), config), axes


def _window(x, axes, kernel, stride):
    window = [1] * x.ndim
    strides = [1] * x.ndim
    for a, k, s in zip(axes, kernel, stride):
        window[a] = k
        strides[a] = s
    return tuple(window), tuple(strides)


@lowering("MaxPooling")
def _max_pooling(x, kernel, stride, ignore_border=True, pad=None, channel_last=False):
    xp, axes = _pool_pad(x, kernel, stride, pad, ignore_border, channel_last, -np.inf)
    window, strides = _window(xp, axes, kernel, stride)
    return lax.reduce_window(xp, -np.inf, lax.max, window, strides, "VALID")


def _window_sum(x, kernel, stride, pad, ignore_border, channel_last):
    xp, axes = _pool_pad(x, kernel, stride, pad, ignore_border, channel_last, 0)
    window, strides = _window(xp, axes, kernel, stride)
    return lax.reduce_window(xp, 0.0, lax.add, window, strides, "VALID"), axes


@lowering("SumPooling")
def _sum_pooling(x, kernel, stride, ignore_border=True, pad=None, channel_last=False):
    return _window_sum(x, kernel, stride, pad, ignore_border, channel_last)[0]


def _pool_counts(i, k, s, p, ignore_border, including_pad):
    """Divisor of each output position along one axis (NNabla's rule)."""
    o = _pool_out_size(i, k, s, p, ignore_border)
    start = np.arange(o) * s - p
    end = np.minimum(start + k, i + p)
    if including_pad:
        return (end - start).astype(np.float32)
    return (np.minimum(end, i) - np.maximum(start, 0)).astype(np.float32)


@lowering("AveragePooling")
def _average_pooling(x, kernel, stride, ignore_border=True, pad=None, channel_last=False,
                     including_pad=True):
    total, axes = _window_sum(x, kernel, stride, pad, ignore_border, channel_last)
    count = np.ones([1] * x.ndim, np.float32)
    for a, k, s, p in zip(axes, kernel, stride, pad):
        c = _pool_counts(x.shape[a], k, s, p, ignore_border, including_pad)
        shape = [1] * x.ndim
        shape[a] = c.size
        count = count * c.reshape(shape)
    return total / jnp.asarray(count, x.dtype)


def _pool_args(fname, x, kernel, stride, ignore_border, pad, channel_last):
    if isinstance(kernel, (int, np.integer)):
        kernel = [kernel]
    n = len(kernel)
    if n < 1:
        raise ValueError(f"{fname}: kernel must have at least one element")
    if len(x.shape) < n + (1 if channel_last else 0):
        raise ValueError(f"{fname}: input of shape {int_shape(x)} has fewer dimensions "
                         f"than kernel {tuple(kernel)}")
    kernel = as_list(kernel, n, "kernel", fname)
    stride = as_list(stride, n, "stride", fname) or list(kernel)
    pad = as_list(pad, n, "pad", fname) or [0] * n
    if any(k < 1 for k in kernel) or any(s < 1 for s in stride) or any(p < 0 for p in pad):
        raise ValueError(f"{fname}: kernel {kernel} and stride {stride} must be >= 1 and pad "
                         f"{pad} >= 0")
    axes = _spatial_axes(len(x.shape), n, channel_last)
    spatial = [x.shape[a] for a in axes]
    for i, k, s, p in zip(spatial, kernel, stride, pad):
        if _pool_out_size(i, k, s, p, ignore_border) < 1:
            raise ValueError(f"{fname}: kernel {tuple(kernel)} with stride {tuple(stride)} "
                             f"leaves no window on the input {tuple(spatial)} "
                             f"(pad {tuple(pad)})")
    return dict(kernel=kernel, stride=stride, ignore_border=bool(ignore_border), pad=pad,
                channel_last=bool(channel_last))


def max_pooling(x, kernel, stride=None, ignore_border=True, pad=None, channel_last=False,
                n_outputs=-1, outputs=None):
    """Max over windows of size ``kernel`` (stride defaults to kernel). Padded positions
    never win. Output length ``(L + 2p - k) // s + 1``, or ``(L + p - 1) // s + 1`` when
    ``ignore_border=False`` (windows are then cut at the padded border)."""
    args = _pool_args("max_pooling", x, kernel, stride, ignore_border, pad, channel_last)
    return call("MaxPooling", [x], args, outputs)


def average_pooling(x, kernel, stride=None, ignore_border=True, pad=None, channel_last=False,
                    including_pad=True, n_outputs=-1, outputs=None):
    """Mean over windows; the divisor counts padded positions when ``including_pad``
    (but never positions beyond the padding)."""
    args = _pool_args("average_pooling", x, kernel, stride, ignore_border, pad, channel_last)
    args["including_pad"] = bool(including_pad)
    return call("AveragePooling", [x], args, outputs)


def sum_pooling(x, kernel, stride=None, ignore_border=True, pad=None, channel_last=False,
                n_outputs=-1, outputs=None):
    """Sum over windows (padding contributes zeros)."""
    args = _pool_args("sum_pooling", x, kernel, stride, ignore_border, pad, channel_last)
    return call("SumPooling", [x], args, outputs)


@lowering("GlobalAveragePooling")
def _global_average_pooling(x):
    return jnp.mean(x.reshape(x.shape[:2] + (-1,)), axis=-1).reshape(x.shape[:2] + (1, 1))


def global_average_pooling(x, n_outputs=-1, outputs=None):
    """Mean over all axes after the first two: (N, C, ...) -> (N, C, 1, 1)."""
    if len(x.shape) < 2:
        raise ValueError(f"global_average_pooling: input needs at least 2 dimensions, "
                         f"got {int_shape(x)}")
    return call("GlobalAveragePooling", [x], {}, outputs)


@lowering("Unpooling")
def _unpooling(x, kernel, channel_last=False):
    axes = _spatial_axes(x.ndim, len(kernel), channel_last)
    for a, k in zip(axes, kernel):
        if k != 1:
            x = jnp.repeat(x, k, axis=a)
    return x


def unpooling(x, kernel, channel_last=False, n_outputs=-1, outputs=None):
    """Repeat every element ``kernel[i]`` times along the matching spatial axis."""
    fname = "unpooling"
    if isinstance(kernel, (int, np.integer)):
        kernel = [kernel]
    n = len(kernel)
    kernel = as_list(kernel, n, "kernel", fname)
    if n < 1 or len(x.shape) < n + (1 if channel_last else 0):
        raise ValueError(f"{fname}: kernel {tuple(kernel)} does not fit an input of shape "
                         f"{int_shape(x)}")
    if any(k < 1 for k in kernel):
        raise ValueError(f"{fname}: kernel must be >= 1, got {kernel}")
    return call("Unpooling", [x], dict(kernel=kernel, channel_last=bool(channel_last)), outputs)
