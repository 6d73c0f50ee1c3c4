"""BatchNormalization replaced by ``c0 * x + c1`` with its test-mode statistics folded
into two new parameters ``<name>/c0-<name>-<n>`` and ``<name>/c1-<name>-<n>``."""
import numpy as np

from ... import parameter
from .batch_normalization_folding import bn_coefficients
from .graph_converter import FunctionModifier, parameter_holding


class BatchNormalizationSelfFoldingModifier(FunctionModifier):
    """Each BatchNormalization becomes a scale and a bias (Mul2, Add2); ``name`` is
    the parameter scope and part of the parameter names; ``n`` counts the BNs."""

    def __init__(self, name='bn-self-folding'):
        super().__init__()
        self._cnt = 0
        self._name = name

    def modify(self, f, inputs):
        if f.info.type_name != "BatchNormalization":
            return None
        x = inputs[0]
        c0, c1 = bn_coefficients(f)
        shape = [1] * x.ndim
        for a in f.info.args["axes"]:
            shape[a] = x.shape[a]
        c0 = c0.astype(np.float32).reshape(shape)
        c1 = c1.astype(np.float32).reshape(shape)
        with parameter.parameter_scope(self._name):
            s = parameter_holding(f"c0-{self._name}-{self._cnt}", c0)
            b = parameter_holding(f"c1-{self._name}-{self._cnt}", c1)
        self._cnt += 1
        return s * x + b

    def __finish__(self):
        self._cnt = 0
