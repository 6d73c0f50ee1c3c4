"""Behaviours NNabla's parametric-function tests lean on beyond the layers themselves:
how a Variable iterates, and how the normalization helpers treat one Variable versus a list."""
import numpy as np

import nnabla as nn
import nnabla.parametric_functions as PF
from nnabla.normalization_functions import _force_list


def test_variable_iterates_by_indexing_rows():
    a = np.arange(6, dtype=np.float32).reshape(3, 2)
    v = nn.Variable.from_numpy_array(a)
    rows = list(v)
    assert len(rows) == 3
    for row, ref in zip(rows, a):
        row.forward()
        np.testing.assert_array_equal(row.d, ref)


def test_force_list_wraps_a_variable_but_keeps_a_list():
    v = nn.Variable((2, 3))
    assert _force_list(v) == [v]
    pair = [v, v]
    assert _force_list(pair) is pair


def test_layer_norm_outputs_read_through_force_list(rng):
    x_np = rng.randn(4, 6).astype(np.float32)
    x = nn.Variable.from_numpy_array(x_np)
    y = _force_list(PF.layer_normalization(x))
    assert len(y) == 1
    y[0].forward()
    mean = x_np.mean(axis=1, keepdims=True)
    var = x_np.var(axis=1, keepdims=True)
    np.testing.assert_allclose(y[0].d, (x_np - mean) / np.sqrt(var + 1e-5), atol=1e-5)
