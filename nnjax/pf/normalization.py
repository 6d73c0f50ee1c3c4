"""Normalization PFs: fused/sync BN, mean subtraction, layer/instance/group/spectral/weight norm."""
import numpy as np

from .. import functions as F
from ..initializer import (ConstantInitializer, NormalInitializer,
                           WeightNormalizationScaleInitializer)
from ..parameter import get_parameter_or_create
from .core import _param, parametric_function_api


def _beta_gamma(shape, fix_parameters, param_init, no_bias, no_scale):
    beta = gamma = None
    if not no_bias:
        beta = _param("beta", shape, param_init.get("beta", ConstantInitializer(0)), True,
                      fix_parameters)
    if not no_scale:
        gamma = _param("gamma", shape, param_init.get("gamma", ConstantInitializer(1)), True,
                       fix_parameters)
    return beta, gamma


def _bn_params(inp, axes, fix_parameters, param_init, no_scale, no_bias):
    axes = [axes] if isinstance(axes, (int, np.integer)) else list(axes)
    shape_stat = [1] * len(inp.shape)
    for a in axes:
        shape_stat[a] = int(inp.shape[a])
    param_init = dict(param_init or {})
    beta, gamma = _beta_gamma(shape_stat, fix_parameters, param_init, no_bias, no_scale)
    mean = get_parameter_or_create("mean", shape_stat,
                                   param_init.get("mean", ConstantInitializer(0)), False)
    var = get_parameter_or_create("var", shape_stat,
                                  param_init.get("var", ConstantInitializer(1)), False)
    return axes, beta, gamma, mean, var


@parametric_function_api("bn", [
    ("beta", "Trainable bias", "<see above>", True),
    ("gamma", "Trainable scaling factor", "<see above>", True),
    ("mean", "Moving average of batch mean", "<see above>", False),
    ("var", "Moving average of batch variance", "<see above>", False)])
def fused_batch_normalization(inp, z=None, axes=[1], decay_rate=0.9, eps=1e-5,
                              batch_stat=True, nonlinearity="relu", output_stat=False,
                              fix_parameters=False, param_init=None, no_scale=False,
                              no_bias=False):
    """Batch normalization + residual ``z`` + relu: parameters ``bn/beta``, ``bn/gamma``,
    ``bn/mean``, ``bn/var``."""
    axes, beta, gamma, mean, var = _bn_params(inp, axes, fix_parameters, param_init,
                                              no_scale, no_bias)
    return F.fused_batch_normalization(inp, beta, gamma, mean, var, z, axes, decay_rate, eps,
                                       batch_stat, nonlinearity, output_stat)


@parametric_function_api("bn", [
    ("beta", "Trainable bias", "<see above>", True),
    ("gamma", "Trainable scaling factor", "<see above>", True),
    ("mean", "Moving average of batch mean", "<see above>", False),
    ("var", "Moving average of batch variance", "<see above>", False)])
def sync_batch_normalization(inp, comm, group="world", axes=[1], decay_rate=0.9, eps=1e-5,
                             batch_stat=True, output_stat=False, fix_parameters=False,
                             param_init=None, no_scale=False, no_bias=False):
    """Batch normalization with the statistics of all processes of ``group`` of ``comm``
    (see ``F.sync_batch_normalization``): parameters ``bn/beta``,
    ``bn/gamma``, ``bn/mean``, ``bn/var``."""
    axes, beta, gamma, mean, var = _bn_params(inp, axes, fix_parameters, param_init,
                                              no_scale, no_bias)
    return F.sync_batch_normalization(inp, beta, gamma, mean, var, comm, group, axes,
                                      decay_rate, eps, batch_stat, output_stat)


@parametric_function_api("mean_subtraction", [
    ("mean", "Moving average", "inp.shape[base_axis:]", False),
    ("t", "Minibatch counter used in forward pass", "(1,)", False)])
def mean_subtraction(inp, base_axis=1, update_running_mean=True, fix_parameters=False):
    """Mean subtraction: state ``mean_subtraction/mean`` (inp.shape[base_axis:]) and
    counter ``mean_subtraction/t`` (1,)."""
    shape = tuple(inp.shape[base_axis:])
    mean = get_parameter_or_create("mean", shape, ConstantInitializer(0), False)
    t = get_parameter_or_create("t", (1,), ConstantInitializer(0), False)
    return F.mean_subtraction(inp, mean, t, base_axis=base_axis,
                              update_running_mean=update_running_mean)


