"""Graph-mode ``outputs=[ndarray]``: the result is written into the given array."""
import numpy as np

import nnabla as nn
import nnabla.functions as F


def test_graph_output_written_into_input_array_accumulates():
    ad = np.arange(4, dtype=np.float32)
    bd = np.full(4, 0.5, np.float32)
    a = nn.Variable.from_numpy_array(ad)
    b = nn.Variable.from_numpy_array(bd)
    c = F.add2(a, b, outputs=[a.data])
    assert c.data is a.data
    parts = F.split(c, axis=0)
    for k, p in enumerate(parts):
        p.forward()       # each forward computes a <- a + b
    expected = ad + len(parts) * bd
    np.testing.assert_allclose(a.d, expected)
    np.testing.assert_allclose([p.d for p in parts], expected)


def test_graph_outputs_shape_mismatch_is_an_error():
    a = nn.Variable((3,))
    try:
        F.sin(a, outputs=[nn.NdArray((4,))])
    except ValueError as e:
        assert "outputs[0]" in str(e) and "(4,)" in str(e)
    else:
        raise AssertionError("no error for a wrong outputs shape")
