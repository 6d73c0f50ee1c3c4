"""Normalization: batch / fused / sync batch normalization with running statistics,
tensor, layer, instance and group normalization, norm / weight normalization, weight
standardization, spectral norm, mean subtraction, gradient clipping, and NNabla's
Python composites (tensor_normalization, clip_by_value, clip_by_norm).

Functions whose output count depends on ``output_stat`` (NNabla's ``n_outputs``,
which is not one of their args) are recorded under their NNabla type name with a
second, unregistered spec returning the statistics too (see ``_call_spec``).
"""
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._apply import apply_function
from .._ndarray import NdArray
from .._registry import variant_spec
from .._variable import Variable
from . import arithmetic, logical, reduction
from ._common import call, int_shape, lowering, norm_axis, prod



# ---------------------------------------------------------------- helpers
def _as_axes(fname, axes, ndim, arg="axes"):
    if isinstance(axes, (int, np.integer)):
        axes = [axes]
    out = []
    for a in axes:
        a = norm_axis(a, ndim, fname, arg)
        if a in out:
            raise ValueError(f"{fname}: {arg} {list(axes)} repeats axis {a}")
        out.append(a)
    return out


def _stat_shape(shape, axes):
    """The shape keeping ``axes`` and setting every other axis to 1."""
    return tuple(int(shape[a]) if a in axes else 1 for a in range(len(shape)))


def _call_spec(spec, inputs, args, outputs=None):
    """Record ``spec`` (a variant of a registered type returning extra outputs)."""
    return apply_function(spec.type_name, list(inputs), args, outputs=outputs, spec=spec)


def _register_with_stats(type_name, full, state_inputs=()):
    """Register the 1-output lowering of ``full`` (which returns y, mean, var, then the
    state updates) and return the variant spec returning all three outputs."""
    n_state = len(state_inputs)

    def single(*args, **kwargs):
        r = full(*args, **kwargs)
        return (r[0],) + tuple(r[3:]) if n_state else r[0]

    single.__doc__ = full.__doc__
    single.__name__ = full.__name__ + "_y"
    lowering(type_name, state_inputs=state_inputs)(single)
    return variant_spec(type_name, full, state_inputs=tuple(state_inputs))


def _record(type_name, variant, inputs, args, output_stat, outputs=None):
    if output_stat:
        return _call_spec(variant, inputs, args, outputs)
    return call(type_name, inputs, args, outputs)


def _check_param(fname, name, v, expected):
    if v is not None and int_shape(v) != tuple(expected):
        raise ValueError(f"{fname}: {name} shape {int_shape(v)} must be {tuple(expected)}")


# ---------------------------------------------------------------- core math
def _bn_core(x, beta, gamma, mean, var, axes, decay_rate, eps, batch_stat):
    """y, batch mean, batch var (biased; shapes keep ``axes``), new running mean/var."""
    axes = tuple(axes)
    red = tuple(a for a in range(x.ndim) if a not in axes)
    stat = _stat_shape(x.shape, axes)
    if batch_stat:
        m = jnp.mean(x, axis=red, keepdims=True)
        v = jnp.mean(jnp.square(x - m), axis=red, keepdims=True)
        n = prod([x.shape[a] for a in red])
        unbiased = lax.stop_gradient(v) * (n / max(n - 1, 1))
        new_mean = None if mean is None else \
            decay_rate * mean + (1 - decay_rate) * lax.stop_gradient(m).reshape(mean.shape)
        new_var = None if var is None else \
            decay_rate * var + (1 - decay_rate) * unbiased.reshape(var.shape)
        mu, sigma2 = m, v
    else:
        mu = lax.stop_gradient(mean).reshape(stat)
        sigma2 = lax.stop_gradient(var).reshape(stat)
        m, v = mu, sigma2
        new_mean, new_var = mean, var
    y = (x - mu) / jnp.sqrt(sigma2 + eps)
    if gamma is not None:
        y = y * gamma.reshape(stat)
    if beta is not None:
        y = y + beta.reshape(stat)
    return y, m, v, new_mean, new_var


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


# ---------------------------------------------------------------- batch normalization
def _batch_normalization_full(x, beta, gamma, mean, variance, axes=(1,), decay_rate=0.9,
                              eps=1e-5, batch_stat=True, no_scale=False, no_bias=False):
    """y, batch mean, batch var, then the updated running mean and var."""
    y, m, v, nm, nv = _bn_core(x, None if no_bias else beta, None if no_scale else gamma,
                               mean, variance, axes, decay_rate, eps, batch_stat)
    return y, m, v, nm, nv


