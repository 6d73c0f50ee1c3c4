"""nnabla.testing: assert_allclose's tolerances and the clear-called flag recorder."""
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
from nnabla.testing import assert_allclose, clear_called_flag_recorder as rec


def test_assert_allclose_default_tolerances():
    # numpy.allclose's defaults: rtol=1e-5, atol=1e-6
    assert_allclose(np.float32(1.0), 1.0 + 9e-6)
    assert_allclose(0.0, 9e-7)
    with pytest.raises(AssertionError):
        assert_allclose(1.0, 1.0 + 2e-5 + 1e-6)
    with pytest.raises(AssertionError):
        assert_allclose(0.0, 2e-6)
    assert_allclose(0.0, 2e-6, atol=1e-5)
    assert_allclose(np.nan, np.nan)


def test_assert_allclose_reads_variables_and_ndarrays():
    v = nn.Variable.from_numpy_array(np.array([1.0, 2.0], np.float32))
    a = nn.NdArray.from_numpy_array(np.array([1.0, 2.0], np.float32))
    assert_allclose(v, a)
    with pytest.raises(AssertionError, match="planted"):
        assert_allclose(a, [1.0, 3.0], err_msg="planted")


@pytest.fixture
def recorder():
    rec.activate_clear_called_flag_recorder()
    yield rec
    rec.deactivate_clear_called_flag_recorder()


def test_recorder_records_each_function_of_forward(recorder):
    x = nn.Variable.from_numpy_array(np.ones((2, 3, 4, 4), np.float32))
    w = nn.Variable.from_numpy_array(np.ones((5, 3, 3, 3), np.float32))
    h = F.identity(x)
    y = F.convolution(h, w)          # no bias: two inputs, as NNabla lists them
    z = F.add_scalar(y, 1.0)
    z.forward()
    flags = recorder.get_input_clear_called_flags()
    assert [len(f) for f in flags] == [1, 2, 1]
    assert all(pair == (False, False) for f in flags for pair in f)
    assert [len(f) for f in recorder.get_output_clear_called_flags()] == [1, 1, 1]
    assert_allclose(z.d, np.full((2, 5, 2, 2), 28.0))     # the unfused run computes the same


def test_recorder_sees_a_cleared_buffer(recorder):
    """Flags are read after the function (and its post-hook) ran: a buffer the
    hook cleared reads as cleared; one read again afterwards does not."""
    x = nn.Variable.from_numpy_array(np.ones((2, 3), np.float32), need_grad=True)
    h = F.identity(x)
    y = F.add_scalar(h, 2.0)

    def clear_inputs_of_add_scalar(f):
        if f.name == "AddScalar":
            for v in f.inputs:
                v.data.clear()

    y.forward(function_post_hook=clear_inputs_of_add_scalar)
    assert recorder.get_input_clear_called_flags() == [[(False, False)], [(True, False)]]
    assert_allclose(y.d, np.full((2, 3), 3.0))
    assert h.data.clear_called
    y.forward()                        # recomputes h: its buffer is written again
    assert recorder.get_input_clear_called_flags()[-2:] == [[(False, False)], [(False, False)]]
    assert not h.data.clear_called


def test_recorder_records_backward_and_deactivate_forgets(recorder):
    x = nn.Variable.from_numpy_array(np.ones((3,), np.float32), need_grad=True)
    y = F.mul_scalar(F.identity(x), 3.0)
    y.forward()
    recorder.deactivate_clear_called_flag_recorder()
    assert recorder.get_input_clear_called_flags() == []
    assert recorder.get_output_clear_called_flags() == []
    recorder.activate_clear_called_flag_recorder()
    x.grad.zero()
    y.backward()
    out = recorder.get_output_clear_called_flags()
    assert len(out) == 2 and all(len(f) == 1 for f in out)       # mul_scalar, then identity
    assert len(recorder.get_input_clear_called_flags()) == 2
    assert_allclose(x.g, np.full((3,), 3.0))


def test_nothing_recorded_while_inactive():
    rec.deactivate_clear_called_flag_recorder()
    x = nn.Variable.from_numpy_array(np.ones((3,), np.float32))
    F.identity(x).forward()
    assert rec.get_input_clear_called_flags() == []
    rec.activate_clear_called_flag_recorder()
    try:
        rec.activate_clear_called_flag_recorder()          # twice: still one record per function
        F.identity(x).forward()
        assert len(rec.get_input_clear_called_flags()) == 1
    finally:
        rec.deactivate_clear_called_flag_recorder()
