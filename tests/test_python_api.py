"""NNabla's "Python API" tutorial, section by section, plus the pieces of the
API it leans on: module aliases, PythonFunction, parameter scopes, solvers
(against numpy transcriptions of NNabla's update formulas), nnabla.testing
and nnabla.dtypes."""
import importlib
import sys
from collections import OrderedDict

import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.solvers as S
from nnabla.function import PythonFunction

from function_check import check_grad


# ---------------------------------------------------------------- modules
@pytest.mark.parametrize("sub", ["functions", "parametric_functions", "solvers", "initializer",
                                 "parameter", "function", "ext_utils", "testing", "dtypes",
                                 "random", "logger", "monitor"])
def test_nnabla_modules_are_nnjax_modules(sub):
    a = importlib.import_module(f"nnabla.{sub}")
    b = importlib.import_module(f"nnjax.{sub}")
    assert a is b
    assert sys.modules[f"nnabla.{sub}"] is sys.modules[f"nnjax.{sub}"]


def test_nnabla_is_nnjax():
    import nnjax
    assert nn is nnjax
    assert nn.Variable is nnjax.Variable and nn.NdArray is nnjax.NdArray
    from nnabla import functions as F2
    assert F2 is F


def test_testing_assert_allclose():
    from nnabla.testing import assert_allclose
    v = nn.Variable.from_numpy_array(np.array([1.0, 2.0], np.float32))
    a = nn.NdArray.from_numpy_array(np.array([1.0, 2.0], np.float32))
    assert_allclose(v, a)
    assert_allclose(v.d, [1.0, 2.0])
    assert_allclose(a, np.array([1.0, 2.0 + 1e-9]), rtol=1e-6)
    with pytest.raises(AssertionError):
        assert_allclose(v, [1.0, 2.5])


def test_dtypes():
    from nnabla import dtypes
    assert dtypes.float == np.float32
    assert dtypes.half == np.float16
    assert dtypes.double == np.float64
    assert dtypes.int == np.int32
    assert dtypes.ubyte == np.uint8
    assert dtypes.bool == np.bool_
    a = nn.NdArray((2,), dtype=dtypes.half)
    assert a.dtype == np.float16


# ---------------------------------------------------------------- PythonFunction
class Mul2(PythonFunction):
    """The reference's PythonFunction example: elementwise product of two inputs."""

    def __init__(self, ctx=None):
        super().__init__(ctx)
        self.calls = {"setup": 0, "forward": 0, "backward": 0}

    @property
    def name(self):
        return self.__class__.__name__

    def min_outputs(self):
        return 1

    def setup_impl(self, inputs, outputs):
        self.calls["setup"] += 1
        i0, i1 = inputs
        assert i0.shape == i1.shape, "shapes of inputs differ"
        outputs[0].reset_shape(i0.shape, True)

    def forward_impl(self, inputs, outputs):
        self.calls["forward"] += 1
        outputs[0].d = inputs[0].d * inputs[1].d

    def backward_impl(self, inputs, outputs, propagate_down, accum):
        self.calls["backward"] += 1
        dy = outputs[0].g
        for i, (pd, acc) in enumerate(zip(propagate_down, accum)):
            if not pd:
                continue
            g = dy * inputs[1 - i].d
            if acc:
                inputs[i].g += g
            else:
                inputs[i].g = g


