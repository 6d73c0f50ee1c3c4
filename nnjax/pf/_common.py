"""Helpers shared by the parametric-function modules (bias, default weight initializers)."""
import numpy as np

from ..initializer import ConstantInitializer, UniformInitializer, calc_uniform_lim_glorot
from .core import _param


_F32 = np.float32


def _tuple(v):
    return tuple(int(i) for i in v) if isinstance(v, (list, tuple)) else (int(v),)


def _bias(shape, b_init, with_bias, fix_parameters, name="b"):
    if not with_bias:
        return None
    if b_init is None:
        b_init = ConstantInitializer()
    return _param(name, shape, b_init, True, fix_parameters)


def _outmaps_list(n_outmaps):
    if not hasattr(n_outmaps, "__iter__"):
        n_outmaps = [n_outmaps]
    return [int(n) for n in n_outmaps]


def _affine_w_init(w_init, inp, base_axis, n_outmaps, rng):
    if w_init is None:
        fan_in = int(np.prod(inp.shape[base_axis:]))
        w_init = UniformInitializer(calc_uniform_lim_glorot(fan_in, int(np.prod(n_outmaps))),
                                    rng=rng)
    return w_init


def _conv_w_init(w_init, channels, outmaps, kernel, rng):
    if w_init is None:
        w_init = UniformInitializer(calc_uniform_lim_glorot(channels, outmaps, tuple(kernel)),
                                    rng=rng)
    return w_init
