"""Normalization by the input's statistics: tensor, layer, instance, group, norm normalization."""
import jax.numpy as jnp
import numpy as np

from ._common import as_axes, call, int_shape, lowering, norm_axis
from .batch_norm import _record, _register_with_stats, _stat_shape, batch_normalization


def _check_param(fname, name, v, expected):
    if v is not None and int_shape(v) != tuple(expected):
        raise ValueError(f"{fname}: {name} shape {int_shape(v)} must be {tuple(expected)}")


def _tn_core(x, axes, eps):
    """Tensor normalization without affine: statistics over the axes not in ``axes``."""
    red = tuple(a for a in range(x.ndim) if a not in axes)
    m = jnp.mean(x, axis=red, keepdims=True)
    v = jnp.mean(jnp.square(x - m), axis=red, keepdims=True)
    return (x - m) / jnp.sqrt(v + eps), m, v


def _affine_out(y, beta, gamma):
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y


# ---------------------------------------------------------------- tensor / layer / instance / group
def _tensor_normalization_full(x, beta=None, gamma=None, axes=(1,), eps=1e-5,
                               no_scale=False, no_bias=False):
    """Normalize by the mean and variance over the axes not in ``axes``."""
    y, m, v = _tn_core(x, axes, eps)
    return _affine_out(y, None if no_bias else beta, None if no_scale else gamma), m, v


_TN_STATS = _register_with_stats("TensorNormalization", _tensor_normalization_full)


def tensor_normalization(x, axes, beta=None, gamma=None, eps=1e-05, output_stat=False):
    """Normalize ``x`` by its mean and variance over the axes not in ``axes``.

    As NNabla's Python function, this is :func:`batch_normalization` with dummy running
    statistics and ``decay_rate=0``."""
    return batch_normalization(x, beta, gamma, None, None, axes=axes, decay_rate=0.0,
                               eps=eps, batch_stat=True, output_stat=output_stat)


def _layer_normalization_full(x, beta=None, gamma=None, batch_axis=(0,), eps=1e-5,
                              no_scale=False, no_bias=False):
    """Normalize each sample (statistics over the non-batch axes), then scale and shift."""
    y, m, v = _tn_core(x, batch_axis, eps)
    return _affine_out(y, None if no_bias else beta, None if no_scale else gamma), m, v


_LN_STATS = _register_with_stats("LayerNormalization", _layer_normalization_full)


def layer_normalization(x, beta, gamma, batch_axis=0, eps=1e-05, output_stat=False):
    """Layer normalization: mean and variance over every axis but ``batch_axis``;
    ``beta`` / ``gamma`` (optional) have x's shape with the batch axes set to 1."""
    fname = "layer_normalization"
    batch_axis = as_axes(fname, batch_axis, len(x.shape), "batch_axis")
    pshape = tuple(1 if a in batch_axis else int(s) for a, s in enumerate(x.shape))
    _check_param(fname, "beta", beta, pshape)
    _check_param(fname, "gamma", gamma, pshape)
    args = dict(batch_axis=batch_axis, eps=float(eps), no_scale=gamma is None,
                no_bias=beta is None)
    return _record("LayerNormalization", _LN_STATS, [x, beta, gamma], args, output_stat)


def _instance_normalization_full(x, beta=None, gamma=None, channel_axis=1, batch_axis=(0,),
                                 eps=1e-5, no_scale=False, no_bias=False):
    """Normalize each (sample, channel) over the remaining axes, then scale and shift."""
    y, m, v = _tn_core(x, list(batch_axis) + [channel_axis], eps)
    return _affine_out(y, None if no_bias else beta, None if no_scale else gamma), m, v


_IN_STATS = _register_with_stats("InstanceNormalization", _instance_normalization_full)


def _broadcastable(shape, target):
    return len(shape) == len(target) and all(s == t or s == 1 for s, t in zip(shape, target))


