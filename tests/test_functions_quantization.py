"""Quantization layers: forward against numpy references, NNabla's straight-through
gradients, parameters written back on forward, and the quantized PF layers."""
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
from function_check import check_grad

f32 = np.float32


def _var(a, need_grad=False):
    return nn.Variable.from_numpy_array(np.asarray(a, f32), need_grad=need_grad)


def _round_away(v):
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def _grad_of(fn, x, g):
    v = _var(x, True)
    y = fn(v)
    y.forward()
    v.g = 0
    y.backward(g)
    return y.d, v.g.copy(), y


# ---------------------------------------------------------------- binary activations
def test_binary_sigmoid_tanh(rng):
    x = np.array([-2.0, -1.0, -0.5, 0.0, 0.3, 1.0, 1.5], f32)
    g = rng.randn(7).astype(f32)
    y, gx, node = _grad_of(F.binary_sigmoid, x, g)
    np.testing.assert_array_equal(y, (x > 0).astype(f32))
    np.testing.assert_allclose(gx, np.where(np.abs(x) >= 1, 0, 0.5 * g))
    assert node.parent.info.type_name == "BinarySigmoid"
    y, gx, node = _grad_of(F.binary_tanh, x, g)
    np.testing.assert_array_equal(y, np.where(x > 0, 1, -1))
    np.testing.assert_allclose(gx, np.where(np.abs(x) >= 1, 0, g))
    assert node.parent.info.type_name == "BinaryTanh"


# ---------------------------------------------------------------- binary connect / weight
def _sign(w, zero_to):
    return np.where(w > 0, 1.0, np.where(w < 0, -1.0, zero_to)).astype(f32)


@pytest.mark.parametrize("with_bias", [True, False])
def test_binary_connect_affine(rng, with_bias):
    x = rng.randn(2, 3, 2).astype(f32)
    w = rng.randn(6, 4).astype(f32)
    w[0, 0] = 0.0
    xv, wv, wb = _var(x, True), _var(w, True), _var(np.zeros((6, 4)))
    b = _var(rng.randn(4), True) if with_bias else None
    y = F.binary_connect_affine(xv, wv, wb, b, quantize_zero_to=-1.0)
    y.forward()
    binw = _sign(w, -1.0)
    ref = x.reshape(2, 6) @ binw + (b.d if with_bias else 0)
    np.testing.assert_allclose(y.d, ref, rtol=1e-5)
    np.testing.assert_array_equal(wb.d, binw)  # written back on forward
    g = rng.randn(2, 4).astype(f32)
    xv.g = wv.g = 0
    y.backward(g)
    np.testing.assert_allclose(wv.g, x.reshape(2, 6).T @ g, rtol=1e-5)  # straight through
    np.testing.assert_allclose(xv.g, (g @ binw.T).reshape(x.shape), rtol=1e-5)
    assert y.parent.info.type_name == "BinaryConnectAffine"
    assert y.parent.info.args == dict(base_axis=1, quantize_zero_to=-1.0)


def test_binary_weight_affine(rng):
    x = rng.randn(3, 5).astype(f32)
    w = rng.randn(5, 2, 2).astype(f32)
    xv, wv = _var(x, True), _var(w, True)
    wb, alpha = _var(np.zeros((5, 2, 2))), _var(np.zeros((2, 2)))
    y = F.binary_weight_affine(xv, wv, wb, alpha)
    y.forward()
    a = np.abs(w.reshape(5, 4)).mean(axis=0)
    scaled = np.sign(w).reshape(5, 4) * a
    np.testing.assert_allclose(y.d.reshape(3, 4), x @ scaled, rtol=1e-5)
    np.testing.assert_allclose(alpha.d.reshape(-1), a, rtol=1e-6)
    np.testing.assert_array_equal(wb.d, np.sign(w))
    g = rng.randn(3, 2, 2).astype(f32)
    wv.g = 0
    y.backward(g)
    np.testing.assert_allclose(wv.g.reshape(5, 4), x.T @ g.reshape(3, 4), rtol=1e-5)
    assert y.parent.info.args == dict(base_axis=1, quantize_zero_to=1.0)
    check_grad(lambda v: F.binary_weight_affine(v, wv, wb, alpha), [x], wrt=[0])


