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


def test_backward_clear_buffer_frees_intermediate_grads_but_persistent():
    x = nn.Variable.from_numpy_array(np.array([0.2, 0.4])).apply(need_grad=True)
    a = F.sin(x)
    b = F.sin(a)
    b.persistent = True
    y = F.sin(b)
    y.forward()
    x.grad.zero()
    rec.activate_clear_called_flag_recorder()
    try:
        y.backward(clear_buffer=True)
        flags = [[g for _, g in entry] for entry in rec.get_output_clear_called_flags()]
    finally:
        rec.deactivate_clear_called_flag_recorder()
    # backward order: sin->y (seed 1 is temporary: freed), sin->b (persistent), sin->a
    assert flags == [[True], [False], [True]]
    xd = np.array([0.2, 0.4])
    expected = np.cos(np.sin(np.sin(xd))) * np.cos(np.sin(xd)) * np.cos(xd)
    np.testing.assert_allclose(x.g, expected, rtol=1e-5)


def test_value_seed_leaves_the_outputs_own_grad():
    x = nn.Variable.from_numpy_array(np.array([1.0, 2.0])).apply(need_grad=True)
    y = F.mul_scalar(x, 3.0)
    y.forward()
    y.g = np.array([7.0, 7.0])
    x.grad.zero()
    rec.activate_clear_called_flag_recorder()
    try:
        y.backward(grad=2.0, clear_buffer=True)
    finally:
        rec.deactivate_clear_called_flag_recorder()
    np.testing.assert_allclose(x.g, [6.0, 6.0])
    np.testing.assert_allclose(y.g, [7.0, 7.0])


def test_freed_data_is_recomputed_for_backward():
    xd = np.array([0.3, -0.6])
    x = nn.Variable.from_numpy_array(xd).apply(need_grad=True)
    a = F.sin(x).apply(recompute=True)   # freed by the forward, read by sin's backward
    y = F.sin(a)
    assert _run(y, clear_no_need_grad=True) == [[False], [True]]
    assert a.data.clear_called
    x.grad.zero()
    rec.activate_clear_called_flag_recorder()
    try:
        y.backward()
    finally:
        rec.deactivate_clear_called_flag_recorder()
    np.testing.assert_allclose(x.g, np.cos(np.sin(xd)) * np.cos(xd), rtol=1e-5)
