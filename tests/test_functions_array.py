"""Array manipulation: forward against numpy references, backward against central
differences of the references, type names, args, data-dependent shapes and argument
errors."""
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
from function_check import check_cases, check_grad, var

pytestmark = pytest.mark.filterwarnings("ignore:nnjax. the same graph structure")



RS = np.random.RandomState(3)


def _n(shape):
    return np.asarray(RS.randn(*shape), np.float32)


def _ivar(a):
    return nn.Variable.from_numpy_array(np.asarray(a))


def _info(y):
    return y.parent.info.type_name, y.parent.info.args


# ---------------------------------------------------------------- reshape, transpose, broadcast
def test_reshape_transpose_broadcast_tile():
    x = _n((2, 3, 4))
    cases = [
        (lambda v: F.reshape(v, (4, -1)), lambda v: v.reshape(4, -1), [x]),
        (lambda v: F.reshape(v, [24]), lambda v: v.reshape(24), [x]),
        (lambda v: F.transpose(v, (2, 0, 1)), lambda v: v.transpose(2, 0, 1), [x]),
        (lambda v: F.transpose(v, (-1, 1, 0)), lambda v: v.transpose(2, 1, 0), [x]),
        (lambda v: F.broadcast(v, (2, 3, 4)), lambda v: np.broadcast_to(v, (2, 3, 4)),
         [_n((2, 1, 4))]),
        (lambda v: F.broadcast(v, (0, 3)), lambda v: np.broadcast_to(v, (0, 3)), [_n((1, 3))]),
        (lambda v: F.tile(v, 2), lambda v: np.tile(v, 2), [_n((2, 3))]),
        (lambda v: F.tile(v, (2, 1, 2)), lambda v: np.tile(v, (2, 1, 2)), [_n((3, 2))]),
        (lambda v: F.tile(v, (2, 3)), lambda v: np.tile(v, (2, 3)), [_n((3,))]),
    ]
    built = check_cases(cases)
    ys = [b[2][0] for b in built]
    assert _info(ys[0]) == ("Reshape", {"shape": [4, 6], "inplace": True})
    assert _info(ys[2]) == ("Transpose", {"axes": [2, 0, 1]})
    assert _info(ys[3]) == ("Transpose", {"axes": [2, 1, 0]})
    assert _info(ys[4]) == ("Broadcast", {"shape": [2, 3, 4]})
    assert _info(ys[6]) == ("Tile", {"reps": [2]})
    assert _info(ys[7]) == ("Tile", {"reps": [2, 1, 2]})


def test_reshape_transpose_broadcast_errors():
    x = var(np.ones((2, 3)))
    with pytest.raises(ValueError, match="reshape"):
        F.reshape(x, (4, -1))
    with pytest.raises(ValueError, match="reshape"):
        F.reshape(x, (-1, -1))
    with pytest.raises(ValueError, match="transpose"):
        F.transpose(x, (0, 0))
    with pytest.raises(ValueError, match="transpose"):
        F.transpose(x, (0, 2))
    with pytest.raises(ValueError, match="broadcast"):
        F.broadcast(x, (3, 3))
    with pytest.raises(ValueError, match="broadcast"):
        F.broadcast(x, (1, 2, 3))
    with pytest.raises(ValueError, match="tile"):
        F.tile(x, (-1, 2))
    with pytest.raises(TypeError, match="tile"):
        F.tile(x, 1.5)


def test_broadcast_to():
    x = np.zeros((2, 3, 4), np.float32)
    cases = [
        (lambda a, b: F.broadcast_to(a, b), lambda a, b: np.broadcast_to(b, a.shape),
         [x, _n((3, 4))], [1]),
        (lambda a, b: F.broadcast_to(a, b, axis=0),
         lambda a, b: np.broadcast_to(b[:, None, None], a.shape), [x, _n((2,))], [1]),
        (lambda a, b: F.broadcast_to(a, b, axis=1),
         lambda a, b: np.broadcast_to(b[None, :, None], a.shape), [x, _n((3,))], [1]),
        (lambda a, b: F.broadcast_to(a, b, axis=0),
         lambda a, b: np.broadcast_to(b[:, :, None], a.shape), [x, _n((2, 3))], [1]),
        (lambda a, b: F.broadcast_to(a, b), lambda a, b: b, [x, _n((2, 3, 4))], [1]),
    ]
    built = check_cases(cases)
    assert _info(built[0][2][0]) == ("BroadcastTo", {"axis": -1})
    assert _info(built[1][2][0]) == ("BroadcastTo", {"axis": 0})
    with pytest.raises(ValueError, match="broadcast_to"):
        F.broadcast_to(var(x), var(np.ones((4, 3))))
    with pytest.raises(ValueError, match="broadcast_to"):
        F.broadcast_to(var(x), var(np.ones(3)), axis=2)
    with pytest.raises(ValueError, match="broadcast_to"):
        F.broadcast_to(var(np.ones(3)), var(x))


