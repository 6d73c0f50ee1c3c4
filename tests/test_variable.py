"""Variable and the recorded graph, as NNabla's Python API tutorial and the
``nnabla.Variable`` reference describe them."""
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF

from function_check import check_grad


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


# ---------------------------------------------------------------- buffers and flags
def test_variable_buffers_and_accessors():
    x = nn.Variable([2, 3, 4], need_grad=True)
    assert x.shape == (2, 3, 4)
    assert x.ndim == 3 and x.size == 24 and x.size_from_axis(1) == 12
    assert isinstance(x.data, nn.NdArray) and isinstance(x.grad, nn.NdArray)
    assert x.data is not x.grad
    assert x.need_grad
    assert x.parent is None
    x.d = 1.2345
    assert np.all(x.d == x.data.data)
    x.g = 1.2345
    assert np.all(x.g == x.grad.data)
    x.grad.zero()
    np.testing.assert_array_equal(x.g, np.zeros((2, 3, 4)))
    # .d is a writable reference
    x.d[0, 0, 0] = 5
    assert x.data.data[0, 0, 0] == 5
    assert "Variable((2, 3, 4), need_grad=True)" in repr(x)


def test_need_grad_default_and_setter():
    assert not nn.Variable([2]).need_grad  # False by default
    v = nn.Variable([2], need_grad=True)
    v.need_grad = False
    assert not v.need_grad
    assert nn.Variable.from_numpy_array(np.ones(3), need_grad=True).need_grad


def test_from_numpy_array():
    x2 = nn.Variable.from_numpy_array(np.ones((3,)), need_grad=True)
    np.testing.assert_array_equal(x2.d, np.ones(3))
    assert x2.need_grad
    x3 = nn.Variable.from_numpy_array(np.ones((3,)), np.zeros((3,)), need_grad=True)
    np.testing.assert_array_equal(x3.d, np.ones(3))
    np.testing.assert_array_equal(x3.g, np.zeros(3))
    with pytest.raises(ValueError):
        nn.Variable.from_numpy_array(np.ones(3), np.ones(4))


def test_setting_data_and_grad_ndarrays():
    x = nn.Variable((2, 2))
    arr = nn.NdArray.from_numpy_array(np.arange(4, dtype=np.float32).reshape(2, 2))
    x.data = arr
    assert x.data is arr
    np.testing.assert_array_equal(x.d, np.arange(4).reshape(2, 2))
    g = nn.NdArray((2, 2))
    g.fill(3)
    x.grad = g
    np.testing.assert_array_equal(x.g, np.full((2, 2), 3))
    with pytest.raises(ValueError):
        x.data = nn.NdArray((5,))
    with pytest.raises(TypeError):
        x.data = np.zeros((2, 2))
    assert x.apply(need_grad=True, persistent=True) is x
    assert x.need_grad and x.persistent


def test_persistent_flag():
    x = nn.Variable((2,))
    assert not x.persistent
    x.persistent = True
    assert x.persistent


def test_uncomputed_variable_reads_zeros():
    x = nn.Variable((3, 2))
    y = F.tanh(x)
    np.testing.assert_array_equal(y.d, np.zeros((3, 2)))  # never computed: zeros
    np.testing.assert_array_equal(y.g, np.zeros((3, 2)))


# ---------------------------------------------------------------- functions in the graph
def test_parent_function_fields():
    x = nn.Variable([2, 3, 4], need_grad=True)
    sigmoid_output = F.sigmoid(x)
    sum_output = F.reduce_sum(sigmoid_output)
    f = sigmoid_output.parent
    assert f.name == "Sigmoid"
    assert f.info.type_name == "Sigmoid"
    assert f.info.args == {}
    assert len(f.inputs) == 1 and f.inputs[0] == x
    assert len(f.outputs) == 1 and f.outputs[0] == sigmoid_output
    assert sum_output.parent.name == "ReduceSum"
    assert sum_output.parent.inputs[0] == sigmoid_output
    assert sum_output.shape == ()
    assert sum_output.need_grad  # derived from its inputs
    assert not F.sigmoid(nn.Variable([2])).need_grad

    w = nn.Variable([4, 3], need_grad=True)
    a = F.affine(F.reshape(x, (6, 4)), w, base_axis=1)
    assert a.parent.info.type_name == "Affine"
    assert a.parent.info.args == {"base_axis": 1}
    assert [i.shape for i in a.parent.inputs[:2]] == [(6, 4), (4, 3)]


