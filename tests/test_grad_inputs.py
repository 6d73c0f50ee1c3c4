"""nn.grad's input handling: parameter handles, unreached inputs, grad_outputs kinds."""
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF


def _numeric_grad(f, x, eps=1e-3):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g


def test_grad_wrt_parameters_from_dict_view():
    nn.clear_parameters()
    rng = np.random.RandomState(0)
    xd = rng.randn(2, 3).astype(np.float32)
    x = nn.Variable.from_numpy_array(xd)
    with nn.parameter_scope("fc"):
        h = PF.affine(x, 4)
    loss = F.sum(h ** 2)
    params = nn.get_parameters().values()  # a view, with new handles of the graph's params
    grads = nn.grad([loss], params, [nn.NdArray.from_numpy_array(np.asarray(0.5))])
    F.sink(*grads, one_input_grad=1).forward()
    W, b = [p.d.astype(np.float64) for p in params]
    f_w = lambda w: 0.5 * np.sum((xd @ w + b) ** 2)
    f_b = lambda bb: 0.5 * np.sum((xd @ W + bb) ** 2)
    np.testing.assert_allclose(grads[0].d, _numeric_grad(f_w, W), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(grads[1].d, _numeric_grad(f_b, b), rtol=1e-3, atol=1e-3)
    nn.clear_parameters()


def test_unreached_input_gets_zeros():
    x = nn.Variable.from_numpy_array(np.array([1.0, 2.0])).apply(need_grad=True)
    other = nn.Variable((3, 2), need_grad=True)
    y = F.sin(x)
    gx, gother = nn.grad([y], [x, other])
    gx.forward()
    gother.forward()
    np.testing.assert_allclose(gx.d, np.cos([1.0, 2.0]), rtol=1e-6)
    assert gother.shape == (3, 2)
    np.testing.assert_array_equal(gother.d, np.zeros((3, 2)))


@pytest.mark.parametrize("kind", ["int", "float", "ndarray", "NdArray"])
def test_grad_outputs_kinds(kind):
    rng = np.random.RandomState(1)
    xd = rng.randn(2, 3).astype(np.float32)
    g = {"int": 3, "float": -0.5, "ndarray": rng.randn(2, 3)}.get(kind)
    if kind == "NdArray":
        g = nn.NdArray.from_numpy_array(rng.randn(2, 3))
    x = nn.Variable.from_numpy_array(xd).apply(need_grad=True)
    (gx,) = nn.grad([F.tanh(x)], [x], [g])
    gx.forward()
    gnp = g.data if kind == "NdArray" else np.asarray(g)
    np.testing.assert_allclose(gx.d, gnp * (1 - np.tanh(xd) ** 2), rtol=1e-5, atol=1e-6)


def test_bad_arguments_name_the_problem():
    x = nn.Variable((2,), need_grad=True)
    y = F.sin(x)
    with pytest.raises(ValueError, match="inputs"):
        nn.grad([y], [np.zeros(2)])
    with pytest.raises(ValueError, match="shape"):
        nn.grad([y], [x], [np.zeros(3)])


def test_outputs_made_persistent():
    x = nn.Variable((2,), need_grad=True)
    y = F.sin(x)
    nn.grad([y], [x])
    assert y.persistent


def test_parameter_used_twice_sums_both_uses():
    nn.clear_parameters()
    rng = np.random.RandomState(2)
    xd = rng.randn(2, 3).astype(np.float32)
    x = nn.Variable.from_numpy_array(xd)
    with nn.parameter_scope("shared"):
        h = F.tanh(PF.affine(x, 3, with_bias=False))
    with nn.parameter_scope("shared"):
        h = PF.affine(h, 3, with_bias=False)
    loss = F.sum(h ** 2)
    (gw,) = nn.grad([loss], nn.get_parameters().values())
    gw.forward()
    w0 = list(nn.get_parameters().values())[0].d.astype(np.float64)
    f = lambda w: np.sum((np.tanh(xd @ w) @ w) ** 2)
    np.testing.assert_allclose(gw.d, _numeric_grad(f, w0), rtol=2e-3, atol=2e-3)
    nn.clear_parameters()