_BN_STATS = _register_with_stats("BatchNormalization", _batch_normalization_full, (3, 4))


def _bn_inputs(fname, x, beta, gamma, mean, variance, axes, batch_stat, output_stat):
    ndim = len(x.shape)
    axes = _as_axes(fname, axes, ndim)
    if not axes:
        raise ValueError(f"{fname}: axes must name at least one axis")
    if output_stat and not batch_stat:
        raise ValueError(f"{fname}: output_stat=True needs batch_stat=True")
    if not batch_stat and (mean is None or variance is None):
        raise ValueError(f"{fname}: mean and variance are required when batch_stat=False")
    stat = _stat_shape(x.shape, axes)
    for name, v in (("beta", beta), ("gamma", gamma), ("mean", mean), ("variance", variance)):
        if v is not None and int_shape(v) != stat:
            raise ValueError(f"{fname}: {name} shape {int_shape(v)} does not match x shape "
                             f"{int_shape(x)} with axes {axes} (expected {stat})")
    if batch_stat:
        for name, v in (("mean", mean), ("variance", variance)):
            if isinstance(v, Variable) and v.parent is not None:
                raise ValueError(f"{fname}: with batch_stat=True, {name} must not have a "
                                 "parent function (it is updated in place)")
    if mean is None:
        mean = Variable(stat, need_grad=False)
        mean.data.zero()
    if variance is None:
        variance = Variable(stat, need_grad=False)
        variance.data.fill(1)
    return axes, mean, variance


def batch_normalization(x, beta, gamma, mean, variance, axes=[1], decay_rate=0.9, eps=1e-05,
                        batch_stat=True, output_stat=False, n_outputs=None):
    """Batch normalization over all axes but ``axes``.

    With ``batch_stat`` the batch statistics normalize ``x`` and the running ``mean`` /
    ``variance`` are updated in place: ``r = decay_rate r + (1 - decay_rate) s`` (the
    variance with the unbiased batch variance). Otherwise the running statistics are
    used. ``beta`` / ``gamma`` may be None (no bias / scale); ``mean`` / ``variance`` may
    be None with ``batch_stat`` (dummies). ``output_stat`` also returns the batch mean
    and (biased) variance.
    """
    fname = "batch_normalization"
    axes, mean, variance = _bn_inputs(fname, x, beta, gamma, mean, variance, axes,
                                      batch_stat, output_stat)
    args = dict(axes=axes, decay_rate=float(decay_rate), eps=float(eps),
                batch_stat=bool(batch_stat), no_scale=gamma is None, no_bias=beta is None)
    return _record("BatchNormalization", _BN_STATS, [x, beta, gamma, mean, variance], args,
                   output_stat)


def _fused_bn_full(x, beta, gamma, mean, variance, z=None, axes=(1,), decay_rate=0.9,
                   eps=1e-5, batch_stat=True, nonlinearity="relu"):
    """relu(batch_normalization(x) + z), batch mean, batch var, running mean, running var."""
    h, m, v, nm, nv = _bn_core(x, beta, gamma, mean, variance, axes, decay_rate, eps,
                               batch_stat)
    if z is not None:
        h = h + z
    return jnp.where(h > 0, h, jnp.zeros_like(h)), m, v, nm, nv


_FUSED_BN_STATS = _register_with_stats("FusedBatchNormalization", _fused_bn_full, (3, 4))


def fused_batch_normalization(x, beta, gamma, mean, variance, z=None, axes=[1],
                              decay_rate=0.9, eps=1e-05, batch_stat=True, nonlinearity="relu",
                              output_stat=False, n_outputs=None):
    """``relu(batch_normalization(x, ...) + z)`` (``z`` optional); see
    :func:`batch_normalization`."""
    fname = "fused_batch_normalization"
    if nonlinearity != "relu":
        raise ValueError(f"{fname}: only nonlinearity='relu' is supported, got "
                         f"{nonlinearity!r}")
    axes, mean, variance = _bn_inputs(fname, x, beta, gamma, mean, variance, axes,
                                      batch_stat, output_stat)
    if z is not None and int_shape(z) != int_shape(x):
        raise ValueError(f"{fname}: z shape {int_shape(z)} must equal x shape {int_shape(x)}")
    args = dict(axes=axes, decay_rate=float(decay_rate), eps=float(eps),
                batch_stat=bool(batch_stat), nonlinearity=nonlinearity)
    return _record("FusedBatchNormalization", _FUSED_BN_STATS,
                   [x, beta, gamma, mean, variance, z], args, output_stat)


