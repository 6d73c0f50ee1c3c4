"""Execution modes (auto-forward, forward_all, no_grad, clear_buffer), function
hooks, and contexts, as NNabla documents them."""
import warnings

import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
from nnabla.ext_utils import get_extension_context


# ---------------------------------------------------------------- auto-forward
def test_auto_forward_context_computes_when_called():
    rs = np.random.RandomState(0)
    a = rs.randn(3, 4).astype(np.float32)
    x = nn.Variable.from_numpy_array(a, need_grad=True)
    assert not nn.get_auto_forward()
    with nn.auto_forward():
        assert nn.get_auto_forward()
        h = F.tanh(x)
        y = F.sum(h * 2)
        # values are there without calling forward()
        np.testing.assert_allclose(h.d, np.tanh(a), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(y.d, 2 * np.tanh(a).sum(), rtol=1e-5)
    assert not nn.get_auto_forward()
    assert y.parent.name == "Sum"  # the graph is still recorded
    x.grad.zero()
    y.backward()  # backward on a dynamically built graph
    np.testing.assert_allclose(x.g, 2 * (1 - np.tanh(a) ** 2), rtol=1e-5)


def test_set_auto_forward_globally():
    x = nn.Variable.from_numpy_array(np.array([1.0, -2.0], np.float32))
    nn.set_auto_forward(True)
    try:
        assert nn.get_auto_forward()
        y = F.relu(x)
        np.testing.assert_array_equal(y.d, [1, 0])
        with nn.auto_forward(False):
            z = F.relu(x) + 1
            np.testing.assert_array_equal(z.d, [0, 0])  # not computed
        assert nn.get_auto_forward()
    finally:
        nn.set_auto_forward(False)
    assert not nn.get_auto_forward()


def test_auto_forward_with_parametric_functions_and_solver():
    # the dynamic-graph idiom: build under auto_forward, then backward/update
    rs = np.random.RandomState(1)
    x = nn.Variable.from_numpy_array(rs.randn(8, 3).astype(np.float32))
    t = nn.Variable.from_numpy_array(rs.randint(0, 2, (8, 1)).astype(np.int32))
    import nnabla.solvers as S
    solver = S.Sgd(lr=0.5)
    losses = []
    for _ in range(15):
        with nn.auto_forward():
            loss = F.mean(F.softmax_cross_entropy(PF.affine(x, 2, name="dyn"), t))
        solver.set_parameters(nn.get_parameters(), reset=False, retain_state=True)
        solver.zero_grad()
        loss.backward()
        solver.update()
        losses.append(float(loss.d))
    assert losses[-1] < losses[0]
    assert solver.get_states()["dyn/affine/W"].t == 15


# ---------------------------------------------------------------- forward_all, clear_buffer
def test_forward_all_computes_shared_parts_once():
    rs = np.random.RandomState(2)
    a = rs.randn(2, 3).astype(np.float32)
    x = nn.Variable.from_numpy_array(a)
    h = F.tanh(x)
    y1 = F.sum(h)
    y2 = h * 3
    called = []
    nn.forward_all([y1, y2], function_pre_hook=lambda f: called.append(f.name))
    assert called.count("Tanh") == 1
    assert sorted(called) == ["MulScalar", "Sum", "Tanh"]
    np.testing.assert_allclose(y1.d, np.tanh(a).sum(), rtol=1e-5)
    np.testing.assert_allclose(y2.d, 3 * np.tanh(a), rtol=1e-5, atol=1e-6)
    # without hooks too
    x.d = -a
    nn.forward_all([y1, y2])
    np.testing.assert_allclose(y1.d, np.tanh(-a).sum(), rtol=1e-5)
    np.testing.assert_allclose(y2.d, 3 * np.tanh(-a), rtol=1e-5, atol=1e-6)


def test_forward_clear_buffer_keeps_output_and_persistent():
    rs = np.random.RandomState(3)
    a = rs.randn(4, 3).astype(np.float32)
    x = nn.Variable.from_numpy_array(a)
    h = F.tanh(x * 2)
    y = F.sum(F.sigmoid(h))
    expected = np.sum(1 / (1 + np.exp(-np.tanh(2 * a))))
    y.forward(clear_buffer=True)
    np.testing.assert_allclose(y.d, expected, rtol=1e-5)
    h.persistent = True
    x.d = a + 1
    y.forward(clear_buffer=True)
    np.testing.assert_allclose(h.d, np.tanh(2 * (a + 1)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y.d, np.sum(1 / (1 + np.exp(-np.tanh(2 * (a + 1))))),
                               rtol=1e-5)
    y.forward(clear_no_need_grad=True)
    np.testing.assert_allclose(y.d, np.sum(1 / (1 + np.exp(-np.tanh(2 * (a + 1))))),
                               rtol=1e-5)


# ---------------------------------------------------------------- no_grad
def test_no_grad_context():
    rs = np.random.RandomState(4)
    x = nn.Variable.from_numpy_array(rs.randn(2, 3).astype(np.float32), need_grad=True)
    with nn.no_grad():
        y = F.tanh(x)
        z = PF.affine(x, 2, name="ng")
    assert not y.need_grad
    assert not z.need_grad
    assert not z.parent.inputs[1].need_grad  # the parameter as used in this graph
    assert nn.get_parameters(grad_only=False)["ng/affine/W"].need_grad  # still trainable
    w = nn.get_parameters()["ng/affine/W"]
    s = F.sum(z)
    s.forward()
    w.grad.zero()
    x.grad.zero()
    s.backward()
    np.testing.assert_array_equal(w.g, 0)
    np.testing.assert_array_equal(x.g, 0)
    y2 = F.tanh(x)  # outside the context: gradients again
    assert y2.need_grad


# ---------------------------------------------------------------- hooks
def _net():
    rs = np.random.RandomState(5)
    x = nn.Variable.from_numpy_array(rs.randn(4, 3).astype(np.float32), need_grad=True)
    w = nn.Variable.from_numpy_array(rs.randn(3, 2).astype(np.float32), need_grad=True)
    h = F.affine(x, w)
    y = F.tanh(h)
    z = F.mean(y * y)
    return x, w, h, y, z


def test_forward_hooks_see_every_function_in_order():
    x, w, h, y, z = _net()
    events = []

    def pre(f):
        events.append(("pre", f.info.type_name))

    def post(f):
        events.append(("post", f.info.type_name))
        if f.info.type_name == "Tanh":
            # the function has run: its output is readable here
            np.testing.assert_allclose(f.outputs[0].d, np.tanh(x.d @ w.d), rtol=1e-5, atol=1e-6)

    z.forward(function_pre_hook=pre, function_post_hook=post)
    order = ["Affine", "Tanh", "Mul2", "Mean"]
    assert events == [e for name in order for e in (("pre", name), ("post", name))]
    np.testing.assert_allclose(z.d, np.mean(np.tanh(x.d @ w.d) ** 2), rtol=1e-5)


def test_backward_hooks_see_every_function_in_reverse_order():
    x, w, h, y, z = _net()
    z.forward()
    x.grad.zero()
    w.grad.zero()
    pre, post = [], []
    z.backward(function_pre_hook=lambda f: pre.append(f.name),
               function_post_hook=lambda f: post.append(f.name))
    assert pre == ["Mean", "Mul2", "Tanh", "Affine"]
    assert post == pre
    ty = np.tanh(x.d @ w.d)
    dh = 2 * ty / ty.size * (1 - ty ** 2)
    np.testing.assert_allclose(w.g, x.d.T @ dh, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(x.g, dh @ w.d.T, rtol=1e-4, atol=1e-6)
    # hooked and fused backward agree; both accumulate
    z.backward()
    np.testing.assert_allclose(w.g, 2 * x.d.T @ dh, rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- contexts
def test_context_object():
    ctx = nn.Context()
    assert ctx.backend == ["cpu:float"]
    assert ctx.device_id == "0"
    ctx2 = nn.Context(["cpu:float"], "CpuCachedArray", "0")
    assert ctx2.array_class == "CpuCachedArray"
    assert "cpu:float" in repr(ctx2)
    assert ctx2["backend"] == ["cpu:float"]


def _no_gpu():
    from nnabla.context import gpu_available
    return not gpu_available()


def test_cudnn_context_falls_back_to_cpu_with_one_warning(monkeypatch):
    if not _no_gpu():
        pytest.skip("a GPU is visible to JAX: no fallback to test")
    import nnabla.context as C
    monkeypatch.setattr(C, "_warned", set())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ctx = get_extension_context("cudnn", device_id=0)
        ctx_again = get_extension_context("cudnn", device_id="0")
        with nn.context_scope(ctx):
            x = nn.Variable.from_numpy_array(np.array([1.0, -1.0], np.float32))
            y = F.relu(x)
            y.forward()
    fallback = [w for w in caught if issubclass(w.category, RuntimeWarning)
                and "GPU" in str(w.message)]
    assert len(fallback) == 1
    assert ctx.backend[0].startswith("cudnn") and ctx.backend[-1].startswith("cpu")
    assert ctx == ctx_again
    assert ctx.device_id == "0"
    np.testing.assert_array_equal(y.d, [1, 0])


def test_context_scope_and_default_context():
    default = nn.get_current_context()
    cpu = get_extension_context("cpu")
    half = get_extension_context("cpu", type_config="half")
    assert half.backend == ["cpu:half"]
    with nn.context_scope(half):
        assert nn.get_current_context() == half
        with nn.context_scope(cpu):
            assert nn.get_current_context() == cpu
        assert nn.get_current_context() == half
    assert nn.get_current_context() == default
    try:
        nn.set_default_context(cpu)
        assert nn.get_current_context() == cpu
        with nn.context_scope(half):
            assert nn.get_current_context() == half
        assert nn.get_current_context() == cpu
    finally:
        nn.set_default_context(default)
    assert nn.get_current_context() == default


def test_extension_context_bad_arguments():
    with pytest.raises(ValueError, match="extension"):
        get_extension_context("tpu")
    with pytest.warns(UserWarning, match="colour"):  # NNabla ignores unknown arguments
        ctx = get_extension_context("cpu", colour="red")
    assert ctx.backend == ["cpu:float"]
    with pytest.raises(ValueError):
        get_extension_context("cpu", type_config="int3")


def test_import_extension_module():
    from nnabla.ext_utils import import_extension_module
    ext = import_extension_module("cpu")
    ctx = ext.context()
    assert ctx.backend == ["cpu:float"]
    ext.synchronize()
    with pytest.raises(ImportError):
        import_extension_module("nope")