# ---------------------------------------------------------------- joins and splits
def test_concatenate_stack_split():
    a, b, c = _n((2, 3)), _n((2, 1)), _n((2, 3))
    cases = [
        (lambda p, q: F.concatenate(p, q), lambda p, q: np.concatenate([p, q], 1), [a, b]),
        (lambda p, q: F.concatenate(p, q, axis=0), lambda p, q: np.concatenate([p, q], 0), [a, c]),
        (lambda p, q: F.concatenate([p, q], axis=-2), lambda p, q: np.concatenate([p, q], 0),
         [a, _n((0, 3))]),
        (lambda p, q: F.stack(p, q), lambda p, q: np.stack([p, q]), [a, c]),
        (lambda p, q: F.stack(p, q, axis=2), lambda p, q: np.stack([p, q], 2), [a, c]),
        (lambda p, q: F.stack([p, q], axis=-1), lambda p, q: np.stack([p, q], -1), [a, c]),
        (lambda p: F.split(p, axis=1), lambda p: tuple(p[:, i] for i in range(3)), [a]),
        (lambda p: F.split(p), lambda p: (p[0], p[1]), [a]),
        (lambda p: F.split(p, axis=1), lambda p: (p[:, 0],), [b]),
    ]
    built = check_cases(cases)
    assert _info(built[0][2][0]) == ("Concatenate", {"axis": 1})
    assert _info(built[2][2][0]) == ("Concatenate", {"axis": 0})
    assert _info(built[3][2][0]) == ("Stack", {"axis": 0})
    assert _info(built[5][2][0]) == ("Stack", {"axis": 2})
    assert _info(built[6][2][0]) == ("Split", {"axis": 1})
    assert isinstance(built[8][2], list) and len(built[8][2]) == 1


def test_join_split_errors():
    a = var(np.ones((2, 3)))
    with pytest.raises(ValueError, match="concatenate"):
        F.concatenate(a, var(np.ones((3, 3))))
    with pytest.raises(ValueError, match="concatenate"):
        F.concatenate()
    with pytest.raises(ValueError, match="concatenate"):
        F.concatenate(a, a, axis=2)
    with pytest.raises(TypeError, match="concatenate"):
        F.concatenate(a, a, axes=0)
    with pytest.raises(ValueError, match="stack"):
        F.stack(a, var(np.ones((3, 2))))
    with pytest.raises(ValueError, match="stack"):
        F.stack(a, a, axis=3)
    with pytest.raises(ValueError, match="split"):
        F.split(a, axis=2)


def test_meshgrid():
    p, q, r = _n((3,)), _n((2,)), _n((4,))
    cases = [
        (lambda a, b: F.meshgrid(a, b), lambda a, b: tuple(np.meshgrid(a, b)), [p, q]),
        (lambda a, b: F.meshgrid(a, b, ij_indexing=True),
         lambda a, b: tuple(np.meshgrid(a, b, indexing="ij")), [p, q]),
        (lambda a, b, c: F.meshgrid(a, b, c), lambda a, b, c: tuple(np.meshgrid(a, b, c)),
         [p, q, r]),
        (lambda a: F.meshgrid(a), lambda a: tuple(np.meshgrid(a)), [p]),
    ]
    built = check_cases(cases)
    assert _info(built[0][2][0]) == ("Meshgrid", {"ij_indexing": False})
    assert _info(built[1][2][1]) == ("Meshgrid", {"ij_indexing": True})
    assert [o.shape for o in built[2][2]] == [(2, 3, 4)] * 3
    with pytest.raises(ValueError, match="meshgrid"):
        F.meshgrid(var(np.ones((2, 2))))


# ---------------------------------------------------------------- slice, pad, flip, shift
SLICES = [
    ((6, 7, 8), (1, 2, 3), (5, 4, 8), (1, 1, 2)),
    ((6, 7, 6, 5), (0, 0, 1, 2), (6, -1, -2, -3), (1, 1, 1, 1)),
    ((6, 7, 6, 5), (4, 3, -2, 1), (5, -6, 5, 4), (-1, 2, 3, 4)),
    ((5, 4), (4, None), (None, None), (-2, -1)),
    ((4,), (0,), (2,), (-1,)),
    ((4, 4, 2), (-1, None, 0), (None, None, 2), (-1, -1, 1)),
]


def _np_slice(start, stop, step):
    def ref(x):
        lead = x.ndim - len(start)
        return x[(slice(None),) * lead + tuple(slice(a, b, c) for a, b, c in zip(start, stop, step))]
    return ref


