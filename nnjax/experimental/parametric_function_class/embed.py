"""``Embed``: a lookup table W (n_inputs, n_features) indexed by integer inputs."""
import numpy as np

from ... import functions as F
from ...initializer import UniformInitializer
from .affine import _parameter
from .module import Module


class Embed(Module):
    """Embedding layer (see ``F.embed``); W starts uniform in [-sqrt(3), sqrt(3)]."""

    def __init__(self, n_inputs, n_features, w_init=None, fix_parameters=False):
        if w_init is None:
            w_init = UniformInitializer((-np.sqrt(3.0), np.sqrt(3.0)))
        self.W = _parameter(w_init, (n_inputs, n_features), not fix_parameters)

    def __call__(self, inp):
        return F.embed(inp, self.W)
