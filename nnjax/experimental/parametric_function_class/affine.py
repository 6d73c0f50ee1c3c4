"""``Affine`` (alias ``Linear``): y = x W + b with W (n_inmaps, prod(n_outmaps))."""
import numpy as np

from ... import functions as F
from ..._variable import Variable
from ...initializer import ConstantInitializer, UniformInitializer, calc_uniform_lim_glorot
from .module import Module


def _parameter(initializer, shape, need_grad):
    value = initializer if isinstance(initializer, np.ndarray) else initializer(shape)
    if tuple(np.shape(value)) != tuple(shape):
        raise ValueError(f"parametric_function_class: an initial value of shape "
                         f"{np.shape(value)} was given for a parameter of shape {tuple(shape)}")
    return Variable.from_numpy_array(np.asarray(value, np.float32), need_grad=need_grad)


class Affine(Module):
    """Affine layer: W (n_inmaps, prod(n_outmaps)) and b (prod(n_outmaps),); dimensions
    from ``base_axis`` on are flattened (see ``F.affine``)."""

    def __init__(self, n_inmaps, n_outmaps, base_axis=1, w_init=None, b_init=None,
                 fix_parameters=False, rng=None, with_bias=True):
        n_out = int(np.prod(n_outmaps if hasattr(n_outmaps, "__iter__") else [n_outmaps]))
        if w_init is None:
            w_init = UniformInitializer(calc_uniform_lim_glorot(n_inmaps, n_out), rng=rng)
        self.W = _parameter(w_init, (n_inmaps, n_out), not fix_parameters)
        self.b = _parameter(b_init if b_init is not None else ConstantInitializer(),
                            (n_out,), not fix_parameters) if with_bias else None
        self.base_axis = base_axis

    def __call__(self, inp):
        return F.affine(inp, self.W, self.b, self.base_axis)


Linear = Affine