def test_slice():
    cases = [((lambda a, b, c: lambda v: F.slice(v, a, b, c))(start, stop, step),
              _np_slice(start, stop, step), [_n(shape)])
             for shape, start, stop, step in SLICES[:4]]
    cases += [((lambda a, b, c: lambda v: F.slice(v, a, b, c))(start, stop, step),
               _np_slice(start, stop, step), [_n(shape)], [])
              for shape, start, stop, step in SLICES[4:]]
    # shorter lists apply to the trailing axes (NNabla's rule)
    cases.append((lambda v: F.slice(v, [1], [3], [1]), lambda v: v[:, 1:3], [_n((2, 4))]))
    cases.append((lambda v: F.slice(v), lambda v: v, [_n((2, 3))]))
    built = check_cases(cases)
    assert _info(built[0][2][0]) == ("Slice", {"start": [1, 2, 3], "stop": [5, 4, 8],
                                               "step": [1, 1, 2]})
    # None entries take Python's slice defaults (NNabla's python-side rule)
    assert _info(built[3][2][0]) == ("Slice", {"start": [4, -1], "stop": [-6, -5],
                                               "step": [-2, -1]})
    with pytest.raises(ValueError, match="slice"):
        F.slice(var(np.ones((2, 3))), [0, 0], [1, 1], [1, 0])
    with pytest.raises(ValueError, match="slice"):
        F.slice(var(np.ones((2, 3))), [0, 0], [1], [1, 1])
    with pytest.raises(ValueError, match="slice"):
        F.slice(var(np.ones((2,))), [0, 0], [1, 1], [1, 1])
    with pytest.raises(TypeError, match="slice"):
        F.slice(var(np.ones((2,))), [0.5], [1], [1])


def test_pad():
    x = _n((2, 3, 4))
    cases = [
        (lambda v: F.pad(v, (1, 2)), lambda v: np.pad(v, [(0, 0), (0, 0), (1, 2)]), [x]),
        (lambda v: F.pad(v, (2, 2, 1, 1), "constant", -1.5),
         lambda v: np.pad(v, [(0, 0), (2, 2), (1, 1)], constant_values=-1.5), [x]),
        (lambda v: F.pad(v, (0, 1, 2, 1, 3, 3), "reflect"),
         lambda v: np.pad(v, [(0, 1), (2, 1), (3, 3)], mode="reflect"), [x]),
        (lambda v: F.pad(v, (2, 1, 1, 3), "repeat"),
         lambda v: np.pad(v, [(0, 0), (2, 1), (1, 3)], mode="edge"), [x]),
    ]
    built = check_cases(cases)
    assert _info(built[0][2][0]) == ("Pad", {"pad_width": [1, 2], "mode": "constant",
                                             "constant_value": 0.0})
    assert _info(built[2][2][0])[1]["mode"] == "reflect"
    v = nn.Variable.from_numpy_array(np.array([1, 2, 3, 4], np.float32))
    ys = [F.pad(v, (3, 3), "constant", constant_value=-1), F.pad(v, (3, 3), "reflect"),
          F.pad(v, (3, 3), "repeat")]
    nn.forward_all(ys)
    np.testing.assert_array_equal(ys[0].d, [-1, -1, -1, 1, 2, 3, 4, -1, -1, -1])
    np.testing.assert_array_equal(ys[1].d, [4, 3, 2, 1, 2, 3, 4, 3, 2, 1])
    np.testing.assert_array_equal(ys[2].d, [1, 1, 1, 1, 2, 3, 4, 4, 4, 4])
    xv = var(x)
    assert F.pad(xv, (0, 1, 2, 1, 3, 3)).shape == (3, 6, 10)
    for bad in [(1,), (1, 1) * 4, (-1, 1)]:
        with pytest.raises(ValueError, match="pad"):
            F.pad(xv, bad)
    with pytest.raises(ValueError, match="pad"):
        F.pad(xv, (1, 1), mode="wrap")


def test_flip_and_shift():
    x = _n((3, 4, 5))

    def np_shift(v, shifts, mode):
        out = v
        for d in range(v.ndim):
            k = len(shifts) - v.ndim + d
            s = shifts[k] if k >= 0 else 0
            n = v.shape[d]
            src = np.arange(n) - s
            if mode == "nearest":
                src = np.clip(src, 0, n - 1)
            else:  # mirror with the edge repeated
                period = 2 * n
                src = np.mod(src, period)
                src = np.where(src >= n, period - 1 - src, src)
            out = np.take(out, src, axis=d)
        return out

    cases = [
        (lambda v: F.flip(v), lambda v: np.flip(v, -1), [x]),
        (lambda v: F.flip(v, (0, 2)), lambda v: np.flip(v, (0, 2)), [x]),
        (lambda v: F.flip(v, [-2]), lambda v: np.flip(v, 1), [x]),
        (lambda v: F.shift(v, (1, -2)), lambda v: np_shift(v, (1, -2), "nearest"), [x]),
        (lambda v: F.shift(v, (2, -1, 3), "reflect"),
         lambda v: np_shift(v, (2, -1, 3), "reflect"), [x]),
        (lambda v: F.shift(v, (7,), "reflect"), lambda v: np_shift(v, (7,), "reflect"), [x]),
        (lambda v: F.shift(v), lambda v: v, [x]),
    ]
    built = check_cases(cases)
    assert _info(built[0][2][0]) == ("Flip", {"axes": [2]})
    assert _info(built[1][2][0]) == ("Flip", {"axes": [0, 2]})
    assert _info(built[3][2][0]) == ("Shift", {"shifts": [1, -2], "border_mode": "nearest"})
    assert _info(built[6][2][0]) == ("Shift", {"shifts": [0, 0, 0], "border_mode": "nearest"})
    y = F.shift(var(np.array([1, 2, 3, 4], np.float32)), (1,))
    y.forward()
    np.testing.assert_array_equal(y.d, [1, 1, 2, 3])  # shifts to the right, edge repeated
    with pytest.raises(ValueError, match="flip"):
        F.flip(var(x), (3,))
    with pytest.raises(ValueError, match="shift"):
        F.shift(var(x), (1, 1), "wrap")
    with pytest.raises(ValueError, match="shift"):
        F.shift(var(x), (1, 1, 1, 1))