def test_python_function_in_a_graph():
    rs = np.random.RandomState(0)
    a = rs.randn(3, 4).astype(np.float32)
    b = rs.randn(3, 4).astype(np.float32)
    x0 = nn.Variable.from_numpy_array(a, need_grad=True)
    x1 = nn.Variable.from_numpy_array(b, need_grad=True)
    f = Mul2()
    y = f(x0, x1)
    assert y.shape == (3, 4)
    assert y.parent.name == "Mul2"
    assert f.calls["setup"] == 1
    z = F.sum(F.tanh(y) * 2)
    z.forward()
    np.testing.assert_allclose(y.d, a * b, rtol=1e-6)
    np.testing.assert_allclose(z.d, np.sum(np.tanh(a * b) * 2), rtol=1e-5)
    x0.grad.zero()
    x1.grad.zero()
    z.backward()
    dy = 2 * (1 - np.tanh(a * b) ** 2)
    np.testing.assert_allclose(x0.g, dy * b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x1.g, dy * a, rtol=1e-5, atol=1e-6)
    assert f.calls["forward"] >= 1 and f.calls["backward"] >= 1
    z.backward()  # accumulates like any function
    np.testing.assert_allclose(x0.g, 2 * dy * b, rtol=1e-5, atol=1e-6)
    with pytest.raises(AssertionError):
        Mul2()(x0, nn.Variable((2, 2)))


def test_python_function_gradient_by_finite_differences():
    rs = np.random.RandomState(1)
    f = Mul2()
    check_grad(lambda x, y: f(x, y), [rs.randn(2, 3), rs.randn(2, 3)])


def test_python_function_imperative():
    a = np.arange(4, dtype=np.float32)
    out = Mul2()(nn.NdArray.from_numpy_array(a), nn.NdArray.from_numpy_array(a + 1))
    assert isinstance(out, nn.NdArray)
    np.testing.assert_allclose(out.data, a * (a + 1))


# ---------------------------------------------------------------- parametric functions
def test_parametric_function_scopes():
    x = nn.Variable([5, 2])
    with nn.parameter_scope("affine1"):
        c1 = PF.affine(x, 3)
    assert c1.shape == (5, 3)
    params = nn.get_parameters()
    assert isinstance(params, OrderedDict)
    assert list(params) == ["affine1/affine/W", "affine1/affine/b"]
    assert params["affine1/affine/W"].shape == (2, 3)
    assert params["affine1/affine/b"].shape == (3,)
    assert all(p.need_grad for p in params.values())

    with nn.parameter_scope("foo"):
        h = PF.affine(x, 3)
        with nn.parameter_scope("bar"):
            h = PF.affine(h, 4)
    assert list(nn.get_parameters()) == [
        "affine1/affine/W", "affine1/affine/b", "foo/affine/W", "foo/affine/b",
        "foo/bar/affine/W", "foo/bar/affine/b"]
    assert nn.get_parameters()["foo/bar/affine/W"].shape == (3, 4)
    with nn.parameter_scope("foo"):
        assert list(nn.get_parameters()) == ["affine/W", "affine/b", "bar/affine/W",
                                             "bar/affine/b"]
    with nn.parameter_scope("foo/bar"):  # '/' nests too
        assert list(nn.get_parameters()) == ["affine/W", "affine/b"]
    with nn.parameter_scope("foo"):
        nn.clear_parameters()
    assert list(nn.get_parameters()) == ["affine1/affine/W", "affine1/affine/b"]


def test_parametric_function_name_argument():
    x = nn.Variable([5, 2])
    c1 = PF.affine(x, 3, name="affine1")
    assert c1.shape == (5, 3)
    assert list(nn.get_parameters()) == ["affine1/affine/W", "affine1/affine/b"]
    h = PF.convolution(nn.Variable((1, 1, 4, 4)), 2, (3, 3), name="c")
    h = PF.batch_normalization(h, name="c")
    assert list(nn.get_parameters(grad_only=False))[2:] == [
        "c/conv/W", "c/conv/b", "c/bn/beta", "c/bn/gamma", "c/bn/mean", "c/bn/var"]


def test_reusing_a_scope_shares_parameters():
    rs = np.random.RandomState(2)
    x = nn.Variable.from_numpy_array(rs.randn(4, 3).astype(np.float32))
    with nn.parameter_scope("shared"):
        h1 = PF.affine(x, 2)
    with nn.parameter_scope("shared"):
        h2 = PF.affine(x, 2)
    assert len(nn.get_parameters()) == 2
    assert h1.parent.inputs[1] == h2.parent.inputs[1]
    assert h1.parent.inputs[1] == nn.get_parameters()["shared/affine/W"]
    y = F.sum(h1 + 2 * h2)
    y.forward()
    np.testing.assert_allclose(h1.d, h2.d)
    w = nn.get_parameters()["shared/affine/W"]
    w.grad.zero()
    y.backward()
    # both uses accumulate into the one parameter
    np.testing.assert_allclose(w.g, 3 * np.tile(x.d.sum(0)[:, None], (1, 2)), rtol=1e-5)
    with nn.parameter_scope("shared"), pytest.raises(ValueError, match="size"):
        PF.affine(x, 5)  # same name, different shape