def test_binary_convolutions(rng):
    x = rng.randn(2, 4, 5, 5).astype(f32)
    w = rng.randn(6, 2, 3, 3).astype(f32)
    wv, wb, alpha = _var(w, True), _var(np.zeros(w.shape)), _var(np.zeros(6))
    xv = _var(x, True)
    y1 = F.binary_connect_convolution(xv, wv, wb, None, pad=(1, 1), group=2)
    y2 = F.binary_weight_convolution(xv, wv, wb, alpha, None, stride=(2, 2), group=2)
    ref1 = F.convolution(xv, _var(np.sign(w)), None, pad=(1, 1), group=2)
    a = np.abs(w.reshape(6, -1)).mean(axis=1)
    ref2 = F.convolution(xv, _var(np.sign(w) * a[:, None, None, None]), stride=(2, 2), group=2)
    nn.forward_all([y1, y2, ref1, ref2])
    np.testing.assert_allclose(y1.d, ref1.d, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y2.d, ref2.d, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(alpha.d, a, rtol=1e-6)
    assert y1.parent.info.type_name == "BinaryConnectConvolution"
    assert y1.parent.info.args == dict(base_axis=1, pad=[1, 1], stride=[1, 1],
                                       dilation=[1, 1], group=2, quantize_zero_to=1.0)
    assert y2.parent.info.type_name == "BinaryWeightConvolution"
    # straight-through: the weight gradient is the gradient of the scaled binary weight
    g = rng.randn(*y2.shape).astype(f32)
    wv.g = 0
    y2.backward(g)
    wq = _var(np.sign(w) * a[:, None, None, None], True)
    r = F.convolution(xv, wq, stride=(2, 2), group=2)
    r.forward()
    wq.g = 0
    r.backward(g)
    np.testing.assert_allclose(wv.g, wq.g, rtol=1e-5, atol=1e-5)


def test_binary_errors():
    with pytest.raises(ValueError, match="binary_connect_affine"):
        F.binary_connect_affine(nn.Variable((2, 3)), nn.Variable((3, 4)), nn.Variable((3, 5)))
    with pytest.raises(ValueError, match="binary_weight_affine"):
        F.binary_weight_affine(nn.Variable((2, 3)), nn.Variable((3, 4)), nn.Variable((3, 4)),
                               nn.Variable((3,)))
    with pytest.raises(ValueError, match="binary_weight_convolution"):
        F.binary_weight_convolution(nn.Variable((1, 3, 4, 4)), nn.Variable((2, 3, 3, 3)),
                                    nn.Variable((2, 3, 3, 3)), nn.Variable((3,)))


# ---------------------------------------------------------------- INQ
def _pow2_or_zero(v):
    a = np.abs(v[v != 0])
    return np.allclose(np.log2(a), np.round(np.log2(a)))


@pytest.mark.parametrize("algorithm", ["largest_abs", "random"])
def test_inq_affine_schedule(rng, algorithm):
    x = rng.randn(2, 8).astype(f32)
    w0 = rng.randn(8, 4).astype(f32)
    xv, wv, iv = _var(x), _var(w0, True), _var(np.zeros((8, 4)))
    y = F.inq_affine(xv, wv, iv, None, num_bits=4, inq_iterations=[1, 3],
                     selection_algorithm=algorithm, seed=3)
    counts = []
    learnable = w0.copy()
    before = None
    for step in range(4):
        y.forward()
        counts.append(int(iv.d.sum()))
        fixed = iv.d == 1
        assert _pow2_or_zero(wv.d[fixed])
        np.testing.assert_allclose(y.d, x @ wv.d, rtol=1e-5, atol=1e-6)
        if step < 3:
            np.testing.assert_allclose(wv.d[~fixed], learnable[~fixed])
        if step == 1 and algorithm == "largest_abs":
            # the half with the largest magnitude got fixed
            assert np.abs(w0[fixed]).min() >= np.abs(w0[~fixed]).max()
        if step == 2:
            np.testing.assert_allclose(wv.d[fixed], before[fixed])  # fixed weights restored
        if step == 1:
            before = wv.d.copy()
            wv.d = wv.d + 0.01  # a solver step
            learnable = learnable + 0.01
    assert counts[0] == 0 and counts[-1] == 32
    if algorithm == "largest_abs":
        assert counts[1] == counts[2] == 16
    assert y.parent.info.type_name == "INQAffine"
    assert y.parent.info.args == dict(base_axis=1, num_bits=4, inq_iterations=[1, 3],
                                      selection_algorithm=algorithm, seed=3)


def test_inq_affine_reset_shape_sets_up_again(rng):
    # after reset_shape NNabla sets the function up again: its counter restarts, so
    # inq_iterations=[1] fixes nothing on the next forward and everything on the one after
    xv, wv, iv = _var(rng.randn(2, 6)), _var(rng.randn(6, 3), True), _var(np.zeros((6, 3)))
    y = F.inq_affine(xv, wv, iv, None, num_bits=4, inq_iterations=[1])
    y.forward()
    y.forward()
    assert iv.d.sum() == 18
    x2, w2 = rng.randn(3, 4).astype(f32), rng.randn(4, 5).astype(f32)
    for v, d in ((xv, x2), (wv, w2), (iv, np.zeros((4, 5), f32))):
        v.reset_shape(d.shape, force=True)
        v.d = d
    y.forward()
    assert y.shape == (3, 5) and iv.d.sum() == 0
    np.testing.assert_allclose(y.d, x2 @ w2, rtol=1e-5, atol=1e-6)
    y.forward()
    assert iv.d.sum() == 20 and _pow2_or_zero(wv.d)
    np.testing.assert_allclose(y.d, x2 @ wv.d, rtol=1e-5, atol=1e-6)


def test_inq_convolution_and_grad(rng):
    x = rng.randn(1, 2, 4, 4).astype(f32)
    w = rng.randn(3, 2, 3, 3).astype(f32)
    xv, wv, iv = _var(x, True), _var(w, True), _var(np.ones(w.shape))
    y = F.inq_convolution(xv, wv, iv, None, pad=(1, 1), inq_iterations=[0])
    y.forward()
    assert _pow2_or_zero(wv.d) and iv.d.sum() == w.size
    ref = F.convolution(xv, _var(wv.d), pad=(1, 1))
    ref.forward()
    np.testing.assert_allclose(y.d, ref.d, rtol=1e-5, atol=1e-5)
    g = rng.randn(*y.shape).astype(f32)
    wv.g = 0
    y.backward(g)
    assert np.abs(wv.g).sum() > 0  # gradients flow to the float weights
    with pytest.raises(ValueError, match="inq_convolution"):
        F.inq_convolution(xv, wv, iv, num_bits=1)


# ---------------------------------------------------------------- fixed point / pow2 / prune
def ref_fixed_point(x, sign, n, delta):
    q_max = (2 ** (n - 1 if sign else n) - 1) * delta
    q_min = -q_max if sign else 0
    inner = np.sign(x) * np.floor(np.abs(x) / delta + 0.5) * delta
    y = np.where(x > q_max, q_max, np.where(x < q_min, q_min, inner))
    return y, (x >= q_min) & (x <= q_max)


@pytest.mark.parametrize("sign, n, delta, fine", [(True, 4, 0.25, True), (False, 3, 0.5, True),
                                                  (True, 8, 2 ** -4, False)])
def test_fixed_point_quantize(rng, sign, n, delta, fine):
    x = (rng.randn(40) * 2).astype(f32)
    g = rng.randn(40).astype(f32)
    y, gx, node = _grad_of(lambda v: F.fixed_point_quantize(v, sign, n, delta,
                                                          ste_fine_grained=fine), x, g)
    ref, inside = ref_fixed_point(x.astype(np.float64), sign, n, delta)
    np.testing.assert_allclose(y, ref, atol=1e-6)
    np.testing.assert_allclose(gx, np.where(inside, g, 0) if fine else g)
    assert node.parent.info.type_name == "FixedPointQuantize"
    assert node.parent.info.args == dict(sign=sign, n=n, delta=delta, ste_fine_grained=fine)


def ref_pow2(x, sign, with_zero, n, m):
    bits = (n - 1 if sign else n) - (1 if with_zero else 0)
    p_max, p_min = 2.0 ** m, 2.0 ** (m - (2 ** bits - 1))
    out, keep = [], []
    for v in x:
        a = abs(v)
        q0 = 2.0 ** _round_away(np.log2(a)) if a > 0 else 0.0
        q = p_max if q0 > p_max else q0
        if q0 < p_min:
            q = (0.0 if a < p_min * 2 ** -0.5 else p_min) if with_zero else p_min
        if sign:
            q = -q if v < 0 else q
        elif v < 0:
            q = 0.0 if with_zero else p_min
        out.append(q)
        keep.append(q0 <= p_max and (sign or v >= 0))
    return np.array(out), np.array(keep)


@pytest.mark.parametrize("sign, with_zero, n, m", [(True, True, 4, 1), (True, False, 3, 0),
                                                   (False, True, 4, 2), (False, False, 3, 1)])
def test_pow2_quantize(rng, sign, with_zero, n, m):
    x = np.concatenate([rng.randn(30) * 2, [0.0, 1e-4, -1e-4, 8.0]]).astype(f32)
    g = rng.randn(x.size).astype(f32)
    y, gx, node = _grad_of(lambda v: F.pow2_quantize(v, sign, with_zero, n, m), x, g)
    ref, keep = ref_pow2(x.astype(np.float64), sign, with_zero, n, m)
    np.testing.assert_allclose(y, ref, rtol=1e-6)
    np.testing.assert_allclose(gx, np.where(keep, g, 0))
    assert node.parent.info.type_name == "Pow2Quantize"
    assert node.parent.info.args == dict(sign=sign, with_zero=with_zero, n=n, m=m,
                                         ste_fine_grained=True)
    _, gx, _ = _grad_of(lambda v: F.pow2_quantize(v, sign, with_zero, n, m,
                                                  ste_fine_grained=False), x, g)
    np.testing.assert_allclose(gx, g)


def test_quantize_flag_and_errors():
    x = nn.Variable((3,))
    assert F.fixed_point_quantize(x, quantize=False) is x
    assert F.pow2_quantize(x, quantize=False) is x
    with pytest.raises(ValueError, match="fixed_point_quantize"):
        F.fixed_point_quantize(x, n=1)
    with pytest.raises(ValueError, match="pow2_quantize"):
        F.pow2_quantize(x, n=2)


@pytest.mark.parametrize("rate", [0.0, 0.5, 0.9, 1.0])
def test_prune(rng, rate):
    x = rng.randn(5, 4).astype(f32)
    g = rng.randn(5, 4).astype(f32)
    y, gx, node = _grad_of(lambda v: F.prune(v, rate), x, g)
    thresh = np.sort(np.abs(x).ravel())[int((x.size - 1) * rate)] + (1.0 if rate == 1 else 0)
    np.testing.assert_array_equal(y, np.where(np.abs(x) < thresh, 0, x))
    np.testing.assert_allclose(gx, g)
    assert node.parent.info.args == dict(rate=rate)
    with pytest.raises(ValueError, match="prune"):
        F.prune(nn.Variable((2,)), 1.5)


# ---------------------------------------------------------------- min-max quantization
def ref_min_max(x, qr_min, qr_max, ql_min, ql_max, eps):
    qr_max = np.where(qr_max - qr_min < eps, qr_min + eps, qr_max)
    scale = (qr_max - qr_min) / (ql_max - ql_min)
    zp_f = ql_min - qr_min / scale
    zp = np.where(zp_f <= ql_min, ql_min, np.where(zp_f >= ql_max, ql_max, _round_away(zp_f)))
    lo, hi = (ql_min - zp) * scale, (ql_max - zp) * scale
    y = _round_away((np.clip(x, lo, hi) - lo) / scale) * scale + lo
    return y, lo, hi


def test_min_max_quantize_trained_range(rng):
    x = (rng.randn(3, 4) * 2).astype(f32)
    xv = _var(x, True)
    qmin, qmax = _var([[-1.0, -2.0, -0.5, -1.5]], True), _var([[1.0, 1.5, 0.5, 2.0]], True)
    lmin, lmax = _var(np.zeros((1, 4))), _var(np.full((1, 4), 15.0))
    y = F.min_max_quantize(xv, qmin, qmax, lmin, lmax)
    y.forward()
    ref, lo, hi = ref_min_max(x, qmin.d, qmax.d, 0.0, 15.0, 0.01)  # float32, as NNabla
    np.testing.assert_allclose(y.d, ref, rtol=1e-5, atol=1e-5)
    g = rng.randn(3, 4).astype(f32)
    xv.g = qmin.g = qmax.g = 0
    y.backward(g)
    np.testing.assert_allclose(xv.g, np.where((x >= lo) & (x <= hi), g, 0), rtol=1e-6)
    np.testing.assert_allclose(qmin.g, np.sum(np.where(x < lo, g, 0), 0, keepdims=True),
                               rtol=1e-5)
    np.testing.assert_allclose(qmax.g, np.sum(np.where(x > hi, g, 0), 0, keepdims=True),
                               rtol=1e-5)
    assert y.parent.info.type_name == "MinMaxQuantize"
    assert y.parent.info.args == dict(decay=0.999, x_min_max=False, ema=False,
                                      ste_fine_grained=True, eps=0.01)


def test_min_max_quantize_x_min_max_and_ema(rng):
    x = rng.randn(4, 3).astype(f32)
    lmin, lmax = _var(np.zeros((1, 1))), _var(np.full((1, 1), 255.0))
    qmin, qmax = _var([[-6.0]]), _var([[6.0]])
    y = F.min_max_quantize(_var(x), qmin, qmax, lmin, lmax, x_min_max=True)
    y.forward()
    np.testing.assert_allclose(qmin.d, [[x.min()]])  # written back
    np.testing.assert_allclose(qmax.d, [[x.max()]])
    ref, _, _ = ref_min_max(x, x.min(), x.max(), 0.0, 255.0, 0.01)
    np.testing.assert_allclose(y.d, ref, rtol=1e-5, atol=1e-5)
    emin, emax = _var([[-6.0]]), _var([[6.0]])
    z = F.min_max_quantize(_var(x), emin, emax, lmin, lmax, decay=0.9, x_min_max=True, ema=True)
    z.forward()
    np.testing.assert_allclose(emin.d, [[0.9 * -6 + 0.1 * x.min()]], rtol=1e-5)
    np.testing.assert_allclose(emax.d, [[0.9 * 6 + 0.1 * x.max()]], rtol=1e-5)
    # the range is nudged to at least eps
    nmin, nmax = _var([[0.5]]), _var([[0.5]])
    w = F.min_max_quantize(_var(x), nmin, nmax, lmin, lmax, eps=0.25)
    w.forward()
    np.testing.assert_allclose(nmax.d, [[0.75]])
    with pytest.raises(ValueError, match="min_max_quantize"):
        F.min_max_quantize(_var(x), _var([[0.0]]), _var([[1.0, 2.0]]), lmin, lmax)


def test_min_max_quantize_ema_backward_uses_the_forwards_range(rng):
    # the backward clips the gradient with the range the forward used (one EMA step
    # from the range before it), not with a second EMA step from the updated one
    x = (rng.randn(4, 3) * 3).astype(f32)
    xv = _var(x, True)
    lmin, lmax = _var(np.zeros((1, 1))), _var(np.full((1, 1), 255.0))
    qmin, qmax = _var([[-0.4]]), _var([[0.4]])
    y = F.min_max_quantize(xv, qmin, qmax, lmin, lmax, decay=0.5, x_min_max=True, ema=True)
    y.forward()
    used_min, used_max = 0.5 * -0.4 + 0.5 * x.min(), 0.5 * 0.4 + 0.5 * x.max()
    np.testing.assert_allclose(qmin.d, [[used_min]], rtol=1e-5)
    _, lo, hi = ref_min_max(x, np.float32(used_min), np.float32(used_max), 0.0, 255.0, 0.01)
    g = rng.randn(4, 3).astype(f32)
    xv.g = 0
    y.backward(g)
    np.testing.assert_allclose(xv.g, np.where((x >= lo) & (x <= hi), g, 0), rtol=1e-6)
    np.testing.assert_allclose(qmin.d, [[used_min]], rtol=1e-5)  # backward updates nothing


# ---------------------------------------------------------------- linear quantization
@pytest.mark.parametrize("round_mode, narrow, dtype", [
    ("HALF_AWAY_FROM_ZERO", False, np.int8), ("HALF_TO_EVEN", True, np.int8),
    ("HALF_AWAY_FROM_ZERO", False, np.uint8)])
def test_quantize_dequantize_linear(rng, round_mode, narrow, dtype):
    x = np.concatenate([rng.randn(2, 6) * 4, [[0.25, -0.25, 0.75, 100, -100, 1.25]]]).astype(f32)
    scale = _var(np.full((1, 1), 0.5))
    zp = _var(np.full((1, 1), 2.5))
    xv = _var(x, True)
    y = F.quantize_linear(xv, scale, zp, round_mode, narrow, dtype)
    y.forward()
    lo, hi = (-128, 127) if dtype == np.int8 else (0, 255)
    lo = lo + 1 if narrow else lo
    rnd = np.round if round_mode == "HALF_TO_EVEN" else _round_away
    ref = np.clip(rnd(x / 0.5) + np.clip(rnd(2.5), lo, hi), lo, hi)
    np.testing.assert_array_equal(y.d, ref)
    assert y.parent.info.type_name == "QuantizeLinear"
    assert y.parent.info.args == dict(round_mode=round_mode, narrow_range=narrow,
                                      dtype=1 if dtype == np.int8 else 2)
    g = rng.randn(*x.shape).astype(f32)
    xv.g = 0
    y.backward(g)
    np.testing.assert_allclose(xv.g, g / 0.5)
    d = F.dequantize_linear(y, scale, zp)
    d.forward()
    np.testing.assert_allclose(d.d, (ref - 2.5) * 0.5)
    assert d.parent.info.type_name == "DequantizeLinear" and d.parent.info.args == {}
    check_grad(lambda v: F.dequantize_linear(v, scale, zp), [x[:2, :3]], wrt=[0])


def test_quantize_linear_errors():
    x = nn.Variable((2, 3))
    with pytest.raises(ValueError, match="quantize_linear"):
        F.quantize_linear(x, nn.Variable((1, 1)), nn.Variable((1, 1)), dtype=np.int16)
    with pytest.raises(ValueError, match="quantize_linear"):
        F.quantize_linear(x, nn.Variable((2, 2)), nn.Variable((1, 1)))
    with pytest.raises(ValueError, match="quantize_linear"):
        F.quantize_linear(x, nn.Variable((1, 1)), nn.Variable((1, 1)), round_mode="UP")


# ---------------------------------------------------------------- parametric functions
def _params():
    return [(k, v.shape, v.need_grad) for k, v in nn.get_parameters(grad_only=False).items()]


def test_pf_binary_layers(rng):
    x = nn.Variable.from_numpy_array(rng.randn(2, 3, 5, 5).astype(f32))
    y = PF.binary_connect_affine(x, 4)
    assert _params() == [("bicon_affine/W", (75, 4), True), ("bicon_affine/Wb", (75, 4), False),
                         ("bicon_affine/b", (4,), True)]
    assert y.parent.info.type_name == "BinaryConnectAffine"
    nn.clear_parameters()
    PF.binary_weight_affine(x, (2, 3), with_bias=False, name="bw")  # scope nested in name
    assert _params() == [("bw/bwn_affine/W", (75, 2, 3), True),
                         ("bw/bwn_affine/Wb", (75, 2, 3), False),
                         ("bw/bwn_affine/alpha", (2, 3), False)]
    nn.clear_parameters()
    y = PF.binary_weight_convolution(x, 4, (3, 3), pad=(1, 1))
    y.forward()
    p = nn.get_parameters(grad_only=False)
    assert [k for k in p] == ["bwn_conv/W", "bwn_conv/Wb", "bwn_conv/alpha", "bwn_conv/b"]
    np.testing.assert_array_equal(p["bwn_conv/Wb"].d, np.sign(p["bwn_conv/W"].d))
    nn.clear_parameters()
    PF.binary_connect_convolution(x, 4, (3, 3), fix_parameters=True)
    assert [k for k, *_ in _params()] == ["bicon_conv/W", "bicon_conv/Wb", "bicon_conv/b"]
    nn.clear_parameters()
    y = PF.inq_convolution(x, 2, (3, 3))
    assert _params() == [("inq_conv/W", (2, 3, 3, 3), True), ("inq_conv/I", (2, 3, 3, 3), False),
                         ("inq_conv/b", (2,), True)]
    assert y.parent.info.args["selection_algorithm"] == "random"
    nn.clear_parameters()
    PF.inq_affine(x, 3)
    assert [k for k, *_ in _params()] == ["inq_affine/W", "inq_affine/I", "inq_affine/b"]


def test_pf_init_reproducible_with_rng(rng):
    x = nn.Variable((2, 6))
    PF.binary_connect_affine(x, 3, rng=np.random.RandomState(1), name="a")
    PF.binary_connect_affine(x, 3, rng=np.random.RandomState(1), name="b")
    p = nn.get_parameters()
    np.testing.assert_array_equal(p["a/bicon_affine/W"].d, p["b/bicon_affine/W"].d)
    lim = np.sqrt(6.0 / (6 + 3))
    assert np.abs(p["a/bicon_affine/W"].d).max() <= lim


@pytest.mark.parametrize("pf, scope", [
    (lambda x: PF.fixed_point_quantized_affine(x, 4, n_w=4, delta_w=0.25), "fp_quantized_affine"),
    (lambda x: PF.pow2_quantized_affine(x, 4), "pow2_quantized_affine"),
    (lambda x: PF.pruned_affine(x, 4, rate_w=0.5), "pruned_affine"),
    (lambda x: PF.min_max_quantized_affine(x, 4), "min_max_quantized_affine")])
def test_pf_quantized_affine(rng, pf, scope):
    x = nn.Variable.from_numpy_array(rng.randn(2, 6).astype(f32))
    y = pf(x)
    y.forward()
    p = nn.get_parameters(grad_only=False)
    keys = [k for k in p if k.startswith(scope + "/") and "/min_max_quantize" not in k]
    assert keys == [f"{scope}/W", f"{scope}/W_q", f"{scope}/b", f"{scope}/b_q"]
    assert p[f"{scope}/W"].need_grad and not p[f"{scope}/W_q"].need_grad
    w, wq = p[f"{scope}/W"].d, p[f"{scope}/W_q"].d
    assert not np.array_equal(w, wq)  # W_q holds the quantized copy after forward
    np.testing.assert_allclose(y.d, x.d @ wq + p[f"{scope}/b_q"].d, rtol=1e-5, atol=1e-5)
    assert y.parent.info.type_name == "Affine"


def test_pf_quantized_convolutions_and_min_max(rng):
    x = nn.Variable.from_numpy_array(rng.randn(1, 2, 4, 4).astype(f32))
    for pf, scope in ((PF.fixed_point_quantized_convolution, "fp_quantized_conv"),
                      (PF.pow2_quantized_convolution, "pow2_quantized_conv"),
                      (PF.pruned_convolution, "pruned_conv"),
                      (PF.min_max_quantized_convolution, "min_max_quantized_conv")):
        y = pf(x, 3, (3, 3), quantize_b=False) if pf is not PF.pruned_convolution else \
            pf(x, 3, (3, 3), prune_b=False)
        p = nn.get_parameters(grad_only=False)
        assert p[f"{scope}/W"].shape == (3, 2, 3, 3)
        assert p[f"{scope}/W_q"].shape == (3, 2, 3, 3)
        assert f"{scope}/b_q" not in p
        assert y.shape == (1, 3, 2, 2)
    y.forward()
    nn.clear_parameters()
    q = PF.min_max_quantize(nn.Variable.from_numpy_array(rng.randn(2, 3).astype(f32)),
                            x_min_max=True, ema=True)
    assert _params() == [("min_max_quantize/ql_min", (1, 1), False),
                         ("min_max_quantize/ql_max", (1, 1), False),
                         ("min_max_quantize/qr_min", (1, 1), False),
                         ("min_max_quantize/qr_max", (1, 1), False)]
    p = nn.get_parameters(grad_only=False)
    np.testing.assert_array_equal([p["min_max_quantize/qr_min"].d, p["min_max_quantize/ql_max"].d],
                                  [[[-6.0]], [[255.0]]])
    assert q.parent.info.type_name == "MinMaxQuantize"
