"""Tiered compilation (nnjax/_program.py): cheap first tier, optimized once a
program repeats, first-tier executables shared between identical programs."""
import os

import numpy as np
import jax.numpy as jnp
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.solvers as S
from nnjax import _program

from function_check import central_differences


def test_training_loop_compiles_once_optimized():
    rng = np.random.RandomState(0)
    xs = rng.randn(8, 3).astype(np.float32)
    ts = rng.randn(8, 2).astype(np.float32)
    nn.clear_parameters()
    x = nn.Variable.from_numpy_array(xs)
    t = nn.Variable.from_numpy_array(ts)
    with nn.parameter_scope("tier"):
        y = PF.affine(x, 2)
    loss = F.mean(F.squared_error(y, t))
    params = nn.get_parameters()
    w = params["tier/affine/W"].d.copy()
    b = params["tier/affine/b"].d.copy()
    solver = S.Sgd(lr=0.1)
    solver.set_parameters(params)

    loss.forward()
    loss.backward()
    stats = nn.compile_stats()
    compiles, tier_ups = stats.compiles, stats.tier_ups
    steps = _program.TIER_UP_HITS + 4
    for _ in range(steps):
        solver.zero_grad()
        loss.forward()
        loss.backward()
        solver.update()
    nn.synchronize()
    # the step program (it updates parameters) compiles once, optimized at once
    assert stats.compiles - compiles <= 2
    assert stats.tier_ups == tier_ups

    # the same SGD in numpy (the first backward's grads were zeroed before step 1)
    for _ in range(steps):
        err = xs @ w + b - ts
        gy = 2 * err / err.size
        w, b = w - 0.1 * xs.T @ gy, b - 0.1 * gy.sum(0)
    np.testing.assert_allclose(params["tier/affine/W"].d, w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(params["tier/affine/b"].d, b, rtol=1e-5, atol=1e-6)


def test_identical_programs_share_one_executable(monkeypatch):
    monkeypatch.setenv("NNJAX_FIRST_RUNS_BY_FUNCTION", "0")  # fused from the first run
    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = nn.Variable.from_numpy_array(values)
    y = F.tanh(x)  # (a program XLA compiles: numpy would run x * 2, see _host_programs)
    y.forward()
    np.testing.assert_allclose(y.d, np.tanh(values), rtol=1e-6)
    shared = nn.compile_stats().shared
    # a different graph (another key) whose program text is the same
    z = F.tanh(F.identity(x))
    z.forward()
    np.testing.assert_allclose(z.d, np.tanh(values), rtol=1e-6)
    assert nn.compile_stats().shared == shared + 1
    # same text, other data: the shared executable reads its own inputs
    u = nn.Variable.from_numpy_array(values / 10)
    v = F.tanh(F.identity(u))
    v.forward()
    np.testing.assert_allclose(v.d, np.tanh(values / 10), rtol=1e-6)


def test_programs_keeping_different_arguments_are_not_confused():
    a = np.arange(3, dtype=np.float32)
    b = np.arange(3, dtype=np.float32) + 100
    first = _program.Program(lambda vals, donated, ops: [vals[0] * 2], fast=True)
    second = _program.Program(lambda vals, donated, ops: [vals[1] * 2], fast=True)
    np.testing.assert_array_equal(first.run([a, b], [], ()), [a * 2])
    np.testing.assert_array_equal(second.run([a, b], [], ()), [b * 2])


def test_unused_arguments_of_other_shapes_are_not_confused():
    a, b = np.ones((2, 3), np.float32), np.ones((3, 2), np.float32)
    first = _program.Program(lambda vals, donated, ops: [vals[0] * 2], fast=True)
    second = _program.Program(lambda vals, donated, ops: [vals[0] * 2], fast=True)
    np.testing.assert_array_equal(first.run([a, b], [], ())[0], a * 2)
    # same text (the second argument is unused), but the unused argument's shape differs
    np.testing.assert_array_equal(second.run([a, b.T], [], ())[0], a * 2)


def test_callbacks_are_never_shared():
    import jax
    seen = []

    def program_calling(tag):
        def program(vals, donated, ops):
            jax.debug.callback(lambda v: seen.append((tag, float(v[0]))), vals[0])
            return [vals[0] + 1]
        return program

    a = np.ones(2, np.float32)
    first = _program.Program(program_calling("first"), fast=True)
    second = _program.Program(program_calling("second"), fast=True)
    first.run([a], [], ())
    second.run([a], [], ())
    jax.effects_barrier()
    assert not second.shared
    assert sorted(seen) == [("first", 1.0), ("second", 1.0)]


def test_tier_up_times_a_run_then_swaps_in_the_optimized_program():
    p = _program.Program(lambda vals, donated, ops: [jnp.tanh(vals[0]) * ops[0]], fast=True)
    a = np.linspace(-2, 2, 5).astype(np.float32)
    np.testing.assert_allclose(p.run([a], [], (3.0,))[0], np.tanh(a) * 3, rtol=1e-6)
    assert p.build_seconds > 0 and p.run_seconds is None
    np.testing.assert_allclose(p.tier_up([a], [], (2.0,))[0], np.tanh(a) * 2, rtol=1e-6)
    assert p.fast and p.run_seconds > 0  # the first call times a first-tier run
    assert p.tier_up_hits == _program.runs_paying_for_compile(p.build_seconds, p.run_seconds)
    np.testing.assert_allclose(p.tier_up([a], [], (0.5,))[0], np.tanh(a) * 0.5, rtol=1e-6)
    assert not p.fast


def test_timed_tier_up_run_with_new_shapes_lowers_again():
    p = _program.Program(lambda vals, donated, ops: [jnp.tanh(vals[0]) * ops[0]], fast=True)
    a = np.linspace(-2, 2, 5).astype(np.float32)
    np.testing.assert_allclose(p.run([a], [], (3.0,))[0], np.tanh(a) * 3, rtol=1e-6)
    b = np.linspace(-1, 1, 7).astype(np.float32)  # reset_shape under a cached layout
    np.testing.assert_allclose(p.tier_up([b], [], (2.0,))[0], np.tanh(b) * 2, rtol=1e-6)
    assert p.fast and p.run_seconds is None  # the next due run is timed
    np.testing.assert_allclose(p.run([b], [], (0.5,))[0], np.tanh(b) * 0.5, rtol=1e-6)


def test_runs_paying_for_the_full_compile():
    # the full compile is estimated at FULL_COMPILE_FACTOR first-tier builds
    factor = _program.FULL_COMPILE_FACTOR
    assert _program.runs_paying_for_compile(0.02, 0.001) == int(np.ceil(factor * 20))
    assert _program.runs_paying_for_compile(0.02, 1.0) == 1
    assert _program.runs_paying_for_compile(0.02, 0.0) == int(np.ceil(factor * 0.02 / 1e-9))


def test_forward_backward_loop_tiers_up_once(monkeypatch):
    monkeypatch.setenv("NNJAX_FIRST_RUNS_BY_FUNCTION", "0")  # fused from the first run
    monkeypatch.setattr(_program, "FULL_COMPILE_FACTOR", 0.0)  # the timed run pays at once
    rng = np.random.RandomState(1)
    xs = rng.randn(256, 300).astype(np.float32)  # above SMALL_PROGRAM_BYTES
    x = nn.Variable.from_numpy_array(xs, need_grad=True)
    y = F.sum(F.tanh(x) ** 2)
    tier_ups = nn.compile_stats().tier_ups
    for _ in range(_program.TIER_UP_HITS + 3):
        x.grad.zero()
        y.forward()
        y.backward()
    np.testing.assert_allclose(x.g, 2 * np.tanh(xs) * (1 - np.tanh(xs) ** 2), rtol=1e-4,
                               atol=1e-6)
    assert nn.compile_stats().tier_ups - tier_ups == 1


def test_loop_of_cheap_runs_stays_in_the_first_tier(monkeypatch):
    """Runs that cost far less than the full compile never pay for it."""
    monkeypatch.setenv("NNJAX_FIRST_RUNS_BY_FUNCTION", "0")
    monkeypatch.setattr(_program, "FULL_COMPILE_FACTOR", 1e6)
    rng = np.random.RandomState(4)
    xs = rng.randn(256, 300).astype(np.float32)  # above SMALL_PROGRAM_BYTES
    x = nn.Variable.from_numpy_array(xs)
    y = F.tanh(x) * 3.0
    tier_ups = nn.compile_stats().tier_ups
    for _ in range(_program.TIER_UP_HITS + 8):
        y.forward()
    assert nn.compile_stats().tier_ups == tier_ups
    np.testing.assert_allclose(y.d, 3 * np.tanh(xs), rtol=1e-6)


def test_small_finite_difference_loop_stays_in_one_tier():
    # central differences of a sum over 1024 values: a one-ulp change of f between
    # the two evaluations would move the estimate by about ulp(f) / 2e
    rng = np.random.RandomState(2)
    xs = rng.rand(1024).astype(np.float32) + 1.0
    x = nn.Variable.from_numpy_array(xs)
    f = F.sum(F.exp(x) * 3.0)
    tier_ups = nn.compile_stats().tier_ups
    estimates = central_differences(x, f, xs, range(12), 1e-3)
    assert nn.compile_stats().tier_ups == tier_ups
    np.testing.assert_allclose(estimates, 3 * np.exp(xs[:12]), rtol=0.05)


def test_how_soon_a_program_tiers_up():
    small = _program.SMALL_PROGRAM_BYTES - 1
    assert _program.tier_up_hits({"forward"}, small) == _program.NEVER
    assert _program.tier_up_hits({"forward", "backward"}, small) == _program.NEVER
    assert _program.tier_up_hits({"forward"}, small + 1) == _program.TIER_UP_HITS
    assert _program.tier_up_hits({"forward"}, 0, float_inputs=False) == _program.TIER_UP_HITS
    assert _program.starts_optimized({"forward", "backward", "update"}, small)
    assert not _program.starts_optimized({"forward"}, 1 << 30) or not _program.tiered()
    assert not _program.starts_optimized({"forward", "backward"}, small) or not _program.tiered()


def test_tiering_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("NNJAX_TIERED_COMPILE", "0")
    assert not _program.tiered()
    monkeypatch.setenv("NNJAX_TIERED_COMPILE", "1")
    import jax
    assert _program.tiered() == (jax.default_backend() == "cpu")


def test_a_graph_met_again_among_new_ones_stays_in_the_first_tier():
    """Hits count towards a tier-up only in a row: a program run again after other
    programs were set up (a test file meeting the same graph in later cases) keeps its
    first-tier executable, so its results round as before."""
    rng = np.random.RandomState(3)
    xs = rng.randn(256, 300).astype(np.float32)  # above SMALL_PROGRAM_BYTES
    x = nn.Variable.from_numpy_array(xs)
    y = F.tanh(x) * 2.0
    tier_ups = nn.compile_stats().tier_ups
    for k in range(2 * _program.TIER_UP_HITS):
        y.forward()
        F.sin(nn.Variable.from_numpy_array(np.full((k + 2,), 0.5, np.float32))).forward()
    assert nn.compile_stats().tier_ups == tier_ups
    np.testing.assert_allclose(y.d, 2 * np.tanh(xs), rtol=1e-6)


def _backend_compiles(run):
    """How many XLA compiles ``run()`` caused (JAX's own compile events)."""
    import jax.monitoring
    seen = []

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            seen.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        run()
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    return len(seen)


def test_a_graph_run_once_compiles_only_its_programs():
    # its pending fills (fresh grads, filled inputs) become arrays without a
    # program of their own: a new shape would compile one per fill
    compiles = nn.compile_stats().compiles
    on_host = nn.compile_stats().on_host  # (programs numpy runs: no XLA compile)

    def run():
        x = nn.Variable((3, 17), need_grad=True)
        x.data.fill(2.0)
        y = F.sum(F.tanh(x))
        y.forward()
        y.backward()
        np.testing.assert_allclose(x.g, np.full((3, 17), 1 - np.tanh(2.0) ** 2), rtol=1e-6)
    backend_compiles = _backend_compiles(run)
    stats = nn.compile_stats()
    assert backend_compiles == (stats.compiles - compiles) - (stats.on_host - on_host) > 0


def test_a_lowering_is_traced_once_for_every_program_calling_it():
    import dataclasses
    import jax
    from nnjax._plan import call_lowering
    from nnjax._registry import get_spec
    calls = []

    def softsign(x):
        calls.append(x.shape)
        return x / (1 + jnp.abs(x))

    spec = dataclasses.replace(get_spec("SoftSign"), lower=softsign)
    forward = jax.jit(lambda x: call_lowering(spec, {}, None, None, [x])[0][0])
    backward = jax.jit(jax.grad(lambda x: call_lowering(spec, {}, None, None, [x])[0][0].sum()))
    x = np.linspace(-2, 2, 6, dtype=np.float32)
    np.testing.assert_allclose(forward(x), x / (1 + np.abs(x)), rtol=1e-6)
    np.testing.assert_allclose(backward(x), 1 / (1 + np.abs(x)) ** 2, rtol=1e-6)
    assert calls == [(6,)]


def test_optimized_cpu_programs_choose_their_kernels(monkeypatch):
    # optimized programs (a training step starts optimized) are compiled with
    # KERNEL_OPTIONS (YNNPACK for individual dots only: see nnjax/_program.py), first-tier
    # ones with XLA's defaults; the values are the same numpy formulas either way
    import jax
    if jax.default_backend() != "cpu":
        pytest.skip("CPU only")
    assert _program.cpu_kernel_options() == _program.KERNEL_OPTIONS
    compiled = []
    real = _program._compile

    def spy(lowered, options):
        compiled.append(dict(options))
        return real(lowered, options)
    monkeypatch.setattr(_program, "_compile", spy)
    rng = np.random.RandomState(0)
    xd = rng.randn(4, 3, 5, 5).astype(np.float32)
    wd = rng.randn(2, 3, 1, 1).astype(np.float32)
    md = rng.randn(50, 6).astype(np.float32)
    nn.clear_parameters()
    x = nn.Variable.from_numpy_array(xd)
    with nn.parameter_scope("kernels"):
        y = PF.affine(PF.convolution(x, 2, (1, 1), with_bias=False), 6, with_bias=False)
    loss = F.sum(y * y)
    params = nn.get_parameters()
    params["kernels/conv/W"].d, params["kernels/affine/W"].d = wd, md
    solver = S.Sgd(0.1)
    solver.set_parameters(params)
    loss.forward()
    solver.zero_grad()
    loss.backward()
    solver.update()
    h = np.einsum("nchw,oc->nohw", xd, wd[:, :, 0, 0]).reshape(4, -1)
    np.testing.assert_allclose(loss.d, np.sum((h @ md) ** 2), rtol=1e-5)
    np.testing.assert_allclose(params["kernels/affine/W"].d, md - 0.1 * 2 * h.T @ (h @ md),
                               rtol=1e-4, atol=1e-4)
    assert compiled and all(set(_program.KERNEL_OPTIONS.items()) <= set(o.items())
                            for o in compiled)
    compiled.clear()
    z = F.tanh(x * 1.2345)  # a one-off graph (no other test's program text): first tier
    z.forward()
    np.testing.assert_allclose(z.d, np.tanh(xd * np.float32(1.2345)), rtol=1e-5, atol=1e-6)
    assert compiled and all(o == _program.FAST_COMPILE_OPTIONS for o in compiled)


def test_xlas_default_cpu_kernels_on_request(tmp_path):
    import subprocess
    import sys
    code = "from nnjax import _program; print(_program.cpu_kernel_options())"
    env = dict(os.environ, NNJAX_XLA_YNN="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "{}"


def test_a_jaxlib_without_the_kernel_option_compiles_with_its_defaults(monkeypatch):
    option = dict(_program.KERNEL_OPTIONS)
    monkeypatch.setattr(_program, "_kernel_options", [option])
    seen = []

    class Lowered:
        def compile(self, options):
            seen.append(dict(options))
            for name in options:
                if name.startswith("xla_cpu_experimental_ynn"):
                    raise RuntimeError(f"INVALID_ARGUMENT: No such compile option: '{name}'")
                if name == "bad":
                    raise RuntimeError("INVALID_ARGUMENT: something else")
            return "executable"
    assert _program._compile(Lowered(), {"level": 0, **option}) == "executable"
    assert seen == [{"level": 0, **option}, {"level": 0}]
    assert _program.cpu_kernel_options() == {}  # (and for every later program)
    with pytest.raises(RuntimeError, match="something else"):
        _program._compile(Lowered(), {"bad": 1})


def test_a_random_generator_in_a_loop_tiers_up_and_keeps_drawing():
    """A generator has no float inputs (no finite-difference loop runs it), so a
    large one tiers up when it keeps running, however small its inputs."""
    y = F.randn(shape=(300000,))
    tier_ups = nn.compile_stats().tier_ups
    draws = []
    for _ in range(60):
        y.forward()
        draws.append(y.d[:4].copy())
        if nn.compile_stats().tier_ups > tier_ups:
            break
    assert nn.compile_stats().tier_ups == tier_ups + 1
    y.forward()  # the optimized program draws fresh N(0, 1) values
    assert not any(np.array_equal(y.d[:4], d) for d in draws)
    assert abs(y.d.mean()) < 0.01 and abs(y.d.std() - 1.0) < 0.01
