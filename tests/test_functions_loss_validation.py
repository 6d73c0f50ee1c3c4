"""Loss functions and validation metrics: numpy references, gradients (finite
differences or NNabla's documented backward), argument checks."""
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
from function_check import check_grad

f32 = np.float32
TINY = np.finfo(np.float32).tiny


def _var(a, need_grad=False):
    return nn.Variable.from_numpy_array(np.asarray(a), need_grad=need_grad)


def _forward(fn, *arrays):
    vs = [_var(a) for a in arrays]
    y = fn(*vs)
    y.forward()
    return y


def _log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


# ---------------------------------------------------------------- categorical losses
@pytest.mark.parametrize("shape, axis", [((4, 5), None), ((2, 3, 4), 1), ((3, 2, 2), 0)])
def test_softmax_cross_entropy(rng, shape, axis):
    x = rng.randn(*shape).astype(f32)
    ax = len(shape) - 1 if axis is None else axis
    tshape = list(shape)
    tshape[ax] = 1
    t = rng.randint(0, shape[ax], tshape).astype(np.int32)
    y = _forward(lambda a, b: F.softmax_cross_entropy(a, b, axis), x, t)
    ref = -np.take_along_axis(_log_softmax(x.astype(np.float64), ax), t, ax)
    np.testing.assert_allclose(y.d, ref, rtol=1e-5, atol=1e-6)
    assert y.parent.info.type_name == "SoftmaxCrossEntropy"
    assert y.parent.info.args == dict(axis=ax)
    check_grad(lambda a, b: F.softmax_cross_entropy(a, b, axis), [x, t], wrt=[0])


def test_categorical_cross_entropy(rng):
    p = rng.rand(3, 4).astype(f32) + 0.1
    t = rng.randint(0, 4, (3, 1)).astype(np.int32)
    y = _forward(F.categorical_cross_entropy, p, t)
    np.testing.assert_allclose(y.d, -np.log(np.take_along_axis(p, t, 1)), rtol=1e-6)
    assert y.parent.info.type_name == "CategoricalCrossEntropy"
    check_grad(F.categorical_cross_entropy, [p, t], wrt=[0])
    z = _forward(F.categorical_cross_entropy, np.zeros((1, 2), f32), np.zeros((1, 1), np.int32))
    np.testing.assert_allclose(z.d, -np.log(TINY))  # log of 0 clamped as in NNabla


def test_negative_labels_are_ignored(rng):
    x = rng.randn(3, 4).astype(f32)
    t = np.array([[1], [-1], [3]], np.int32)
    for fn in (F.softmax_cross_entropy, F.categorical_cross_entropy):
        xv = _var(np.abs(x) + 0.1, need_grad=True)
        y = fn(xv, _var(t))
        y.forward()
        assert y.d[1, 0] == 0
        xv.g = 0
        y.backward(np.ones((3, 1), f32))
        np.testing.assert_array_equal(xv.g[1], 0)


def test_categorical_shape_errors():
    with pytest.raises(ValueError, match="softmax_cross_entropy"):
        F.softmax_cross_entropy(nn.Variable((3, 4)), nn.Variable((3, 4)))
    with pytest.raises(ValueError, match="categorical_cross_entropy"):
        F.categorical_cross_entropy(nn.Variable((3, 4)), nn.Variable((4, 1)))
    with pytest.raises((ValueError, TypeError), match="softmax_cross_entropy"):
        F.softmax_cross_entropy(nn.Variable((3, 4)), nn.Variable((3, 1)), axis=2)


# ---------------------------------------------------------------- elementwise losses
def test_sigmoid_cross_entropy(rng):
    x = rng.randn(3, 5).astype(f32) * 3
    t = rng.randint(0, 2, (3, 5)).astype(f32)
    y = _forward(F.sigmoid_cross_entropy, x, t)
    s = 1 / (1 + np.exp(-x.astype(np.float64)))
    np.testing.assert_allclose(y.d, -(t * np.log(s) + (1 - t) * np.log(1 - s)), rtol=1e-5)
    assert y.parent.info.type_name == "SigmoidCrossEntropy" and y.parent.info.args == {}
    check_grad(F.sigmoid_cross_entropy, [x, t], wrt=[0])


