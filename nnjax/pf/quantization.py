"""Quantized-copy PFs: fixed-point, pow2, pruned and min-max quantized affine/convolution.

Parameter names, shapes, creation order and default initializers follow
NNabla. The quantized copies (``W_q``, ``b_q``) are parameters without
gradient that the forward pass fills.
"""
import numpy as np

from .. import functions as F
from ..initializer import ConstantInitializer
from ..parameter import get_parameter_or_create
from ._common import _affine_w_init, _conv_w_init, _outmaps_list
from .core import parametric_function_api


def _quantized(param, name, shape, init, enabled, quantizer):
    """Create ``name`` (the quantized copy of ``param``) and the quantizer writing into it."""
    if not enabled:
        return param
    q = get_parameter_or_create(name, shape, init, False)
    out = quantizer(param, [q.data])
    out.persistent = True
    return out


def _q_affine(inp, n_outmaps, base_axis, w_init, b_init, fix_parameters, rng,
              with_bias, quantize_w, quantize_b, quantizer_w, quantizer_b):
    n_outmaps = _outmaps_list(n_outmaps)
    inmaps = int(np.prod(inp.shape[base_axis:]))
    w_init = _affine_w_init(w_init, inp, base_axis, n_outmaps, rng)
    if with_bias and b_init is None:
        b_init = ConstantInitializer()
    w = get_parameter_or_create("W", [inmaps] + n_outmaps, w_init, True, not fix_parameters)
    real_w = _quantized(w, "W_q", [inmaps] + n_outmaps, w_init, quantize_w, quantizer_w)
    real_b = None
    if with_bias:
        b = get_parameter_or_create("b", n_outmaps, b_init, True, not fix_parameters)
        real_b = _quantized(b, "b_q", n_outmaps, b_init, quantize_b, quantizer_b)
    return F.affine(inp, real_w, real_b, base_axis)


@parametric_function_api("fp_quantized_affine", [
    ("W", "Weight matrix in float", "(inmaps, outmaps)", True),
    ("b", "Bias vector in float", "(outmaps,)", True),
    ("W_q", "Quantized weights", "(inmaps, outmaps)", False),
    ("b_q", "Quantized biases", "(outmaps,)", False)])
def fixed_point_quantized_affine(inp, n_outmaps, base_axis=1, w_init=None, b_init=None,
                                 fix_parameters=False, rng=None, with_bias=True,
                                 quantize_w=True, sign_w=True, n_w=8, delta_w=2**-4,
                                 ste_fine_grained_w=True, quantize_b=True, sign_b=True, n_b=8,
                                 delta_b=2**-4, ste_fine_grained_b=True):
    """Affine with fixed-point quantized weight and bias (``W_q``, ``b_q``)."""
    def qw(v, outputs):
        return F.fixed_point_quantize(v, sign=sign_w, n=n_w, delta=delta_w,
                                      ste_fine_grained=ste_fine_grained_w, outputs=outputs)

    def qb(v, outputs):
        return F.fixed_point_quantize(v, sign=sign_b, n=n_b, delta=delta_b,
                                      ste_fine_grained=ste_fine_grained_b, outputs=outputs)

    return _q_affine(inp, n_outmaps, base_axis, w_init, b_init, fix_parameters, rng,
                     with_bias, quantize_w, quantize_b, qw, qb)


@parametric_function_api("pow2_quantized_affine", [
    ("W", "Weight matrix in float", "(inmaps, outmaps)", True),
    ("b", "Bias vector in float", "(outmaps,)", True),
    ("W_q", "Quantized weights", "(inmaps, outmaps)", False),
    ("b_q", "Quantized biases", "(outmaps,)", False)])
