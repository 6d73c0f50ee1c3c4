"""Binary and INQ PFs: binary-connect, binary-weight and INQ affine and convolution.

Parameter names, shapes, creation order and default initializers follow
NNabla. The derived copies (``Wb``, ``alpha``, the INQ indicators) are
parameters without gradient that the forward pass fills.
"""
import numpy as np

from .. import functions as F
from ..initializer import ConstantInitializer
from ..parameter import get_parameter_or_create
from ._common import _affine_w_init, _conv_w_init, _outmaps_list
from .core import parametric_function_api


@parametric_function_api("bicon_affine", [
    ("W", "Weight matrix in floating type", "(inmaps, outmaps)", True),
    ("Wb", "Binarized weights", "(inmaps, outmaps)", False),
    ("b", "Bias vector", "(outmaps,)", True)])
def binary_connect_affine(inp, n_outmaps, base_axis=1, quantize_zero_to=1.0, w_init=None,
                          wb_init=None, b_init=None, fix_parameters=False, rng=None,
                          with_bias=True):
    """Binary connect affine: parameters ``bicon_affine/W``, ``Wb`` and ``b``."""
    n_outmaps = _outmaps_list(n_outmaps)
    inmaps = int(np.prod(inp.shape[base_axis:]))
    w_init = _affine_w_init(w_init, inp, base_axis, n_outmaps, rng)
    wb_init = _affine_w_init(wb_init, inp, base_axis, n_outmaps, rng)
    b_init = ConstantInitializer() if b_init is None else b_init
    w = get_parameter_or_create("W", [inmaps] + n_outmaps, w_init, True, not fix_parameters)
    wb = get_parameter_or_create("Wb", [inmaps] + n_outmaps, wb_init, False)
    b = None
    if with_bias:
        b = get_parameter_or_create("b", n_outmaps, b_init, True, not fix_parameters)
    return F.binary_connect_affine(inp, w, wb, b, base_axis, quantize_zero_to)


@parametric_function_api("bwn_affine", [
    ("W", "Weight matrix in floating type", "(inmaps, outmaps)", True),
    ("Wb", "Binarized weights", "(inmaps, outmaps)", False),
    ("alpha", "Scaling factor alpha", "(outmaps,)", False),
    ("b", "Bias vector", "(outmaps,)", True)])
def binary_weight_affine(inp, n_outmaps, base_axis=1, quantize_zero_to=1.0, w_init=None,
                         wb_init=None, b_init=None, fix_parameters=False, rng=None,
                         with_bias=True):
    """Binary weight affine: parameters ``bwn_affine/W``, ``Wb``, ``alpha`` and ``b``."""
    n_outmaps = _outmaps_list(n_outmaps)
    inmaps = int(np.prod(inp.shape[base_axis:]))
    w_init = _affine_w_init(w_init, inp, base_axis, n_outmaps, rng)
    wb_init = _affine_w_init(wb_init, inp, base_axis, n_outmaps, rng)
    b_init = ConstantInitializer() if b_init is None else b_init
    w = get_parameter_or_create("W", [inmaps] + n_outmaps, w_init, True, not fix_parameters)
    wb = get_parameter_or_create("Wb", [inmaps] + n_outmaps, wb_init, False)
    alpha = get_parameter_or_create("alpha", n_outmaps, ConstantInitializer(0), False)
    b = None
    if with_bias:
        b = get_parameter_or_create("b", n_outmaps, b_init, True, not fix_parameters)
    return F.binary_weight_affine(inp, w, wb, alpha, b, base_axis, quantize_zero_to)


@parametric_function_api("inq_affine", [
    ("W", "Weight matrix in floating type", "(inmaps, outmaps)", True),
    ("I", "Binary indicator matrix of fixed weights", "(inmaps, outmaps)", False),
    ("b", "Bias vector", "(outmaps,)", True)])
def inq_affine(inp, n_outmaps, base_axis=1, num_bits=4, inq_iterations=(),
               selection_algorithm='random', seed=-1, w_init=None, i_init=None, b_init=None,
               fix_parameters=False, rng=None, with_bias=True):
    """Incremental network quantization affine: parameters ``inq_affine/W``, ``I``, ``b``."""
    n_outmaps = _outmaps_list(n_outmaps)
    inmaps = int(np.prod(inp.shape[base_axis:]))
    w_init = _affine_w_init(w_init, inp, base_axis, n_outmaps, rng)
    i_init = ConstantInitializer() if i_init is None else i_init
    b_init = ConstantInitializer() if b_init is None else b_init
    w = get_parameter_or_create("W", [inmaps] + n_outmaps, w_init, True, not fix_parameters)
    i = get_parameter_or_create("I", [inmaps] + n_outmaps, i_init, False)
    b = None
    if with_bias:
        b = get_parameter_or_create("b", n_outmaps, b_init, True, not fix_parameters)
    return F.inq_affine(inp, w, i, b, base_axis, num_bits, inq_iterations, selection_algorithm,
                        seed)


