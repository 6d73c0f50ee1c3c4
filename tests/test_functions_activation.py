"""Neural Network Activation Functions: forward against numpy references, backward
against central differences of the references (and of nnjax itself via
``check_grad``), recorded type names / args, argument errors.

Compiling a program costs far more than running it, so the value/gradient checks
of many cases are evaluated together in one graph (``check_named_cases``): one
forward and one backward program for the whole table, every case asserted separately.
"""
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
from function_check import check_grad, check_named_cases

SELU_SCALE = 1.05070098735548
SELU_ALPHA = 1.673263242354377


def _away_from(x, kinks, gap=0.1):
    """Move entries of x that are within ``gap`` of a kink away from it."""
    x = np.array(x, dtype=np.float64)
    for k in kinks:
        near = np.abs(x - k) < gap
        x[near] = k + np.where(x[near] >= k, 2 * gap, -2 * gap)
    return x


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_elu(x, alpha):
    return np.where(x > 0, x, alpha * (np.exp(x) - 1))


def np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# (function, kwargs, numpy reference, NNabla type name, expected args, kinks)
UNARY = [
    (F.sigmoid, {}, np_sigmoid, "Sigmoid", {}, []),
    (F.swish, {}, lambda x: x * np_sigmoid(x), "Swish", {}, []),
    (F.tanh, {}, np.tanh, "Tanh", {}, []),
    (F.relu, {}, lambda x: np.maximum(x, 0), "ReLU", {"inplace": False}, [0]),
    (F.leaky_relu, {}, lambda x: np.where(x > 0, x, 0.1 * x), "LeakyReLU",
     {"alpha": 0.1, "inplace": False}, [0]),
    (F.leaky_relu, {"alpha": 0.3}, lambda x: np.where(x > 0, x, 0.3 * x), "LeakyReLU",
     {"alpha": 0.3, "inplace": False}, [0]),
    (F.elu, {}, lambda x: np_elu(x, 1.0), "ELU", {"alpha": 1.0}, [0]),
    (F.elu, {"alpha": 0.5}, lambda x: np_elu(x, 0.5), "ELU", {"alpha": 0.5}, [0]),
    (F.selu, {}, lambda x: SELU_SCALE * np_elu(x, SELU_ALPHA), "SELU",
     {"scale": SELU_SCALE, "alpha": SELU_ALPHA}, [0]),
    (F.selu, {"scale": 2.0, "alpha": 0.5}, lambda x: 2.0 * np_elu(x, 0.5), "SELU",
     {"scale": 2.0, "alpha": 0.5}, [0]),
    (F.gelu, {}, lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))),
     "GELU", {}, []),
    (F.mish, {}, lambda x: x * np.tanh(np.log1p(np.exp(x))), "Mish", {}, []),
    (F.relu6, {}, lambda x: np.clip(x, 0, 6), "ReLU6", {}, [0, 6]),
    (F.hard_sigmoid, {}, lambda x: np.clip(0.2 * x + 0.5, 0, 1), "HardSigmoid", {}, [-2.5, 2.5]),
    (F.hard_tanh, {}, lambda x: np.clip(x, -1, 1), "HardTanh", {}, [-1, 1]),
    (F.log_sigmoid, {}, lambda x: -np.log1p(np.exp(-x)), "LogSigmoid", {}, []),
    (F.softplus, {}, lambda x: np.log1p(np.exp(x)), "SoftPlus", {"beta": 1.0}, []),
    (F.softplus, {"beta": 2.5}, lambda x: np.log1p(np.exp(2.5 * x)) / 2.5, "SoftPlus",
     {"beta": 2.5}, []),
    (F.softsign, {}, lambda x: x / (1 + np.abs(x)), "SoftSign", {}, [0]),
    (F.tanh_shrink, {}, lambda x: x - np.tanh(x), "TanhShrink", {}, []),
    (F.sinc, {}, lambda x: np.sin(x) / x, "Sinc", {}, [0]),
]
UNARY_IDS = [f"{u[3]}-{i}" for i, u in enumerate(UNARY)]


def test_unary_values_and_gradients(rng):
    cases = []
    for (fn, kwargs, ref, type_name, _, kinks), name in zip(UNARY, UNARY_IDS):
        x = _away_from(rng.uniform(-7, 7, size=(2, 3, 4)), kinks)
        cases.append(dict(name=name, fn=lambda v, fn=fn, kw=kwargs: fn(v, **kw), ref=ref,
                          inputs=[x]))
    check_named_cases(cases)


@pytest.mark.parametrize("fn, kwargs, ref, type_name, args, kinks", UNARY, ids=UNARY_IDS)
def test_unary_type_name_args_shape(fn, kwargs, ref, type_name, args, kinks):
    for shape in [(), (1,), (2, 1, 3)]:
        y = fn(nn.Variable(shape), **kwargs)
        assert y.parent.info.type_name == type_name
        assert y.parent.info.args == args
        assert y.shape == shape


def test_kink_gradients_follow_nnabla():
    # NNabla: ReLU passes the gradient only where x > 0, ELU uses alpha * exp(x) at x <= 0,
    # Sinc is 1 at 0 with derivative 0.
    data = np.array([-1.0, 0.0, 2.0], np.float32)
    xs = [nn.Variable.from_numpy_array(data, need_grad=True) for _ in range(3)]
    ys = [F.relu(xs[0]), F.elu(xs[1], 0.5), F.sinc(xs[2])]
    loss = F.sum(ys[0]) + F.sum(ys[1]) + F.sum(ys[2])
    loss.forward()
    loss.backward()
    np.testing.assert_allclose(xs[0].g, [0, 0, 1])
    np.testing.assert_allclose(xs[1].g, [0.5 * np.exp(-1), 0.5, 1], rtol=1e-6)
    np.testing.assert_allclose(xs[2].g, [np.cos(-1.0) / -1.0 - np.sin(-1.0) / 1.0, 0.0,
                                         np.cos(2.0) / 2 - np.sin(2.0) / 4], rtol=1e-5)
    assert ys[2].d[1] == 1.0