def test_tutorial_forward_backward_sigmoid_sum():
    x = nn.Variable([2, 3, 4], need_grad=True)
    x.d = 1.2345
    sigmoid_output = F.sigmoid(x)
    sum_output = F.reduce_sum(sigmoid_output)
    sum_output.forward()
    np.testing.assert_allclose(sum_output.d, np.sum(sigmoid(x.d)), rtol=1e-5)
    np.testing.assert_allclose(sum_output.d, 18.59052085876465, rtol=1e-5)
    x.grad.zero()
    sum_output.backward()
    # the intermediate gradient is readable after backward
    np.testing.assert_allclose(sigmoid_output.g, np.ones((2, 3, 4)))
    s = sigmoid(1.2345)
    np.testing.assert_allclose(x.g, np.full((2, 3, 4), s * (1 - s)), rtol=1e-5)
    np.testing.assert_allclose(x.g[0, 0, 0], 0.17459197, rtol=1e-5)


def test_tutorial_affine_need_grad_false_input():
    rs = np.random.RandomState(0)
    x = nn.Variable([5, 2])
    w = nn.Variable([2, 3], need_grad=True)
    b = nn.Variable([3], need_grad=True)
    affine_out = F.affine(x, w, b)
    x.d = rs.randn(*x.shape)
    w.d = rs.randn(*w.shape)
    b.d = rs.randn(*b.shape)
    x.grad.zero()
    w.grad.zero()
    b.grad.zero()
    affine_out.forward()
    affine_out.backward()
    np.testing.assert_allclose(affine_out.d, np.dot(x.d, w.d) + b.d, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w.g, np.tile(x.d.sum(0)[:, None], (1, 3)), rtol=1e-5)
    np.testing.assert_allclose(b.g, np.full(3, 5.0))
    np.testing.assert_array_equal(x.g, np.zeros((5, 2)))  # need_grad=False: untouched


def test_backward_accumulates_into_leaves():
    rs = np.random.RandomState(1)
    x = nn.Variable.from_numpy_array(rs.randn(3, 4).astype(np.float32), need_grad=True)
    y = F.sum(F.tanh(x) * 2)
    y.forward()
    x.grad.zero()
    y.backward()
    first = x.g.copy()
    np.testing.assert_allclose(first, 2 * (1 - np.tanh(x.d) ** 2), rtol=1e-5)
    y.backward()
    np.testing.assert_allclose(x.g, 2 * first, rtol=1e-5)  # accumulated: doubled
    x.g = 0
    y.backward()
    np.testing.assert_allclose(x.g, first, rtol=1e-5)


def test_need_grad_false_intermediate_stops_propagation():
    rs = np.random.RandomState(2)
    x = nn.Variable.from_numpy_array(rs.randn(4).astype(np.float32), need_grad=True)
    w = nn.Variable.from_numpy_array(rs.randn(4).astype(np.float32), need_grad=True)
    h = F.tanh(x)
    h.need_grad = False
    y = F.sum(h * w)
    y.forward()
    x.grad.zero()
    w.grad.zero()
    y.backward()
    np.testing.assert_array_equal(x.g, np.zeros(4))
    np.testing.assert_allclose(w.g, np.tanh(x.d), rtol=1e-5)


def test_backward_with_explicit_grad():
    rs = np.random.RandomState(3)
    xa = rs.randn(2, 3).astype(np.float32)
    seed = rs.randn(2, 3).astype(np.float32)
    x = nn.Variable.from_numpy_array(xa, need_grad=True)
    y = F.tanh(x)
    y.forward()
    x.grad.zero()
    y.backward(grad=seed)  # numpy array
    np.testing.assert_allclose(x.g, seed * (1 - np.tanh(xa) ** 2), rtol=1e-5)
    x.grad.zero()
    y.backward(grad=nn.NdArray.from_numpy_array(seed))  # NdArray
    np.testing.assert_allclose(x.g, seed * (1 - np.tanh(xa) ** 2), rtol=1e-5)
    x.grad.zero()
    y.backward(grad=3.0)  # scalar
    np.testing.assert_allclose(x.g, 3 * (1 - np.tanh(xa) ** 2), rtol=1e-5)


