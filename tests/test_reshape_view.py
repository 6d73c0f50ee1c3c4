"""Variable.reshape(unlink=False): the result shares the original's data memory."""
import numpy as np

import nnabla as nn
import nnabla.functions as F


def test_reshape_shares_data_both_ways_and_backprops():
    rng = np.random.RandomState(0)
    xd = rng.randn(2, 3, 4).astype(np.float32)
    x = nn.Variable.from_numpy_array(xd).apply(need_grad=True)
    h = F.sin(x)
    r = h.reshape((4, 6))
    y = F.sum(r * r)
    y.forward()
    np.testing.assert_allclose(r.d, np.sin(xd).reshape(4, 6), rtol=1e-6)
    h.d = 2.0                     # a write through the original is seen by the view
    np.testing.assert_array_equal(r.d, np.full((4, 6), 2.0))
    r.d = np.arange(24).reshape(4, 6)   # and back
    np.testing.assert_array_equal(h.d, np.arange(24).reshape(2, 3, 4))
    x.grad.zero()
    y.forward()
    y.backward()
    np.testing.assert_allclose(x.g, 2 * np.sin(xd) * np.cos(xd), rtol=1e-5, atol=1e-6)


def test_reshape_unlink_copies():
    x = nn.Variable.from_numpy_array(np.ones((2, 3)))
    u = x.reshape((3, 2), unlink=True)
    x.d = 5.0
    np.testing.assert_array_equal(u.d, np.ones((3, 2)))


def test_ndarray_view_of_narrowed_rows_shares_memory():
    base = nn.NdArray.from_numpy_array(np.arange(12, dtype=np.float32))
    part = base.narrow(0, 4, 6).view((2, 3))
    np.testing.assert_array_equal(part.data, np.arange(4, 10).reshape(2, 3))
    part.data = np.full((2, 3), -1.0)
    expected = np.arange(12, dtype=np.float32)
    expected[4:10] = -1.0
    np.testing.assert_array_equal(base.data, expected)
    whole = base.view((3, 4))
    base.data = np.zeros(12)
    np.testing.assert_array_equal(whole.data, np.zeros((3, 4)))
