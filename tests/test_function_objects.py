"""Function objects as NNabla drives them: the recorded node's setup/forward/backward
(with and without accumulation), per-type constructors, the backward-function
registry (double backward) and the gradient functions of linear types.

Written the way NNabla users test their functions (NNabla's ``function_tester``
style): build the node, drive ``y.parent`` directly, compare with a numpy
reference and with central differences of it.
"""
import numpy as np
import pytest

import nnabla as nn
import nnabla.function as Fn
import nnabla.functions as F
from nnabla.backward_functions import registry

from function_check import numeric_grad, var


def _gated_affine_ref(x, w):
    """The composite under test: tanh(x @ w) * sigmoid(x @ w)."""
    h = x @ w
    return np.tanh(h) / (1 + np.exp(-h))


def _gated_affine(x, w):
    h = F.affine(x, w)
    return F.tanh(h) * F.sigmoid(h)


def check_function_object(fn, ref, arrays, rng, atol=2e-3):
    """Drive the last node of ``fn(*variables)`` as NNabla's function tester does."""
    xs = [var(a) for a in arrays]
    y = fn(*xs)
    y.forward()
    np.testing.assert_allclose(y.d, ref(*arrays), rtol=1e-5, atol=1e-6)
    node = y.parent
    # forward on other Variables than the recorded ones (same shapes)
    xs2 = [var(a) for a in arrays]
    inner = node.inputs
    for v2, v in zip(xs2, xs):
        v2.d = v.d
    dy = rng.randn(*y.shape).astype(np.float32)
    # backward of the last node: accumulate vs overwrite
    for v in inner:
        v.g = 1.0
    y.g = dy
    node.forward(inner, [y])
    node.backward(inner, [y])
    accumulated = [v.g.copy() for v in inner]
    for v in inner:
        v.g = np.nan
    node.backward(inner, [y], [False] * len(inner))
    for v, acc in zip(inner, accumulated):
        assert not np.isnan(v.g).any()
        np.testing.assert_allclose(v.g + 1.0, acc, rtol=1e-5, atol=1e-5)
    # the whole composite against central differences of the reference
    for v in xs:
        v.g = 0
    y.backward(dy)
    for i, v in enumerate(xs):
        np.testing.assert_allclose(v.g, numeric_grad(ref, arrays, i, [dy]), atol=atol, rtol=atol)


def test_composite_in_function_tester_style(rng):
    arrays = [rng.randn(3, 4), rng.randn(4, 2)]
    check_function_object(_gated_affine, _gated_affine_ref, arrays, rng)


def test_need_grad_false_input_is_left_alone(rng):
    x, w = var(rng.randn(3, 4)), var(rng.randn(4, 2), need_grad=False)
    y = F.affine(x, w)
    y.forward()
    y.g = 1.0
    x.g, w.g = 0.0, 7.0
    y.parent.backward([x, w], [y])
    np.testing.assert_allclose(x.g, np.ones((3, 2)) @ w.d.T, rtol=1e-6)
    np.testing.assert_array_equal(w.g, 7.0)


def test_backward_asked_input_by_input_compiles_once(rng):
    # NNabla's function tests drive backward once per input and accumulation
    # setting: one program computes every input's grad, the call writes or adds
    x, w, b = var(rng.randn(3, 4)), var(rng.randn(4, 2)), var(rng.randn(2))
    y = F.affine(x, w, b)
    f = y.parent
    dy = rng.randn(3, 2).astype(np.float32)
    y.forward()
    y.g = dy
    grads = {"x": dy @ w.d.T, "w": x.d.T @ dy, "b": dy.sum(0)}
    compiles = nn.compile_stats().compiles
    for k, v in enumerate((x, w, b)):
        name = "xwb"[k]
        before = rng.randn(*v.shape).astype(np.float32)
        v.g = before
        f.backward([x, w, b], [y], [j != k for j in range(3)])  # this one overwritten
        np.testing.assert_allclose(v.g, grads[name], rtol=1e-5, atol=1e-6)
        v.g = before
        f.backward([x, w, b], [y])  # every one added to
        np.testing.assert_allclose(v.g, before + grads[name], rtol=1e-5, atol=1e-5)
    v = w
    v.need_grad = False
    v.g = 5.0
    f.backward([x, w, b], [y])
    np.testing.assert_array_equal(w.g, 5.0)  # no grad asked: untouched
    assert nn.compile_stats().compiles - compiles <= 1


