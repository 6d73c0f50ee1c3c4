"""``Deconvolution`` (aliases ``Deconv1d``/``Deconv2d``/``Deconv3d``/``DeconvNd``):
W (inmaps, outmaps // group, *kernel) as ``F.deconvolution`` reads it, b (outmaps,)."""
from ... import functions as F
from ...initializer import ConstantInitializer, UniformInitializer, calc_uniform_lim_glorot
from .affine import _parameter
from .module import Module


class Deconvolution(Module):
    """N-D deconvolution (transposed convolution) layer (see ``F.deconvolution``)."""

    def __init__(self, inmaps, outmaps, kernel, pad=None, stride=None, dilation=None, group=1,
                 w_init=None, b_init=None, base_axis=1, fix_parameters=False, rng=None,
                 with_bias=True):
        kernel = tuple(kernel)
        if w_init is None:
            w_init = UniformInitializer(calc_uniform_lim_glorot(outmaps, inmaps, kernel), rng=rng)
        self.W = _parameter(w_init, (inmaps, outmaps // group) + kernel, not fix_parameters)
        self.b = _parameter(b_init if b_init is not None else ConstantInitializer(),
                            (outmaps,), not fix_parameters) if with_bias else None
        self.base_axis, self.pad, self.stride = base_axis, pad, stride
        self.dilation, self.group = dilation, group

    def __call__(self, inp):
        return F.deconvolution(inp, self.W, self.b, self.base_axis, self.pad, self.stride,
                               self.dilation, self.group)


Deconv1d = Deconv2d = Deconv3d = DeconvNd = Deconvolution
