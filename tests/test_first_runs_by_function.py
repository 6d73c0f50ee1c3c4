"""A graph's first runs go function by function (nnjax/_program.py
``runs_by_function``): small programs per (type, args, shapes) shared between
graphs; the graph is fused once it repeats, or at once in a training loop."""
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.solvers as S
from nnabla.function import PythonFunction
from nnjax import _program

from function_check import central_differences


def _var(values, need_grad=True):
    v = nn.Variable.from_numpy_array(np.asarray(values, np.float32))
    v.need_grad = need_grad
    return v


def test_graphs_sharing_functions_share_their_programs():
    rng = np.random.RandomState(0)
    xs = rng.randn(5, 7).astype(np.float32)

    def run(build, values):
        x = _var(values)
        y = build(x)
        y.forward()
        y.backward()
        return x, y

    x, y = run(lambda x: F.sum(F.tanh(x)), xs)
    np.testing.assert_allclose(y.d, np.tanh(xs.astype(np.float64)).sum(), rtol=1e-5)
    np.testing.assert_allclose(x.g, 1 - np.tanh(xs.astype(np.float64)) ** 2, atol=1e-6)
    run(lambda x: F.sum(F.identity(x)), xs)
    compiles = nn.compile_stats().compiles
    # a new graph of functions already met with these shapes: nothing to compile
    # (the fused program of this graph alone would be)
    x, y = run(lambda x: F.sum(F.tanh(F.identity(x))), xs + 1)
    assert nn.compile_stats().compiles == compiles
    np.testing.assert_allclose(y.d, np.tanh(xs + 1.0).sum(), rtol=1e-5)
    np.testing.assert_allclose(x.g, 1 - np.tanh(xs + 1.0) ** 2, atol=1e-6)


def test_a_repeating_graph_is_fused_and_gives_the_same_values():
    rng = np.random.RandomState(1)
    xs = rng.randn(256, 300).astype(np.float32)  # above SMALL_PROGRAM_BYTES
    x = _var(xs)
    y = F.sum(F.exp(F.sin(x)) * 2.0)
    results = []
    for _ in range(_program.BY_FUNCTION_RUNS + 3):
        y.forward()
        x.grad.zero()
        y.backward()
        results.append((float(y.d), x.g.copy()))
    assert nn.compile_stats().last_ops == ("forward", "backward")  # one fused program
    first, last = results[0], results[-1]
    # the fused first-tier program rounds as the function-by-function programs do
    assert first[0] == last[0]
    np.testing.assert_array_equal(first[1], last[1])
    np.testing.assert_allclose(first[1], 2 * np.exp(np.sin(xs)) * np.cos(xs), rtol=1e-5,
                               atol=1e-6)


def test_a_small_graph_whose_fused_program_rounds_differently_stays_function_by_function(
        monkeypatch):
    # XLA folds x * 3.1 * 0.7 into one multiply when the two are fused: other bits.
    # A finite-difference loop over the graph keeps one way of computing it.
    rng = np.random.RandomState(5)
    xs = rng.rand(16).astype(np.float32) + 1.0
    indices = [i % 16 for i in range(_program.CHECKED_FUSION_RUNS + 8)]

    def estimates():
        x = _var(xs, need_grad=False)
        f = F.sum(F.mul_scalar(F.mul_scalar(F.exp(x), 3.1), 0.7))
        found = central_differences(x, f, xs, indices, 1e-2)
        f.forward()
        return found, nn.compile_stats().last_ops

    checked, last_ops = estimates()
    assert last_ops == ("function",)  # not the fused "forward"
    monkeypatch.setattr(_program, "CHECKED_FUSION_RUNS", 10 ** 9)
    unchecked, _ = estimates()
    assert checked.tobytes() == unchecked.tobytes()
    np.testing.assert_allclose(checked, 3.1 * 0.7 * np.exp(xs[indices]), rtol=1e-3)


def _loop_values(build, inputs):
    """f(x) for each row of ``inputs``, through one graph run once per row."""
    x = _var(inputs[0], need_grad=False)
    f = build(x)
    values = []
    for row in inputs:
        x.d = row
        f.forward()
        values.append(f.d.copy())
    return np.array(values), nn.compile_stats().last_ops


