"""Neural network layers: affine, convolutions, pooling, embed."""
import math

import jax.numpy as jnp
import numpy as np
from jax import lax

from ._common import as_list, call, lowering

_CAT = "Neural Network Layer"


# ---------------------------------------------------------------- affine
@lowering("Affine", category=_CAT)
def _affine(x, weight, bias=None, base_axis=1):
    batch = x.shape[:base_axis]
    flat = x.reshape((int(np.prod(batch, dtype=np.int64)), -1))
    w = weight.reshape((weight.shape[0], -1))
    if flat.shape[1] != w.shape[0]:
        raise ValueError(f"input features {flat.shape[1]} != weight rows {w.shape[0]}")
    y = flat @ w
    if bias is not None:
        y = y + bias.reshape((1, -1))
    return y.reshape(batch + weight.shape[1:])


def affine(x, weight, bias=None, base_axis=1, n_outputs=-1, outputs=None):
    """``x`` flattened from ``base_axis`` times ``weight``, plus ``bias``."""
    in_features = int(np.prod(x.shape[base_axis:], dtype=np.int64))
    if len(weight.shape) < 1 or weight.shape[0] != in_features:
        raise ValueError(f"affine: x of shape {tuple(x.shape)} has {in_features} features from "
                         f"base_axis={base_axis}, but weight has shape {tuple(weight.shape)}")
    if bias is not None and tuple(bias.shape) != tuple(weight.shape[1:]):
        raise ValueError(f"affine: bias shape {tuple(bias.shape)} must be weight.shape[1:] = "
                         f"{tuple(weight.shape[1:])}")
    return call("Affine", [x, weight, bias], dict(base_axis=int(base_axis)), outputs)


# ---------------------------------------------------------------- convolution
def _dim_numbers(n_spatial, channel_last):
    sp = "".join("DHW"[-n_spatial:]) if n_spatial <= 3 else None
    if sp is None:
        raise ValueError("convolutions support 1 to 3 spatial dimensions")
    if channel_last:
        return ("N" + sp + "C", "O" + sp + "I", "N" + sp + "C")
    return ("NC" + sp, "OI" + sp, "NC" + sp)


def _fold_batch(x, base_axis, n_keep):
    """Merge the axes before base_axis into one batch axis."""
    batch = x.shape[:base_axis]
    return x.reshape((int(np.prod(batch, dtype=np.int64)),) + x.shape[base_axis:]), batch


@lowering("Convolution", category=_CAT)
def _convolution(x, weight, bias=None, base_axis=1, pad=None, stride=None, dilation=None,
                 group=1, channel_last=False):
    n = weight.ndim - 2
    xb, batch = _fold_batch(x, base_axis, n + 1)
    y = lax.conv_general_dilated(
        xb, weight, window_strides=stride, padding=[(p, p) for p in pad],
        rhs_dilation=dilation, feature_group_count=group,
        dimension_numbers=_dim_numbers(n, channel_last))
    if bias is not None:
        shape = (1,) * (n + 1) + (-1,) if channel_last else (1, -1) + (1,) * n
        y = y + bias.reshape(shape)
    return y.reshape(batch + y.shape[1:])


def _conv_args(fname, x, weight, base_axis, pad, stride, dilation, group, channel_last):
    n = len(weight.shape) - 2
    if n < 1:
        raise ValueError(f"{fname}: weight must have at least 3 dimensions, got {tuple(weight.shape)}")
    if len(x.shape) != base_axis + n + 1:
        raise ValueError(f"{fname}: x of shape {tuple(x.shape)} must have base_axis + 1 + {n} "
                         f"= {base_axis + n + 1} dimensions for weight {tuple(weight.shape)}")
    pad = as_list(pad, n, "pad", fname) or [0] * n
    stride = as_list(stride, n, "stride", fname) or [1] * n
    dilation = as_list(dilation, n, "dilation", fname) or [1] * n
    return dict(base_axis=int(base_axis), pad=pad, stride=stride, dilation=dilation,
                group=int(group), channel_last=bool(channel_last))