def pow2_quantized_affine(inp, n_outmaps, base_axis=1, w_init=None, b_init=None,
                          fix_parameters=False, rng=None, with_bias=True, quantize_w=True,
                          sign_w=True, with_zero_w=False, n_w=8, m_w=2, ste_fine_grained_w=True,
                          quantize_b=True, sign_b=True, with_zero_b=False, n_b=8, m_b=2,
                          ste_fine_grained_b=True):
    """Affine with power-of-two quantized weight and bias (``W_q``, ``b_q``)."""
    def qw(v, outputs):
        return F.pow2_quantize(v, sign=sign_w, with_zero=with_zero_w, n=n_w, m=m_w,
                               ste_fine_grained=ste_fine_grained_w, outputs=outputs)

    def qb(v, outputs):
        return F.pow2_quantize(v, sign=sign_b, with_zero=with_zero_b, n=n_b, m=m_b,
                               ste_fine_grained=ste_fine_grained_b, outputs=outputs)

    return _q_affine(inp, n_outmaps, base_axis, w_init, b_init, fix_parameters, rng,
                     with_bias, quantize_w, quantize_b, qw, qb)


@parametric_function_api("pruned_affine", [
    ("W", "Weight matrix in float", "(inmaps, outmaps)", True),
    ("b", "Bias vector in float", "(outmaps,)", True),
    ("W_q", "Quantized weights", "(inmaps, outmaps)", False),
    ("b_q", "Quantized biases", "(outmaps,)", False)])
def pruned_affine(inp, n_outmaps, base_axis=1, w_init=None, b_init=None, fix_parameters=False,
                  rng=None, with_bias=True, prune_w=True, rate_w=0.9, prune_b=True, rate_b=0.9):
    """Affine with pruned weight and bias (``W_q``, ``b_q``, see ``F.prune``)."""
    def qw(v, outputs):
        return F.prune(v, rate=rate_w, outputs=outputs)

    def qb(v, outputs):
        return F.prune(v, rate=rate_b, outputs=outputs)

    return _q_affine(inp, n_outmaps, base_axis, w_init, b_init, fix_parameters, rng,
                     with_bias, prune_w, prune_b, qw, qb)


def _q_conv(inp, outmaps, kernel, pad, stride, dilation, group, channel_last, w_init, b_init,
            base_axis, fix_parameters, rng, with_bias, w_shape, wq_shape, quantize_w, quantize_b,
            quantizer_w, quantizer_b, pass_channel_last):
    channels = inp.shape[-1] if channel_last else inp.shape[base_axis]
    w_init = _conv_w_init(w_init, channels, outmaps, kernel, rng)
    if with_bias and b_init is None:
        b_init = ConstantInitializer()
    w = get_parameter_or_create("W", w_shape, w_init, True, not fix_parameters)
    real_w = _quantized(w, "W_q", wq_shape, w_init, quantize_w, quantizer_w)
    real_b = None
    if with_bias:
        b = get_parameter_or_create("b", (outmaps,), b_init, True, not fix_parameters)
        real_b = _quantized(b, "b_q", (outmaps,), b_init, quantize_b, quantizer_b)
    if pass_channel_last:
        return F.convolution(inp, real_w, real_b, base_axis, pad, stride, dilation, group,
                             channel_last)
    return F.convolution(inp, real_w, real_b, base_axis, pad, stride, dilation, group)


