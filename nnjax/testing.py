"""Test helpers, as ``nnabla.testing``."""
import numpy as np


def assert_allclose(actual, desired, rtol=1e-07, atol=0, equal_nan=True, err_msg="",
                    verbose=True):
    """``numpy.testing.assert_allclose`` accepting Variables and NdArrays too."""
    def host(x):
        if hasattr(x, "d") and not isinstance(x, np.ndarray):
            return x.d
        if hasattr(x, "data") and hasattr(x, "zero"):
            return x.data
        return x
    np.testing.assert_allclose(host(actual), host(desired), rtol=rtol, atol=atol,
                               equal_nan=equal_nan, err_msg=err_msg, verbose=verbose)