@parametric_function_api("layer_normalization", [
    ("beta", "Trainable bias", "<see above>", True),
    ("gamma", "Trainable scaling factor", "<see above>", True)])
def layer_normalization(inp, batch_axis=0, eps=1e-05, output_stat=False, fix_parameters=False,
                        param_init=None, no_scale=False, no_bias=False):
    """Layer normalization: ``layer_normalization/beta`` and ``/gamma`` of inp's shape with
    the batch axes set to 1 (per-element scale and bias)."""
    batch_axis = [batch_axis] if isinstance(batch_axis, (int, np.integer)) else list(batch_axis)
    shape_stat = [int(s) for s in inp.shape]
    for a in batch_axis:
        shape_stat[a] = 1
    beta, gamma = _beta_gamma(shape_stat, fix_parameters, dict(param_init or {}), no_bias,
                              no_scale)
    return F.layer_normalization(inp, beta, gamma, batch_axis=batch_axis, eps=eps,
                                 output_stat=output_stat)


@parametric_function_api("instance_normalization", [
    ("beta", "Trainable bias", "<see above>", True),
    ("gamma", "Trainable scaling factor", "<see above>", True)])
def instance_normalization(inp, channel_axis=1, batch_axis=0, eps=1e-05, output_stat=False,
                           fix_parameters=False, param_init=None, no_scale=False,
                           no_bias=False):
    """Instance normalization: per-channel ``instance_normalization/beta`` and ``/gamma``."""
    shape_stat = [1] * len(inp.shape)
    shape_stat[channel_axis] = int(inp.shape[channel_axis])
    beta, gamma = _beta_gamma(shape_stat, fix_parameters, dict(param_init or {}), no_bias,
                              no_scale)
    return F.instance_normalization(inp, beta, gamma, channel_axis=channel_axis,
                                    batch_axis=batch_axis, eps=eps, output_stat=output_stat)


@parametric_function_api("group_normalization", [
    ("beta", "Trainable bias", "<see above>", True),
    ("gamma", "Trainable scaling factor", "<see above>", True)])
def group_normalization(inp, num_groups, channel_axis=1, batch_axis=0, eps=1e-05,
                        output_stat=False, fix_parameters=False, param_init=None,
                        no_scale=False, no_bias=False):
    """Group normalization: per-channel ``group_normalization/beta`` and ``/gamma``."""
    batch_axis = [batch_axis] if isinstance(batch_axis, (int, np.integer)) else list(batch_axis)
    shape_stat = [1] * len(inp.shape)
    shape_stat[channel_axis] = int(inp.shape[channel_axis])
    beta, gamma = _beta_gamma(shape_stat, fix_parameters, dict(param_init or {}), no_bias,
                              no_scale)
    return F.group_normalization(inp, beta, gamma, num_groups=num_groups,
                                 channel_axis=channel_axis, batch_axis=batch_axis, eps=eps,
                                 output_stat=output_stat)


@parametric_function_api("spectral-norm", [
    ("u", "singular vector", "(w.shape[dim], )", False)])
def spectral_norm(w, dim=0, itr=1, eps=1e-12, test=False, u_init=None, fix_parameters=True):
    """Spectral normalization of ``w``: vector ``spectral-norm/u`` (w.shape[dim],), drawn
    from N(0, 1) by default and updated by the power iteration unless ``test``."""
    if not 0 <= dim < len(w.shape):
        raise ValueError(f"spectral_norm: dim={dim} must be in [0, {len(w.shape)})")
    if u_init is None:
        u_init = NormalInitializer()
    u = get_parameter_or_create("u", (int(w.shape[dim]),), u_init, False, False)
    return F.spectral_norm(w, u, dim=dim, itr=itr, eps=eps, test=test)


@parametric_function_api("wn", [
    ("g", "Weight Normalization adaptive scale scalar.", "w.shape[dim]", True)])
def weight_normalization(w, dim=0, eps=1e-12, g_init=None, fix_parameters=False):
    """Weight normalization ``g * w / ||w||``: scale ``wn/g`` (w.shape[dim],), initialized
    to the norms of ``w`` by default."""
    outmaps = int(w.shape[dim])
    if g_init is None:
        g_init = WeightNormalizationScaleInitializer(w, dim, eps)
    g = get_parameter_or_create("g", (outmaps,), initializer=g_init, need_grad=True,
                                as_need_grad=not fix_parameters)
    return F.weight_normalization(w, g, dim, eps)