@parametric_function_api("bicon_conv", [
    ("W", "Filter weights in float", "(outmaps, inmaps, *kernel)", True),
    ("Wb", "Binarized filter weights", "(outmaps, inmaps, *kernel)", False),
    ("b", "Bias vector", "(outmaps,)", True)])
def binary_connect_convolution(inp, outmaps, kernel, pad=None, stride=None, dilation=None,
                               group=1, quantize_zero_to=1.0, w_init=None, wb_init=None,
                               b_init=None, base_axis=1, fix_parameters=False, rng=None,
                               with_bias=True):
    """Binary connect convolution: parameters ``bicon_conv/W``, ``Wb`` and ``b``."""
    channels = inp.shape[base_axis]
    w_init = _conv_w_init(w_init, channels, outmaps, kernel, rng)
    wb_init = _conv_w_init(wb_init, channels, outmaps, kernel, rng)
    b_init = ConstantInitializer() if b_init is None else b_init
    shape = (outmaps, channels) + tuple(kernel)
    w = get_parameter_or_create("W", shape, w_init, True, not fix_parameters)
    wb = get_parameter_or_create("Wb", shape, wb_init, False)
    b = None
    if with_bias:
        b = get_parameter_or_create("b", (outmaps,), b_init, True, not fix_parameters)
    return F.binary_connect_convolution(inp, w, wb, b, base_axis, pad, stride, dilation, group,
                                        quantize_zero_to)


@parametric_function_api("bwn_conv", [
    ("W", "Filter weights in float", "(outmaps, inmaps, *kernel)", True),
    ("Wb", "Binarized filter weights", "(outmaps, inmaps, *kernel)", False),
    ("alpha", "Scaling factor alpha", "(outmaps,)", False),
    ("b", "Bias vector", "(outmaps,)", True)])
def binary_weight_convolution(inp, outmaps, kernel, pad=None, stride=None, dilation=None,
                              group=1, quantize_zero_to=1.0, w_init=None, wb_init=None,
                              b_init=None, base_axis=1, fix_parameters=False, rng=None,
                              with_bias=True):
    """Binary weight convolution: parameters ``bwn_conv/W``, ``Wb``, ``alpha`` and ``b``."""
    channels = inp.shape[base_axis]
    w_init = _conv_w_init(w_init, channels, outmaps, kernel, rng)
    wb_init = _conv_w_init(wb_init, channels, outmaps, kernel, rng)
    b_init = ConstantInitializer() if b_init is None else b_init
    shape = (outmaps, channels) + tuple(kernel)
    w = get_parameter_or_create("W", shape, w_init, True, not fix_parameters)
    wb = get_parameter_or_create("Wb", shape, wb_init, False)
    alpha = get_parameter_or_create("alpha", (outmaps,), ConstantInitializer(0), False)
    b = None
    if with_bias:
        b = get_parameter_or_create("b", (outmaps,), b_init, True, not fix_parameters)
    return F.binary_weight_convolution(inp, w, wb, alpha, b, base_axis, pad, stride, dilation,
                                       group, quantize_zero_to)


@parametric_function_api("inq_conv", [
    ("W", "Filter weights in float", "(outmaps, inmaps, *kernel)", True),
    ("I", "Binary indicator matrix of fixed weights", "(outmaps, inmaps, *kernel)", False),
    ("b", "Bias vector", "(outmaps,)", True)])
def inq_convolution(inp, outmaps, kernel, pad=None, stride=None, dilation=None, group=1,
                    num_bits=4, inq_iterations=(), selection_algorithm='random', seed=-1,
                    w_init=None, i_init=None, b_init=None, base_axis=1, fix_parameters=False,
                    rng=None, with_bias=True):
    """Incremental network quantization convolution: parameters ``inq_conv/W``, ``I``, ``b``."""
    channels = inp.shape[base_axis]
    w_init = _conv_w_init(w_init, channels, outmaps, kernel, rng)
    i_init = ConstantInitializer() if i_init is None else i_init
    b_init = ConstantInitializer() if b_init is None else b_init
    shape = (outmaps, channels) + tuple(kernel)
    w = get_parameter_or_create("W", shape, w_init, True, not fix_parameters)
    i = get_parameter_or_create("I", shape, i_init, False)
    b = None
    if with_bias:
        b = get_parameter_or_create("b", (outmaps,), b_init, True, not fix_parameters)
    return F.inq_convolution(inp, w, i, b, base_axis, pad, stride, dilation, group, num_bits,
                             inq_iterations, selection_algorithm, seed)
