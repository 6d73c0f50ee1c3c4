"""``BatchNormalization`` and ``BatchNorm1d``/``2d``/``3d`` (3-, 4- and 5-D inputs):
beta, gamma (learned) and the running mean and var, each of shape 1 except along ``axes``."""
from ... import functions as F
from ...initializer import ConstantInitializer
from .affine import _parameter
from .module import Module


class BatchNormalization(Module):
    """Batch normalization over ``n_dims``-D inputs; ``__call__(x, test=False)``
    uses the batch statistics (and updates the running ones) unless ``test``."""

    def __init__(self, n_features, n_dims, axes=(1,), decay_rate=0.9, eps=1e-5,
                 batch_stat=True, output_stat=False, fix_parameters=False, param_init=None):
        axes = list(axes)
        if len(axes) != 1:
            raise ValueError(f"BatchNormalization: one axis is supported, got axes={axes}")
        shape = [1] * n_dims
        shape[axes[0]] = n_features
        init = dict(param_init or {})
        self.beta = _parameter(init.get("beta", ConstantInitializer(0)), shape, not fix_parameters)
        self.gamma = _parameter(init.get("gamma", ConstantInitializer(1)), shape,
                                not fix_parameters)
        self.mean = _parameter(init.get("mean", ConstantInitializer(0)), shape, False)
        self.var = _parameter(init.get("var", ConstantInitializer(1)), shape, False)
        self.axes, self.decay_rate, self.eps = axes, decay_rate, eps
        self.output_stat = output_stat

    def __call__(self, inp, test=False):
        return F.batch_normalization(inp, self.beta, self.gamma, self.mean, self.var, self.axes,
                                     self.decay_rate, self.eps, not test, self.output_stat)


def _fixed_rank(n_dims, name):
    def __init__(self, n_features, axes=(1,), decay_rate=0.9, eps=1e-5, batch_stat=True,
                 output_stat=False, fix_parameters=False, param_init=None):
        BatchNormalization.__init__(self, n_features, n_dims, axes, decay_rate, eps, batch_stat,
                                    output_stat, fix_parameters, param_init)
    return type(name, (BatchNormalization,), {
        "__init__": __init__, "__doc__": f"Batch normalization of {n_dims}-D inputs."})


BatchNorm1d = _fixed_rank(3, "BatchNorm1d")
BatchNorm2d = _fixed_rank(4, "BatchNorm2d")
BatchNorm3d = _fixed_rank(5, "BatchNorm3d")
