"""Test helpers (``nnabla.testing``).

- ``assert_allclose``: ``numpy.testing.assert_allclose`` with NNabla's
  tolerances (those of ``numpy.allclose``), accepting Variables and NdArrays.
- ``clear_called_flag_recorder``: records, function by function, which
  buffers of a graph had been cleared during forward and backward.
"""
import numpy as np

from . import clear_called_flag_recorder

__all__ = ["assert_allclose", "clear_called_flag_recorder"]


def _host(x):
    if hasattr(x, "d") and not isinstance(x, np.ndarray):
        return x.d                       # a Variable
    if hasattr(x, "data") and hasattr(x, "zero") and not isinstance(x, np.ndarray):
        return x.data                    # an NdArray
    return x


def assert_allclose(actual, desired, rtol=1e-5, atol=1e-6, equal_nan=True, err_msg="",
                    verbose=True):
    """``numpy.testing.assert_allclose`` with ``numpy.allclose``'s default
    tolerances (as NNabla's); Variables and NdArrays are compared by value."""
    np.testing.assert_allclose(_host(actual), _host(desired), rtol=rtol, atol=atol,
                               equal_nan=equal_nan, err_msg=err_msg, verbose=verbose)
