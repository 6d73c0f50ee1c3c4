"""Inputs a training loop passes unchanged (labels, an initial state written once) move
to the device after the step's first two runs, so the program stops copying them in
at every call; a batch written every step, a held view and a 64-bit value that int32
cannot hold stay on the host. Values are checked against jax.grad of the same network
written by hand."""
import jax
import jax.numpy as jnp
import numpy as np

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.solvers as S
from nnjax._flush_inputs import _narrowed_exactly

BATCH, IN, HIDDEN, CLASSES, LR = 8, 5, 4, 3, 0.1
_LAST = {}  # the last _train's loss and solver


def _batch(i):
    return np.random.RandomState(10 + i).randn(BATCH, IN).astype(np.float32)


def _network():
    nn.clear_parameters()
    nn.seed(3)
    x = nn.Variable((BATCH, IN))
    h0 = nn.Variable((BATCH, HIDDEN))
    t = nn.Variable((BATCH, 1))
    with nn.parameter_scope("a"):
        h = F.tanh(PF.affine(F.concatenate(x, h0, axis=1), HIDDEN))
    with nn.parameter_scope("b"):
        y = PF.affine(h, CLASSES)
    loss = F.mean(F.softmax_cross_entropy(y, t))
    return x, h0, t, loss


def _reference(params, h0, labels, steps):
    """The same network and Sgd steps, by hand in jax."""
    def loss_fn(p, xb, tb):
        h = jnp.tanh(jnp.concatenate([xb, h0], axis=1) @ p["a/affine/W"] + p["a/affine/b"])
        y = h @ p["b/affine/W"] + p["b/affine/b"]
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(y), tb, axis=1))
    p = {k: jnp.asarray(v) for k, v in params.items()}
    for i in range(steps):
        g = jax.grad(loss_fn)(p, _batch(i), jnp.asarray(labels))
        p = {k: p[k] - LR * g[k] for k in p}
    return {k: np.asarray(v) for k, v in p.items()}


def _train(steps, hold_label_view=False):
    x, h0, t, loss = _network()
    rs = np.random.RandomState(0)
    labels = rs.randint(0, CLASSES, (BATCH, 1)).astype(np.int64)
    h0.d = rs.randn(BATCH, HIDDEN).astype(np.float32)
    t.d = labels
    view = t.d if hold_label_view else None
    initial = {k: v.d.copy() for k, v in nn.get_parameters().items()}
    solver = S.Sgd(LR)
    solver.set_parameters(nn.get_parameters())
    for i in range(steps):
        x.d = _batch(i)
        loss.forward()
        solver.zero_grad()
        loss.backward()
        solver.update()
    nn.synchronize()
    params = {k: v.d.copy() for k, v in nn.get_parameters().items()}
    _LAST.update(loss=loss, solver=solver)
    return x, h0, t, labels, initial, params, view


def test_unchanged_inputs_move_to_the_device_and_values_stay_exact():
    x, h0, t, labels, initial, params, _ = _train(8)
    assert isinstance(t.data._head, jax.Array) and isinstance(h0.data._head, jax.Array)
    assert isinstance(x.data._head, np.ndarray)  # a batch written every step stays
    expected = _reference(initial, h0.d.copy(), labels, 8)
    for k in expected:
        np.testing.assert_allclose(params[k], expected[k], rtol=1e-5, atol=1e-6, err_msg=k)
    # the labels keep their dtype and values (int64 narrowed to int32 on the device)
    assert t.d.dtype == np.int64 and t.data.dtype == np.int64
    np.testing.assert_array_equal(t.d, labels)


def test_a_held_view_stays_on_the_host_and_writes_through_it_count():
    x, h0, t, labels, initial, params, view = _train(4, hold_label_view=True)
    assert isinstance(t.data._head, np.ndarray) and t.data._head is view
    expected = _reference(initial, h0.d.copy(), labels, 4)
    for k in expected:
        np.testing.assert_allclose(params[k], expected[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_a_moved_input_written_again_is_used_from_then_on():
    x, h0, t, labels, _, _, _ = _train(4)
    assert isinstance(h0.data._head, jax.Array)
    loss, solver = _LAST["loss"], _LAST["solver"]
    new_h0 = np.full((BATCH, HIDDEN), 0.5, np.float32)
    h0.d = new_h0
    params_now = {k: v.d.copy() for k, v in nn.get_parameters().items()}
    for i in range(2):
        x.d = _batch(i)
        loss.forward()
        solver.zero_grad()
        loss.backward()
        solver.update()
    expected = _reference(params_now, new_h0, labels, 2)
    for k, v in nn.get_parameters().items():
        np.testing.assert_allclose(v.d, expected[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_narrowing_is_only_taken_where_it_keeps_every_value():
    small = np.array([1, 2, -3], np.int64)
    narrowed = _narrowed_exactly(small)
    assert narrowed.dtype == np.int32 and np.array_equal(narrowed, small)
    assert _narrowed_exactly(np.array([2 ** 40], np.int64)) is None
    assert _narrowed_exactly(np.array([0.1], np.float64)) is None  # not a float32 value
    same = np.ones(3, np.float32)
    assert _narrowed_exactly(same) is same
