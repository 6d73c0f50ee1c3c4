"""forward(clear_no_need_grad / clear_buffer): which intermediate data is freed."""
import numpy as np

import nnabla as nn
import nnabla.functions as F
from nnabla.testing import clear_called_flag_recorder as rec


def _run(y, **flags):
    rec.activate_clear_called_flag_recorder()
    try:
        y.forward(**flags)
        return [[d for d, _ in entry] for entry in rec.get_input_clear_called_flags()]
    finally:
        rec.deactivate_clear_called_flag_recorder()


def test_no_need_grad_keeps_what_backward_reads():
    x = nn.Variable.from_numpy_array(np.array([[0.5, -1.0]])).apply(need_grad=True)
    a = F.identity(x)       # backward reads nothing: a can go after tanh ran
    b = F.tanh(a)           # backward reads its output b: b stays
    c = F.add_scalar(b, 2.0)
    d = F.mul2(c, c)        # reads both inputs: c stays
    y = F.add_scalar(d, 1.0)
    flags = _run(y, clear_no_need_grad=True)
    assert flags == [[False], [True], [False], [False, False], [True]]
    # what stays holds the right values
    np.testing.assert_allclose(b.d, np.tanh([[0.5, -1.0]]), rtol=1e-6)
    np.testing.assert_allclose(y.d, (np.tanh([[0.5, -1.0]]) + 2) ** 2 + 1, rtol=1e-5)


def test_clear_buffer_frees_every_intermediate_but_persistent():
    x = nn.Variable.from_numpy_array(np.array([1.0, 2.0])).apply(need_grad=True)
    a = F.sin(x)
    b = F.sin(a)
    b.persistent = True
    y = F.sin(b)
    flags = _run(y, clear_buffer=True)
    assert flags == [[False], [True], [False]]
    np.testing.assert_allclose(y.d, np.sin(np.sin(np.sin([1.0, 2.0]))), rtol=1e-6)


def test_recompute_flag_frees_needed_data_and_backward_is_right():
    x = nn.Variable.from_numpy_array(np.array([0.3, 0.7])).apply(need_grad=True)
    a = F.sin(x).apply(recompute=True)
    y = F.sin(a)
    flags = _run(y, clear_no_need_grad=True)
    assert flags == [[False], [True]]
    x.grad.zero()
    y.backward()
    xd = np.array([0.3, 0.7])
    np.testing.assert_allclose(x.g, np.cos(np.sin(xd)) * np.cos(xd), rtol=1e-5)