def test_backward_of_an_input_given_twice_sums_its_parts(rng):
    x = var(rng.randn(3, 3))
    y = F.mul2(x, x)
    y.forward()
    y.g = 1.0
    x.g = 1.0
    y.parent.backward([x, x], [y])
    np.testing.assert_allclose(x.g, 1.0 + 2 * x.d, rtol=1e-6)


def test_constructor_records_itself_and_computes(rng):
    f = Fn.Affine(nn.Context(), base_axis=1)
    assert f.info.args == {"base_axis": 1} and f.name == "Affine"
    x, w = var(rng.randn(2, 3)), var(rng.randn(3, 4))
    y = f(x, w)
    assert y.parent is f and f.inputs[0] is x
    y.forward()
    np.testing.assert_allclose(y.d, x.d @ w.d, rtol=1e-5)
    parts = Fn.Split(None, 0)(x)
    assert len(parts) == 2 and parts[0].shape == (3,)
    with pytest.raises(TypeError, match="Affine: unknown argument 'axes'"):
        Fn.Affine(None, axes=1)


def test_setup_reshapes_outputs(rng):
    x = var(rng.randn(2, 3))
    y = F.tanh(x)
    x2, y2 = var(rng.randn(4, 5)), nn.Variable((1,))
    y.parent.setup([x2], [y2])
    assert y2.shape == (4, 5)
    y.parent.forward([x2], [y2])
    np.testing.assert_allclose(y2.d, np.tanh(x2.d), rtol=1e-6)


def test_graph_follows_reset_shape_of_an_input(rng):
    x = var(rng.randn(2, 3))
    y = F.sum(F.tanh(x) * 2, axis=1)
    y.forward()
    x.reset_shape((4, 5), force=True)
    x.d = rng.randn(4, 5)
    y.forward()
    assert y.shape == (4,)
    np.testing.assert_allclose(y.d, np.sum(2 * np.tanh(x.d), axis=1), rtol=1e-5, atol=1e-6)


def test_backward_function_equals_backward_and_differentiates_again(rng):
    xv = rng.randn(2, 3).astype(np.float32)
    x = var(xv)
    y = F.tanh(x)
    dy = var(rng.randn(2, 3))
    gx = registry["Tanh"]([dy], [x], [x.shape], [y], [y.shape])  # one input: one Variable
    gx.forward()
    np.testing.assert_allclose(gx.d, dy.d * (1 - np.tanh(xv) ** 2), rtol=1e-5)
    # d/dx sum(gx) = dy * d/dx (1 - tanh^2) = -2 dy tanh sech^2
    x.g = 0
    F.sum(gx).backward()
    t = np.tanh(xv)
    np.testing.assert_allclose(x.g, -2 * dy.d * t * (1 - t ** 2), rtol=1e-4, atol=1e-6)
    from nnabla.backward_function.tanh import tanh_backward
    assert tanh_backward is registry["Tanh"]


def test_affine_data_and_filter_grads(rng):
    from nnabla.backward_function.affine import AffineDataGrad, AffineFilterGrad
    x, w = rng.randn(2, 3).astype(np.float32), rng.randn(3, 4).astype(np.float32)
    dy = rng.randn(2, 4).astype(np.float32)
    df = AffineDataGrad(None, 1)
    df.xshape = x.shape
    dx = df(var(dy), var(w))
    dx.forward()
    assert dx.parent.name == "AffineDataGrad"
    np.testing.assert_allclose(dx.d, dy @ w.T, rtol=1e-5)
    dw_f = AffineFilterGrad(None, 1)
    dw_f.wshape = w.shape
    dw = dw_f(var(dy), var(x))
    dw.forward()
    np.testing.assert_allclose(dw.d, x.T @ dy, rtol=1e-5)
    # its own backward: d sum(dx * r)/d dy = r @ w
    r = rng.randn(2, 3).astype(np.float32)
    dyv, wv = var(dy), var(w)
    out = df(dyv, wv)
    (g_dy, g_w) = registry["AffineDataGrad"]([var(r)], [dyv, wv], None, [out], None)
    F.sink(g_dy, g_w).forward()
    np.testing.assert_allclose(g_dy.d, r @ w, rtol=1e-5)
    np.testing.assert_allclose(g_w.d, r.T @ dy, rtol=1e-5)