def test_binary_cross_entropy(rng):
    x = rng.uniform(0.05, 0.95, (3, 4)).astype(f32)
    t = rng.rand(3, 4).astype(f32)
    y = _forward(F.binary_cross_entropy, x, t)
    ref = -(t * np.log(x) + (1 - t) * np.log(1 - x))
    np.testing.assert_allclose(y.d, ref, rtol=1e-5)
    assert y.parent.info.type_name == "BinaryCrossEntropy"
    check_grad(F.binary_cross_entropy, [x, t])  # both x and the target get gradients
    # NNabla's backward with the clamped denominators, at x = 0 and 1
    xv, tv = _var(np.array([0.0, 1.0], f32), True), _var(np.array([0.3, 0.6], f32), True)
    z = F.binary_cross_entropy(xv, tv)
    z.forward()
    np.testing.assert_allclose(z.d, [-0.3 * np.log(TINY), -0.4 * np.log(TINY)], rtol=1e-5)
    xv.g = tv.g = 0
    z.backward(np.ones(2, f32))
    np.testing.assert_allclose(xv.g, [(0 - 0.3) / TINY, (1 - 0.6) / TINY], rtol=1e-5)
    np.testing.assert_allclose(tv.g, [-np.log(TINY), np.log(TINY)], rtol=1e-5)


@pytest.mark.parametrize("name, kwargs, ref", [
    ("squared_error", {}, lambda d: d ** 2),
    ("absolute_error", {}, np.abs),
    ("huber_loss", dict(delta=0.7), lambda d: np.where(np.abs(d) < 0.7, d ** 2,
                                                       0.7 * (2 * np.abs(d) - 0.7))),
    ("huber_loss", {}, lambda d: np.where(np.abs(d) < 1, d ** 2, 2 * np.abs(d) - 1)),
    ("epsilon_insensitive_loss", dict(epsilon=0.3),
     lambda d: np.maximum(np.abs(d) - 0.3, 0))])
def test_pairwise_losses(rng, name, kwargs, ref):
    fn = getattr(F, name)
    a = rng.randn(3, 4).astype(f32)
    b = rng.randn(3, 4).astype(f32)
    y = _forward(lambda u, v: fn(u, v, **kwargs), a, b)
    np.testing.assert_allclose(y.d, ref(a.astype(np.float64) - b), rtol=1e-5, atol=1e-6)
    type_name = "".join(p.capitalize() for p in name.split("_"))
    assert y.parent.info.type_name == type_name
    expected_args = {"huber_loss": dict(delta=kwargs.get("delta", 1.0)),
                     "epsilon_insensitive_loss": dict(epsilon=0.3)}.get(name, {})
    assert y.parent.info.args == expected_args
    # keep |d| away from the kinks at 0, delta and epsilon
    d = rng.choice([-1.3, -0.5, -0.2, 0.45, 0.55, 1.4], size=(2, 3))
    b2 = rng.randn(2, 3)
    check_grad(lambda u, v: fn(u, v, **kwargs), [b2 + d, b2])
    with pytest.raises(ValueError, match=name):
        fn(nn.Variable((2, 3)), nn.Variable((3, 2)), **kwargs)


@pytest.mark.parametrize("shape, base_axis", [((3, 4), 1), ((2, 3, 4), 1), ((2, 3, 4), 2)])
def test_kl_multinomial(rng, shape, base_axis):
    p = rng.dirichlet(np.ones(int(np.prod(shape[base_axis:]))), size=int(np.prod(
        shape[:base_axis]))).reshape(shape).astype(f32)
    q = rng.dirichlet(np.ones(int(np.prod(shape[base_axis:]))), size=int(np.prod(
        shape[:base_axis]))).reshape(shape).astype(f32)
    pv, qv = _var(p, True), _var(q, True)
    y = F.kl_multinomial(pv, qv, base_axis)
    y.forward()
    assert y.shape == shape[:base_axis] + (1,)
    axes = tuple(range(base_axis, len(shape)))
    ref = np.sum(p * (np.log(p + 1e-8) - np.log(q + 1e-8)), axis=axes).reshape(y.shape)
    np.testing.assert_allclose(y.d, ref, rtol=1e-4, atol=1e-6)
    assert y.parent.info.type_name == "KLMultinomial"
    assert y.parent.info.args == dict(base_axis=base_axis)
    # NNabla's backward: dp = g (log p - log q + 1), dq = -g p / q
    g = rng.randn(*y.shape).astype(f32)
    pv.g = qv.g = 0
    y.backward(g)
    gb = g.reshape(g.shape[:base_axis] + (1,) * (len(shape) - base_axis))
    np.testing.assert_allclose(pv.g, gb * (np.log(p + 1e-8) - np.log(q + 1e-8) + 1), rtol=1e-4)
    np.testing.assert_allclose(qv.g, -gb * p / q, rtol=1e-4)
    with pytest.raises(ValueError, match="kl_multinomial"):
        F.kl_multinomial(nn.Variable(shape), nn.Variable(shape), len(shape))


