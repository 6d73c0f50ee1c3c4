"""Building a zoo architecture with parametric functions (``pretrained=False``).

A ``Builder`` carries what a call decides (training, pooling checks, where to
stop) to the architecture code, which marks its cut points with ``cut(key, h)``.
Building ends at the cut point asked for (``use_up_to``), so the layers after it
are neither built nor given parameters.
"""
from collections import OrderedDict

import numpy as np

from .. import functions as F
from .. import parameter as P
from .. import parametric_functions as PF
from .. import random as nn_random
from .._variable import Variable
from ..initializer import BaseInitializer, calc_normal_std_he_forward


class HeNormal(BaseInitializer):
    """He (fan-in) normal weights drawn in float32 (cheap for 100M-parameter models);
    its seed comes from ``nnabla.random.prng`` when it is made, so ``nn.seed`` decides it."""

    def __init__(self, inmaps, outmaps, kernel=(1, 1)):
        self.std = calc_normal_std_he_forward(inmaps, outmaps, kernel)
        self.seed = nn_random.prng.randint(2 ** 31)  # at creation: the order of reads is free

    def __call__(self, shape):
        rng = np.random.default_rng(self.seed)
        return rng.standard_normal(size=tuple(shape), dtype=np.float32) * np.float32(self.std)


class _DeferredDraw:
    """Stands in a parameter's buffer where a compiled step's record would
    (``NdArray._lazy``): the random values are drawn when first read, so building
    a 100M-parameter model (to count it, to load weights into it) costs nothing."""

    pending = False

    def __init__(self, initializer, shape):
        self.initializer = initializer
        self.shape = tuple(int(s) for s in shape)

    def resolve(self, slot, array):
        array._head = np.asarray(self.initializer(self.shape), dtype=np.float32)
        array._fill = None


def deferred_parameter(path, shape, initializer):
    """Register parameter ``path`` of the current scope (unless present) with values
    drawn from ``initializer`` on first use."""
    if P.get_parameter(path) is not None:
        return
    param = Variable(tuple(shape), need_grad=True)
    param.data._lazy = (_DeferredDraw(initializer, shape), 0)

    class VariableInfo:
        pass
    param.info = VariableInfo()
    param.info.initializer = initializer
    P.set_parameter(path, param)


class _Reached(Exception):
    def __init__(self, key):
        self.key = key


class Builder:
    """Options of one model call and the cut points reached so far."""

    def __init__(self, model_name, use_up_to, training, force_global_pooling,
                 check_global_pooling, stop=True):
        self.model_name = model_name
        self.use_up_to = use_up_to
        self.training = bool(training)
        self.force_global_pooling = force_global_pooling
        self.check_global_pooling = check_global_pooling
        self.stop = stop
        self.cuts = OrderedDict()

    def cut(self, key, h):
        self.cuts[key] = h
        if self.stop and key == self.use_up_to:
            raise _Reached(key)
        return h

    def run(self, architecture, x):
        """Run ``architecture(self, x)``; returns the variable of ``use_up_to``."""
        try:
            architecture(self, x)
        except _Reached:
            pass
        if self.use_up_to not in self.cuts:
            raise ValueError(f"{self.model_name}: the architecture has no cut point "
                             f"{self.use_up_to!r} (it reached {list(self.cuts)})")
        return self.cuts[self.use_up_to]

    # layers -----------------------------------------------------------
    def conv(self, h, outmaps, kernel, stride=1, pad=None, group=1, with_bias=False,
             name=None, dilation=None):
        kernel = (kernel, kernel) if np.isscalar(kernel) else tuple(kernel)
        stride = (stride, stride) if np.isscalar(stride) else tuple(stride)
        pad = tuple(k // 2 for k in kernel) if pad is None else \
            ((pad, pad) if np.isscalar(pad) else tuple(pad))
        inmaps = h.shape[1]
        init = HeNormal(inmaps // group, outmaps, kernel)
        deferred_parameter(f"{name}/conv/W", (outmaps, inmaps // group) + kernel, init)
        return PF.convolution(h, outmaps, kernel, pad=pad, stride=stride, group=group,
                              dilation=dilation, w_init=init, with_bias=with_bias,
                              fix_parameters=not self.training, name=name)

    def bn(self, h, name=None, eps=1e-5, decay_rate=0.9):
        return PF.batch_normalization(h, batch_stat=self.training, eps=eps,
                                      decay_rate=decay_rate,
                                      fix_parameters=not self.training, name=name)

    def conv_bn(self, h, outmaps, kernel, stride=1, pad=None, group=1, name=None, act=None,
                eps=1e-5):
        h = self.conv(h, outmaps, kernel, stride, pad, group, name=name)
        h = self.bn(h, name=name, eps=eps)
        return act(h) if act is not None else h

    def affine(self, h, n, name=None):
        inmaps = int(np.prod(h.shape[1:]))
        init = HeNormal(inmaps, n)
        deferred_parameter(f"{name}/affine/W", (inmaps, n), init)
        return PF.affine(h, n, w_init=init, fix_parameters=not self.training, name=name)

    def affine_no_bias(self, h, n, name=None):
        inmaps = int(np.prod(h.shape[1:]))
        init = HeNormal(inmaps, n)
        deferred_parameter(f"{name}/affine/W", (inmaps, n), init)
        return PF.affine(h, n, w_init=init, with_bias=False,
                         fix_parameters=not self.training, name=name)

    def dropout(self, h, p):
        """Dropout while training; removed otherwise (as NNabla's zoo does)."""
        return F.dropout(h, p) if self.training else h

    def global_pool(self, h, trained_kernel, pool="average"):
        """The last pooling: ``trained_kernel`` unless forced global; checked like NNabla's."""
        spatial = tuple(int(s) for s in h.shape[2:])
        kernel = tuple(trained_kernel)
        if self.force_global_pooling:
            kernel = spatial
        elif self.check_global_pooling and spatial != kernel:
            raise ValueError(
                f"{self.model_name}: stride configuration of average pooling is not for "
                f"global pooling. Given image shape is {list(spatial)}, whereas pooling "
                f"window size is {list(kernel)} and its stride is {list(kernel)}. "
                "Consider using force_global_pooling=True")
        if pool == "max":
            return F.max_pooling(h, kernel, kernel)
        return F.average_pooling(h, kernel, kernel)