def test_get_parameters_grad_only_and_bn_names():
    x = nn.Variable((2, 3, 4, 4))
    with nn.parameter_scope("conv1"):
        h = PF.convolution(x, 4, (3, 3), pad=(1, 1))
        h = PF.batch_normalization(h)
    trainable = list(nn.get_parameters())
    everything = list(nn.get_parameters(grad_only=False))
    assert trainable == ["conv1/conv/W", "conv1/conv/b", "conv1/bn/beta", "conv1/bn/gamma"]
    assert everything == trainable + ["conv1/bn/mean", "conv1/bn/var"]
    p = nn.get_parameters(grad_only=False)
    assert p["conv1/conv/W"].shape == (4, 3, 3, 3)
    assert p["conv1/bn/beta"].shape == (1, 4, 1, 1)
    np.testing.assert_array_equal(p["conv1/bn/gamma"].d, 1)
    np.testing.assert_array_equal(p["conv1/bn/var"].d, 1)
    np.testing.assert_array_equal(p["conv1/bn/mean"].d, 0)
    assert not p["conv1/bn/mean"].need_grad


def test_parametric_function_with_ndarray_input_is_imperative():
    rs = np.random.RandomState(3)
    a = rs.randn(4, 2).astype(np.float32)
    with nn.parameter_scope("imp"):
        out = PF.affine(nn.NdArray.from_numpy_array(a), 3)
    assert isinstance(out, nn.NdArray)
    p = nn.get_parameters()
    np.testing.assert_allclose(out.data, a @ p["imp/affine/W"].d + p["imp/affine/b"].d,
                               rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- MLP example
def test_tutorial_mlp_and_imperative_update():
    rs = np.random.RandomState(4)
    batchsize = 16
    x = nn.Variable([batchsize, 2])
    with nn.parameter_scope("fc1"):
        h = F.tanh(PF.affine(x, 512))
    with nn.parameter_scope("fc2"):
        y = PF.affine(h, 1)
    assert (h.shape, y.shape) == ((16, 512), (16, 1))
    assert [(k, v.shape) for k, v in nn.get_parameters().items()] == [
        ("fc1/affine/W", (2, 512)), ("fc1/affine/b", (512,)),
        ("fc2/affine/W", (512, 1)), ("fc2/affine/b", (1,))]
    x.d = rs.randn(*x.shape)
    y.forward()
    p = {k: v.d.copy() for k, v in nn.get_parameters().items()}
    ref = np.tanh(x.d @ p["fc1/affine/W"] + p["fc1/affine/b"]) @ p["fc2/affine/W"] \
        + p["fc2/affine/b"]
    np.testing.assert_allclose(y.d, ref, rtol=1e-4, atol=1e-5)

    label = nn.Variable([batchsize, 1])
    loss = F.reduce_mean(F.squared_error(y, label))
    label.d = rs.randn(*label.shape)
    loss.forward()
    np.testing.assert_allclose(loss.d, np.mean((ref - label.d) ** 2), rtol=1e-4)
    for name, param in nn.get_parameters().items():
        param.grad.zero()
    loss.backward()
    g_b2 = np.mean(2 * (ref - label.d))
    np.testing.assert_allclose(nn.get_parameters()["fc2/affine/b"].g, [g_b2], rtol=1e-3,
                               atol=1e-6)
    grads = {k: v.g.copy() for k, v in nn.get_parameters().items()}

    # Imperative mode: param.data -= param.grad * 0.001
    for name, param in nn.get_parameters().items():
        param.data -= param.grad * 0.001
    for k, v in nn.get_parameters().items():
        np.testing.assert_allclose(v.d, p[k] - 0.001 * grads[k], rtol=1e-5, atol=1e-7)

    # Solver: the same vanilla SGD rule
    solver = S.Sgd(lr=0.00001)
    solver.set_parameters(nn.get_parameters())
    x.d = rs.randn(*x.shape)
    label.d = rs.randn(*label.shape)
    loss.forward()
    solver.zero_grad()
    loss.backward()
    before = {k: (v.d.copy(), v.g.copy()) for k, v in nn.get_parameters().items()}
    solver.update()
    for k, v in nn.get_parameters().items():
        np.testing.assert_allclose(v.d, before[k][0] - 1e-5 * before[k][1], rtol=1e-6,
                                   atol=1e-8)


# ---------------------------------------------------------------- solvers vs numpy
def _numpy_solver(name, hyper):
    state = {}

    def step(w, g, t):
        if name == "Sgd":
            return w - hyper["lr"] * g
        if name == "Momentum":
            m = hyper["momentum"] * state.get("m", 0) + hyper["lr"] * g
            state["m"] = m
            return w - m
        b1, b2 = hyper["beta1"], hyper["beta2"]
        m = b1 * state.get("m", 0) + (1 - b1) * g
        v = b2 * state.get("v", 0) + (1 - b2) * g * g
        state["m"], state["v"] = m, v
        alpha_t = hyper["alpha"] * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        return w - alpha_t * m / (np.sqrt(v) + hyper["eps"])
    return step


@pytest.mark.parametrize("name,make,hyper,states", [
    ("Sgd", lambda: S.Sgd(lr=0.1), {"lr": 0.1}, []),
    ("Momentum", lambda: S.Momentum(lr=0.05, momentum=0.8), {"lr": 0.05, "momentum": 0.8},
     ["m"]),
    ("Adam", lambda: S.Adam(alpha=0.01, beta1=0.8, beta2=0.95, eps=1e-6),
     {"alpha": 0.01, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6}, ["mean", "var"]),
])
def test_solver_matches_numpy_formula(name, make, hyper, states):
    rs = np.random.RandomState(5)
    w0 = rs.randn(3, 2)
    xs = rs.randn(4, 5, 3)
    w = nn.Variable.from_numpy_array(w0.astype(np.float32), need_grad=True)
    x = nn.Variable((5, 3))
    loss = F.sum(F.tanh(F.affine(x, w)) ** 2)
    solver = make()
    solver.set_parameters({"w": w})
    step = _numpy_solver(name, hyper)
    decay = 1e-3
    ref = w0.copy()
    for t in range(1, 5):
        x.d = xs[t - 1]
        loss.forward()
        solver.zero_grad()
        loss.backward()
        h = np.tanh(xs[t - 1] @ ref)
        g = xs[t - 1].T @ (2 * h * (1 - h ** 2))
        np.testing.assert_allclose(w.g, g, rtol=1e-4, atol=1e-5)
        solver.weight_decay(decay)
        solver.update()
        ref = step(ref, g + decay * ref, t)
        np.testing.assert_allclose(w.d, ref, rtol=1e-4, atol=1e-6, err_msg=f"{name} step {t}")
    st = solver.get_states()["w"]
    assert list(st.pstate) == states
    assert st.t == 4
    # NNabla keeps hyperparameters as float32
    assert np.float32(solver.learning_rate()) == np.float32(hyper.get("lr", hyper.get("alpha")))
    solver.set_learning_rate(0.5)
    assert solver.learning_rate() == 0.5


def test_solver_skips_parameters_without_fresh_gradients():
    a = nn.Variable.from_numpy_array(np.ones(2, np.float32), need_grad=True)
    b = nn.Variable.from_numpy_array(np.ones(2, np.float32), need_grad=True)
    loss = F.sum(a * 3)
    solver = S.Sgd(lr=0.1)
    solver.set_parameters({"a": a, "b": b})
    loss.forward()
    solver.zero_grad()
    loss.backward()
    solver.update()
    np.testing.assert_allclose(a.d, [0.7, 0.7])
    np.testing.assert_allclose(b.d, [1, 1])  # b's gradient stayed zeroed
    assert solver.get_states()["b"].t == 0 and solver.get_states()["a"].t == 1


# ---------------------------------------------------------------- the toy problem
def vector2length(x):
    return np.sqrt(np.sum(x ** 2, axis=1, keepdims=True))


def length_mlp(x):
    h = x
    for i, hnum in enumerate([4, 8, 4, 2]):
        h = F.tanh(PF.affine(h, hnum, name="fc{}".format(i)))
    return PF.affine(h, 1, name="fc")


def test_tutorial_vector_length_regression(tmp_path):
    rs = np.random.RandomState(0)
    batchsize = 100
    x = nn.Variable([batchsize, 2])
    y = length_mlp(x)
    label = nn.Variable([batchsize, 1])
    loss = F.reduce_mean(F.squared_error(y, label))
    names = list(nn.get_parameters())
    assert names == [f"fc{i}/affine/{p}" for i in range(4) for p in "Wb"] + [
        "fc/affine/W", "fc/affine/b"]
    shapes = [v.shape for v in nn.get_parameters().values()]
    assert shapes == [(2, 4), (4,), (4, 8), (8,), (8, 4), (4,), (4, 2), (2,), (2, 1), (1,)]

    solver = S.Adam(alpha=0.01)
    solver.set_parameters(nn.get_parameters())

    def random_data_provider(n):
        xx = rs.uniform(-1, 1, size=(n, 2))
        return xx, vector2length(xx)

    losses = []
    count = None
    for i in range(600):
        xx, ll = random_data_provider(batchsize)
        x.d = xx
        label.d = ll
        loss.forward(clear_no_need_grad=True)
        solver.zero_grad()
        loss.backward(clear_buffer=True)
        solver.weight_decay(1e-6)
        solver.update()
        losses.append(float(loss.d))
        if i == 0:
            count = nn.compile_count()
    assert nn.compile_count() == count  # the loop compiled once
    # tutorial: Loss@0 0.70, @100 0.08, @200 0.005, then ~1e-3
    assert 0.05 < losses[0] < 3.0
    assert np.mean(losses[-50:]) < 0.02
    assert np.mean(losses[-50:]) < losses[0] / 20

    # forward(clear_buffer=True) still gives the loss; y is kept when persistent
    loss.forward()
    full_loss, full_y = float(loss.d), y.d.copy()
    loss.forward(clear_buffer=True)
    np.testing.assert_allclose(loss.d, full_loss, rtol=1e-6)
    y.persistent = True
    loss.forward(clear_buffer=True)
    np.testing.assert_allclose(y.d, full_y, rtol=1e-6)

    # imperative prediction with NdArray inputs agrees with the graph
    xi = nn.NdArray.from_numpy_array(x.d.copy())
    yi = length_mlp(xi)
    assert isinstance(yi, nn.NdArray)
    np.testing.assert_allclose(yi.data, full_y, rtol=1e-5, atol=1e-6)
    assert list(nn.get_parameters()) == names  # no new parameters

    # save / clear / load
    path = str(tmp_path / "param-vector2length.h5")
    values = {k: v.d.copy() for k, v in nn.get_parameters().items()}
    nn.save_parameters(path)
    nn.clear_parameters()
    assert nn.get_parameters() == OrderedDict()
    nn.load_parameters(path)
    assert list(nn.get_parameters()) == names
    for k, v in nn.get_parameters().items():
        np.testing.assert_array_equal(v.d, values[k])
    with nn.parameter_scope("foo"):
        nn.load_parameters(path)
    assert list(nn.get_parameters()) == names + ["foo/" + k for k in names]
    for k in names:
        np.testing.assert_array_equal(nn.get_parameters()["foo/" + k].d, values[k])