# ---------------------------------------------------------------- validation
def ref_top_n_error(x, t, axis, n):
    score = np.take_along_axis(x, t, axis)
    return (np.sum(x >= score, axis=axis, keepdims=True) > n).astype(f32)


@pytest.mark.parametrize("axis, n", [(None, 1), (None, 2), (1, 1), (0, 3)])
def test_top_n_error(rng, axis, n):
    x = rng.randint(0, 4, (4, 5, 3)).astype(f32)  # ties included
    ax = 2 if axis is None else axis
    tshape = list(x.shape)
    tshape[ax] = 1
    t = rng.randint(0, x.shape[ax], tshape).astype(np.int32)
    y = _forward(lambda a, b: F.top_n_error(a, b, axis, n), x, t)
    np.testing.assert_array_equal(y.d, ref_top_n_error(x, t, ax, n))
    assert y.parent.info.type_name == "TopNError"
    assert y.parent.info.args == dict(axis=ax, n=n)


def test_top_n_error_ties_count_as_errors():
    y = _forward(F.top_n_error, np.array([[1, 1, 0]], f32), np.array([[0]], np.int32))
    assert y.d[0, 0] == 1  # the target ties with another score: not within the top 1


def test_binary_error(rng):
    x = rng.rand(3, 4).astype(f32)
    t = rng.rand(3, 4).astype(f32)
    y = _forward(F.binary_error, x, t)
    np.testing.assert_array_equal(y.d, ((x >= 0.5) != (t >= 0.5)).astype(f32))
    assert y.parent.info.type_name == "BinaryError"
    with pytest.raises(ValueError, match="binary_error"):
        F.binary_error(nn.Variable((3,)), nn.Variable((4,)))


@pytest.mark.parametrize("shape, axis", [((6, 4), None), ((3, 4, 2), 1)])
def test_confusion_matrix(rng, shape, axis):
    x = rng.rand(*shape).astype(f32)
    ax = len(shape) - 1 if axis is None else axis
    tshape = list(shape)
    tshape[ax] = 1
    t = rng.randint(0, shape[ax], tshape).astype(np.int32)
    y = _forward(lambda a, b: F.confusion_matrix(a, b, axis), x, t)
    c = shape[ax]
    ref = np.zeros((c, c), np.int64)
    pred = np.argmax(x, axis=ax)
    for lab, pr in zip(np.squeeze(t, ax).reshape(-1), pred.reshape(-1)):
        ref[lab, pr] += 1
    np.testing.assert_array_equal(y.d, ref)
    assert y.shape == (c, c) and y.parent.info.type_name == "ConfusionMatrix"
    assert y.parent.info.args == dict(axis=ax)
    with pytest.raises(ValueError, match="confusion_matrix"):
        F.confusion_matrix(nn.Variable(shape), nn.Variable(shape))


def test_metrics_have_no_gradient(rng):
    x = _var(rng.rand(3, 4).astype(f32), True)
    t = _var(np.zeros((3, 1), np.int32))
    loss = F.sum(F.top_n_error(x, t)) + F.sum(F.binary_error(x, _var(np.ones((3, 4), f32))))
    loss.forward()
    x.g = 0
    loss.backward()
    np.testing.assert_array_equal(x.g, 0)
