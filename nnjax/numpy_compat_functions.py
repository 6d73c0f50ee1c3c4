"""``nnabla.numpy_compat_functions``: numpy-compatible helpers (also in ``nnabla.functions``)."""
from .ops.numpy_compat import dot, matmul  # noqa: F401
