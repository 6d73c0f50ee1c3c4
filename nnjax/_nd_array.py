"""``nnabla._nd_array``: NdArray under NNabla's (Cython) module path."""
from ._ndarray import NdArray

__all__ = ["NdArray"]