def _sync_bn_full(x, beta, gamma, mean, variance, comm=None, group="world", axes=(1,),
                  decay_rate=0.9, eps=1e-5, batch_stat=True):
    """Batch normalization; in one process the statistics are the local ones."""
    return _bn_core(x, beta, gamma, mean, variance, axes, decay_rate, eps, batch_stat)


_SYNC_BN_STATS = _register_with_stats("SyncBatchNormalization", _sync_bn_full, (3, 4))


def sync_batch_normalization(x, beta, gamma, mean, variance, comm, group="world", axes=[1],
                             decay_rate=0.9, eps=1e-05, batch_stat=True, output_stat=False,
                             n_outputs=None):
    """Batch normalization with statistics synchronized over the processes of ``comm``.

    nnjax runs in one process: this equals :func:`batch_normalization`."""
    fname = "sync_batch_normalization"
    axes, mean, variance = _bn_inputs(fname, x, beta, gamma, mean, variance, axes,
                                      batch_stat, output_stat)
    args = dict(comm=comm, group=group, axes=axes, decay_rate=float(decay_rate),
                eps=float(eps), batch_stat=bool(batch_stat))
    return _record("SyncBatchNormalization", _SYNC_BN_STATS, [x, beta, gamma, mean, variance],
                   args, output_stat)


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
    batch_axis = _as_axes(fname, batch_axis, len(x.shape), "batch_axis")
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
    batch_axis = _as_axes(fname, batch_axis, ndim, "batch_axis")
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
    batch_axis = _as_axes(fname, batch_axis, ndim + 1, "batch_axis")
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


def _weight_standardization_full(w, channel_axis=0, eps=1e-5):
    """Standardize ``w`` per output channel: statistics over every other axis."""
    return _tn_core(w, [channel_axis], eps)


_WS_STATS = _register_with_stats("WeightStandardization", _weight_standardization_full)


def weight_standardization(w, channel_axis=0, eps=1e-05, output_stat=False):
    """``(w - mean) / sqrt(var + eps)`` with statistics per ``channel_axis`` (0 for
    convolution weights, 1 for affine weights)."""
    channel_axis = norm_axis(channel_axis, len(w.shape), "weight_standardization",
                             "channel_axis")
    return _record("WeightStandardization", _WS_STATS, [w],
                   dict(channel_axis=channel_axis, eps=float(eps)), output_stat)


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
    axes = list(range(len(x.shape))) if axes is None else _as_axes(fname, axes, len(x.shape))
    return call("NormNormalization", [x], dict(p=p, axes=axes, eps=float(eps)))


@lowering("WeightNormalization")
def _weight_normalization(w, g, dim=0, eps=1e-12):
    red = tuple(a for a in range(w.ndim) if a != dim)
    scale = jnp.sum(jnp.square(w), axis=red, keepdims=True) + eps
    gshape = [1] * w.ndim
    gshape[dim] = w.shape[dim]
    return w / jnp.sqrt(scale) * g.reshape(gshape)


def weight_normalization(w, g, dim=0, eps=1e-12, n_outputs=-1, outputs=None):
    """``g * w / ||w||`` with the norm over every axis but ``dim`` (``eps`` added inside
    the square root); ``g`` has shape (w.shape[dim],)."""
    fname = "weight_normalization"
    dim = norm_axis(dim, len(w.shape), fname, "dim")
    if int_shape(g) != (w.shape[dim],):
        raise ValueError(f"{fname}: g shape {int_shape(g)} must be ({w.shape[dim]},) for w of "
                         f"shape {int_shape(w)} and dim={dim}")
    if not eps > 0:
        raise ValueError(f"{fname}: eps must be positive, got {eps}")
    return call("WeightNormalization", [w, g], dict(dim=dim, eps=float(eps)), outputs)


# ---------------------------------------------------------------- spectral norm
@lowering("SpectralNorm", state_inputs=(1,))
def _spectral_norm(w, u, dim=0, itr=1, eps=1e-12, test=False, output_u=False):
    wt = jnp.moveaxis(w, dim, 0)
    mat = wt.reshape(wt.shape[0], -1)
    fixed = lax.stop_gradient(mat)
    uu = lax.stop_gradient(u).reshape(-1)
    v = None
    for _ in range(itr):
        v = uu @ fixed
        v = v / jnp.sqrt(jnp.sum(v * v) + eps)
        uu = fixed @ v
        uu = uu / jnp.sqrt(jnp.sum(uu * uu) + eps)
    sigma = uu @ (mat @ v)
    w_sn = jnp.moveaxis((mat / sigma).reshape(wt.shape), 0, dim)
    new_u = u if test else uu.reshape(u.shape)
    if output_u:
        return w_sn, uu.reshape(u.shape), new_u
    return w_sn, new_u