def test_backward_grad_none_joins_unlinked_graphs():
    # the Variable.backward reference example, on a small affine network
    rs = np.random.RandomState(4)
    x = nn.Variable.from_numpy_array(rs.rand(4, 3).astype(np.float32))

    def net(split):
        with nn.parameter_scope("a1"):
            y0 = PF.affine(x, 5)
        y1 = F.relu(y0)
        with nn.parameter_scope("a2"):
            y2 = PF.affine(y1, 4)
        y3 = F.tanh(y2)
        y3u = y3.get_unlinked_variable() if split else y3
        with nn.parameter_scope("a3"):
            y5 = PF.affine(y3u, 1)
        return y3, y3u, F.mean(F.abs(y5 - 1.0))

    _, _, ref_loss = net(False)
    ref_loss.forward()
    for p in nn.get_parameters().values():
        p.grad.zero()
    ref_loss.backward()
    expected = {k: p.g.copy() for k, p in nn.get_parameters().items()}

    y3, y3u, loss = net(True)  # same parameters (scopes reused)
    assert y3u.parent is None and y3u == y3
    y3.forward()
    loss.forward()
    for p in nn.get_parameters().values():
        p.grad.zero()
    loss.backward()
    np.testing.assert_array_equal(nn.get_parameters()["a1/affine/W"].g, 0)  # stopped at y3u
    np.testing.assert_allclose(nn.get_parameters()["a3/affine/W"].g,
                               expected["a3/affine/W"], rtol=1e-5, atol=1e-7)
    y3.backward(grad=None)  # takes over the gradient y3u holds
    for k, g in expected.items():
        np.testing.assert_allclose(nn.get_parameters()[k].g, g, rtol=1e-4, atol=1e-6,
                                   err_msg=k)


def test_get_unlinked_variable_shares_buffers():
    x = nn.Variable.from_numpy_array(np.array([[1, 2], [3, 4]], np.float32))
    y = PF.affine(x, 4)
    z = y.get_unlinked_variable(need_grad=False)
    assert y.parent.name == "Affine"
    assert z.parent is None
    assert not z.need_grad
    assert z == y and hash(z) == hash(y)
    y.forward()
    np.testing.assert_array_equal(z.d, y.d)
    z.d[0, 0] = 123.0
    assert y.d[0, 0] == 123.0
    assert z.data is y.data and z.grad is y.grad
    assert y.get_unlinked_variable().need_grad == y.need_grad


def test_identity_equality_and_hash():
    a = nn.Variable((2,))
    b = nn.Variable((2,))
    assert a == a and a != b
    assert len({a, b, a}) == 2
    d = {a: 1}
    assert d[a.get_unlinked_variable()] == 1
    assert a != a.reshape((2,), unlink=True)


# ---------------------------------------------------------------- traversal
def test_visit_and_visit_check_order():
    a = nn.Variable((2, 3), need_grad=True)
    b = nn.Variable((2, 3), need_grad=True)
    t = F.tanh(a)
    u = t * 2
    v = t + 1
    w = F.add2(u, v)
    z = F.add2(w, F.sigmoid(b))
    names = []
    z.visit(lambda f: names.append(f.info.type_name))
    assert names == ["Tanh", "MulScalar", "AddScalar", "Add2", "Sigmoid", "Add2"]

    seen = []

    def find_add_scalar(f):
        seen.append(f.name)
        return f.name == "AddScalar"
    assert z.visit_check(find_add_scalar) is True
    assert seen == ["Tanh", "MulScalar", "AddScalar"]
    assert z.visit_check(lambda f: False) is False
    leaf_calls = []
    a.visit(leaf_calls.append)
    assert leaf_calls == []


def test_function_references():
    x = nn.Variable((2, 2), need_grad=True)
    assert x.function_references == []
    y1 = F.tanh(x)
    y2 = F.sigmoid(x)
    refs = x.function_references
    assert sorted(f.info.type_name for f in refs) == ["Sigmoid", "Tanh"]
    assert {id(f) for f in refs} == {id(y1.parent), id(y2.parent)}


