"""Variable indexing (getitem/setitem), numpy-compatible helpers (dot, matmul) and
nn.grad (including a double backward checked against jax.grad)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.numpy_compat_functions as NCF
from function_check import check_cases, var

pytestmark = pytest.mark.filterwarnings("ignore:nnjax. the same graph structure")



RS = np.random.RandomState(17)


def _n(shape):
    return np.asarray(RS.randn(*shape), np.float32)


def _types(y):
    names = []
    while y.parent is not None:
        names.append(y.parent.info.type_name)
        y = y.parent.inputs[0]
    return names[::-1]


# ---------------------------------------------------------------- getitem
A = _n((3, 4, 5))
BASIC_KEYS = [0, -1, (slice(None), 1), (Ellipsis, None, 2), (slice(None, None, -1), slice(1, 3)),
              (None, 1, slice(None), None), (slice(1, None, 2), Ellipsis, slice(-1, 0, -2)),
              Ellipsis, (1, 2, 3), slice(5, 10)]
ADVANCED_KEYS = [[0, 2], ([0, 2], [1, 3]), np.array([[0, 1], [2, 2]]), (1, [0, 3]),
                 ([2, 0], slice(None)), ([0, -1], [1, 0], [4, 3]), (None, [1, 2])]


def test_basic_getitem():
    cases = [((lambda k: lambda v: v[k])(key), (lambda k: lambda v: v[k])(key), [A])
             for key in BASIC_KEYS]
    built = check_cases(cases)
    for (case, xs, outs, _), key in zip(built, BASIC_KEYS):
        assert _types(outs[0])[0] == "Slice"
        assert set(_types(outs[0])) <= {"Slice", "Reshape"}
    y = built[4][2][0]  # x[::-1, 1:3]: one Slice with a negative step
    assert y.parent.info.type_name == "Slice"
    assert y.parent.info.args == {"start": [-1, 1, 0], "stop": [-4, 3, 5], "step": [-1, 1, 1]}


def test_advanced_getitem():
    cases = [((lambda k: lambda v: v[k])(key), (lambda k: lambda v: v[k])(key), [A])
             for key in ADVANCED_KEYS]
    built = check_cases(cases)
    for (case, xs, outs, _), key in zip(built, ADVANCED_KEYS):
        assert "GatherNd" in _types(outs[0])


def test_boolean_mask_getitem():
    mask = A[:, :, 0] > 0
    m1 = A[:, 0, 0] > 0
    cases = [(lambda v: v[mask], lambda v: v[mask], [A]),
             (lambda v: v[nn.Variable.from_numpy_array(mask)], lambda v: v[mask], [A]),
             (lambda v: v[list(m1)], lambda v: v[m1], [A]),
             (lambda v: v[nn.NdArray.from_numpy_array(m1)], lambda v: v[m1], [A])]
    built = check_cases(cases)
    assert built[0][2][0].parent.info.type_name == "GatherNd"
    with pytest.raises(IndexError):
        var(A)[np.ones((2, 2), bool)]


def test_index_with_integer_variables():
    i = nn.Variable.from_numpy_array(np.array([2, 0]))
    j = nn.Variable.from_numpy_array(np.array([1, 3]))
    check_cases([(lambda v: v[i, j], lambda v: v[[2, 0], [1, 3]], [A])])
    y = var(A)[i, j]
    assert [p.info.type_name for p in (y.parent, y.parent.inputs[1].parent)] == ["GatherNd",
                                                                                 "Stack"]


def test_getitem_errors():
    x = var(A)
    with pytest.raises(IndexError):
        x[3]
    with pytest.raises(IndexError):
        x[0, 0, 0, 0]
    with pytest.raises(IndexError):
        x[..., 0, ...]
    with pytest.raises(IndexError):
        x[[0, 5]]
    with pytest.raises(TypeError):
        x["a"]
    with pytest.raises(IndexError, match="mixed"):
        x[0:2, [0, 1]]


# ---------------------------------------------------------------- setitem
SET_CASES = [
    ((0, slice(1, 3)), (2, 5)),
    ((Ellipsis, 1), (1,)),
    ((slice(None), None, 2), (1, 5)),
    (([0, 2],), (5,)),
    (([0, 2], [1, 3]), (2, 5)),
    ((slice(None, None, -1), 0, slice(0, 5, 2)), (3, 1)),
]


def test_setitem_on_a_graph():
    cases = []
    for key, vshape in SET_CASES:
        def fn(x, v, key=key):
            h = x * 1.0
            h[key] = v
            return h * 1.0

        def ref(x, v, key=key):
            h = np.array(x, np.float64)
            h[key] = v
            return h
        cases.append((fn, ref, [A, _n(vshape)]))
    built = check_cases(cases)
    h = built[0][2][0].parent.inputs[0]
    assert h.parent.info.type_name == "ScatterNd"
    assert h.parent.info.args == {"shape": [3, 4, 5], "add": False}


def test_setitem_constant_and_boolean_mask():
    mask = A[:, :, 0] > 0

    def fn(x):
        h = F.identity(x)
        h[mask] = 0.0
        h[0, 0] = np.arange(5)
        return h

    def ref(x):
        h = np.array(x)
        h[mask] = 0.0
        h[0, 0] = np.arange(5)
        return h
    check_cases([(fn, ref, [A])])


def test_setitem_leaf():
    leaf = var(np.zeros((2, 3)))
    leaf[1] = 5
    leaf[0, ::2] = [1, 2]
    np.testing.assert_array_equal(leaf.d, [[1, 0, 2], [5, 5, 5]])
    assert leaf.parent is None
    # a Variable value records ScatterNd(out=leaf), which writes into the leaf when run
    with nn.auto_forward():
        leaf[:, 1] = var([7.0, 8.0])
    np.testing.assert_array_equal(leaf.d, [[1, 7, 2], [5, 8, 5]])
    with pytest.raises(ValueError):
        leaf[0] = np.ones(4)


def test_setitem_errors():
    h = var(A) * 1.0
    with pytest.raises(ValueError, match="setitem"):
        h[0] = var(np.ones((3, 5)))
    with pytest.raises(IndexError):
        h[4] = 1.0


# ---------------------------------------------------------------- dot and matmul
def test_dot():
    cases = [
        (lambda a, b: F.dot(a, b), np.dot, [_n((3,)), _n((3,))]),
        (lambda a, b: F.dot(a, b), np.dot, [_n((2, 3)), _n((3, 4))]),
        (lambda a, b: F.dot(a, b), np.dot, [_n((2, 2, 3)), _n((3,))]),
        (lambda a, b: F.dot(a, b), np.dot, [_n((2, 2, 3)), _n((2, 3, 4))]),
        (lambda a, b: NCF.dot(a, b), np.dot, [_n((2, 3)), _n((4, 3, 2))]),
    ]
    built = check_cases(cases, fwd_rtol=1e-4, fwd_atol=1e-5)
    assert built[0][2][0].parent.info.type_name == "Sum"
    assert built[1][2][0].parent.info.type_name == "Affine"
    s = F.dot(var(np.float32(2.0)), var([1.0, 3.0]))
    s.forward()
    assert s.parent.info.type_name == "MulScalar" and s.parent.info.args["val"] == 2.0
    np.testing.assert_allclose(s.d, [2, 6])
    out = nn.Variable((2, 4))
    a, b = var(_n((2, 3))), var(_n((3, 4)))
    assert F.dot(a, b, out) is None
    out.forward()
    np.testing.assert_allclose(out.d, a.d @ b.d, rtol=1e-5)
    nd = nn.NdArray((2, 4))
    F.dot(nn.NdArray.from_numpy_array(a.d), nn.NdArray.from_numpy_array(b.d), nd)
    np.testing.assert_allclose(nd.data, a.d @ b.d, rtol=1e-5)
    np.testing.assert_allclose(F.dot(np.ones(2), np.ones(2)), 2.0)
    with pytest.raises(ValueError, match="dot"):
        F.dot(a, var(np.ones((4, 3))))
    with pytest.raises(ValueError, match="dot"):
        F.dot(a, b, nn.Variable((3, 3)))


def test_matmul():
    cases = [
        (F.matmul, np.matmul, [_n((2, 3)), _n((3, 4))]),
        (F.matmul, np.matmul, [_n((3,)), _n((3,))]),
        (F.matmul, np.matmul, [_n((3,)), _n((2, 3, 4))]),
        (F.matmul, np.matmul, [_n((2, 1, 2, 3)), _n((3,))]),
        (F.matmul, np.matmul, [_n((2, 1, 2, 3)), _n((4, 3, 2))]),
    ]
    built = check_cases(cases, fwd_rtol=1e-4, fwd_atol=1e-5)
    assert built[0][2][0].parent.info.type_name == "BatchMatmul"
    assert built[1][2][0].shape == ()
    x, y = var(_n((2, 3))), var(_n((3, 2)))
    z = x @ y
    z.forward()
    np.testing.assert_allclose(z.d, x.d @ y.d, rtol=1e-5)
    with pytest.raises(ValueError, match="matmul"):
        F.matmul(x, x)
    with pytest.raises(ValueError, match="matmul"):
        F.matmul(var(np.float32(1)), x)


# ---------------------------------------------------------------- nn.grad
XA = _n((4, 3))
WA = _n((3, 2))


def _hand_loss(w, x):
    return jnp.sum(jnp.tanh(x @ w) ** 2)


def test_grad_first_order_matches_jax():
    x = nn.Variable.from_numpy_array(XA, need_grad=True)
    w = nn.Variable.from_numpy_array(WA, need_grad=True)
    loss = F.sum(F.tanh(F.batch_matmul(x, w)) ** 2)
    gw, gx = nn.grad([loss], [w, x])
    nn.forward_all([gw, gx])
    ew, ex = jax.grad(_hand_loss, argnums=(0, 1))(jnp.asarray(WA), jnp.asarray(XA))
    np.testing.assert_allclose(gw.d, ew, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gx.d, ex, rtol=1e-4, atol=1e-5)
    assert gw.parent is not None and gw.shape == (3, 2)


def test_gradient_penalty_double_backward_matches_jax():
    """d/dw of ||d loss / d x||^2 through nn.grad, against jax.grad of the same function."""
    x = nn.Variable.from_numpy_array(XA, need_grad=True)
    w = nn.Variable.from_numpy_array(WA, need_grad=True)
    loss = F.sum(F.tanh(F.batch_matmul(x, w)) ** 2)
    gx, = nn.grad([loss], [x])
    penalty = F.sum(gx ** 2)
    w.g = 0
    penalty.forward()
    penalty.backward()

    def hand_penalty(w):
        g = jax.grad(_hand_loss, argnums=1)(w, jnp.asarray(XA))
        return jnp.sum(g ** 2)
    np.testing.assert_allclose(penalty.d, hand_penalty(jnp.asarray(WA)), rtol=1e-5)
    expected = jax.grad(hand_penalty)(jnp.asarray(WA))
    np.testing.assert_allclose(w.g, expected, rtol=1e-4, atol=1e-5)
    # the same through a second nn.grad
    gw, = nn.grad([penalty], [w])
    gw.forward()
    np.testing.assert_allclose(gw.d, expected, rtol=1e-4, atol=1e-5)


def test_grad_outputs_and_intermediate_inputs():
    x = nn.Variable.from_numpy_array(XA, need_grad=True)
    h = F.sin(x)
    y = F.sum(h * h, axis=1)
    seed = _n((4,))
    gh, gx = nn.grad([y], [h, x], grad_outputs=[seed])
    nn.forward_all([gh, gx])
    np.testing.assert_allclose(gh.d, 2 * np.sin(XA) * seed[:, None], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gx.d, 2 * np.sin(XA) * np.cos(XA) * seed[:, None], rtol=1e-5,
                               atol=1e-6)
    v_seed = nn.Variable.from_numpy_array(seed)
    g2, = nn.grad([y], [x], grad_outputs=[v_seed])
    g2.forward()
    np.testing.assert_allclose(g2.d, gx.d, rtol=1e-6)


def test_grad_errors():
    x = nn.Variable.from_numpy_array(XA, need_grad=True)
    other = nn.Variable.from_numpy_array(XA, need_grad=True)
    y = F.sum(x)
    # as NNabla: an input the outputs do not reach gets a zero gradient
    (g_other,) = nn.grad([y], [other])
    g_other.forward()
    np.testing.assert_array_equal(g_other.d, np.zeros(XA.shape))
    with pytest.raises(ValueError, match="grad_outputs"):
        nn.grad([y], [x], grad_outputs=[1.0, 2.0])
