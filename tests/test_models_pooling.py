"""Pooling with a kernel larger than the input, as NNabla allows (its output length
``(L + 2p - k) / s + 1`` truncates toward zero): what MobileNetV2 scripts and the zoo's
unchecked last pooling (``check_global_pooling=False``) rely on."""
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F


def _x(shape, seed=0):
    return nn.Variable.from_numpy_array(
        np.random.RandomState(seed).randn(*shape).astype(np.float32), need_grad=True)


@pytest.mark.parametrize("fname, reduce", [("average_pooling", np.mean),
                                           ("max_pooling", np.max),
                                           ("sum_pooling", np.sum)])
def test_kernel_larger_than_input_gives_one_window(fname, reduce):
    x = _x((2, 3, 2, 3))
    y = getattr(F, fname)(x, (7, 7), (7, 7))
    assert y.shape == (2, 3, 1, 1)
    y.forward()
    np.testing.assert_allclose(y.d[..., 0, 0], reduce(x.d, axis=(2, 3)), rtol=1e-6)


def test_average_pooling_gradient_spreads_over_the_real_elements():
    x = _x((1, 2, 2, 3))
    y = F.average_pooling(x, (7, 7), (7, 7))
    x.grad.zero()
    y.forward()
    y.backward(np.ones(y.shape, np.float32))
    np.testing.assert_allclose(x.g, np.full(x.shape, 1 / 6), rtol=1e-6)


def test_windows_truncate_as_nnabla_and_padding_counts():
    # length 5, kernel 4, stride 3, pad 1: (5 + 2 - 4) / 3 + 1 = 2 windows:
    # [-1, 3) and [2, 6) clipped to the padded extent [-1, 6)
    x = _x((1, 1, 5, 5))
    y = F.average_pooling(x, (4, 4), (3, 3), pad=(1, 1), including_pad=True)
    assert y.shape == (1, 1, 2, 2)
    y.forward()
    xp = np.pad(x.d[0, 0], 1)
    ref = np.array([[xp[3 * i:3 * i + 4, 3 * j:3 * j + 4].sum() / 16 for j in range(2)]
                    for i in range(2)])
    np.testing.assert_allclose(y.d[0, 0], ref, rtol=1e-5)
    # kernel 6 on length 3 with pad 1: (3 + 2 - 6) / 2 + 1 = 1 (truncation), divisor 5
    y = F.average_pooling(x[:, :, :3, :3], (6, 6), (2, 2), pad=(1, 1))
    assert y.shape == (1, 1, 1, 1)
    y.forward()
    np.testing.assert_allclose(y.d[0, 0, 0, 0], x.d[0, 0, :3, :3].sum() / 25, rtol=1e-5)


def test_no_window_at_all_is_an_error():
    with pytest.raises(ValueError, match=r"average_pooling: kernel \(9, 9\).*\(2, 2\)"):
        F.average_pooling(nn.Variable((1, 1, 2, 2)), (9, 9), (7, 7))