def test_rewire_on():
    def affine(h, n, scope):
        with nn.parameter_scope(scope):
            return PF.affine(h, n)

    xa = nn.Variable((2, 8), need_grad=True)
    ya = F.tanh(affine(xa, 10, "a"))
    xb = nn.Variable((2, 16), need_grad=True)
    yb = F.tanh(affine(F.tanh(affine(xb, 8, "b1")), 8, "b2"))
    xa.rewire_on(yb)
    assert yb.parent is None
    assert xa.parent is not None and xa.parent.name == "Tanh"
    xb.d = 1
    ya.forward()
    p = {k: v.d for k, v in nn.get_parameters().items()}
    h = np.tanh(np.ones((2, 16)) @ p["b1/affine/W"] + p["b1/affine/b"])
    h = np.tanh(h @ p["b2/affine/W"] + p["b2/affine/b"])
    expected = np.tanh(h @ p["a/affine/W"] + p["a/affine/b"])
    np.testing.assert_allclose(ya.d, expected, rtol=1e-5, atol=1e-6)
    xb.grad.zero()
    ya.backward()
    assert np.abs(xb.g).sum() > 0  # gradients flow through the rewired part
    with pytest.raises(ValueError):
        nn.Variable((3,)).rewire_on(nn.Variable((4,)))


def test_reset_shape_and_reshape():
    x = nn.Variable((2, 3))
    x.d = np.arange(6).reshape(2, 3)
    x.reset_shape((3, 2))
    assert x.shape == (3, 2)
    np.testing.assert_array_equal(x.d, np.arange(6).reshape(3, 2))  # same size: values kept
    with pytest.raises(ValueError):
        x.reset_shape((4, 2))
    x.reset_shape((4, 2), force=True)
    assert x.shape == (4, 2)

    v = nn.Variable.from_numpy_array(np.arange(6, dtype=np.float32), need_grad=True)
    r = v.reshape((2, 3))
    assert r.parent.name == "Reshape" and r.shape == (2, 3)
    u = v.reshape((3, 2), unlink=True)
    assert u.parent is None and u.shape == (3, 2) and u.need_grad
    np.testing.assert_array_equal(u.d, np.arange(6).reshape(3, 2))
    with pytest.raises(ValueError):
        v.reshape((4,), unlink=True)
    # the linked reshape backpropagates to the original
    s = F.sum(r * r)
    s.forward()
    v.grad.zero()
    s.backward()
    np.testing.assert_allclose(v.g, 2 * np.arange(6))


def test_indexing_like_the_rnn_example():
    a = np.arange(2 * 1 * 8 * 8, dtype=np.float32).reshape(2, 1, 8, 8)
    x = nn.Variable.from_numpy_array(a, need_grad=True)
    parts = [x[..., :4, :4], x[..., :4, 4:], x[..., 4:, :4], x[..., 4:, 4:]]
    refs = [a[..., :4, :4], a[..., :4, 4:], a[..., 4:, :4], a[..., 4:, 4:]]
    nn.forward_all(parts)
    for p, r in zip(parts, refs):
        assert p.shape == (2, 1, 4, 4)
        np.testing.assert_array_equal(p.d, r)
    assert parts[1].parent.name == "Slice"
    s = F.sum(parts[1] * 3)
    s.forward()
    x.grad.zero()
    s.backward()
    expected = np.zeros_like(a)
    expected[..., :4, 4:] = 3
    np.testing.assert_array_equal(x.g, expected)
    # other index forms
    y = x[0, 0, 1, 2:5]
    z = x[:, None, 0, ::2, 1]
    nn.forward_all([y, z])
    np.testing.assert_array_equal(y.d, a[0, 0, 1, 2:5])
    np.testing.assert_array_equal(z.d, a[:, None, 0, ::2, 1])
    with pytest.raises(IndexError):
        x[0, 0, 0, 0, 0]


# ---------------------------------------------------------------- operators
def _type(v):
    return v.parent.info.type_name


