"""First-tier programs that only move data, fill constants or add, subtract and
multiply float32/float64 arrays run in numpy (nnjax/_host_programs.py), with
the rounding XLA's CPU code gives; everything else is still compiled."""
import numpy as np
import pytest

import jax
import nnabla as nn
import nnabla.functions as F
from nnjax import _queue


def _host_count():
    return _queue.stats.on_host


def _normal(rng, shape, dtype=np.float32):
    x = rng.standard_normal(shape).astype(dtype)
    x[np.abs(x) < 1e-3] = 0.5  # (no subnormal products: XLA's CPU code flushes them)
    return x


@pytest.mark.parametrize("shape", [(3, 5), (2, 1, 4), ()])
def test_glue_functions_of_new_shapes_run_in_numpy_with_xla_rounding(shape):
    rng = np.random.default_rng(len(shape))
    x0 = _normal(rng, shape)
    x = nn.Variable.from_numpy_array(x0, need_grad=True)
    before = _host_count()
    y = F.mul_scalar(F.identity(x), 0.3)
    y.forward()
    assert _host_count() - before == 2          # Identity, MulScalar: no compile
    expected = np.asarray(jax.jit(lambda v: v * np.float32(0.3))(x0))
    np.testing.assert_array_equal(y.d, expected)  # bit for bit with XLA's program
    np.testing.assert_array_equal(y.d, x0 * np.float32(0.3))

    g0 = _normal(rng, shape)
    x.g = g0
    y.backward(np.full(shape, 2.0, np.float32))  # accumulates into x.g
    np.testing.assert_array_equal(x.g, g0 + np.float32(2.0) * np.float32(0.3))


def test_a_sum_is_compiled_and_its_backward_broadcasts_on_the_host():
    rng = np.random.default_rng(0)
    x0 = _normal(rng, (4, 7))
    x = nn.Variable.from_numpy_array(x0, need_grad=True)
    s = F.sum(x)
    before = _host_count()
    s.forward()
    assert _host_count() == before                # a reduction: XLA's order of summation
    np.testing.assert_allclose(s.d, x0.sum(), rtol=1e-6)
    x.grad.zero()
    s.backward(3.0)
    assert _host_count() == before + 1
    np.testing.assert_array_equal(x.g, np.full((4, 7), 3.0, np.float32))


def test_sink_fills_ones_on_the_host():
    x = nn.Variable.from_numpy_array(np.arange(6, dtype=np.float32).reshape(2, 3), need_grad=True)
    z = nn.Variable.from_numpy_array(np.ones((5,), np.float32), need_grad=True)
    before = _host_count()
    sink = F.sink(F.identity(x), F.identity(z))
    sink.forward()
    sink.backward()
    assert _host_count() - before >= 4
    np.testing.assert_array_equal(x.g, np.ones((2, 3), np.float32))
    np.testing.assert_array_equal(z.g, np.ones((5,), np.float32))


def test_results_never_share_memory_with_inputs_or_each_other():
    x0 = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = nn.Variable.from_numpy_array(x0)
    x.d[...] = x0               # the head is a numpy array now
    a = F.identity(x)
    b = F.identity(x)
    a.forward()
    b.forward()
    a.d[0, 0] = 100.0           # NNabla's .d: the array's own memory
    x.d[1, 1] = -5.0
    np.testing.assert_array_equal(b.d, x0)
    np.testing.assert_array_equal(a.d[1], x0[1])
    assert a.d[0, 0] == 100.0 and x.d[0, 0] == 0.0


def test_half_precision_arithmetic_is_compiled():
    x0 = np.linspace(-2, 2, 12).astype(np.float16).reshape(3, 4)
    x = nn.Variable.from_numpy_array(x0)
    before = _host_count()
    y = F.mul_scalar(x, 0.1)
    y.forward()
    assert _host_count() == before
    np.testing.assert_allclose(y.d, x0.astype(np.float32) * 0.1, rtol=1e-3)


def test_a_new_shape_under_a_host_program_traces_again():
    x = nn.Variable.from_numpy_array(np.ones((2, 3), np.float32))
    y = F.mul_scalar(x, 2.0)
    y.forward()
    x.reset_shape((4, 1), force=True)
    x.d = np.arange(4, dtype=np.float32).reshape(4, 1)
    y.reset_shape((4, 1), force=True)
    y.forward()
    np.testing.assert_array_equal(y.d, np.arange(4, dtype=np.float32).reshape(4, 1) * 2)


def test_host_programs_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("NNJAX_HOST_PROGRAMS", "0")
    x = nn.Variable.from_numpy_array(np.ones((3, 11), np.float32))
    before = _host_count()
    y = F.mul_scalar(x, 4.0)
    y.forward()
    assert _host_count() == before
    np.testing.assert_array_equal(y.d, np.full((3, 11), 4.0, np.float32))


def test_a_finite_difference_loop_over_host_programs_stays_exact():
    rng = np.random.default_rng(3)
    x0 = _normal(rng, (3, 3))
    x = nn.Variable.from_numpy_array(x0)
    y = F.add_scalar(F.mul_scalar(x, 1.5), 0.25)
    for step in range(40):  # past the tier-up point of a compiled program
        x.d = x0 + np.float32(step)
        y.forward()
        np.testing.assert_array_equal(y.d, (x0 + np.float32(step)) * np.float32(1.5)
                                      + np.float32(0.25))


def test_a_float64_value_runs_the_float32_program_as_jax_converts_it():
    x = nn.Variable((2, 4))
    y = F.mul_scalar(x, 3.0)
    x.d = np.full((2, 4), 0.1, np.float32)
    y.forward()
    x64 = np.linspace(-1, 1, 8).reshape(2, 4) / 3.0   # float64, rounded on the way in
    x.d = x64
    y.forward()
    assert y.d.dtype == np.float32
    np.testing.assert_array_equal(y.d, x64.astype(np.float32) * np.float32(3.0))


def test_a_constant_result_is_a_new_array_each_run():
    x = nn.Variable.from_numpy_array(np.ones((2, 2), np.float32))
    first, second = F.sink(x), F.sink(x)
    first.forward()
    second.forward()
    first.d[...] = 7.0   # (a 0-d dummy output; NNabla's .d is its own memory)
    assert second.d == 0.0 and first.d == 7.0


def test_a_host_program_given_new_shapes_that_need_xla_compiles_and_can_tier_up():
    from nnjax import _program
    values = np.ones((2, 3), np.float32)
    p = _program.Program(lambda vals, donated, ops: [vals[0] * 2], fast=True)
    np.testing.assert_array_equal(p.run([values], [], ())[0], values * 2)
    assert p.on_host and not p.due_for_tier_up()
    # what the queue does when a run raises TypeError (an array changed shape)
    with pytest.raises(TypeError):
        p.run([np.ones((4,), np.float16)], [], ())
    half = np.linspace(-1, 1, 4).astype(np.float16)
    np.testing.assert_array_equal(p.lower_again([half], [], ())[0], half * np.float16(2))
    assert not p.on_host                        # half precision: compiled by XLA
    assert any(p.due_for_tier_up() for _ in range(_program.TIER_UP_HITS))


def test_a_0d_result_is_an_array_the_variable_owns():
    x = nn.Variable.from_numpy_array(np.array(1.5, np.float32))
    y = F.mul_scalar(x, 2.0)
    y.forward()
    assert type(y.data._head) is np.ndarray and y.d == np.float32(3.0)
    held = y.d
    x.d = np.array(4.0, np.float32)
    y.forward()
    assert held == np.float32(8.0)      # NNabla's .d: later results land in it