def instance_normalization(x, beta, gamma, channel_axis=1, batch_axis=0, eps=1e-05,
                           output_stat=False):
    """Instance normalization: mean and variance per (batch axes, channel) over the other
    axes. ``beta`` / ``gamma`` have the statistics' shape, or a shape broadcastable to it
    with the channel size (e.g. (1, C, 1, 1))."""
    fname = "instance_normalization"
    ndim = len(x.shape)
    channel_axis = norm_axis(channel_axis, ndim, fname, "channel_axis")
    batch_axis = as_axes(fname, batch_axis, ndim, "batch_axis")
    if channel_axis in batch_axis:
        raise ValueError(f"{fname}: channel_axis {channel_axis} is also in batch_axis "
                         f"{batch_axis}")
    adapt = _stat_shape(x.shape, batch_axis + [channel_axis])
    for name, v in (("beta", beta), ("gamma", gamma)):
        if v is None or int_shape(v) == adapt:
            continue
        if not (_broadcastable(int_shape(v), adapt)
                and v.shape[channel_axis] == adapt[channel_axis]):
            raise ValueError(f"{fname}: {name} shape {int_shape(v)} must be {adapt} or broadcast "
                             f"to it with the channel size {adapt[channel_axis]}")
    args = dict(channel_axis=channel_axis, batch_axis=batch_axis, eps=float(eps),
                no_scale=gamma is None, no_bias=beta is None)
    return _record("InstanceNormalization", _IN_STATS, [x, beta, gamma], args, output_stat)


def _group_normalization_full(x, beta=None, gamma=None, num_groups=1, channel_axis=1,
                              batch_axis=(0,), eps=1e-5, no_scale=False, no_bias=False):
    """Split the channels into ``num_groups`` groups, instance-normalize the groups, then
    scale and shift per channel. The statistics have the grouped shape."""
    c = x.shape[channel_axis]
    gshape = x.shape[:channel_axis] + (num_groups, c // num_groups) + x.shape[channel_axis + 1:]
    y, m, v = _tn_core(x.reshape(gshape), list(batch_axis) + [channel_axis], eps)
    y = y.reshape(x.shape)
    return _affine_out(y, None if no_bias else beta, None if no_scale else gamma), m, v


_GN_STATS = _register_with_stats("GroupNormalization", _group_normalization_full)


def group_normalization(x, beta, gamma, num_groups, channel_axis=1, batch_axis=0, eps=1e-05,
                        output_stat=False):
    """Group normalization: channels split into ``num_groups`` groups normalized like
    instance normalization on x reshaped to (..., num_groups, C // num_groups, ...);
    ``beta`` / ``gamma`` are per channel (shape 1 except C at ``channel_axis``)."""
    fname = "group_normalization"
    ndim = len(x.shape)
    channel_axis = norm_axis(channel_axis, ndim, fname, "channel_axis")
    # a negative batch axis counts from the end of x (as NNabla), then indexes the grouped shape
    batch_axis = [int(b) + ndim if int(b) < 0 else int(b)
                  for b in ([batch_axis] if isinstance(batch_axis, (int, np.integer))
                            else batch_axis)]
    batch_axis = as_axes(fname, batch_axis, ndim + 1, "batch_axis")
    num_groups = int(num_groups)
    c = x.shape[channel_axis]
    if num_groups < 1 or c % num_groups:
        raise ValueError(f"{fname}: channel size {c} (x shape {int_shape(x)}, channel_axis "
                         f"{channel_axis}) must be a multiple of num_groups={num_groups}")
    pshape = _stat_shape(x.shape, [channel_axis])
    _check_param(fname, "beta", beta, pshape)
    _check_param(fname, "gamma", gamma, pshape)
    args = dict(num_groups=num_groups, channel_axis=channel_axis, batch_axis=batch_axis,
                eps=float(eps), no_scale=gamma is None, no_bias=beta is None)
    return _record("GroupNormalization", _GN_STATS, [x, beta, gamma], args, output_stat)


# ---------------------------------------------------------------- norm / weight normalization
@lowering("NormNormalization")
def _norm_normalization(x, p=2.0, axes=None, eps=1e-12):
    axes = tuple(axes)
    norm = (jnp.sum(jnp.abs(x) ** p, axis=axes, keepdims=True) + eps) ** (1.0 / p)
    return x / norm


def norm_normalization(x, p=None, axes=None, eps=1e-12):
    """``x / (sum(|x|^p over axes) + eps)^(1/p)`` (p defaults to 2, axes to all)."""
    fname = "norm_normalization"
    p = 2.0 if p is None else float(p)
    if p <= 0:
        raise ValueError(f"{fname}: p must be positive, got {p}")
    axes = list(range(len(x.shape))) if axes is None else as_axes(fname, axes, len(x.shape))
    return call("NormNormalization", [x], dict(p=p, axes=axes, eps=float(eps)))
