"""``nnabla.variable``: Variable and Context under NNabla's older module path."""
from ._variable import Variable
from .context import Context

__all__ = ["Variable", "Context"]