# ---------------------------------------------------------------- sort, one-hot, shape
def test_sort():
    x = np.asarray(RS.permutation(24).reshape(2, 3, 4), np.float32)
    # the gradient is NNabla's, not the permutation's transpose: checked below
    cases = [
        (lambda v: F.sort(v), lambda v: np.sort(v, -1), [x], []),
        (lambda v: F.sort(v, axis=0, reverse=True), lambda v: -np.sort(-v, 0), [x], []),
        (lambda v: F.sort(v, 1, False, True), lambda v: (np.sort(v, 1), np.argsort(v, 1)), [x],
         []),
        (lambda v: F.sort(v, -1, True, only_index=True), lambda v: np.argsort(-v, -1), [x], []),
    ]
    built = check_cases(cases)
    for axis, reverse in ((1, False), (-1, True)):
        xv = var(x, need_grad=True)
        xv.grad.zero()
        dy = RS.randn(*x.shape).astype(np.float32)
        F.sort(xv, axis, reverse).backward(dy)
        index = np.argsort(-x if reverse else x, axis, kind="stable")
        # NNabla's Sort backward: dx[i] = dy[index[i]] along the axis
        np.testing.assert_allclose(xv.g, np.take_along_axis(dy, index, axis), rtol=1e-6)
    assert _info(built[0][2][0]) == ("Sort", {"axis": -1, "reverse": False, "with_index": False,
                                              "only_index": False})
    assert np.issubdtype(built[2][2][1].d.dtype, np.integer)
    # only_index: a float index whose grad reaches x as NNabla's (dx[i] = dindex[index[i]])
    xv = var(x, need_grad=True)
    xv.grad.zero()
    index = F.sort(xv, 0, True, only_index=True)
    di = RS.randn(*x.shape).astype(np.float32)
    index.forward()
    index.backward(di)
    order = np.argsort(-x, 0, kind="stable")
    np.testing.assert_array_equal(index.d, order)
    np.testing.assert_allclose(xv.g, np.take_along_axis(di, order, 0), rtol=1e-6)
    with pytest.raises(ValueError, match="sort"):
        F.sort(var(x), axis=3)


def test_one_hot():
    labels = np.array([[9], [4], [5], [1], [0]])
    y = F.one_hot(_ivar(labels), (10,))
    labels2 = np.array([[1, 7], [4, 7], [8, 6], [5, 0], [2, 6]])
    z = F.one_hot(_ivar(labels2), shape=(10, 8))
    w = F.one_hot(_ivar(np.array([[[0], [2]]])), [3])
    nn.forward_all([y, z, w])
    assert _info(y) == ("OneHot", {"shape": [10]})
    np.testing.assert_array_equal(y.d, np.eye(10)[labels[:, 0]])
    ref = np.zeros((5, 10, 8))
    ref[np.arange(5), labels2[:, 0], labels2[:, 1]] = 1
    np.testing.assert_array_equal(z.d, ref)
    assert y.d.dtype == np.float32 and w.shape == (1, 2, 3)
    with pytest.raises(ValueError, match="one_hot"):
        F.one_hot(_ivar(labels2), (10,))


def test_shape():
    x = var(np.ones((2, 3, 4, 5)))
    ys = [F.shape(x), F.shape(x, 1), F.shape(x, 1, 3), F.shape(x, -2), F.shape(x, 0, -1),
          F.shape(x, 3, 1)]
    nn.forward_all(ys)
    assert _info(ys[0]) == ("Shape", {"start": 0, "end": 0})
    assert _info(ys[2]) == ("Shape", {"start": 1, "end": 3})
    for y, ref in zip(ys, [[2, 3, 4, 5], [3, 4, 5], [3, 4], [4, 5], [2, 3, 4], []]):
        np.testing.assert_array_equal(y.d, ref)
    with pytest.raises(ValueError, match="shape"):
        F.shape(var(np.float32(1)))


