"""``nnabla._computation_graph``: ``forward_all`` under NNabla's (Cython) module path."""
from ._graph_api import forward_all

__all__ = ["forward_all"]