def test_softmax_and_log_softmax(rng):
    cases = []
    for log in (False, True):
        fn = F.log_softmax if log else F.softmax
        for axis in (None, 0, 1, -1, -3):
            ax = 2 if axis is None else axis % 3
            cases.append(dict(
                name=f"{'log_' if log else ''}softmax axis={axis}",
                fn=lambda v, fn=fn, axis=axis: fn(v, axis=axis),
                ref=lambda a, ax=ax, log=log: np.log(np_softmax(a, ax)) if log
                else np_softmax(a, ax),
                inputs=[rng.randn(2, 3, 4) * 3]))
    outs = check_named_cases(cases)
    for case, (y,) in zip(cases, outs):
        axis = int(case["name"].split("=")[1]) if "None" not in case["name"] else 2
        assert y.parent.info.type_name in ("Softmax", "LogSoftmax")
        assert y.parent.info.args == {"axis": axis % 3}


def test_softmax_gradient_by_finite_differences(rng):
    check_grad(lambda v: F.softmax(v, axis=0), [rng.randn(3, 2)])


def test_crelu_celu(rng):
    cases = []
    for shape, axis in [((2, 3, 2), 1), ((2, 3), 0), ((4,), 0), ((2, 3, 2), -1)]:
        x = _away_from(rng.randn(*shape), [0])
        cases.append(dict(name=f"crelu {shape} {axis}",
                          fn=lambda v, axis=axis: F.crelu(v, axis=axis),
                          ref=lambda a, axis=axis: np.concatenate(
                              [np.maximum(a, 0), np.maximum(-a, 0)], axis=axis),
                          inputs=[x], type_name="CReLU", args={"axis": axis % len(shape)}))
        cases.append(dict(name=f"celu {shape} {axis}",
                          fn=lambda v, axis=axis: F.celu(v, alpha=0.7, axis=axis),
                          ref=lambda a, axis=axis: np.concatenate(
                              [np_elu(a, 0.7), np_elu(-a, 0.7)], axis=axis),
                          inputs=[x], type_name="CELU",
                          args={"alpha": 0.7, "axis": axis % len(shape)}))
    outs = check_named_cases(cases)
    for case, (y,) in zip(cases, outs):
        assert y.parent.info.type_name == case["type_name"]
        assert y.parent.info.args == case["args"]
    check_grad(lambda v: F.celu(v, alpha=0.7, axis=1), [_away_from(rng.randn(2, 3), [0])])


def test_prelu(rng):
    cases = []
    for x_shape, w_shape, base_axis in [
            ((2, 3, 4), (), 1), ((2, 3, 4), (1,), 1), ((2, 3, 4), (3,), 1),
            ((2, 3, 4), (4,), 2), ((2, 3, 4), (2,), 0), ((2, 3, 4), (4,), -1)]:
        ba = base_axis % len(x_shape)

        def ref(a, b, ba=ba, nd=len(x_shape)):
            if b.size == 1:
                return np.where(a >= 0, a, a * b.reshape(()))
            bshape = [1] * nd
            bshape[ba] = b.size
            return np.where(a >= 0, a, a * b.reshape(bshape))

        cases.append(dict(name=f"prelu {x_shape} {w_shape} {base_axis}", base_axis=ba,
                          fn=lambda a, b, base_axis=base_axis: F.prelu(a, b, base_axis),
                          ref=ref, inputs=[_away_from(rng.randn(*x_shape), [0]),
                                           rng.uniform(0.1, 0.5, size=w_shape)]))
    outs = check_named_cases(cases)
    for case, (y,) in zip(cases, outs):
        assert y.parent.info.type_name == "PReLU"
        assert y.parent.info.args == {"base_axis": case["base_axis"]}


def test_imperative_ndarray_inputs():
    x = nn.NdArray.from_numpy_array(np.array([[-1.0, 2.0]], np.float32))
    y = F.relu6(x)
    assert isinstance(y, nn.NdArray)
    np.testing.assert_allclose(y.data, [[0.0, 2.0]])


def test_argument_errors():
    x = nn.Variable((2, 3))
    with pytest.raises(ValueError, match="softmax"):
        F.softmax(x, axis=2)
    with pytest.raises(ValueError, match="log_softmax"):
        F.log_softmax(x, axis=-3)
    with pytest.raises(ValueError, match="crelu"):
        F.crelu(x, axis=5)
    with pytest.raises(ValueError, match="celu"):
        F.celu(x, axis=-4)
    with pytest.raises(ValueError, match="prelu"):
        F.prelu(x, nn.Variable((2,)), base_axis=1)
    with pytest.raises(ValueError, match="prelu"):
        F.prelu(x, nn.Variable((3,)), base_axis=2)
    with pytest.raises(ValueError, match="softplus"):
        F.softplus(x, beta=0)
    with pytest.raises(TypeError, match="leaky_relu"):
        F.leaky_relu(x, alpha="0.1")
    with pytest.raises(TypeError, match="softmax"):
        F.softmax(x, axis=1.0)