def test_operators_map_onto_nnabla_functions():
    rs = np.random.RandomState(5)
    xa = (rs.rand(2, 3) + 0.5).astype(np.float32)
    ya = (rs.rand(2, 3) + 0.5).astype(np.float32)
    x = nn.Variable.from_numpy_array(xa, need_grad=True)
    y = nn.Variable.from_numpy_array(ya, need_grad=True)
    cases = [
        (x + y, "Add2", {}, xa + ya), (x - y, "Sub2", {}, xa - ya),
        (x * y, "Mul2", {}, xa * ya), (x / y, "Div2", {}, xa / ya),
        (x ** y, "Pow2", {}, xa ** ya),
        (x + 2, "AddScalar", {"val": 2.0}, xa + 2), (2 + x, "AddScalar", {"val": 2.0}, 2 + xa),
        (x - 2, "AddScalar", {"val": -2.0}, xa - 2), (2 - x, "RSubScalar", {"val": 2.0}, 2 - xa),
        (x * 2, "MulScalar", {"val": 2.0}, xa * 2), (2 * x, "MulScalar", {"val": 2.0}, 2 * xa),
        (x / 2, "MulScalar", {"val": 0.5}, xa / 2), (2 / x, "RDivScalar", {"val": 2.0}, 2 / xa),
        (x ** 2, "PowScalar", {"val": 2.0}, xa ** 2), (2 ** x, "RPowScalar", {"val": 2.0}, 2 ** xa),
        (-x, "MulScalar", {"val": -1.0}, -xa),
    ]
    outs = [c[0] for c in cases]
    nn.forward_all(outs)
    for out, type_name, args, expected in cases:
        assert _type(out) == type_name
        for k, v in args.items():
            assert out.parent.info.args[k] == v, (type_name, out.parent.info.args)
        np.testing.assert_allclose(out.d, expected, rtol=1e-5, atol=1e-6, err_msg=type_name)
    assert +x is x


def test_matmul_operator_maps_like_nnabla():
    rs = np.random.RandomState(7)
    shapes = [((3,), (3,), "Sum"), ((2, 3), (3, 4), "Affine"), ((3,), (3, 4), "Reshape"),
              ((2, 3), (3,), "Reshape"), ((5, 2, 3), (5, 3, 4), "BatchMatmul"),
              ((5, 2, 3), (3, 4), "BatchMatmul"), ((5, 2, 3), (3,), "Reshape"),
              ((3,), (5, 3, 4), "Reshape")]
    for sa, sb, last in shapes:
        a = rs.randn(*sa).astype(np.float32)
        b = rs.randn(*sb).astype(np.float32)
        out = nn.Variable.from_numpy_array(a) @ nn.Variable.from_numpy_array(b)
        assert out.parent.info.type_name == last, (sa, sb)
        out.forward()
        np.testing.assert_allclose(out.d, a @ b, rtol=1e-4, atol=1e-5, err_msg=str((sa, sb)))
        nd = nn.NdArray.from_numpy_array(a) @ nn.NdArray.from_numpy_array(b)
        np.testing.assert_allclose(nd.data, a @ b, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="matmul"):
        nn.Variable((2, 3)) @ nn.Variable((4, 2))


def test_inplace_operators_on_variables_build_new_nodes():
    x = nn.Variable.from_numpy_array(np.ones((2,), np.float32), need_grad=True)
    orig = x
    x += 1
    assert x is not orig and _type(x) == "AddScalar"
    x *= 3
    assert _type(x) == "MulScalar"
    x -= 1
    assert _type(x) == "AddScalar" and x.parent.info.args["val"] == -1.0
    x /= 2
    assert _type(x) == "MulScalar" and x.parent.info.args["val"] == 0.5
    x.forward()
    np.testing.assert_allclose(x.d, [2.5, 2.5])
    np.testing.assert_array_equal(orig.d, [1, 1])


def test_variable_with_ndarray_operand_is_imperative():
    x = nn.Variable.from_numpy_array(np.array([1.0, 2.0], np.float32))
    a = nn.NdArray.from_numpy_array(np.array([10.0, 20.0], np.float32))
    out = x + a
    assert isinstance(out, nn.NdArray)
    np.testing.assert_allclose(out.data, [11, 22])


def test_operator_gradients_match_finite_differences():
    rs = np.random.RandomState(6)
    a = rs.rand(2, 3) + 0.5
    b = rs.rand(2, 3) + 0.5
    check_grad(lambda x, y: x * y + x / y - y ** 2, [a, b])
    check_grad(lambda x: 2 - x ** 3 + 3 / x, [a])
    check_grad(lambda x, y: x ** y, [a, b])