def convolution(x, weight, bias=None, base_axis=1, pad=None, stride=None, dilation=None,
                group=1, channel_last=False, n_outputs=-1, outputs=None):
    """N-d convolution; weight is (outmaps, inmaps // group, *kernel)
    ((outmaps, *kernel, inmaps // group) with channel_last)."""
    args = _conv_args("convolution", x, weight, base_axis, pad, stride, dilation, group,
                      channel_last)
    c_in = x.shape[-1] if channel_last else x.shape[base_axis]
    w_in = weight.shape[-1] if channel_last else weight.shape[1]
    if c_in != w_in * group:
        raise ValueError(f"convolution: x has {c_in} channels but weight {tuple(weight.shape)} "
                         f"expects {w_in} x group {group}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"convolution: bias shape {tuple(bias.shape)} must be ({weight.shape[0]},)")
    return call("Convolution", [x, weight, bias], args, outputs)


@lowering("Deconvolution", category=_CAT)
def _deconvolution(x, weight, bias=None, base_axis=1, pad=None, stride=None, dilation=None,
                   group=1, channel_last=False, output_padding=None):
    n = weight.ndim - 2
    output_padding = output_padding or [0] * n
    xb, batch = _fold_batch(x, base_axis, n + 1)
    # weight (in, out/g, *k) [or (in, *k, out/g)] -> forward-conv weight (out, in/g, *k), flipped
    if channel_last:
        weight = jnp.moveaxis(weight, -1, 1)
    c_in, c_out_g = weight.shape[0], weight.shape[1]
    k = weight.shape[2:]
    w = weight.reshape((group, c_in // group, c_out_g) + k)
    w = jnp.swapaxes(w, 1, 2).reshape((group * c_out_g, c_in // group) + k)
    w = jnp.flip(w, axis=tuple(range(2, 2 + n)))
    padding = [(d * (kk - 1) - p, d * (kk - 1) - p + op)
               for kk, p, d, op in zip(k, pad, dilation, output_padding)]
    dn = _dim_numbers(n, channel_last)
    dn = (dn[0], "OI" + dn[1][2:] if not channel_last else "OI" + dn[1][1:-1], dn[2])
    y = lax.conv_general_dilated(xb, w, window_strides=[1] * n, padding=padding,
                                 lhs_dilation=stride, rhs_dilation=dilation,
                                 feature_group_count=group, dimension_numbers=dn)
    if bias is not None:
        shape = (1,) * (n + 1) + (-1,) if channel_last else (1, -1) + (1,) * n
        y = y + bias.reshape(shape)
    return y.reshape(batch + y.shape[1:])


def deconvolution(x, weight, bias=None, base_axis=1, pad=None, stride=None, dilation=None,
                  group=1, channel_last=False, output_padding=None, n_outputs=-1, outputs=None):
    """Transposed convolution; weight is (inmaps, outmaps // group, *kernel)."""
    args = _conv_args("deconvolution", x, weight, base_axis, pad, stride, dilation, group,
                      channel_last)
    n = len(weight.shape) - 2
    args["output_padding"] = as_list(output_padding, n, "output_padding", "deconvolution") or [0] * n
    c_in = x.shape[-1] if channel_last else x.shape[base_axis]
    if c_in != weight.shape[0]:
        raise ValueError(f"deconvolution: x has {c_in} channels but weight {tuple(weight.shape)} "
                         f"expects {weight.shape[0]}")
    return call("Deconvolution", [x, weight, bias], args, outputs)


# ---------------------------------------------------------------- pooling
def _pool_geometry(x_shape, kernel, stride, pad, ignore_border, channel_last):
    n = len(kernel)
    spatial = x_shape[-n - 1:-1] if channel_last else x_shape[-n:]
    out, high = [], []
    for i, k, s, p in zip(spatial, kernel, stride, pad):
        if ignore_border:
            o = (i + 2 * p - k) // s + 1
        else:
            o = int(math.ceil((i + 2 * p - k) / s)) + 1 if i + 2 * p > k else 1
        out.append(o)
        # padding needed on the high side so the last window fits
        high.append(max((o - 1) * s + k - i - p, p))
    return out, high


def _pool_window(x, kernel, stride, pad, high, channel_last):
    n = len(kernel)
    nd = x.ndim
    if channel_last:
        window = (1,) * (nd - n - 1) + tuple(kernel) + (1,)
        strides = (1,) * (nd - n - 1) + tuple(stride) + (1,)
        padding = [(0, 0)] * (nd - n - 1) + [(p, h) for p, h in zip(pad, high)] + [(0, 0)]
    else:
        window = (1,) * (nd - n) + tuple(kernel)
        strides = (1,) * (nd - n) + tuple(stride)
        padding = [(0, 0)] * (nd - n) + [(p, h) for p, h in zip(pad, high)]
    return window, strides, padding


@lowering("MaxPooling", category=_CAT)
def _max_pooling(x, kernel, stride, ignore_border=True, pad=None, channel_last=False):
    _, high = _pool_geometry(x.shape, kernel, stride, pad, ignore_border, channel_last)
    window, strides, padding = _pool_window(x, kernel, stride, pad, high, channel_last)
    return lax.reduce_window(x, -jnp.inf, lax.max, window, strides, padding)


def _window_sum(x, kernel, stride, pad, high, channel_last):
    window, strides, padding = _pool_window(x, kernel, stride, pad, high, channel_last)
    return lax.reduce_window(x, 0.0, lax.add, window, strides, padding)


@lowering("SumPooling", category=_CAT)
def _sum_pooling(x, kernel, stride, ignore_border=True, pad=None, channel_last=False):
    _, high = _pool_geometry(x.shape, kernel, stride, pad, ignore_border, channel_last)
    return _window_sum(x, kernel, stride, pad, high, channel_last)


@lowering("AveragePooling", category=_CAT)
def _average_pooling(x, kernel, stride, ignore_border=True, pad=None, channel_last=False,
                     including_pad=True):
    _, high = _pool_geometry(x.shape, kernel, stride, pad, ignore_border, channel_last)
    total = _window_sum(x, kernel, stride, pad, high, channel_last)
    n = len(kernel)
    spatial = x.shape[-n - 1:-1] if channel_last else x.shape[-n:]
    if including_pad:
        # count positions inside the padded input (not beyond it)
        ones = jnp.pad(jnp.ones(spatial, x.dtype), [(p, p) for p in pad])
        cnt = lax.reduce_window(ones, 0.0, lax.add, tuple(kernel),
                                tuple(stride), [(0, h - p) for p, h in zip(pad, high)])
    else:
        ones = jnp.ones(spatial, x.dtype)
        cnt = lax.reduce_window(ones, 0.0, lax.add, tuple(kernel),
                                tuple(stride), [(p, h) for p, h in zip(pad, high)])
    if channel_last:
        cnt = cnt[..., None]
    return total / cnt


def _pool_args(fname, x, kernel, stride, ignore_border, pad, channel_last):
    n = len(kernel)
    if len(x.shape) < n + (1 if channel_last else 0):
        raise ValueError(f"{fname}: input of shape {tuple(x.shape)} has fewer dimensions "
                         f"than kernel {tuple(kernel)}")
    kernel = as_list(kernel, n, "kernel", fname)
    stride = as_list(stride, n, "stride", fname) or list(kernel)
    pad = as_list(pad, n, "pad", fname) or [0] * n
    spatial = x.shape[-n - 1:-1] if channel_last else x.shape[-n:]
    for i, k, p in zip(spatial, kernel, pad):
        if ignore_border and i + 2 * p < k:
            raise ValueError(f"{fname}: kernel {tuple(kernel)} is larger than the padded input "
                             f"{tuple(spatial)} (pad {tuple(pad)})")
    return dict(kernel=kernel, stride=stride, ignore_border=bool(ignore_border), pad=pad,
                channel_last=bool(channel_last))


def max_pooling(x, kernel, stride=None, ignore_border=True, pad=None, channel_last=False,
                outputs=None):
    """Max over windows of size ``kernel`` (stride defaults to kernel)."""
    args = _pool_args("max_pooling", x, kernel, stride, ignore_border, pad, channel_last)
    return call("MaxPooling", [x], args, outputs)


def average_pooling(x, kernel, stride=None, ignore_border=True, pad=None, channel_last=False,
                    including_pad=True, outputs=None):
    """Mean over windows; ``including_pad`` counts padded positions in the divisor."""
    args = _pool_args("average_pooling", x, kernel, stride, ignore_border, pad, channel_last)
    args["including_pad"] = bool(including_pad)
    return call("AveragePooling", [x], args, outputs)


def sum_pooling(x, kernel, stride=None, ignore_border=True, pad=None, channel_last=False,
                outputs=None):
    """Sum over windows."""
    args = _pool_args("sum_pooling", x, kernel, stride, ignore_border, pad, channel_last)
    return call("SumPooling", [x], args, outputs)


@lowering("GlobalAveragePooling", category=_CAT)
def _global_average_pooling(x):
    return jnp.mean(x.reshape(x.shape[:2] + (-1,)), axis=-1).reshape(x.shape[:2] + (1, 1))


def global_average_pooling(x, outputs=None):
    """Mean over all axes after the first two: (N, C, ...) -> (N, C, 1, 1)."""
    if len(x.shape) < 2:
        raise ValueError(f"global_average_pooling: input needs at least 2 dimensions, "
                         f"got {tuple(x.shape)}")
    return call("GlobalAveragePooling", [x], {}, outputs)


# ---------------------------------------------------------------- embed
@lowering("Embed", category=_CAT)
def _embed(x0, w):
    index = lax.stop_gradient(x0).astype(jnp.int32)
    return jnp.take(w, index, axis=0)


def embed(x0, w, outputs=None):
    """Rows of ``w`` selected by the integer indices in ``x0``."""
    return call("Embed", [x0, w], {}, outputs)
