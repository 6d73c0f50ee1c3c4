"""Batch normalization (plain, fused, sync) and mean subtraction, with running statistics.

Functions whose output count depends on ``output_stat`` (NNabla's ``n_outputs``,
which is not one of their args) are recorded under their NNabla type name with a
second, unregistered spec returning the statistics too (see ``_call_spec``).
"""
import jax
import jax.numpy as jnp
from jax import lax

from .._apply import apply_function
from .._registry import variant_spec
from .._variable import Variable
from ._common import as_axes, call, int_shape, lowering, prod, round_to_storage


# ---------------------------------------------------------------- helpers

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
    axes = as_axes(fname, axes, ndim)
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
    h = round_to_storage(h)
    if z is not None:
        h = round_to_storage(h + z)
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
    """Batch normalization whose batch statistics are those of the batches of every
    process of ``group`` together (two exchanges: the sums, then the squared deviations).
    The exchange is differentiable, so the input gradients are those of the whole batch;
    beta and gamma gradients stay local, as NNabla's."""
    group_sum = comm.jax_group_sum(group) if comm is not None and batch_stat else None
    if group_sum is None:
        return _bn_core(x, beta, gamma, mean, variance, axes, decay_rate, eps, batch_stat)
    axes = tuple(axes)
    red = tuple(a for a in range(x.ndim) if a not in axes)
    n_local = jnp.full((1,), prod([x.shape[a] for a in red]), x.dtype)
    sums = group_sum(jnp.concatenate([jnp.sum(x, axis=red).reshape(-1), n_local]))
    n = lax.stop_gradient(sums[-1])
    m = (sums[:-1] / n).reshape(_stat_shape(x.shape, axes))
    v = group_sum(jnp.sum(jnp.square(x - m), axis=red).reshape(-1)) / n
    v = v.reshape(m.shape)
    unbiased = lax.stop_gradient(v) * (n / jnp.maximum(n - 1, 1))
    new_mean = decay_rate * mean + (1 - decay_rate) * lax.stop_gradient(m).reshape(mean.shape)
    new_var = decay_rate * variance + (1 - decay_rate) * unbiased.reshape(variance.shape)
    y = (x - m) / jnp.sqrt(v + eps)
    if gamma is not None:
        y = y * gamma.reshape(m.shape)
    if beta is not None:
        y = y + beta.reshape(m.shape)
    # The statistics as outputs (output_stat): every process holds the same values and
    # gradients arriving there are not summed over the processes (NNabla's rule), so
    # their gradient is that of the whole batch's statistics taken once.
    mean_part = jnp.sum(x, axis=red, keepdims=True) / n
    var_part = jnp.sum(jnp.square(x - lax.stop_gradient(m)), axis=red, keepdims=True) / n
    m_out = lax.stop_gradient(m) + (mean_part - lax.stop_gradient(mean_part))
    v_out = lax.stop_gradient(v) + (var_part - lax.stop_gradient(var_part))
    return y, m_out, v_out, new_mean, new_var


_SYNC_BN_STATS = _register_with_stats("SyncBatchNormalization", _sync_bn_full, (3, 4))


def sync_batch_normalization(x, beta, gamma, mean, variance, comm, group="world", axes=[1],
                             decay_rate=0.9, eps=1e-05, batch_stat=True, output_stat=False,
                             n_outputs=None):
    """Batch normalization with the batch statistics of all processes of ``group`` of
    ``comm`` (a ``nnabla.communicators`` communicator): equal to
    :func:`batch_normalization` on the batches of the group concatenated. In a world of
    one process it is :func:`batch_normalization`."""
    fname = "sync_batch_normalization"
    axes, mean, variance = _bn_inputs(fname, x, beta, gamma, mean, variance, axes,
                                      batch_stat, output_stat)
    args = dict(comm=comm, group=group, axes=axes, decay_rate=float(decay_rate),
                eps=float(eps), batch_stat=bool(batch_stat))
    return _record("SyncBatchNormalization", _SYNC_BN_STATS, [x, beta, gamma, mean, variance],
                   args, output_stat)


# ---------------------------------------------------------------- mean subtraction
@jax.custom_vjp
def _grad_scale(x, scale):
    return x


def _grad_scale_fwd(x, scale):
    return x, scale


def _grad_scale_bwd(scale, g):
    return g * scale, jnp.zeros_like(scale)


_grad_scale.defvjp(_grad_scale_fwd, _grad_scale_bwd)


@lowering("MeanSubtraction", state_inputs=(1, 2), prior_state_grad=True)
def _mean_subtraction(x, rmean, t, base_axis=1, update_running_mean=True):
    if not update_running_mean:
        return x - rmean, rmean, t
    batch = tuple(range(base_axis))
    n0 = prod(x.shape[:base_axis])
    count = lax.stop_gradient(t).reshape(()).astype(x.dtype)
    m = jnp.mean(lax.stop_gradient(x), axis=batch)
    new_mean = rmean + (m - rmean) / (count + 1)
    # NNabla's backward counts only the latest batch: dx = dy * (1 - 1 / (t * n0)) with
    # the counter t after its update (the backward reads the state the forward read)
    keep = 1 - 1 / ((count + 1) * n0)
    y = _grad_scale(x, keep) - lax.stop_gradient(new_mean)
    new_t = (count + 1).astype(t.dtype).reshape(t.shape)
    return y, new_mean, new_t


def mean_subtraction(x, mean, t, base_axis=1, update_running_mean=True):
    """``x - running mean``; with ``update_running_mean`` the running mean
    (shape x.shape[base_axis:]) and the counter ``t`` are first updated in place with
    the batch mean: ``mean += (batch_mean - mean) / (t + 1); t += 1``."""
    fname = "mean_subtraction"
    ndim = len(x.shape)
    base_axis = int(base_axis) + (ndim if base_axis < 0 else 0)  # negative: from the end
    if not 0 <= base_axis < ndim:
        raise ValueError(f"{fname}: base_axis={base_axis} must be in [-{ndim}, {ndim})")
    if int_shape(mean) != int_shape(x)[base_axis:]:
        raise ValueError(f"{fname}: mean shape {int_shape(mean)} must be x.shape[base_axis:] = "
                         f"{int_shape(x)[base_axis:]}")
    if t is not None and prod(t.shape) != 1:
        raise ValueError(f"{fname}: t must have one element, got shape {int_shape(t)}")
    if t is None and update_running_mean:
        raise ValueError(f"{fname}: t is required when update_running_mean=True")
    return call("MeanSubtraction", [x, mean, t],
                dict(base_axis=base_axis, update_running_mean=bool(update_running_mean)))
