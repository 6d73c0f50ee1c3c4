"""nnabla._dropout_workaround and the Dropout entry of backward_functions.registry:
the mask of a Dropout reached from its input, as NNabla's dropout_backward uses it."""
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
from nnabla._dropout_workaround import _get_dropout_mask
from nnabla.backward_functions import registry


def _x(rng, shape=(3, 5)):
    x = rng.randn(*shape).astype(np.float32)
    x[np.abs(x) < 1e-3] = 1.0  # no zeros: y == 0 exactly where the mask drops
    return nn.Variable.from_numpy_array(x, need_grad=True)


def test_mask_is_the_latest_forward_draw(rng):
    x = _x(rng)
    y = F.dropout(x, 0.4, seed=7)
    for _ in range(2):  # each forward draws anew; the mask follows
        y.forward()
        np.testing.assert_array_equal(_get_dropout_mask(x).d, (y.d != 0).astype(np.float32))


def test_registry_dropout_backward_uses_the_forward_mask(rng):
    x = _x(rng)
    dy = nn.Variable.from_numpy_array(rng.randn(3, 5).astype(np.float32), need_grad=True)
    y = F.dropout(x, 0.3, seed=11)
    dx = registry["Dropout"]([dy], [x], [None], [None], [None], 0.3, 11)  # built before forward
    y.forward()
    dx.forward()
    np.testing.assert_allclose(dx.d, dy.d * (y.d != 0) / 0.7, rtol=1e-6)
    # its gradient with respect to dy is the same masked scale
    dy.g = 0
    dx.backward(np.ones((3, 5), np.float32))
    np.testing.assert_allclose(dy.g, (y.d != 0) / 0.7, rtol=1e-6)


def test_no_dropout_on_the_variable_is_a_runtime_error(rng):
    x = _x(rng)
    with pytest.raises(RuntimeError, match="Dropout"):
        _get_dropout_mask(x)
    with pytest.raises(RuntimeError):
        registry["Dropout"]([x], [x], [None], [None], [None], 0.5, -1)


@pytest.mark.parametrize("p", [-0.01, 1.0])
def test_p_out_of_range_is_a_runtime_and_value_error(p):
    x = nn.Variable((2, 3))
    with pytest.raises(RuntimeError, match="p must be in"):
        F.dropout(x, p)
    with pytest.raises(ValueError):
        F.dropout(x, p)