# ---------------------------------------------------------------- matrices
def test_matrix_diag_and_part_and_trilu():
    x = _n((2, 3))
    m = _n((2, 4, 4))
    cases = [
        (F.matrix_diag, lambda v: v[..., :, None] * np.eye(v.shape[-1]), [x]),
        (F.matrix_diag, lambda v: v[..., :, None] * np.eye(v.shape[-1]), [_n((1,))]),
        (F.matrix_diag_part, lambda v: np.diagonal(v, axis1=-2, axis2=-1), [m]),
    ]
    for k, upper in [(-4, True), (-1, False), (0, True), (2, False)]:
        if True:
            cases.append(((lambda kk, uu: lambda v: F.trilu(v, kk, uu))(k, upper),
                          (lambda kk, uu: lambda v: np.triu(v, kk) if uu else np.tril(v, kk))(
                              k, upper), [_n((2, 3, 4))]))
    built = check_cases(cases)
    assert _info(built[0][2][0]) == ("MatrixDiag", {})
    assert _info(built[2][2][0]) == ("MatrixDiagPart", {})
    assert _info(built[3][2][0]) == ("Trilu", {"k": -4, "upper": True})
    assert _info(F.trilu(var(m))) == ("Trilu", {"k": 0, "upper": True})
    with pytest.raises(ValueError, match="matrix_diag_part"):
        F.matrix_diag_part(var(np.ones((2, 3))))
    with pytest.raises(ValueError, match="trilu"):
        F.trilu(var(np.ones(3)))


def test_batch_det_inv_logdet():
    a = _n((2, 3, 3)) + 3 * np.eye(3, dtype=np.float32)
    a[1] *= -1  # one negative determinant (3x3)
    cases = [(F.batch_det, np.linalg.det, [a]), (F.batch_inv, np.linalg.inv, [a]),
             (F.batch_logdet, lambda v: np.log(np.abs(np.linalg.det(v))), [a])]
    built = check_cases(cases, fwd_rtol=1e-4, fwd_atol=1e-5)
    assert [_info(b[2][0])[0] for b in built] == ["BatchDet", "BatchInv", "BatchLogdet"]
    assert built[0][2][0].shape == (2,)
    for f in [F.batch_det, F.batch_inv, F.batch_logdet, F.batch_cholesky]:
        with pytest.raises(ValueError, match=f.__name__):
            f(var(np.ones((2, 3, 4))))
        with pytest.raises(ValueError, match=f.__name__):
            f(var(np.ones((3, 3))))


@pytest.mark.parametrize("upper", [False, True])
def test_batch_cholesky(upper):
    b = _n((2, 3, 3))
    a = np.einsum("bij,bkj->bik", b, b) + 2 * np.eye(3, dtype=np.float32)
    v = var(a)
    y = F.batch_cholesky(v, upper)
    assert _info(y) == ("BatchCholesky", {"upper": upper})
    y.forward()
    low = np.linalg.cholesky(a.astype(np.float64))
    np.testing.assert_allclose(y.d, np.swapaxes(low, 1, 2) if upper else low, rtol=1e-4,
                               atol=1e-5)
    gy = _n((2, 3, 3))
    v.g = 0
    y.backward(gy)
    # NNabla's backward: P = phi(L^T gL), S = L^-T P L^-1, gx = (S + S^T) / 2
    gl = np.swapaxes(gy, 1, 2) if upper else gy
    expected = []
    for L, g in zip(low, gl.astype(np.float64)):
        p = L.T @ g
        p = np.tril(p) - 0.5 * np.diag(np.diag(p))
        linv = np.linalg.inv(L)
        s = linv.T @ p @ linv
        expected.append(0.5 * (s + s.T))
    np.testing.assert_allclose(v.g, np.array(expected), rtol=1e-3, atol=1e-4)
    assert F.batch_cholesky(v).parent.info.args == {"upper": False}


# ---------------------------------------------------------------- assign
def test_assign():
    dst, src = var(np.zeros((2, 3))), var(_n((2, 3)))
    y = F.assign(dst, src)
    assert _info(y) == ("Assign", {})
    y.forward()
    np.testing.assert_array_equal(y.d, src.d)
    np.testing.assert_array_equal(dst.d, src.d)  # written in place
    dst.g, src.g = 0, 0
    g = _n((2, 3))
    y.backward(g)
    np.testing.assert_allclose(dst.g, g)
    np.testing.assert_array_equal(src.g, 0)
    with pytest.raises(ValueError, match="assign"):
        F.assign(dst, var(np.zeros((3, 2))))


# ---------------------------------------------------------------- gather and scatter
def test_gather():
    x = _n((2, 3, 4))
    idx0 = np.array([[0, 2], [1, 1]])
    idx_b = np.array([[2, 0, 1, 1], [0, 0, 2, 1]])  # batch_dims=1, axis=1

    def ref_batch(v):
        return np.stack([v[b][idx_b[b]] for b in range(2)])
    cases = [
        (lambda v: F.gather(v, idx0, axis=1), lambda v: np.take(v, idx0, axis=1), [x]),
        (lambda v: F.gather(v, idx0[0]), lambda v: np.take(v, idx0[0], axis=0), [x[0]]),
        (lambda v: F.gather(v, idx_b, axis=1, batch_dims=1), ref_batch, [x]),
        (lambda v: F.gather(v, np.array([3, 0]), axis=-1), lambda v: v[..., [3, 0]], [x]),
    ]
    built = check_cases(cases)
    assert _info(built[0][2][0]) == ("Gather", {"axis": 1, "batch_dims": 0})
    assert built[0][2][0].shape == (2, 2, 2, 4)
    assert built[2][2][0].shape == (2, 4, 4)
    with pytest.raises(ValueError, match="gather"):
        F.gather(var(x), idx0, axis=3)
    with pytest.raises(ValueError, match="gather"):
        F.gather(var(x), idx_b, axis=0, batch_dims=1)
    with pytest.raises(ValueError, match="gather"):
        F.gather(var(x), np.zeros((3, 2), int), axis=1, batch_dims=1)