def test_a_small_graph_in_a_loop_is_fused_where_that_changes_no_bit(monkeypatch):
    rng = np.random.RandomState(6)
    inputs = rng.rand(_program.CHECKED_FUSION_RUNS + 8, 4, 6).astype(np.float32)

    def build(x):
        centred = x - F.mean(x, axis=1, keepdims=True)
        return F.mean(centred ** 2, axis=1)

    checked, last_ops = _loop_values(build, inputs)
    assert last_ops == ("forward",)  # fused after the check
    monkeypatch.setattr(_program, "CHECKED_FUSION_RUNS", 10 ** 9)
    unfused, last_ops = _loop_values(build, inputs)
    assert last_ops == ("function",)
    # every run, before and after the switch, has the bits of the unfused graph
    assert checked.tobytes() == unfused.tobytes()
    np.testing.assert_allclose(checked, inputs.var(axis=2), rtol=1e-5)


class _CountingSquare(PythonFunction):
    """x * x on the host, counting its forwards."""

    def __init__(self):
        super().__init__()
        self.forwards = 0

    @property
    def name(self):
        return "CountingSquare"

    def min_outputs(self):
        return 1

    def setup_impl(self, inputs, outputs):
        outputs[0].reset_shape(inputs[0].shape, True)

    def forward_impl(self, inputs, outputs):
        self.forwards += 1
        outputs[0].d = inputs[0].d * inputs[0].d

    def backward_impl(self, inputs, outputs, propagate_down, accum):
        pass


def test_a_loop_over_a_python_function_runs_it_once_a_forward():
    # the fusion check would run the graph a second time: not with host functions
    square = _CountingSquare()
    x = _var(np.ones(3), need_grad=False)
    y = F.add_scalar(square(x), 1.0)
    runs = _program.CHECKED_FUSION_RUNS + 4
    for k in range(runs):
        x.d = np.full(3, k, np.float32)
        y.forward()
        np.testing.assert_allclose(y.d, k * k + 1.0)
    assert square.forwards == runs


def test_a_training_loop_fuses_from_its_second_step():
    rng = np.random.RandomState(2)
    xs = rng.randn(8, 3).astype(np.float32)
    ts = rng.randn(8, 2).astype(np.float32)
    nn.clear_parameters()
    x, t = _var(xs, False), _var(ts, False)
    loss = F.mean(F.squared_error(PF.affine(x, 2, name="fc"), t))
    solver = S.Sgd(0.1)
    solver.set_parameters(nn.get_parameters())
    w0 = nn.get_parameters()["fc/affine/W"].d.copy()
    b0 = nn.get_parameters()["fc/affine/b"].d.copy()
    for _ in range(3):
        loss.forward()
        solver.zero_grad()
        loss.backward()
        solver.update()
    float(loss.d)
    compiles = nn.compile_stats().compiles
    for _ in range(5):
        loss.forward()
        solver.zero_grad()
        loss.backward()
        solver.update()
    float(loss.d)
    assert nn.compile_stats().compiles == compiles  # steady state: the one fused step
    # the same 8 steps in numpy
    w, b = w0.astype(np.float64), b0.astype(np.float64)
    for _ in range(8):
        err = xs @ w + b - ts
        gy = 2 * err / err.size
        w, b = w - 0.1 * xs.T @ gy, b - 0.1 * gy.sum(0)
    np.testing.assert_allclose(nn.get_parameters()["fc/affine/W"].d, w, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(nn.get_parameters()["fc/affine/b"].d, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("hooked", [False, True])
def test_sink_without_input_grads_seeds_from_them_function_by_function(hooked):
    rng = np.random.RandomState(3)
    xs, seed = rng.randn(3, 4).astype(np.float32), rng.randn(3, 4).astype(np.float32)
    x = _var(xs)
    h = F.tanh(x)
    h.forward()
    h.g = seed
    sink = F.sink(h, one_input_grad=False)
    sink.forward()
    seen = []
    sink.backward(function_pre_hook=(lambda f: seen.append(f.info.type_name)) if hooked else None)
    np.testing.assert_allclose(x.g, seed * (1 - np.tanh(xs.astype(np.float64)) ** 2), atol=1e-6)
    assert seen == (["Sink", "Tanh"] if hooked else [])


def test_an_output_off_the_backward_path_gives_no_grad():
    rng = np.random.RandomState(4)
    xs = rng.randn(2, 6).astype(np.float32)
    x = _var(xs)
    first, second = F.split(F.reshape(x, (2, 2, 3)), axis=1)
    y = F.sum(first * 3.0)
    y.forward()
    second.g = 100.0  # a stale grad on the output nobody back-propagates from
    x.grad.zero()
    y.backward()
    expected = np.zeros((2, 2, 3), np.float32)
    expected[:, 0] = 3.0
    np.testing.assert_array_equal(x.g, expected.reshape(2, 6))
