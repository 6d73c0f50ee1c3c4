"""``nnabla.grad``: gradients as new graph Variables (``nn.grad``)."""
from ._graph_api import grad

__all__ = ["grad"]