def test_gather_nd():
    data = _n((2, 5))
    cases = [
        (lambda v: F.gather_nd(v, [[1, 1, 0]]), lambda v: v[[1, 1, 0]], [data]),
        (lambda v: F.gather_nd(v, [[1, 1, 0], [0, 1, 0]]), lambda v: v[[1, 1, 0], [0, 1, 0]],
         [data]),
        (lambda v: F.gather_nd(v, np.array([[[0, 1], [1, 0]]])), lambda v: v[[[0, 1], [1, 0]]],
         [data]),
    ]
    built = check_cases(cases)
    assert _info(built[0][2][0]) == ("GatherNd", {})
    assert built[0][2][0].shape == (3, 5) and built[1][2][0].shape == (3,)
    # indices as a Variable can change after the graph is built
    ind = _ivar(np.array([[0], [0]]))
    y = F.gather_nd(var(np.arange(1, 11).reshape(2, 5)), ind)
    y.forward()
    np.testing.assert_array_equal(y.d, [1])
    ind.d = np.array([[1], [4]])
    y.forward()
    np.testing.assert_array_equal(y.d, [10])
    with pytest.raises(ValueError, match="gather_nd"):
        F.gather_nd(var(data), np.zeros((3, 1), int))


def test_scatter_nd():
    data = _n((4,))
    idx = np.array([[4, 3, 1, 7]])
    slab = _n((2, 3))
    idx2 = np.array([[2, 0]])

    def ref1(v):
        out = np.zeros(8)
        out[idx[0]] = v
        return out

    def ref2(v):
        out = np.zeros((3, 3))
        out[idx2[0]] = v
        return out
    cases = [(lambda v: F.scatter_nd(v, idx, shape=(8,)), ref1, [data]),
             (lambda v: F.scatter_nd(v, idx2, shape=[3, 3]), ref2, [slab])]
    built = check_cases(cases)
    assert _info(built[0][2][0]) == ("ScatterNd", {"shape": [8], "add": False})
    y = F.scatter_nd(var([9, 10, 11, 12]), [[4, 3, 1, 7]], shape=(8,))
    g = F.gather_nd(y, [[4, 3, 1, 7]])
    nn.forward_all([y, g])
    np.testing.assert_array_equal(y.d, [0, 11, 0, 10, 9, 0, 0, 12])
    np.testing.assert_array_equal(g.d, [9, 10, 11, 12])


def test_scatter_nd_out_and_add():
    base = _n((3, 4))
    upd = _n((2, 4))
    idx = np.array([[2, 0]])

    def ref_set(b, u):
        out = b.copy()
        out[idx[0]] = u
        return out

    def ref_add(b, u):
        out = b.copy()
        np.add.at(out, idx[0], u)
        return out
    cases = [(lambda b, u: F.scatter_nd(u, idx, out=F.identity(b)), ref_set, [base, upd]),
             (lambda b, u: F.scatter_nd(u, idx, out=F.identity(b), add=True), ref_add,
              [base, upd])]
    check_cases(cases)
    # duplicates accumulate with add=True
    y = F.scatter_nd(var([1.0, 2.0, 3.0]), [[1, 1, 0]], shape=(3,), add=True)
    y.forward()
    np.testing.assert_array_equal(y.d, [3, 3, 0])
    # a leaf `out` is updated in place on forward
    leaf = var(np.zeros((3, 4)))
    z = F.scatter_nd(var(upd), idx, out=leaf)
    z.forward()
    np.testing.assert_allclose(leaf.d, ref_set(np.zeros((3, 4)), upd))
    with pytest.raises(TypeError, match="scatter_nd"):
        F.scatter_nd(var(upd), idx)
    with pytest.raises(TypeError, match="scatter_nd"):
        F.scatter_nd(var(upd), idx, shape=(3, 4), out=leaf)
    with pytest.raises(ValueError, match="scatter_nd"):
        F.scatter_nd(var(upd), idx, shape=(3, 5))
    with pytest.raises(ValueError, match="scatter_nd"):
        F.scatter_nd(var(upd), [2, 0], shape=(3, 4))


