"""Reductions: forward against numpy, backward against central differences of the
numpy reference (or NNabla's rules where differences do not apply), type names,
args, and argument errors."""
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
from function_check import check_cases, check_grad, var

pytestmark = pytest.mark.filterwarnings("ignore:nnjax. the same graph structure")



RS = np.random.RandomState(5)


def _n(shape):
    return np.asarray(RS.randn(*shape), np.float32)


def _np_axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        return (axis,)
    return tuple(axis)


AXES = [None, -1, (2, 0)]


@pytest.mark.parametrize("fname, type_name, np_fn", [("sum", "Sum", np.sum),
                                                     ("mean", "Mean", np.mean),
                                                     ("prod", "Prod", np.prod)])
def test_sum_mean_prod(fname, type_name, np_fn):
    fn = getattr(F, fname)
    x = np.asarray(RS.uniform(0.5, 1.5, (2, 3, 2)), np.float32)
    cases, expected = [], []
    for axis in AXES:
        for keepdims in [False, True]:
            cases.append(((lambda a, k: lambda v: fn(v, axis=a, keepdims=k))(axis, keepdims),
                          (lambda a, k: lambda v: np_fn(v, axis=_np_axes(a, 3), keepdims=k))(
                              axis, keepdims), [x]))
            axes = list(range(3)) if axis is None else (
                [axis] if isinstance(axis, int) else list(axis))
            expected.append({"axes": axes, "keep_dims": keepdims})
    built = check_cases(cases, fwd_rtol=1e-5)
    for (case, xs, outs, _), args in zip(built, expected):
        assert outs[0].parent.info.type_name == type_name
        assert outs[0].parent.info.args == args


def test_reductions_edge_shapes():
    cases = [
        (lambda v: F.sum(v, axis=1), lambda v: np.sum(v, axis=1), [np.ones((2, 0), np.float32)]),
        (lambda v: F.mean(v, axis=0, keepdims=True), lambda v: np.mean(v, 0, keepdims=True),
         [_n((1, 3))]),
        (lambda v: F.sum(v), lambda v: np.sum(v), [_n(())]),
        (lambda v: F.prod(v, axis=0), lambda v: np.prod(v, 0), [_n((0, 2))]),
    ]
    check_cases(cases)


def test_prod_gradient_with_zeros():
    x = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 1.5], [1.0, 2.0, -1.0]], np.float32)
    check_cases([(lambda v: F.prod(v, axis=1), lambda v: np.prod(v, axis=1), [x])])


def test_sum_with_empty_axes_list_reduces_all():
    x = _n((2, 3))
    y = F.sum(var(x), axis=[])
    y.forward()
    assert y.parent.info.args == {"axes": [], "keep_dims": False}
    np.testing.assert_allclose(y.d, x.sum(), rtol=1e-5)


@pytest.mark.parametrize("fname, np_fn, np_arg", [("max", np.max, np.argmax),
                                                  ("min", np.min, np.argmin)])
def test_max_min(fname, np_fn, np_arg):
    fn = getattr(F, fname)
    x = np.asarray(RS.permutation(24).reshape(2, 3, 4), np.float32) / 4  # no ties
    cases = []
    for axis, keepdims in [(None, False), (1, True), (-1, False), ((0, 2), True)]:
        if True:
            cases.append(((lambda a, k: lambda v: fn(v, axis=a, keepdims=k))(axis, keepdims),
                          (lambda a, k: lambda v: np_fn(v, axis=_np_axes(a, 3), keepdims=k))(
                              axis, keepdims), [x]))
    built = check_cases(cases)
    assert built[0][2][0].parent.info.type_name == fname.capitalize()
    assert built[0][2][0].parent.info.args == {"axes": [0, 1, 2], "keep_dims": False,
                                               "with_index": False, "only_index": False}


@pytest.mark.parametrize("fname, np_fn, np_arg", [("max", np.max, np.argmax),
                                                  ("min", np.min, np.argmin)])
def test_max_min_with_index(fname, np_fn, np_arg):
    fn = getattr(F, fname)
    x = np.asarray(RS.permutation(24).reshape(2, 3, 4), np.float32)
    v = var(x)
    val, idx = fn(v, axis=1, with_index=True)
    only = fn(v, axis=1, only_index=True)
    multi = fn(v, axis=(0, 2), keepdims=True, only_index=True)
    nn.forward_all([val, idx, only, multi])
    assert val.parent.info.args == {"axes": [1], "keep_dims": False, "with_index": True,
                                    "only_index": False}
    np.testing.assert_array_equal(val.d, np_fn(x, axis=1))
    np.testing.assert_array_equal(idx.d, np_arg(x, axis=1))
    np.testing.assert_array_equal(only.d, np_arg(x, axis=1))
    # several axes: index into the reduced axes flattened in axis order
    flat = np.transpose(x, (1, 0, 2)).reshape(3, 8)
    np.testing.assert_array_equal(multi.d.reshape(3), np_arg(flat, axis=1))
    assert multi.shape == (1, 3, 1)
    assert np.issubdtype(idx.d.dtype, np.integer)


@pytest.mark.parametrize("fname", ["max", "min"])
def test_max_min_ties_gradient_to_first(fname):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], np.float32) * (1 if fname == "max" else -1)
    v = var(x)
    y = getattr(F, fname)(v, axis=1)
    y.forward()
    v.g = 0
    y.backward(np.array([1.0, 2.0], np.float32))
    np.testing.assert_array_equal(v.g, [[0, 1, 0], [2, 0, 0]])


