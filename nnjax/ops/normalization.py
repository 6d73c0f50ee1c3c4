"""Normalization: batch normalization with running statistics."""
import jax.numpy as jnp
import numpy as np

from ._common import call, lowering, norm_axes

_CAT = "Normalization"


@lowering("BatchNormalization", state_inputs=(3, 4), category=_CAT)
def _batch_normalization(x, beta, gamma, mean, var, axes=(1,), decay_rate=0.9, eps=1e-5,
                         batch_stat=True, no_scale=False, no_bias=False):
    """Outputs y (and, with output_stat, batch mean and var), then the new running
    mean and var (state). Running var is updated with the unbiased batch variance."""
    reduce_axes = tuple(a for a in range(x.ndim) if a not in axes)
    stat_shape = tuple(x.shape[a] if a in axes else 1 for a in range(x.ndim))
    if batch_stat:
        m = jnp.mean(x, axis=reduce_axes, keepdims=True)
        v = jnp.mean(jnp.square(x - m), axis=reduce_axes, keepdims=True)
        n = 1
        for a in reduce_axes:
            n *= x.shape[a]
        unbiased = v * (n / max(n - 1, 1))
        new_mean = decay_rate * mean + (1 - decay_rate) * m.reshape(mean.shape) if mean is not None else None
        new_var = decay_rate * var + (1 - decay_rate) * unbiased.reshape(var.shape) if var is not None else None
    else:
        m = mean.reshape(stat_shape)
        v = var.reshape(stat_shape)
        new_mean, new_var = mean, var
    y = (x - m) / jnp.sqrt(v + eps)
    if gamma is not None and not no_scale:
        y = y * gamma.reshape(stat_shape)
    if beta is not None and not no_bias:
        y = y + beta.reshape(stat_shape)
    return y, new_mean, new_var


@lowering("BatchNormalizationWithStats", state_inputs=(3, 4), category=_CAT)
def _batch_normalization_with_stats(x, beta, gamma, mean, var, axes=(1,), decay_rate=0.9,
                                    eps=1e-5, batch_stat=True, no_scale=False, no_bias=False):
    reduce_axes = tuple(a for a in range(x.ndim) if a not in axes)
    y, new_mean, new_var = _batch_normalization(x, beta, gamma, mean, var, axes, decay_rate,
                                                eps, batch_stat, no_scale, no_bias)
    m = jnp.mean(x, axis=reduce_axes, keepdims=True)
    v = jnp.mean(jnp.square(x - m), axis=reduce_axes, keepdims=True)
    return y, m, v, new_mean, new_var


def batch_normalization(x, beta, gamma, mean, var, axes=[1], decay_rate=0.9, eps=1e-05,
                        batch_stat=True, output_stat=False, n_outputs=None):
    """Batch normalization over all axes but ``axes``.

    With ``batch_stat`` the batch statistics normalize ``x`` and the running
    ``mean``/``var`` are updated in place (``decay_rate``); otherwise the
    running statistics are used. ``beta``/``gamma`` may be None (no bias/scale).
    """
    from .._variable import Variable
    axes = norm_axes(axes, len(x.shape), "batch_normalization")
    stat_shape = tuple(x.shape[a] if a in axes else 1 for a in range(len(x.shape)))
    for name, v in (("beta", beta), ("gamma", gamma), ("mean", mean), ("var", var)):
        if v is not None and int(np.prod(v.shape)) != int(np.prod(stat_shape)):
            raise ValueError(f"batch_normalization: {name} shape {tuple(v.shape)} does not "
                             f"match x shape {tuple(x.shape)} with axes {axes} "
                             f"(expected {stat_shape})")
    if mean is None or var is None:
        if not batch_stat:
            raise ValueError("batch_normalization: mean and var are required when batch_stat=False")
        mean = Variable(stat_shape) if mean is None else mean
        var = Variable(stat_shape) if var is None else var
        var.data.fill(1)
    args = dict(axes=axes, decay_rate=float(decay_rate), eps=float(eps),
                batch_stat=bool(batch_stat), no_scale=gamma is None, no_bias=beta is None)
    inputs = [x, beta, gamma, mean, var]
    if output_stat:
        return call("BatchNormalizationWithStats", inputs, args)
    return call("BatchNormalization", inputs, args)