def test_scatter_add():
    x0 = _n((2, 3, 4))
    x1 = _n((2, 3, 4))
    idx = RS.randint(0, 3, (2, 2, 4))

    def ref(a, b, axis=1):
        out = a.copy()
        for p in np.ndindex(*idx.shape):
            t = list(p)
            t[axis] = idx[p]
            out[tuple(t)] += b[p]
        return out
    idx0 = RS.randint(0, 2, (1, 3, 2))

    def ref0(a, b):
        out = a.copy()
        for p in np.ndindex(*idx0.shape):
            out[(idx0[p],) + p[1:]] += b[p]
        return out
    cases = [(lambda a, b: F.scatter_add(a, idx, b, axis=1), ref, [x0, x1]),
             (lambda a, b: F.scatter_add(a, idx0, b), ref0, [x0, x1])]
    built = check_cases(cases)
    assert _info(built[0][2][0]) == ("ScatterAdd", {"axis": 1})
    assert _info(built[1][2][0]) == ("ScatterAdd", {"axis": 0})
    with pytest.raises(ValueError, match="scatter_add"):
        F.scatter_add(var(x0), np.zeros((2, 3), int), var(x1))
    with pytest.raises(ValueError, match="scatter_add"):
        F.scatter_add(var(x0), np.zeros((2, 4, 4), int), var(x1), axis=0)


def test_scatter_add_negative_axis_follows_a_reset_rank():
    # NNabla keeps axis=-1 as given: after reset_shape to a higher rank it is the new last axis
    a, b = var(np.zeros((2, 3), np.float32)), var(np.zeros((2, 3), np.float32))
    idx = var(np.zeros((2, 3), np.int32))
    y = F.scatter_add(a, idx, b, axis=-1)
    assert _info(y) == ("ScatterAdd", {"axis": -1})
    x0, x1 = _n((2, 2, 3)), _n((2, 2, 3))
    ids = RS.randint(0, 3, (2, 2, 3))
    for v, d in ((a, x0), (idx, ids), (b, x1)):
        v.reset_shape(d.shape, force=True)
        v.d = d
    y.forward()
    ref = x0.copy()
    for p in np.ndindex(*ids.shape):
        ref[p[:2] + (ids[p],)] += x1[p]
    np.testing.assert_allclose(y.d, ref, rtol=1e-6)


def test_bool_gather_scatter_fill():
    g = _n((2, 3, 2))
    mask = RS.randint(0, 2, (2, 3))
    mask[0, 0] = 1
    sdata = g[mask.astype(bool)]

    def ref_scatter(s):
        out = np.zeros((2, 3, 2))
        out[mask.astype(bool)] = s
        return out
    m2 = RS.randint(0, 2, (3, 4))
    x2 = _n((3, 4))
    fill_mask = RS.randint(0, 2, (1, 2, 1))
    data = _n((2, 3, 2, 2))
    cases = [
        (lambda v: F.bool_gather(v, _ivar(mask)), lambda v: v[mask.astype(bool)], [g]),
        (lambda v: F.bool_gather(v, _ivar(m2)), lambda v: v[m2.astype(bool)], [x2]),
        (lambda v: F.bool_scatter(v, _ivar(mask)), ref_scatter, [sdata]),
        (lambda v, w: F.bool_scatter(v, _ivar(mask), F.identity(w)),
         lambda v, w: np.where(mask[..., None].astype(bool), ref_scatter(v), w), [sdata, g]),
        (lambda v: F.bool_fill(v, _ivar(fill_mask), -1.5),
         lambda v: np.where(np.broadcast_to(fill_mask, v.shape) != 0, -1.5, v), [data]),
        (lambda v: F.bool_fill(v, var(m2[0])),
         lambda v: np.where(m2[0] != 0, 0.0, v), [x2]),
    ]
    built = check_cases(cases)
    assert _info(built[0][2][0]) == ("BoolGather", {})
    assert _info(built[2][2][0]) == ("BoolScatter", {})
    assert _info(built[4][2][0]) == ("BoolFill", {"value": -1.5})
    assert _info(built[5][2][0]) == ("BoolFill", {"value": 0.0})
    assert built[0][2][0].shape == (int(mask.sum()), 2)
    # the in-place form writes into a leaf gdata on forward
    leaf = var(np.zeros((2, 3, 2)))
    y = F.bool_scatter(var(sdata), _ivar(mask), leaf)
    y.forward()
    np.testing.assert_allclose(leaf.d, ref_scatter(sdata))
    with pytest.raises(ValueError, match="bool_gather"):
        F.bool_gather(var(g), _ivar(np.ones((3, 2))))
    with pytest.raises(ValueError, match="bool_scatter"):
        F.bool_scatter(var(sdata), _ivar(mask), var(np.zeros((2, 3))))
    with pytest.raises(ValueError, match="bool_fill"):
        F.bool_fill(var(x2), var(np.ones((4, 3))))


def test_bool_gather_reads_mask_values_of_a_computed_variable():
    x = _n((4, 3))
    m = F.greater_scalar(var(x[:, 0]), 0.0)  # computed when the graph is built
    y = F.bool_gather(var(x), m)
    y.forward()
    np.testing.assert_allclose(y.d, x[x[:, 0] > 0])


