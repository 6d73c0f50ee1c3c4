"""Convolution PFs beyond core's conv/deconv: depthwise (de)convolution, deformable convolution."""
from .. import functions as F
from ..initializer import UniformInitializer, calc_uniform_lim_glorot
from ._common import _bias, _tuple
from .core import _param, parametric_function_api


@parametric_function_api("depthwise_conv", [
    ("W", "Filter weights", "(inmaps * multiplier, *kernel)", True),
    ("b", "Bias vector", "(inmaps * multiplier,)", True)])
def depthwise_convolution(inp, kernel, pad=None, stride=None, dilation=None, multiplier=1,
                          w_init=None, b_init=None, base_axis=1, fix_parameters=False,
                          rng=None, with_bias=True):
    """Depthwise convolution: parameters ``depthwise_conv/W`` (C * multiplier, *kernel) and
    ``depthwise_conv/b`` (C * multiplier,)."""
    kernel = _tuple(kernel)
    c = int(inp.shape[base_axis])
    if w_init is None:
        w_init = UniformInitializer(calc_uniform_lim_glorot(c * multiplier, c, kernel), rng=rng)
    w = _param("W", (c * multiplier,) + kernel, w_init, True, fix_parameters)
    b = _bias((c * multiplier,), b_init, with_bias, fix_parameters)
    return F.depthwise_convolution(inp, w, b, base_axis, pad, stride, dilation, multiplier)


@parametric_function_api("depthwise_deconv", [
    ("W", "Filter weights", "(inmaps,) + kernel", True),
    ("b", "Bias vector", "(inmaps / divisor,)", True)])
def depthwise_deconvolution(inp, kernel, pad=None, stride=None, dilation=None, divisor=1,
                            w_init=None, b_init=None, base_axis=1, fix_parameters=False,
                            rng=None, with_bias=True):
    """Depthwise deconvolution: parameters ``depthwise_deconv/W`` (C, *kernel) and
    ``depthwise_deconv/b`` (C // divisor,)."""
    kernel = _tuple(kernel)
    c = int(inp.shape[base_axis])
    if w_init is None:
        w_init = UniformInitializer(calc_uniform_lim_glorot(c, c, kernel), rng=rng)
    w = _param("W", (c,) + kernel, w_init, True, fix_parameters)
    b = _bias((c // divisor,), b_init, with_bias, fix_parameters)
    return F.depthwise_deconvolution(inp, w, b, base_axis, pad, stride, dilation, divisor)


@parametric_function_api("deformable_conv", [
    ("W", "Filter weights", "(outmaps, inmaps // group, *kernel)", True),
    ("b", "Bias vector", "(outmaps,)", True)])
def deformable_convolution(inp, outmaps, kernel, offset, mask=None, pad=None, stride=None,
                           dilation=None, group=1, deformable_group=1, channel_last=False,
                           w_init=None, b_init=None, base_axis=1, fix_parameters=False,
                           rng=None, with_bias=True, apply_w=None, apply_b=None):
    """2-D deformable convolution (v2 with ``mask``): parameters ``deformable_conv/W`` and
    ``deformable_conv/b``."""
    kernel = _tuple(kernel)
    if channel_last:
        channels = int(inp.shape[-1])
        filter_shape = kernel + (channels // group,)
    else:
        channels = int(inp.shape[base_axis])
        filter_shape = (channels // group,) + kernel
    if w_init is None:
        w_init = UniformInitializer(calc_uniform_lim_glorot(channels, outmaps, kernel), rng=rng)
    w = _param("W", (outmaps,) + filter_shape, w_init, True, fix_parameters)
    if apply_w is not None:
        w = apply_w(w)
    b = _bias((outmaps,), b_init, with_bias, fix_parameters)
    if b is not None and apply_b is not None:
        b = apply_b(b)
    return F.deformable_convolution(inp, w, offset, mask, b, base_axis, pad, stride, dilation,
                                    group, deformable_group, channel_last)
