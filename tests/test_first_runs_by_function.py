"""A graph's first runs go function by function (nnjax/_program.py
``runs_by_function``): small programs per (type, args, shapes) shared between
graphs; the graph is fused once it repeats, or at once in a training loop."""
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.solvers as S
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


def test_a_small_graph_in_a_loop_stays_function_by_function():
    # a finite-difference loop over a small graph keeps one way of computing it
    rng = np.random.RandomState(5)
    xs = rng.rand(16).astype(np.float32) + 1.0
    x = _var(xs, need_grad=False)
    f = F.sum(F.exp(x) * 3.0)
    indices = [i % 16 for i in range(_program.BY_FUNCTION_RUNS + 8)]

    def never_fused():
        assert nn.compile_stats().last_ops == ("function",)  # not the fused "forward"

    estimates = central_differences(x, f, xs, indices, 1e-2, never_fused)
    np.testing.assert_allclose(estimates, 3 * np.exp(xs[indices]), rtol=1e-3)


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


def test_repeated_unfused_forwards_run_directly_and_follow_their_inputs():
    # a repeat of an unfused forward calls each function's program directly
    # (nnjax/_direct_run.py DirectRun): values follow the inputs; a new kind of input
    # value (float64) or a replaced input array goes through the queue again
    from nnjax import _queue
    rng = np.random.RandomState(7)
    a0, b0 = rng.randn(3, 4), rng.randn(4, 2)
    a, b = _var(a0, need_grad=False), _var(b0, need_grad=False)
    h = F.tanh(F.affine(a, b))
    y = F.sum(h * 2.0)

    def expected(av, bv):
        hv = np.tanh(np.asarray(av, np.float64) @ bv)
        return hv, 2 * hv.sum()

    flushes = []
    real_flush = _queue.flush

    def counting_flush():
        flushes.append(bool(_queue._queue))
        real_flush()

    for k in range(6):
        av = a0 + 0.1 * k
        a.d = av
        if k == 4:
            a.data.cast(np.float64)[...] = av  # a new kind of value: queued again
        if k == 2:
            _queue.flush = counting_flush
        try:
            y.forward()
        finally:
            _queue.flush = real_flush
        hv, yv = expected(av, b0)
        np.testing.assert_allclose(y.d, yv, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(h.d, hv, rtol=1e-5, atol=1e-6)
        if k == 2:  # the repeat ran no op through the queue
            assert not any(flushes)
    # an input array replaced by another graph's output
    c = _var(b0 * 0.5, need_grad=False)
    b2 = F.identity(c) * 2.0
    b2.forward()
    b.data = b2.data
    y.forward()
    np.testing.assert_allclose(y.d, expected(a0 + 0.5, b0)[1], rtol=1e-5, atol=1e-5)


def test_repeated_unfused_stochastic_forwards_draw_fresh_keys():
    # the direct repeats of a stochastic function pass new keys each run: every
    # forward draws anew, and the same seed gives the same sequence of draws
    from nnjax import _forward

    def draws(n):
        o = F.rand(0, 1, [64], seed=313)
        values = []
        for _ in range(n):
            o.forward()
            values.append(o.d.copy())
        return np.array(values)

    queued = []
    real_run_now = _forward.run_now
    _forward.run_now = lambda op: (queued.append(op), real_run_now(op))
    try:
        first = draws(40)
    finally:
        _forward.run_now = real_run_now
    # the later ones ran directly, but for the one run that times the first tier
    # (a generator may tier up: tiered_compile's test_a_random_generator_in_a_loop...)
    assert len(queued) == 2
    assert len({row.tobytes() for row in first}) == 40
    assert ((first >= 0) & (first < 1)).all()
    assert abs(first.mean() - 0.5) < 0.05 and abs(first.var() - 1 / 12) < 0.01
    np.testing.assert_array_equal(draws(40), first)


def test_a_float64_write_runs_the_float32_program():
    # ``x.d = float64 values`` (a finite-difference loop's writes) keeps the array
    # float64, as NNabla does; JAX narrows it on the way in, so the program of the
    # float32 values serves it: no new program, float32 arithmetic on rounded values
    rng = np.random.RandomState(4)
    xs = rng.randn(3, 5)
    x = _var(xs)
    y = F.exp(F.tanh(x) * 3.0)
    y.forward()
    compiles = nn.compile_stats().compiles
    for step in range(3):
        values = xs + step * 1e-3
        x.d = values
        assert x.d.dtype == np.float64
        y.forward()
        rounded = values.astype(np.float32).astype(np.float64)
        np.testing.assert_allclose(y.d, np.exp(np.tanh(rounded) * 3.0), rtol=1e-6)
    assert nn.compile_stats().compiles == compiles
