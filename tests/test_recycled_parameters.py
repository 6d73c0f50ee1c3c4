"""A training step writes each parameter's (and running statistic's) new value into the
buffer of the value the step before it read (nnjax._step_results.spare_buffers): they
alternate between two buffers instead of taking fresh memory every step. Checked here:
the buffers do alternate, the values equal jax.grad of the network written by hand with
Momentum by hand (running statistics: numpy), gradients read after an update are the
step's own, a buffer somebody may still see (a held read-only view, another array
sharing it) is never written, and a parameter whose .d was read once goes back to the
device while a kept .d reference sees every update."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.solvers as S
from nnjax import _flush_inputs, _queue

BATCH, IN, HIDDEN, CLASSES, LR, MOMENTUM = 8, 6, 5, 3, 0.1, 0.9


@pytest.fixture(autouse=True)
def recycle_small_arrays(monkeypatch):
    """These networks are small: recycle arrays of every size."""
    monkeypatch.setattr(_flush_inputs, "RECYCLE_MIN_BYTES", 0)


def _batch(i):
    rs = np.random.RandomState(20 + i)
    return (rs.randn(BATCH, IN).astype(np.float32),
            rs.randint(0, CLASSES, (BATCH, 1)).astype(np.int32))


def _loss_by_hand(p, xb, tb):
    h = jnp.tanh(xb @ p["a/affine/W"] + p["a/affine/b"])
    y = h @ p["b/affine/W"] + p["b/affine/b"]
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(y), tb, axis=1))


def _setup():
    nn.clear_parameters()
    nn.seed(5)
    x = nn.Variable((BATCH, IN))
    t = nn.Variable((BATCH, 1))
    with nn.parameter_scope("a"):
        h = F.tanh(PF.affine(x, HIDDEN))
    with nn.parameter_scope("b"):
        y = PF.affine(h, CLASSES)
    loss = F.mean(F.softmax_cross_entropy(y, t))
    solver = S.Momentum(LR, MOMENTUM)
    solver.set_parameters(nn.get_parameters())
    initial = {k: v.d.copy() for k, v in nn.get_parameters().items()}
    return x, t, loss, solver, initial


def _step(i, x, t, loss, solver):
    x.d, t.d = _batch(i)
    loss.forward()
    solver.zero_grad()
    loss.backward()
    solver.update()


def _by_hand(initial, steps):
    """(parameters after each step, gradients of each step): Momentum as NNabla
    writes it (m <- momentum m + lr g; w <- w - m), gradients by jax.grad."""
    p = {k: jnp.asarray(v) for k, v in initial.items()}
    m = {k: jnp.zeros_like(v) for k, v in p.items()}
    params, grads = [], []
    for i in range(steps):
        xb, tb = _batch(i)
        g = jax.grad(_loss_by_hand)(p, jnp.asarray(xb), jnp.asarray(tb))
        m = {k: MOMENTUM * m[k] + LR * g[k] for k in p}
        p = {k: p[k] - m[k] for k in p}
        params.append({k: np.asarray(v) for k, v in p.items()})
        grads.append({k: np.asarray(v) for k, v in g.items()})
    return params, grads


def _pointer(param):
    head = param.data._head
    return head.unsafe_buffer_pointer() if isinstance(head, jax.Array) else None


def _assert_close(actual, expected):
    for k in expected:
        np.testing.assert_allclose(actual[k], expected[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_parameters_alternate_between_two_buffers_and_values_match():
    x, t, loss, solver, initial = _setup()
    params = nn.get_parameters()
    pointers = {k: set() for k in params}
    for i in range(10):
        _step(i, x, t, loss, solver)
        nn.synchronize()
        if i >= 2:  # (the first steps' buffers are copies made for them)
            for k, p in params.items():
                pointers[k].add(_pointer(p))
    expected, _ = _by_hand(initial, 10)
    _assert_close({k: p.d.copy() for k, p in params.items()}, expected[-1])
    for k, seen in pointers.items():
        assert None not in seen and len(seen) == 2, (k, seen)


def test_gradients_read_after_each_update_are_the_steps_own():
    x, t, loss, solver, initial = _setup()
    params = nn.get_parameters()
    expected_params, expected_grads = _by_hand(initial, 6)
    for i in range(6):
        _step(i, x, t, loss, solver)
        if i in (3, 4, 5):  # read after the update: computed from the values the step read
            _assert_close({k: p.g.copy() for k, p in params.items()}, expected_grads[i])
    _assert_close({k: p.d.copy() for k, p in params.items()}, expected_params[-1])


def _read_only_view(w):
    return w.data.get_data("r")  # may share the device buffer of the value now


def _array_sharing_it(w):
    other = nn.NdArray(w.shape)
    other.copy_from(w.data)  # shares the immutable device value
    assert other._head is w.data._head
    return other


@pytest.mark.parametrize("hold", [_read_only_view, _array_sharing_it])
def test_an_old_value_somebody_holds_is_never_written(hold):
    x, t, loss, solver, initial = _setup()
    params = nn.get_parameters()
    w = params["a/affine/W"]
    for i in range(3):
        _step(i, x, t, loss, solver)
    nn.synchronize()
    held = hold(w)
    for i in range(3, 9):
        _step(i, x, t, loss, solver)
    nn.synchronize()
    expected, _ = _by_hand(initial, 9)
    np.testing.assert_allclose(held.data if isinstance(held, nn.NdArray) else held,
                               expected[2]["a/affine/W"], rtol=1e-5, atol=1e-6)
    _assert_close({k: p.d.copy() for k, p in params.items()}, expected[-1])


def test_parameters_read_once_through_d_go_back_to_the_device():
    # _setup read every parameter's .d (a numpy head handed out, then dropped): the
    # first results replace those heads instead of being copied into them, so later
    # steps neither copy parameters in nor results out
    x, t, loss, solver, initial = _setup()
    params = nn.get_parameters()
    assert all(isinstance(p.data._head, np.ndarray) for p in params.values())
    for i in range(3):
        _step(i, x, t, loss, solver)
    nn.synchronize()
    assert all(isinstance(p.data._head, jax.Array) for p in params.values())
    expected, _ = _by_hand(initial, 3)
    _assert_close({k: p.d.copy() for k, p in params.items()}, expected[-1])


def test_a_held_d_reference_sees_every_update():
    # as in NNabla, a numpy reference taken from .d and kept is the parameter's memory
    x, t, loss, solver, initial = _setup()
    w = nn.get_parameters()["a/affine/W"]
    held = w.d
    expected, _ = _by_hand(initial, 4)
    for i in range(4):
        _step(i, x, t, loss, solver)
        nn.synchronize()
        np.testing.assert_allclose(held, expected[i]["a/affine/W"], rtol=1e-5, atol=1e-6)
    assert w.data._head is held


def test_running_statistics_alternate_between_two_buffers_and_match_numpy():
    # batch normalization right on the input: its running statistics follow the batches
    # alone (NNabla: decay 0.9, the unbiased batch variance)
    nn.clear_parameters()
    x = nn.Variable((BATCH, IN))
    t = nn.Variable((BATCH, 1))
    h = PF.batch_normalization(x, batch_stat=True, name="bn")
    loss = F.mean(F.softmax_cross_entropy(PF.affine(h, CLASSES, name="fc"), t))
    solver = S.Sgd(LR)
    solver.set_parameters(nn.get_parameters())
    stats = nn.get_parameters(grad_only=False)
    mean, var = stats["bn/bn/mean"], stats["bn/bn/var"]
    expected_mean = np.zeros((1, IN), np.float32)
    expected_var = np.ones((1, IN), np.float32)
    pointers = {k: set() for k in stats}
    for i in range(8):
        _step(i, x, t, loss, solver)
        xb, _ = _batch(i)
        expected_mean = 0.9 * expected_mean + 0.1 * xb.mean(0, keepdims=True)
        expected_var = 0.9 * expected_var + 0.1 * xb.var(0, ddof=1, keepdims=True)
        nn.synchronize()
        if i >= 2:
            for k, p in stats.items():
                pointers[k].add(_pointer(p))
    np.testing.assert_allclose(mean.d.reshape(1, IN), expected_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(var.d.reshape(1, IN), expected_var, rtol=1e-5, atol=1e-6)
    for k, seen in pointers.items():
        assert None not in seen and len(seen) == 2, (k, seen)


def test_only_arrays_of_at_least_recycle_min_bytes_are_recycled(monkeypatch):
    monkeypatch.setattr(_flush_inputs, "RECYCLE_MIN_BYTES", IN * HIDDEN * 4)  # a/affine/W's size
    x, t, loss, solver, initial = _setup()
    for i in range(3):
        _step(i, x, t, loss, solver)
    nn.synchronize()
    facts = _queue.last_flush()[1]
    params = nn.get_parameters()
    arrays = {id(p.data): k for k, p in params.items()}
    recycled = sorted(arrays[id(facts.value_arrays[k])] for _, k in facts.recycled)
    assert recycled == ["a/affine/W"]
    expected, _ = _by_hand(initial, 3)
    _assert_close({k: p.d.copy() for k, p in params.items()}, expected[-1])