def test_nonzero():
    a = np.array([[0, 1, 0], [2, 0, 3]], np.float32)
    y = F.nonzero(var(a))
    z = F.nonzero(var(np.zeros((2, 2))))
    nn.forward_all([y, z])
    assert _info(y) == ("NonZero", {})
    np.testing.assert_array_equal(y.d, np.stack(np.nonzero(a)))
    assert np.issubdtype(y.d.dtype, np.integer) and z.shape == (2, 0)
    # imperative (NdArray) mode
    r = F.nonzero(nn.NdArray.from_numpy_array(np.array([0.0, 5.0, 0.0, 1.0], np.float32)))
    np.testing.assert_array_equal(r.data, [[1, 3]])
    with pytest.raises(ValueError, match="nonzero"):
        F.nonzero(var(np.float32(1)))


def test_data_dependent_graph_keeps_its_count():
    mask = var([1.0, 0.0, 1.0])
    y = F.nonzero(mask)
    y.forward()
    np.testing.assert_array_equal(y.d, [[0, 2]])
    mask.d = [0.0, 1.0, 1.0]  # same count: the recorded node stays valid
    y.forward()
    np.testing.assert_array_equal(y.d, [[1, 2]])
    z = F.nonzero(var([1.0, 1.0, 1.0]))  # a new count needs a new graph
    z.forward()
    assert z.shape == (1, 3)


# ---------------------------------------------------------------- packed sequences
def _np_pack(padded, lengths, batch_first):
    p = np.swapaxes(padded, 0, 1) if batch_first else padded
    rows = [p[t, b] for t in range(p.shape[0]) for b in range(p.shape[1]) if lengths[b] > t]
    sizes = [sum(1 for n in lengths if n > t) for t in range(p.shape[0])]
    return np.array(rows).reshape((-1,) + p.shape[2:]), np.array(sizes)


@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_and_pad_sequences(batch_first):
    lengths = np.array([4, 2, 2, 1])
    shape = (4, 5, 3) if batch_first else (5, 4, 3)
    padded = _n(shape)
    cases = [(lambda v: F.pack_padded_sequence(v, _ivar(lengths), batch_first),
              lambda v: _np_pack(v, lengths, batch_first), [padded])]
    built = check_cases(cases, fwd_atol=0)
    packed, sizes = built[0][2]
    assert _info(packed) == ("PackPaddedSequence", {"batch_first": batch_first})
    np.testing.assert_array_equal(sizes.d, [4, 3, 1, 1, 0])

    def np_pad(v, total=-1):
        t = max(total, len(sizes.d))
        out = np.zeros((t, 4, 3))  # NNabla's kernel ignores padding_value: zeros
        rows = iter(v)
        for ti in range(len(sizes.d)):
            for b in range(sizes.d[ti]):
                out[ti, b] = next(rows)
        out = np.swapaxes(out, 0, 1) if batch_first else out
        return out, lengths
    pk = np.asarray(packed.d)
    cases = [(lambda v: F.pad_packed_sequence(v, sizes, batch_first, -1.0),
              lambda v: np_pad(v), [pk]),
             (lambda v: F.pad_packed_sequence(v, sizes, batch_first, -1.0, 7),
              lambda v: np_pad(v, 7), [pk])]
    built = check_cases(cases, fwd_atol=0)
    padded_out, lens = built[0][2]
    assert _info(padded_out) == ("PadPackedSequence", {"batch_first": batch_first,
                                                       "padding_value": -1.0,
                                                       "total_length": -1})
    assert built[1][2][0].shape == ((4, 7, 3) if batch_first else (7, 4, 3))


def test_pack_pad_errors():
    p = var(np.ones((3, 2)))
    with pytest.raises(ValueError, match="pack_padded_sequence"):
        F.pack_padded_sequence(p, _ivar([1, 2]))  # not sorted
    with pytest.raises(ValueError, match="pack_padded_sequence"):
        F.pack_padded_sequence(p, _ivar([4, 2]))  # longer than T
    with pytest.raises(ValueError, match="pack_padded_sequence"):
        F.pack_padded_sequence(p, _ivar([2, 1, 1]))
    with pytest.raises(ValueError, match="pad_packed_sequence"):
        F.pad_packed_sequence(var(np.ones((3, 2))), _ivar([2, 2]))
    # a total_length shorter than the steps does not cut them (NNabla pads to the max)
    padded, lengths = F.pad_packed_sequence(var(np.arange(6.0).reshape(3, 2)), _ivar([2, 1]),
                                            total_length=1)
    F.sink(padded, lengths).forward()
    np.testing.assert_array_equal(padded.d, [[[0, 1], [2, 3]], [[4, 5], [0, 0]]])
    np.testing.assert_array_equal(lengths.d, [2, 1])


def test_project_gradcheck_on_array_functions():
    check_grad(lambda v: F.concatenate(F.flip(v, (0,)), F.slice(v, [0, 1], [2, 3], [1, 1]),
                                       axis=1), [_n((2, 3))])
