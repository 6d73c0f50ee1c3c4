"""Behaviours NNabla's own function tests rely on: recompute, the normalizations'
backward objects, state read by the gradient, data-dependent re-setup, label and
shape rules. References are numpy formulas or ``jax.vjp`` of hand-written jnp code."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
from nnabla.backward_function.batch_normalization import BatchNormalizationBackward
from nnabla.backward_function.fused_batch_normalization import \
    FusedBatchNormalizationBackward
from nnabla.backward_functions import registry

from function_check import numeric_grad, var


def _bn(x, b, g, axes=(1,), eps=1e-5):
    red = tuple(a for a in range(x.ndim) if a not in axes)
    m = jnp.mean(x, red, keepdims=True)
    v = jnp.mean((x - m) ** 2, red, keepdims=True)
    return (x - m) / jnp.sqrt(v + eps) * g + b


def _inputs(rng, shape=(3, 2, 4), axis=1):
    stat = [1] * len(shape)
    stat[axis] = shape[axis]
    x = rng.randn(*shape).astype(np.float32)
    b, g = rng.randn(*stat).astype(np.float32), rng.randn(*stat).astype(np.float32)
    return x, b, g, np.zeros(stat, np.float32), np.ones(stat, np.float32)


def test_recompute_leaves_running_stats_and_repeats_random_draws():
    rng = np.random.RandomState(0)
    x, b, g, m, v = _inputs(rng)
    xs = [var(a) for a in (x, b, g)] + [var(m, False), var(v, False)]
    y = F.batch_normalization(*xs, batch_stat=True)
    fn = y.parent
    assert fn.need_setup_recompute(0)
    fn.setup_recompute(xs, [y])
    fn.forward(xs, [y])
    first, mean_after = y.d.copy(), xs[3].d.copy()
    np.testing.assert_allclose(mean_after, 0.1 * x.mean((0, 2), keepdims=True), rtol=1e-5)
    y.data.zero()
    fn.recompute(xs, [y])
    np.testing.assert_allclose(y.d, first, rtol=1e-6)
    np.testing.assert_allclose(xs[3].d, mean_after, rtol=1e-6)  # not updated twice

    u = F.rand(shape=(5,))
    r = u.parent
    assert r.need_setup_recompute(0)
    r.forward([], [u])
    drawn = u.d.copy()
    r.recompute([], [u])
    np.testing.assert_array_equal(u.d, drawn)
    r.forward([], [u])
    assert not np.array_equal(u.d, drawn)


@pytest.mark.parametrize("no_scale_bias", [False, True])
def test_batch_normalization_backward_object(no_scale_bias):
    rng = np.random.RandomState(1)
    x, b, g, m, v = _inputs(rng)
    dy = rng.randn(*x.shape).astype(np.float32)
    df = BatchNormalizationBackward(nn.Context(), [1], 0.9, 1e-5, True, no_scale_bias,
                                    no_scale_bias)
    given = [dy, x] + ([] if no_scale_bias else [b, g]) + [m, v]
    outs = df(*[var(a) for a in given])
    outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
    F.sink(*outs).forward()
    if no_scale_bias:
        ref = jax.vjp(lambda x_: _bn(x_, 0.0, 1.0), x)[1](dy)
    else:
        ref = jax.vjp(lambda x_, b_, g_: _bn(x_, b_, g_), x, b, g)[1](dy)
    assert len(outs) == len(ref)
    for o, r in zip(outs, ref):
        np.testing.assert_allclose(o.d, r, rtol=1e-4, atol=1e-5)

    # its own backward (a second derivative of BN) against central differences
    def dx_of(dy_, x_):
        call = [dy_, x_] + [var(a) for a in ([] if no_scale_bias else [b, g]) + [m, v]]
        out = df(*call)
        return out[0] if isinstance(out, (list, tuple)) else out

    dy_v, x_v = var(dy), var(x)
    dx = dx_of(dy_v, x_v)
    seed = rng.randn(*x.shape)
    dy_v.grad.zero()
    x_v.grad.zero()
    dx.forward()
    dx.backward(seed)

    def f(dy_, x_):
        out = dx_of(var(dy_), var(x_))
        out.forward()
        return out.d
    for k, v_ in enumerate((dy_v, x_v)):
        num = numeric_grad(f, [dy, x], k, [seed], eps=1e-2)
        np.testing.assert_allclose(v_.g, num, rtol=3e-2, atol=3e-2)


def test_fused_batch_normalization_backward_object_with_add():
    rng = np.random.RandomState(2)
    x, b, g, m, v = _inputs(rng)
    z = rng.randn(*x.shape).astype(np.float32)
    dy = rng.randn(*x.shape).astype(np.float32)
    df = FusedBatchNormalizationBackward(nn.Context(), [1], 0.9, 1e-5, True, "relu")
    df.is_add = True
    y_unused = np.zeros_like(x)
    outs = df(*[var(a) for a in (dy, x, b, g, m, v, y_unused, z)])
    F.sink(*outs).forward()
    ref = jax.vjp(lambda x_, b_, g_, z_: jax.nn.relu(_bn(x_, b_, g_) + z_), x, b, g, z)[1](dy)
    assert len(outs) == 4
    for o, r in zip(outs, ref):
        np.testing.assert_allclose(o.d, r, rtol=1e-4, atol=1e-5)


def test_registry_backward_takes_only_present_inputs():
    rng = np.random.RandomState(3)
    x, _, _, m, v = _inputs(rng)
    xv, mv, vv = var(x), var(m, False), var(v, False)
    y = F.batch_normalization(xv, None, None, mv, vv, batch_stat=True)
    dy = var(rng.randn(*x.shape))
    grads = registry["BatchNormalization"]([dy], [xv, mv, vv], [x.shape, m.shape, v.shape],
                                           [y], [y.shape], **y.parent.info.args)
    assert len(grads) == 3 and grads[1] is None and grads[2] is None
    grads[0].forward()
    ref = jax.vjp(lambda x_: _bn(x_, 0.0, 1.0), x)[1](dy.d)[0]
    np.testing.assert_allclose(grads[0].d, ref, rtol=1e-4, atol=1e-5)


def _spectral_ref(w, u, itr):
    """w / sigma with u, v from the power iteration held fixed, and its vjp."""
    mat = w.reshape(w.shape[0], -1)
    for _ in range(itr):
        vv = mat.T @ u
        vv = vv / np.sqrt(vv @ vv + 1e-12)
        u = mat @ vv
        u = u / np.sqrt(u @ u + 1e-12)
    return lambda w_: w_ / (u @ w_.reshape(w.shape[0], -1) @ vv), u


def test_spectral_norm_grad_at_the_u_the_forward_read():
    rng = np.random.RandomState(4)
    w = rng.randn(4, 3).astype(np.float32)
    u0 = rng.randn(4).astype(np.float32)
    dy = rng.randn(*w.shape).astype(np.float32)
    f, u1 = _spectral_ref(w, u0, 2)
    ref_grad = jax.vjp(f, jnp.asarray(w))[1](dy)[0]
    # graph: forward updates u in place; backward (through a new sink) still
    # differentiates at u0
    wv, uv = var(w), var(u0, False)
    y = F.spectral_norm(wv, uv, itr=2)
    F.sink(y).forward()
    np.testing.assert_allclose(uv.d, u1, rtol=1e-5)
    wv.grad.zero()
    y.g = dy
    F.sink(y, one_input_grad=False).backward()
    np.testing.assert_allclose(wv.g, ref_grad, rtol=1e-4, atol=1e-5)
    # function object: the same, and output_u gives u as it was before the update
    wv2, uv2 = var(w), var(u0, False)
    ys = F.spectral_norm(wv2, uv2, itr=2, output_u=True)
    fn = ys[0].parent
    fn.forward([wv2, uv2], ys)
    np.testing.assert_allclose(ys[1].d, u0)
    wv2.grad.zero()
    ys[0].g, ys[1].g = dy, 0
    fn.backward([wv2, uv2], ys, [False, False])
    np.testing.assert_allclose(wv2.g, ref_grad, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(uv2.d, u1, rtol=1e-5)  # the update stays


def test_one_hot_wraps_negative_labels_and_zeroes_out_of_range():
    labels = np.array([[-1, 0], [2, -3], [3, 1], [-4, 0]])
    y = F.one_hot(nn.Variable.from_numpy_array(labels), (3, 2))
    y.forward()
    ref = np.zeros((4, 3, 2))
    ref[0, 2, 0] = 1          # -1 -> 2
    ref[1] = 0                # -3 of 2 classes is out of range
    ref[3] = 0                # -4 of 3 classes is out of range
    # label 3 of 3 classes is out of range too: row 2 stays zero
    np.testing.assert_array_equal(y.d, ref)
    with pytest.raises(RuntimeError, match="one_hot"):
        F.one_hot(nn.Variable((5, 1)), (3, 2))


def test_split_of_empty_slices_is_refused():
    with pytest.raises(RuntimeError, match="split"):
        F.split(nn.Variable((1, 6, 0)), axis=1)


def test_bool_gather_resetup_reads_the_new_mask():
    x = nn.Variable((4, 2))
    mask = nn.Variable((4,))
    y = F.bool_gather(x, mask)
    x.reset_shape((3, 2), True)
    mask.reset_shape((3,), True)
    x.d = np.arange(6).reshape(3, 2)
    mask.d = [1, 0, 1]
    y.forward()
    np.testing.assert_array_equal(y.d, [[0, 1], [4, 5]])


def test_sort_backward_is_nnabla_gather():
    x = np.array([[3.0, 1.0, 2.0]], np.float32)
    xv = var(x)
    xv.grad.zero()
    F.sort(xv).backward(np.array([[10.0, 20.0, 30.0]], np.float32))
    # index = [1, 2, 0]: dx[i] = dy[index[i]]
    np.testing.assert_array_equal(xv.g, [[20.0, 30.0, 10.0]])


@pytest.mark.parametrize("pad, mode, value", [((1, 2), "constant", 0.0),
                                              ((2, 1, 0, 1), "constant", 0.5),
                                              ((1, 1), "reflect", 0.0),
                                              ((2, 1, 1, 0), "repeat", 0.0)])
def test_fused_convolution_pads_as_pad(pad, mode, value):
    rng = np.random.RandomState(5)
    x = rng.randn(2, 3, 5, 6).astype(np.float32)
    w = rng.randn(4, 3, 3, 2).astype(np.float32)
    y = F.fused_convolution(var(x), var(w), nonlinearity="identity", pad=pad, pad_mode=mode,
                            constant_value=value)
    y.forward()
    pairs = [(pad[0], pad[0]), (pad[1], pad[1])] if len(pad) == 2 else [pad[:2], pad[2:]]
    np_mode = {"constant": "constant", "reflect": "reflect", "repeat": "edge"}[mode]
    kw = {"constant_values": value} if mode == "constant" else {}
    xp = np.pad(x, [(0, 0), (0, 0)] + [tuple(p) for p in pairs], mode=np_mode, **kw)
    ref = jax.lax.conv_general_dilated(xp, w, (1, 1), "VALID")
    np.testing.assert_allclose(y.d, ref, rtol=1e-4, atol=1e-4)
    assert y.parent.info.args["pad_mode"] == mode


def _elman(x, h, w0, b):
    """One-layer, one-direction tanh RNN: h_t = tanh([x_t, h_{t-1}] W^T + b)."""
    state, ys = h[0, 0], []
    for t in range(x.shape[0]):
        state = jnp.tanh(jnp.concatenate([x[t], state], -1) @ w0[0].T + b[0, 0])
        ys.append(state)
    return jnp.stack(ys), state[None, None]


def _rnn_inputs(rng, steps=3, batch=2, size=2, hidden=3):
    return (rng.randn(steps, batch, size).astype(np.float32),
            rng.randn(1, 1, batch, hidden).astype(np.float32),
            rng.randn(1, hidden, size + hidden).astype(np.float32) * 0.5,
            rng.randn(1, 1, hidden).astype(np.float32))


def test_rnn_backward_of_one_layer_with_bias_takes_the_bias_last():
    rng = np.random.RandomState(5)
    values = _rnn_inputs(rng)
    xv, hv, wv, bv = (var(v) for v in values)
    y, hn = F.rnn(xv, hv, wv, None, bv, num_layers=1)
    F.sink(y, hn).forward()
    ref_y, ref_hn = _elman(*values)
    np.testing.assert_allclose(y.d, ref_y, rtol=1e-5, atol=1e-6)
    dy, dhn = var(rng.randn(*y.shape)), var(rng.randn(*hn.shape))
    grads = registry["RNN"]([dy, dhn], [xv, hv, wv, bv], [v.shape for v in values],
                            [y, hn], [y.shape, hn.shape], **y.parent.info.args)
    assert len(grads) == 4
    F.sink(*grads).forward()
    refs = jax.vjp(_elman, *values)[1]((dy.d, dhn.d))
    for got, ref in zip(grads, refs):
        np.testing.assert_allclose(got.d, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("make", [
    lambda x, h, w, b: F.rnn(x, h, w, None, b, training=False),
    lambda x, h, w, b: F.gru(x, h, F.reshape(F.concatenate(w, w, w, axis=1), (1, 3, 3, 5)),
                             None, F.reshape(F.concatenate(b, b, b, b, axis=2), (1, 1, 4, 3)),
                             training=False),
])
def test_recurrent_backward_in_inference_mode_is_refused(make):
    values = _rnn_inputs(np.random.RandomState(0))
    y, _ = make(*(var(v) for v in values))
    y.forward()
    with pytest.raises(RuntimeError, match="training only"):
        y.backward()