def test_active_input_mask_drops_inputs(rng):
    arrays = [rng.randn(2, 3).astype(np.float32) for _ in range(3)]
    xs = [var(a) for a in arrays]
    y = F.add_n(*xs)
    y.parent.set_active_input_mask([True, False, True])
    y.forward()
    np.testing.assert_allclose(y.d, arrays[0] + arrays[2], rtol=1e-6)
    for v in xs:
        v.g = 0
    y.backward()
    np.testing.assert_array_equal(xs[1].g, 0)
    np.testing.assert_array_equal(xs[0].g, 1)


def test_sink_without_input_grads_seeds_from_their_grads(rng):
    x = var(rng.randn(2, 5))
    a, b = F.split(F.identity(x), axis=0)
    F.sink(a, b).forward()
    a.g, b.g = np.ones(5), 2 * np.ones(5)
    x.g = 0
    F.sink(a, b, one_input_grad=False).backward()
    np.testing.assert_array_equal(x.g, [[1] * 5, [2] * 5])
    np.testing.assert_array_equal(b.g, 2)  # the seeds are kept


def test_function_bases_take_nnablas_declared_signature(rng):
    import inspect
    fb = nn.function_bases
    assert list(inspect.signature(fb.sum).parameters)[:3] == ["x", "axes", "keep_dims"]
    xv = rng.randn(2, 3, 4).astype(np.float32)
    s = fb.sum(var(xv))  # axes computed as NNabla computes it: every axis
    assert s.parent.info.args == {"axes": [0, 1, 2], "keep_dims": False}
    s.forward()
    np.testing.assert_allclose(s.d, xv.sum(), rtol=1e-5)
    x, w = var(rng.randn(1, 2, 5, 5)), var(rng.randn(3, 2, 3, 3))
    y = fb.convolution(x, w)
    assert y.shape == (1, 3, 3, 3) and y.parent.info.args["pad"] == (0, 0)
    c = fb.concatenate(x, x)  # axis: the last one
    assert c.shape == (1, 2, 5, 10)


def test_info_args_edit_leaves_the_node_unchanged():
    # graph modifiers written for NNabla edit info.args of a node they then rebuild
    x = nn.Variable.from_numpy_array(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4))
    y = F.max_pooling(x, (2, 2))
    args = y.parent.info.args
    args["channel_last"] = True
    args["kernel"].append(9)
    assert y.parent.info.args["channel_last"] is False
    assert list(y.parent.args["kernel"]) == [2, 2]
    y.forward()
    np.testing.assert_array_equal(y.d, np.array([[[[5, 7], [13, 15]]]], np.float32))


def test_network_driven_node_by_node_reuses_its_plans_and_layouts(rng, monkeypatch):
    """A loaded network run as NNabla's legacy loader runs it: each node's
    ``forward(inputs, outputs)`` in turn, more nodes than the program cache
    holds, flags set again to the values they have between passes. The second
    pass builds no plan and no layout, and gives numpy's values."""
    from nnjax import _assemble, _plan, _queue
    n_nodes = 600
    x = nn.Variable((4, 3), need_grad=True)
    x.d = rng.randn(4, 3)
    scales = rng.uniform(0.5, 1.5, n_nodes)
    chain = [x]
    for k in range(n_nodes):
        chain.append(F.tanh(chain[-1] * float(scales[k])))
    nodes = [v.parent for v in chain[1:]]

    def run_pass():
        x.need_grad = True  # (as the legacy loader does before each pass)
        for node in nodes:
            node.forward(node.inputs, node.outputs)
        return chain[-1].d.copy()

    run_pass()
    layouts, plans = [], []
    monkeypatch.setattr(_queue, "make_layout", lambda ops: layouts.append(1) or
                        _assemble.make_layout(ops))
    real_assemble = _plan._assemble
    monkeypatch.setattr(_plan, "_assemble", lambda *a, **k: plans.append(1) or
                        real_assemble(*a, **k))
    version = _plan.graph_version[0]
    got = run_pass()
    assert _plan.graph_version[0] == version
    assert not layouts and not plans
    want = x.d.astype(np.float64)
    for k in range(n_nodes):
        want = np.tanh(want * np.float32(scales[k]))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    x.need_grad = False  # a real change still invalidates the cached plans
    assert _plan.graph_version[0] != version