def spectral_norm(w, u, dim=0, itr=1, eps=1e-12, test=False, output_u=False):
    """``w / sigma(w)`` with the largest singular value of w (``dim`` moved first,
    flattened to a matrix) estimated by ``itr`` power iterations from ``u``
    (shape (w.shape[dim],)). ``u`` is updated in place unless ``test``; ``output_u``
    also returns the iterated ``u``."""
    fname = "spectral_norm"
    dim = norm_axis(dim, len(w.shape), fname, "dim")
    if int_shape(u) != (w.shape[dim],):
        raise ValueError(f"{fname}: u shape {int_shape(u)} must be ({w.shape[dim]},) for w of "
                         f"shape {int_shape(w)} and dim={dim}")
    itr = int(itr)
    if itr < 1:
        raise ValueError(f"{fname}: itr must be > 0, got {itr}")
    if not eps > 0:
        raise ValueError(f"{fname}: eps must be > 0, got {eps}")
    return call("SpectralNorm", [w, u], dict(dim=dim, itr=itr, eps=float(eps), test=bool(test),
                                             output_u=bool(output_u)))


# ---------------------------------------------------------------- mean subtraction
@jax.custom_vjp
def _grad_scale(x, scale):
    return x


def _grad_scale_fwd(x, scale):
    return x, scale


def _grad_scale_bwd(scale, g):
    return g * scale, jnp.zeros_like(scale)


_grad_scale.defvjp(_grad_scale_fwd, _grad_scale_bwd)


@lowering("MeanSubtraction", state_inputs=(1, 2))
def _mean_subtraction(x, rmean, t, base_axis=1, update_running_mean=True):
    if not update_running_mean:
        return x - rmean, rmean, t
    batch = tuple(range(base_axis))
    n0 = prod(x.shape[:base_axis])
    count = lax.stop_gradient(t).reshape(()).astype(x.dtype)
    m = jnp.mean(lax.stop_gradient(x), axis=batch)
    new_mean = rmean + (m - rmean) / (count + 1)
    # NNabla's backward counts only the latest batch: dx = dy * (1 - 1 / (t * n0)) with
    # the counter t after its update. nnjax differentiates by re-running the function
    # on the inputs' current values, i.e. after the in-place update of t, so the count
    # seen here at backward time is already t + 1.
    keep = 1 - 1 / (jnp.maximum(count, 1) * n0)
    y = _grad_scale(x, keep) - lax.stop_gradient(new_mean)
    new_t = (count + 1).astype(t.dtype).reshape(t.shape)
    return y, new_mean, new_t


def mean_subtraction(x, mean, t, base_axis=1, update_running_mean=True):
    """``x - running mean``; with ``update_running_mean`` the running mean
    (shape x.shape[base_axis:]) and the counter ``t`` are first updated in place with
    the batch mean: ``mean += (batch_mean - mean) / (t + 1); t += 1``."""
    fname = "mean_subtraction"
    ndim = len(x.shape)
    base_axis = int(base_axis)
    if not 0 <= base_axis < ndim:
        raise ValueError(f"{fname}: base_axis={base_axis} must be in [0, {ndim})")
    if int_shape(mean) != int_shape(x)[base_axis:]:
        raise ValueError(f"{fname}: mean shape {int_shape(mean)} must be x.shape[base_axis:] = "
                         f"{int_shape(x)[base_axis:]}")
    if t is not None and prod(t.shape) != 1:
        raise ValueError(f"{fname}: t must have one element, got shape {int_shape(t)}")
    if t is None and update_running_mean:
        raise ValueError(f"{fname}: t is required when update_running_mean=True")
    return call("MeanSubtraction", [x, mean, t],
                dict(base_axis=base_axis, update_running_mean=bool(update_running_mean)))


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


def clip_grad_by_norm(x, clip_norm=None, axes=None, n_outputs=-1, outputs=None):
    """Identity forward; backward ``g_x = clip_norm * g_y / ||g_y||`` with the L2 norm
    over ``axes`` (default: all)."""
    fname = "clip_grad_by_norm"
    clip_norm = 1.0 if clip_norm is None else float(clip_norm)
    axes = list(range(len(x.shape))) if axes is None else _as_axes(fname, axes, len(x.shape))
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