def _filter_shape(inp, kernel, group, channel_last, base_axis):
    if channel_last:
        return tuple(kernel) + (inp.shape[-1] // group,)
    return (inp.shape[base_axis] // group,) + tuple(kernel)


@parametric_function_api("fp_quantized_conv", [
    ("W", "Filter weights in float", "(outmaps, inmaps // group, *kernel)", True),
    ("b", "Bias vector in float", "(outmaps,)", True),
    ("W_q", "Quantized weights", "(outmaps, inmaps // group, *kernel)", False),
    ("b_q", "Quantized biases", "(outmaps,)", False)])
def fixed_point_quantized_convolution(inp, outmaps, kernel, pad=None, stride=None, dilation=None,
                                      group=1, channel_last=False, w_init=None, b_init=None,
                                      base_axis=1, fix_parameters=False, rng=None,
                                      with_bias=True, quantize_w=True, sign_w=True, n_w=8,
                                      delta_w=2**-4, ste_fine_grained_w=True, quantize_b=True,
                                      sign_b=True, n_b=8, delta_b=2**-4,
                                      ste_fine_grained_b=True):
    """Convolution with fixed-point quantized weight and bias (``W_q``, ``b_q``)."""
    def qw(v, outputs):
        return F.fixed_point_quantize(v, sign=sign_w, n=n_w, delta=delta_w,
                                      ste_fine_grained=ste_fine_grained_w, outputs=outputs)

    def qb(v, outputs):
        return F.fixed_point_quantize(v, sign=sign_b, n=n_b, delta=delta_b,
                                      ste_fine_grained=ste_fine_grained_b, outputs=outputs)

    w_shape = (outmaps, inp.shape[base_axis] // group) + tuple(kernel)
    wq_shape = (outmaps,) + _filter_shape(inp, kernel, group, channel_last, base_axis)
    return _q_conv(inp, outmaps, kernel, pad, stride, dilation, group, channel_last, w_init,
                   b_init, base_axis, fix_parameters, rng, with_bias, w_shape, wq_shape,
                   quantize_w, quantize_b, qw, qb, False)


@parametric_function_api("pow2_quantized_conv", [
    ("W", "Filter weights in float", "(outmaps, inmaps // group, *kernel)", True),
    ("b", "Bias vector in float", "(outmaps,)", True),
    ("W_q", "Quantized weights", "(outmaps, inmaps // group, *kernel)", False),
    ("b_q", "Quantized biases", "(outmaps,)", False)])
def pow2_quantized_convolution(inp, outmaps, kernel, pad=None, stride=None, dilation=None,
                               group=1, w_init=None, b_init=None, base_axis=1,
                               fix_parameters=False, rng=None, with_bias=True, quantize_w=True,
                               with_zero_w=False, sign_w=True, n_w=8, m_w=2,
                               ste_fine_grained_w=True, quantize_b=True, with_zero_b=False,
                               sign_b=True, n_b=8, m_b=2, ste_fine_grained_b=True):
    """Convolution with power-of-two quantized weight and bias (``W_q``, ``b_q``)."""
    def qw(v, outputs):
        return F.pow2_quantize(v, sign=sign_w, with_zero=with_zero_w, n=n_w, m=m_w,
                               ste_fine_grained=ste_fine_grained_w, outputs=outputs)

    def qb(v, outputs):
        return F.pow2_quantize(v, sign=sign_b, with_zero=with_zero_b, n=n_b, m=m_b,
                               ste_fine_grained=ste_fine_grained_b, outputs=outputs)

    shape = (outmaps, inp.shape[base_axis] // group) + tuple(kernel)
    return _q_conv(inp, outmaps, kernel, pad, stride, dilation, group, False, w_init, b_init,
                   base_axis, fix_parameters, rng, with_bias, shape, shape, quantize_w,
                   quantize_b, qw, qb, False)


@parametric_function_api("pruned_conv", [
    ("W", "Filter weights in float", "(outmaps, inmaps // group, *kernel)", True),
    ("b", "Bias vector in float", "(outmaps,)", True),
    ("W_q", "Quantized weights", "(outmaps, inmaps // group, *kernel)", False),
    ("b_q", "Quantized biases", "(outmaps,)", False)])
def pruned_convolution(inp, outmaps, kernel, pad=None, stride=None, dilation=None, group=1,
                       channel_last=False, w_init=None, b_init=None, base_axis=1,
                       fix_parameters=False, rng=None, with_bias=True, prune_w=True, rate_w=0.9,
                       prune_b=True, rate_b=0.9):
    """Convolution with pruned weight and bias (``W_q``, ``b_q``)."""
    def qw(v, outputs):
        return F.prune(v, rate=rate_w, outputs=outputs)

    def qb(v, outputs):
        return F.prune(v, rate=rate_b, outputs=outputs)

    w_shape = (outmaps,) + _filter_shape(inp, kernel, group, channel_last, base_axis)
    wq_shape = (outmaps, inp.shape[base_axis] // group) + tuple(kernel)
    return _q_conv(inp, outmaps, kernel, pad, stride, dilation, group, channel_last, w_init,
                   b_init, base_axis, fix_parameters, rng, with_bias, w_shape, wq_shape,
                   prune_w, prune_b, qw, qb, True)


# ---------------------------------------------------------------- min-max quantization
@parametric_function_api("min_max_quantize", [
    ("qr_min", "Minimum quantization range", "ql_min.shape", False),
    ("qr_max", "Maximum quantization range", "ql_max.shape", False)])
def min_max_quantize(x, ql_min=0, ql_max=255, decay=0.999, x_min_max=False, ema=False,
                     ste_fine_grained=True, eps=0.01, qr_min_init=None, qr_max_init=None,
                     fix_parameters=False, outputs=None):
    """Min-max quantization with parameters ``ql_min``/``ql_max`` (the levels, when given
    as numbers) and ``qr_min``/``qr_max`` (the ranges, initialized to -6 and 6)."""
    if isinstance(ql_min, (int, float)):
        shape = [1] * len(x.shape)
        ql_min = get_parameter_or_create("ql_min", shape,
                                         np.array(ql_min, np.float32).reshape(shape), False,
                                         False)
    if isinstance(ql_max, (int, float)):
        shape = [1] * len(x.shape)
        ql_max = get_parameter_or_create("ql_max", shape,
                                         np.array(ql_max, np.float32).reshape(shape), False,
                                         False)
    qr_min_init = qr_min_init if qr_min_init else ConstantInitializer(-6.0)
    qr_max_init = qr_max_init if qr_max_init else ConstantInitializer(6.0)
    shape = ql_min.shape
    trained = not (x_min_max and ema)
    qr_min = get_parameter_or_create("qr_min", shape, qr_min_init, trained, not fix_parameters)
    qr_max = get_parameter_or_create("qr_max", shape, qr_max_init, trained, not fix_parameters)
    return F.min_max_quantize(x, qr_min, qr_max, ql_min, ql_max, decay, x_min_max, ema,
                              ste_fine_grained, eps, outputs=outputs)


def _min_max_quantizer(ql_min, ql_max, w_min_max, qr_min_init, qr_max_init, ste, eps,
                       fix_parameters, name):
    def quantize(v, outputs):
        return min_max_quantize(v, ql_min, ql_max, 0.999, w_min_max, False,
                                qr_min_init=qr_min_init, qr_max_init=qr_max_init,
                                ste_fine_grained=ste, eps=eps, fix_parameters=fix_parameters,
                                outputs=outputs, name=name)
    return quantize


@parametric_function_api("min_max_quantized_affine", [
    ("W", "Weight matrix in float", "(inmaps, outmaps)", True),
    ("b", "Bias vector in float", "(outmaps,)", True),
    ("W_q", "Quantized weights", "(inmaps, outmaps)", False),
    ("b_q", "Quantized biases", "(outmaps,)", False),
    ("qr_min", "Minimum quantization range", "ql_min.shape", False),
    ("qr_max", "Maximum quantization range", "ql_max.shape", False)])
def min_max_quantized_affine(inp, n_outmaps, base_axis=1, w_init=None, b_init=None,
                             fix_parameters=False, rng=None, with_bias=True, quantize_w=True,
                             ql_min_w=0, ql_max_w=255, w_min_max=False, qr_min_w_init=None,
                             qr_max_w_init=None, ste_fine_grained_w=True, quantize_b=True,
                             ql_min_b=0, ql_max_b=255, b_min_max=False, qr_min_b_init=None,
                             qr_max_b_init=None, ste_fine_grained_b=True, eps=0.01):
    """Affine with min-max quantized weight and bias; the ranges live in the sub-scopes
    ``min_max_quantize_w`` and ``min_max_quantize_b``."""
    qr_min_w_init = ConstantInitializer(-2.0) if qr_min_w_init is None else qr_min_w_init
    qr_max_w_init = ConstantInitializer(2.0) if qr_max_w_init is None else qr_max_w_init
    qr_min_b_init = ConstantInitializer(-6.0) if qr_min_b_init is None else qr_min_b_init
    qr_max_b_init = ConstantInitializer(6.0) if qr_max_b_init is None else qr_max_b_init
    qw = _min_max_quantizer(ql_min_w, ql_max_w, w_min_max, qr_min_w_init, qr_max_w_init,
                            ste_fine_grained_w, eps, fix_parameters, "min_max_quantize_w")
    qb = _min_max_quantizer(ql_min_b, ql_max_b, b_min_max, qr_min_b_init, qr_max_b_init,
                            ste_fine_grained_b, eps, fix_parameters, "min_max_quantize_b")
    return _q_affine(inp, n_outmaps, base_axis, w_init, b_init, fix_parameters, rng,
                     with_bias, quantize_w, quantize_b, qw, qb)


@parametric_function_api("min_max_quantized_conv", [
    ("W", "Filter weights in float", "(outmaps, inmaps // group, *kernel)", True),
    ("b", "Bias vector in float", "(outmaps,)", True),
    ("W_q", "Quantized weights", "(outmaps, inmaps // group, *kernel)", False),
    ("b_q", "Quantized biases", "(outmaps,)", False),
    ("qr_min", "Minimum quantization range", "ql_min.shape", False),
    ("qr_max", "Maximum quantization range", "ql_max.shape", False)])
def min_max_quantized_convolution(inp, outmaps, kernel, pad=None, stride=None, dilation=None,
                                  group=1, channel_last=False, w_init=None, b_init=None,
                                  base_axis=1, fix_parameters=False, rng=None, with_bias=True,
                                  quantize_w=True, ql_min_w=0, ql_max_w=255, w_min_max=False,
                                  qr_min_w_init=None, qr_max_w_init=None,
                                  ste_fine_grained_w=True, quantize_b=True, ql_min_b=0,
                                  ql_max_b=255, b_min_max=False, qr_min_b_init=None,
                                  qr_max_b_init=None, ste_fine_grained_b=True, eps=0.01):
    """Convolution with min-max quantized weight and bias."""
    qr_min_w_init = ConstantInitializer(-2.0) if qr_min_w_init is None else qr_min_w_init
    qr_max_w_init = ConstantInitializer(2.0) if qr_max_w_init is None else qr_max_w_init
    qr_min_b_init = ConstantInitializer(-6.0) if qr_min_b_init is None else qr_min_b_init
    qr_max_b_init = ConstantInitializer(6.0) if qr_max_b_init is None else qr_max_b_init
    qw = _min_max_quantizer(ql_min_w, ql_max_w, w_min_max, qr_min_w_init, qr_max_w_init,
                            ste_fine_grained_w, eps, fix_parameters, "min_max_quantize_w")
    qb = _min_max_quantizer(ql_min_b, ql_max_b, b_min_max, qr_min_b_init, qr_max_b_init,
                            ste_fine_grained_b, eps, fix_parameters, "min_max_quantize_b")
    shape = (outmaps,) + _filter_shape(inp, kernel, group, channel_last, base_axis)
    return _q_conv(inp, outmaps, kernel, pad, stride, dilation, group, channel_last, w_init,
                   b_init, base_axis, fix_parameters, rng, with_bias, shape, shape, quantize_w,
                   quantize_b, qw, qb, True)