def test_max_min_errors():
    x = var(np.ones((2, 3)))
    with pytest.raises(ValueError, match="max"):
        F.max(x, axis=2)
    with pytest.raises(ValueError, match="min"):
        F.min(var(np.ones((2, 0))), axis=1)
    with pytest.raises(ValueError, match="sum"):
        F.sum(x, axis=(0, 0))
    with pytest.raises(ValueError, match="mean"):
        F.mean(x, axis=-3)
    with pytest.raises(TypeError, match="prod"):
        F.prod(x, axis=1.5)
    with pytest.raises(TypeError, match="sum"):
        F.sum(x, axis="0")


@pytest.mark.parametrize("p", [None, 1, 3.0])
def test_norm(p):
    pp = 2.0 if p is None else float(p)
    x = _n((2, 3, 2))
    x[np.abs(x) < 0.1] = 0.5  # |x| is smooth away from 0

    def ref(axis, keepdims):
        return lambda v: np.sum(np.abs(v) ** pp, axis=_np_axes(axis, 3),
                                keepdims=keepdims) ** (1 / pp)
    cases = [((lambda a, k: lambda v: F.norm(v, p, a, k))(axis, keepdims), ref(axis, keepdims),
              [x]) for axis, keepdims in [(None, False), (1, True), ((0, 2), False)]]
    built = check_cases(cases, fwd_rtol=1e-5)
    assert built[0][2][0].parent.info.type_name == "Norm"
    assert built[0][2][0].parent.info.args == {"p": pp, "axes": [0, 1, 2], "keep_dims": False}
    assert built[1][2][0].shape == (2, 1, 2)


def test_norm_errors():
    with pytest.raises(ValueError, match="norm"):
        F.norm(var(np.ones(3)), p=0.5)
    with pytest.raises(TypeError, match="norm"):
        F.norm(var(np.ones(3)), p="2")


def _np_cum(op, identity):
    def ref(x, axis, exclusive, reverse):
        x = np.asarray(x)
        if reverse:
            x = np.flip(x, axis)
        y = op(x, axis=axis)
        if exclusive:
            y = np.concatenate([np.full_like(np.take(y, [0], axis), identity),
                                np.take(y, np.arange(y.shape[axis] - 1), axis)], axis)
        if reverse:
            y = np.flip(y, axis)
        return y
    return ref


@pytest.mark.parametrize("fname, type_name, ref", [
    ("cumsum", "CumSum", _np_cum(np.cumsum, 0)), ("cumprod", "CumProd", _np_cum(np.cumprod, 1))])
def test_cumulative(fname, type_name, ref):
    fn = getattr(F, fname)
    x = np.asarray(RS.uniform(0.5, 1.5, (2, 3, 4)), np.float32)
    cases, expected = [], []
    for axis, exclusive, reverse in [(0, False, False), (1, True, False), (-1, True, True)]:
        cases.append(((lambda a, e, r: lambda v: fn(v, a, e, r))(axis, exclusive, reverse),
                      (lambda a, e, r: lambda v: ref(v, a, e, r))(axis, exclusive, reverse),
                      [x]))
        expected.append({"axis": axis, "exclusive": exclusive, "reverse": reverse})
    cases.append((lambda v: fn(v, 0), lambda v: ref(v, 0, False, False), [_n((1,))]))
    expected.append({"axis": 0, "exclusive": False, "reverse": False})
    built = check_cases(cases, fwd_rtol=1e-5)
    for (case, xs, outs, _), args in zip(built, expected):
        assert outs[0].parent.info.type_name == type_name
        assert outs[0].parent.info.args == args
    assert fn(var(x)).parent.info.args == {"axis": 0, "exclusive": False, "reverse": False}
    with pytest.raises(ValueError, match=fname):
        fn(var(x), 3)
    with pytest.raises(TypeError, match=fname):
        fn(var(x), (0, 1))


def test_cumprod_gradient_with_zero():
    x = np.array([[2.0, 0.0, 3.0, 0.5], [0.0, 1.5, 0.0, 2.0]], np.float32)
    ref = _np_cum(np.cumprod, 1)
    check_cases([(lambda v: F.cumprod(v, 1), lambda v: ref(v, 1, False, False), [x]),
                 (lambda v: F.cumprod(v, 1, True, True), lambda v: ref(v, 1, True, True), [x])])


def test_reduce_sum_mean():
    x = _n((2, 3))
    built = check_cases([(F.reduce_sum, np.sum, [x]), (F.reduce_mean, np.mean, [x])])
    assert built[0][2][0].parent.info.type_name == "ReduceSum"
    assert built[1][2][0].parent.info.type_name == "ReduceMean"
    assert built[0][2][0].shape == () and built[0][2][0].parent.info.args == {}
    with pytest.warns(DeprecationWarning):
        y = F.reduce(var(x), op="mean")
    assert y.parent.info.type_name == "ReduceMean"
    with pytest.raises(ValueError, match="reduce"):
        with pytest.warns(DeprecationWarning):
            F.reduce(var(x), op="max")


def test_project_gradcheck_on_reductions():
    check_grad(lambda v: F.mean(F.prod(v, axis=1) + F.max(v, axis=1), keepdims=True),
               [np.asarray(RS.uniform(0.5, 1.5, (2, 3)), np.float32)])
