"""Exact state semantics: a backward differentiates the forward that produced the
outputs (state inputs as they were before that forward's own update), and
stochastic functions inside ``nn.grad`` graphs draw fresh keys each forward.

References are numpy formulas written here; each case runs the fused step and the
function-by-function one (a hook), which must agree with the reference alike.
"""
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F

HOOK = dict(function_pre_hook=lambda f: None)
PATHS = [pytest.param({}, id="fused"), pytest.param(HOOK, id="by-function")]


def _var(a, need_grad=False):
    return nn.Variable.from_numpy_array(np.asarray(a, np.float32), need_grad=need_grad)


# ---------------------------------------------------------------- spectral norm
def _np_power_iteration(w, u, itr, eps=1e-12):
    mat = w.reshape(w.shape[0], -1).astype(np.float64)
    u = u.astype(np.float64)
    for _ in range(itr):
        v = u @ mat
        v = v / np.sqrt(v @ v + eps)
        u = mat @ v
        u = u / np.sqrt(u @ u + eps)
    return u, v


@pytest.mark.parametrize("kw", PATHS)
def test_spectral_norm_training_grad_at_the_u_its_forward_read(kw):
    rng = np.random.RandomState(0)
    w0 = rng.randn(4, 3).astype(np.float32)
    g0 = rng.randn(4, 3).astype(np.float32)
    w = _var(w0, need_grad=True)
    u = _var(rng.randn(4))
    loss = F.sum(F.spectral_norm(w, u, itr=1) * _var(g0))
    for _ in range(3):
        u_before = u.d.copy()
        loss.forward(**kw)
        w.grad.zero()
        loss.backward(**kw)
        u1, v1 = _np_power_iteration(w0, u_before, 1)
        sigma = u1 @ w0 @ v1
        # d/dW sum(G * W / (u^T W v)) with u, v held fixed
        ref = g0 / sigma - (g0 * w0).sum() / sigma ** 2 * np.outer(u1, v1)
        np.testing.assert_allclose(w.g, ref, rtol=1e-4, atol=1e-5)
        # updated once per forward, not again by the backward
        np.testing.assert_allclose(u.d, u1, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- min-max quantize
def _np_nudged_range(qr_min, qr_max, ql_min, ql_max, eps):
    qr_max = np.where(qr_max - qr_min < eps, qr_min + eps, qr_max)
    scale = (qr_max - qr_min) / (ql_max - ql_min)
    zp = ql_min - qr_min / scale
    zp = np.where(zp <= ql_min, ql_min, np.where(zp >= ql_max, ql_max,
                                                 np.sign(zp) * np.floor(np.abs(zp) + 0.5)))
    return (ql_min - zp) * scale, (ql_max - zp) * scale


@pytest.mark.parametrize("kw", PATHS)
def test_min_max_quantize_ema_grad_uses_this_steps_range(kw):
    rng = np.random.RandomState(1)
    x0 = (rng.randn(4, 16) * 2).astype(np.float32)
    decay = 0.5
    x = _var(x0, need_grad=True)
    qmin, qmax = _var(np.full((1, 1), -0.5)), _var(np.full((1, 1), 0.5))
    lmin, lmax = _var(np.zeros((1, 1))), _var(np.full((1, 1), 255.0))
    y = F.min_max_quantize(x, qmin, qmax, lmin, lmax, decay=decay, x_min_max=True, ema=True)
    loss = F.sum(y * _var(np.arange(64).reshape(4, 16) + 1.0))
    ema_min, ema_max = np.float32(-0.5), np.float32(0.5)
    for _ in range(3):
        ema_min = np.float32(decay * ema_min + (1 - decay) * x0.min())
        ema_max = np.float32(decay * ema_max + (1 - decay) * x0.max())
        lo, hi = _np_nudged_range(ema_min, ema_max, 0.0, 255.0, 0.01)
        loss.forward(**kw)
        x.grad.zero()
        loss.backward(**kw)
        mask = (x0 >= lo) & (x0 <= hi)
        assert 0 < mask.sum() < mask.size  # the range clips some elements
        np.testing.assert_array_equal(x.g, np.where(mask, np.arange(64).reshape(4, 16) + 1, 0))
        np.testing.assert_allclose(qmin.d.ravel(), [ema_min], rtol=1e-6)
        np.testing.assert_allclose(qmax.d.ravel(), [ema_max], rtol=1e-6)


# ---------------------------------------------------------------- mean subtraction
@pytest.mark.parametrize("kw", PATHS)
def test_mean_subtraction_grad_counts_this_steps_batch(kw):
    rng = np.random.RandomState(2)
    x0 = rng.randn(3, 4).astype(np.float32)
    x = _var(x0, need_grad=True)
    rm = _var(np.zeros(4))
    t = nn.Variable.from_numpy_array(np.array([2], np.int32))
    loss = F.sum(F.mean_subtraction(x, rm, t))
    mean_ref, count = np.zeros(4), 2
    for _ in range(3):
        loss.forward(**kw)
        x.grad.zero()
        loss.backward(**kw)
        mean_ref = mean_ref + (x0.mean(0) - mean_ref) / (count + 1)
        count += 1
        # NNabla: dx = dy * (1 - 1 / (t * batch)) with t after this forward's update
        np.testing.assert_allclose(x.g, np.full(x0.shape, 1 - 1 / (count * 3)), rtol=1e-6)
        np.testing.assert_allclose(rm.d, mean_ref, rtol=1e-5, atol=1e-6)
        assert int(t.d[0]) == count


def test_mean_subtraction_function_object_backward():
    rng = np.random.RandomState(3)
    x0 = rng.randn(2, 5).astype(np.float32)
    x = _var(x0, need_grad=True)
    rm = _var(np.zeros(5))
    t = nn.Variable.from_numpy_array(np.array([4], np.int32))
    y = F.mean_subtraction(x, rm, t)
    fn = y.parent
    fn.forward([x, rm, t], [y])
    y.g = np.ones(y.shape, np.float32)
    x.grad.zero()
    fn.backward([x, rm, t], [y])
    np.testing.assert_allclose(x.g, np.full(x0.shape, 1 - 1 / (5 * 2)), rtol=1e-6)
    assert int(t.d[0]) == 5


# ---------------------------------------------------------------- batch normalization
@pytest.mark.parametrize("kw", PATHS)
def test_batch_norm_training_updates_once_and_grads_use_batch_stats(kw):
    rng = np.random.RandomState(4)
    x0 = rng.randn(6, 3, 2, 2).astype(np.float32)
    g0 = rng.randn(6, 3, 2, 2).astype(np.float32)
    x = _var(x0, need_grad=True)
    beta, gamma = _var(np.zeros((1, 3, 1, 1)), True), _var(np.full((1, 3, 1, 1), 1.5), True)
    mean, var = _var(np.zeros((1, 3, 1, 1))), _var(np.ones((1, 3, 1, 1)))
    y = F.batch_normalization(x, beta, gamma, mean, var, decay_rate=0.8, batch_stat=True)
    loss = F.sum(y * _var(g0))
    axes = (0, 2, 3)
    n = 6 * 2 * 2
    m = x0.mean(axes, keepdims=True)
    v = x0.var(axes, keepdims=True)
    xhat = (x0 - m) / np.sqrt(v + 1e-5)
    dxhat = g0 * 1.5
    dx_ref = (dxhat - dxhat.mean(axes, keepdims=True)
              - xhat * (dxhat * xhat).mean(axes, keepdims=True)) / np.sqrt(v + 1e-5)
    rm, rv = np.zeros((1, 3, 1, 1)), np.ones((1, 3, 1, 1))
    for _ in range(3):
        loss.forward(**kw)
        for p in (x, beta, gamma):
            p.grad.zero()
        loss.backward(**kw)
        rm = 0.8 * rm + 0.2 * m
        rv = 0.8 * rv + 0.2 * v * n / (n - 1)
        np.testing.assert_allclose(x.g, dx_ref, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(gamma.g, (g0 * xhat).sum(axes, keepdims=True), rtol=1e-4,
                                   atol=1e-5)
        np.testing.assert_allclose(mean.d, rm, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(var.d, rv, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- dropout inside nn.grad
@pytest.mark.parametrize("kw", PATHS)
def test_dropout_inside_grad_draws_fresh_masks_each_forward(kw):
    x0 = np.random.RandomState(5).randn(4, 40).astype(np.float32)
    x = _var(x0, need_grad=True)
    y = F.dropout(x, p=0.5)
    (gx,) = nn.grad([F.sum(y * y)], [x])
    loss = F.sum(y) + F.sum(gx)
    masks = []
    for _ in range(3):
        loss.forward(**kw)
        x.grad.zero()
        loss.backward(**kw)
        mask = y.d != 0
        np.testing.assert_array_equal(y.d, np.where(mask, x0 * 2, 0))
        # d/dx sum(y^2) = 2 * y * mask / (1 - p): the mask of this forward
        np.testing.assert_allclose(gx.d, np.where(mask, 8 * x0, 0), rtol=1e-6)
        # d/dx [sum(y) + sum(8 x mask)] = mask * (2 + 8)
        np.testing.assert_allclose(x.g, np.where(mask, 10.0, 0), rtol=1e-6)
        masks.append(mask)
    assert not np.array_equal(masks[0], masks[1]) and not np.array_equal(masks[1], masks[2])


def test_grad_alone_draws_new_masks_and_keeps_them_for_its_backward():
    x0 = np.random.RandomState(6).randn(3, 50).astype(np.float32)
    x = _var(x0, need_grad=True)
    (gx,) = nn.grad([F.sum(F.dropout(x, p=0.5) ** 2)], [x])
    loss = F.sum(gx * _var(x0))
    seen = []
    for _ in range(2):
        loss.forward()
        x.grad.zero()
        loss.backward()
        mask = gx.d != 0
        np.testing.assert_allclose(gx.d, np.where(mask, 8 * x0, 0), rtol=1e-6)
        # loss = sum(8 x mask * x0): d/dx = 8 x0 mask, with the same mask
        np.testing.assert_allclose(x.g, np.where(mask, 8 * x0, 0), rtol=1e-5)
        seen.append(mask)
    assert not np.array_equal(seen[0], seen[1])


def test_dropout_grad_in_auto_forward():
    x0 = np.random.RandomState(7).randn(2, 30).astype(np.float32)
    with nn.auto_forward():
        x = _var(x0, need_grad=True)
        y = F.dropout(x, p=0.5)
        (gx,) = nn.grad([F.sum(y * y)], [x])
        np.testing.assert_allclose(gx.d, np.where(y.d != 0, 8 * x0, 0), rtol=1e-6)


# ---------------------------------------------------------------- dtype of .d
# NNabla's ``.d`` has the dtype of the kernel that last wrote the array, and a kernel's
# type is the context's: float32 under 'float' (whatever the inputs hold), float16
# under 'half'. 'bfloat16' (nnjax's own type config) computes and stores bfloat16.
def _ctx(type_config):
    from nnabla.ext_utils import get_extension_context
    return nn.context_scope(get_extension_context("cpu", type_config=type_config))


def test_float_context_computes_float16_inputs_in_float32():
    rng = np.random.RandomState(8)
    h0 = rng.randn(3, 4).astype(np.float16)
    w0 = rng.randn(4, 2).astype(np.float32)
    h = nn.Variable.from_numpy_array(h0, need_grad=True)
    w = _var(w0, need_grad=True)
    with _ctx("float"):
        y = F.affine(F.relu(h) * 3.0, w)
        loss = F.sum(y)
    loss.forward()
    h.grad.zero()
    w.grad.zero()
    loss.backward()
    assert h.d.dtype == np.float16  # the leaf keeps what it holds
    assert y.d.dtype == np.float32 and loss.d.dtype == np.float32
    hf = h0.astype(np.float32)
    np.testing.assert_allclose(y.d, (np.maximum(hf, 0) * 3) @ w0, rtol=1e-6)
    # the gradient reaching a float16 leaf is rounded to float16 (NNabla keeps float32's)
    assert h.g.dtype == np.float32
    np.testing.assert_allclose(h.g, (hf > 0) * 3 * w0.sum(1)[None], rtol=1e-3)
    np.testing.assert_allclose(w.g, (np.maximum(hf, 0) * 3).sum(0)[:, None].repeat(2, 1),
                               rtol=1e-6)


def test_half_context_outputs_float16_with_float32_leaves():
    rng = np.random.RandomState(9)
    x0 = rng.randn(5, 3).astype(np.float32)
    x = _var(x0, need_grad=True)
    with _ctx("half"):
        y = F.tanh(x * 2.0)
    y.forward()
    assert y.d.dtype == np.float16 and x.d.dtype == np.float32
    ref = np.tanh(x0.astype(np.float16) * np.float16(2)).astype(np.float16)
    np.testing.assert_allclose(y.d.astype(np.float32), ref.astype(np.float32), atol=2e-3)


def test_bfloat16_context_outputs_bfloat16():
    import ml_dtypes
    x0 = np.random.RandomState(10).randn(4, 4).astype(np.float32)
    x = _var(x0)
    with _ctx("bfloat16"):
        y = F.exp(x)
    y.forward()
    assert y.d.dtype == ml_dtypes.bfloat16
    np.testing.assert_allclose(y.d.astype(np.float32), np.exp(x0), rtol=1e-2)


def test_float16_state_stays_float16_under_float_context():
    x0 = np.random.RandomState(11).randn(8, 2).astype(np.float32)
    x = _var(x0)
    mean = nn.Variable.from_numpy_array(np.zeros((1, 2), np.float16))
    var = nn.Variable.from_numpy_array(np.ones((1, 2), np.float16))
    y = F.batch_normalization(x, _var(np.zeros((1, 2))), _var(np.ones((1, 2))), mean, var,
                              axes=[1], decay_rate=0.5, batch_stat=True)
    y.forward()
    assert y.d.dtype == np.float32 and mean.d.dtype == np.float16
    np.testing.assert_allclose(mean.d.astype(np.float32), 0.5 * x0.mean(0, keepdims=True),
                               atol=1e-3)


# ---------------------------------------------------------------- Dropout's mask and backward
def test_dropout_mask_and_backward_function_follow_the_latest_forward():
    from nnabla._dropout_workaround import _get_dropout_mask
    from nnabla.backward_functions import registry
    rng = np.random.RandomState(12)
    x0 = (rng.rand(3, 20) + 0.5).astype(np.float32)  # no zeros: y != 0 is the mask
    dy0 = rng.randn(3, 20).astype(np.float32)
    x = _var(x0, need_grad=True)
    with pytest.raises(RuntimeError, match="dropout"):
        registry["Dropout"]([_var(dy0)], [x], [None], [None], [None], 0.25, -1)
    y = F.dropout(x, 0.25)
    dx = registry["Dropout"]([_var(dy0)], [x], [None], [None], [None], 0.25, -1)
    masks = []
    for _ in range(2):
        y.forward()
        mask = _get_dropout_mask(x).d
        np.testing.assert_array_equal(mask, (y.d != 0).astype(np.float32))
        dx.forward()
        np.testing.assert_allclose(dx.d, dy0 * mask / 0.75, rtol=1e-6)
        masks.append(mask)
    assert not np.array_equal(masks[0], masks[1])


# ---------------------------------------------------------------- INQ
@pytest.mark.parametrize("kw", PATHS)
def test_inq_affine_grad_uses_the_weights_its_forward_used(kw):
    rng = np.random.RandomState(13)
    x0 = rng.randn(2, 3).astype(np.float32)
    w0 = rng.randn(3, 4).astype(np.float32)
    x = _var(x0, need_grad=True)
    w = _var(w0.copy(), need_grad=True)
    ind = nn.Variable.from_numpy_array(np.zeros((3, 4), np.int32))
    loss = F.sum(F.inq_affine(x, w, ind, inq_iterations=[1], num_bits=4))
    # forward 0 (counter 0) keeps w; forward 1 fixes (quantizes) every weight
    for step in range(2):
        loss.forward(**kw)
        x.grad.zero()
        loss.backward(**kw)
        if step == 0:
            assert ind.d.sum() == 0
            np.testing.assert_allclose(x.g, np.tile(w0.sum(1), (2, 1)), rtol=1e-6)
        else:
            assert ind.d.sum() == 12
            assert not np.allclose(w.d, w0)
            np.testing.assert_allclose(x.g, np.tile(w.d.sum(1), (2, 1)), rtol=1e-6)
