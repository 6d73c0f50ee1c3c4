"""Math functions: forward against numpy/scipy-free references, backward against
central differences of the references (or the straight-through rule), type names,
args and argument errors."""
import math

import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
from function_check import check_cases, check_grad, var



RS = np.random.RandomState(11)


def _u(shape, lo, hi):
    return np.asarray(RS.uniform(lo, hi, shape), np.float32)


_erf = np.vectorize(math.erf, otypes=[np.float64])

# name, type name, numpy reference, input range
UNARY = [
    ("identity", "Identity", lambda x: x, (-2, 2)),
    ("abs", "Abs", np.abs, (-2, 2)),
    ("exp", "Exp", np.exp, (-2, 2)),
    ("log", "Log", np.log, (0.5, 3)),
    ("sin", "Sin", np.sin, (-3, 3)),
    ("cos", "Cos", np.cos, (-3, 3)),
    ("tan", "Tan", np.tan, (-1.2, 1.2)),
    ("sinh", "Sinh", np.sinh, (-2, 2)),
    ("cosh", "Cosh", np.cosh, (-2, 2)),
    ("asin", "ASin", np.arcsin, (-0.9, 0.9)),
    ("acos", "ACos", np.arccos, (-0.9, 0.9)),
    ("atan", "ATan", np.arctan, (-3, 3)),
    ("asinh", "ASinh", np.arcsinh, (-3, 3)),
    ("acosh", "ACosh", np.arccosh, (1.2, 3)),
    ("atanh", "ATanh", np.arctanh, (-0.9, 0.9)),
    ("erf", "Erf", _erf, (-2, 2)),
]


@pytest.mark.parametrize("fname, type_name, ref, rng", UNARY)
def test_unary(fname, type_name, ref, rng):
    fn = getattr(F, fname)
    x = _u((2, 3), *rng)
    if fname == "abs":
        x[np.abs(x) < 0.05] = 0.5  # keep away from the kink for differences
    cases = [(fn, ref, [x]), (fn, ref, [_u((), *rng)])]
    built = check_cases(cases, fwd_rtol=2e-5, fwd_atol=2e-6)
    for case, xs, outs, _ in built:
        assert outs[0].parent.info.type_name == type_name
        assert outs[0].parent.info.args == {}
        assert outs[0].shape == xs[0].shape


def test_unary_empty_input():
    ys = [getattr(F, name)(var(np.zeros((0, 2)))) for name, _, _, _ in UNARY]
    nn.forward_all(ys)
    assert all(y.shape == (0, 2) for y in ys)


def test_project_gradcheck_on_math():
    check_grad(lambda x: F.atan2(F.sin(x), F.cosh(x)), [_u((2, 3), -1, 1)])


def test_abs_log_special_values():
    y = F.log(var([0.0, 1.0, -1.0]))
    z = F.abs(var([-0.0, -3.0, 2.0]))
    nn.forward_all([y, z])
    assert y.d[0] == -np.inf and y.d[1] == 0 and np.isnan(y.d[2])
    np.testing.assert_array_equal(z.d, [0, 3, 2])


# ---------------------------------------------------------------- rounding
def _round_half_away(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


@pytest.mark.parametrize("fname, type_name, ref", [("round", "Round", _round_half_away),
                                                   ("ceil", "Ceil", np.ceil),
                                                   ("floor", "Floor", np.floor)])
def test_rounding_forward_and_straight_through(fname, type_name, ref):
    x = np.array([[-2.5, -1.5, -0.5, 0.5], [1.5, 2.5, 0.2, -0.7], [3.0, -3.0, 0.0, 1.49]],
                 np.float32)
    v = var(x)
    y = getattr(F, fname)(v)
    assert y.parent.info.type_name == type_name and y.parent.info.args == {}
    y.forward()
    np.testing.assert_array_equal(y.d, ref(x))
    g = np.asarray(RS.randn(3, 4), np.float32)
    v.g = 0
    y.backward(g)
    np.testing.assert_allclose(v.g, g)  # dy/dx = 1 (straight-through estimator)


def test_round_halves_away_from_zero():
    y = F.round(var([0.5, 1.5, 2.5, -0.5, -2.5]))
    y.forward()
    np.testing.assert_array_equal(y.d, [1, 2, 3, -1, -3])


# ---------------------------------------------------------------- atan2
def test_atan2():
    cases = [(F.atan2, np.arctan2, [_u(s0, -2, 2), _u(s1, 0.3, 2) * np.sign(_u(s1, -1, 1))])
             for s0, s1 in [((2, 3), (2, 3)), ((2, 3), (1, 3)), ((3,), ())]]
    for case, xs, outs, _ in check_cases(cases, fwd_rtol=2e-5):
        assert outs[0].parent.info.type_name == "ATan2" and outs[0].parent.info.args == {}
    with pytest.raises(ValueError, match="atan2"):
        F.atan2(var(np.ones((2, 3))), var(np.ones((3, 2))))


# ---------------------------------------------------------------- generators
def test_constant():
    ys = [F.constant(2.5, (2, 3)), F.constant(), F.constant(-1, [0, 4]), F.constant(7, 3)]
    nn.forward_all(ys)
    assert ys[0].parent.info.type_name == "Constant"
    assert ys[0].parent.info.args == {"val": 2.5, "shape": [2, 3]}
    assert ys[1].parent.info.args == {"val": 0.0, "shape": []}
    assert ys[0].parent.inputs == []
    np.testing.assert_array_equal(ys[0].d, np.full((2, 3), 2.5))
    assert ys[1].shape == () and ys[1].d == 0
    assert ys[2].shape == (0, 4)
    np.testing.assert_array_equal(ys[3].d, [7, 7, 7])
    assert ys[0].d.dtype == np.float32
    with pytest.raises(ValueError, match="constant"):
        F.constant(1, (2, -1))
    with pytest.raises(TypeError, match="constant"):
        F.constant("a", (2,))


def _ref_arange(start, stop, step):
    v, out = np.float32(start), []
    while (v < np.float32(stop)) if step > 0 else (v > np.float32(stop)):
        out.append(v)
        v = np.float32(v + np.float32(step))
    return np.array(out, np.float32)


@pytest.mark.parametrize("start, stop, step", [(0, 5, 1), (1, 11, 1), (0, 1, 0.1), (5, 0, -1),
                                               (-1.5, 2.5, 0.5), (3, 3, 1), (0, -3, 1),
                                               (0.3, 1.9, 0.7)])
def test_arange(start, stop, step):
    y = F.arange(start, stop, step)
    y.forward()
    assert y.parent.info.type_name == "Arange"
    assert y.parent.info.args == {"start": float(start), "stop": float(stop),
                                  "step": float(step)}
    ref = _ref_arange(start, stop, step)
    assert y.shape == ref.shape
    np.testing.assert_array_equal(y.d, ref)
    if float(step).is_integer() and float(start).is_integer():
        np.testing.assert_array_equal(y.d, np.arange(start, stop, step))


def test_arange_default_step_and_errors():
    assert F.arange(0, 3).parent.info.args["step"] == 1.0
    with pytest.raises(ValueError, match="arange"):
        F.arange(0, 3, 0)
    with pytest.raises(TypeError, match="arange"):
        F.arange(0, "3")


@pytest.mark.parametrize("start, stop, num", [(0, 1, 5), (-2, 3, 1), (1, -1, 4), (0, 1, 0),
                                              (2.5, 2.5, 3), (0, 10, 11)])
def test_linspace(start, stop, num):
    y = F.linspace(start, stop, num)
    y.forward()
    assert y.parent.info.type_name == "Linspace"
    assert y.parent.info.args == {"start": float(start), "stop": float(stop), "num": num}
    assert y.shape == (num,)
    np.testing.assert_allclose(y.d, np.linspace(start, stop, num), rtol=1e-6, atol=1e-6)


def test_linspace_errors():
    with pytest.raises(ValueError, match="linspace"):
        F.linspace(0, 1, -1)
    with pytest.raises(TypeError, match="linspace"):
        F.linspace(0, 1, 2.0)


# ---------------------------------------------------------------- batch matmul
@pytest.mark.parametrize("ta, tb", [(False, False), (True, False), (False, True), (True, True)])
def test_batch_matmul(ta, tb):
    def ref(a, b):
        a = np.swapaxes(a, -1, -2) if ta else a
        b = np.swapaxes(b, -1, -2) if tb else b
        return np.matmul(a, b)

    def shapes(batch_a, batch_b, p, q, r):
        sa = batch_a + ((q, p) if ta else (p, q))
        sb = batch_b + ((r, q) if tb else (q, r))
        return sa, sb

    cases = []
    for ba, bb in [((), ()), ((2,), (2,)), ((2, 1), (1, 3))]:
        sa, sb = shapes(ba, bb, 2, 3, 2)
        cases.append(((lambda a, b: F.batch_matmul(a, b, ta, tb)), ref,
                      [_u(sa, -1, 1), _u(sb, -1, 1)]))
    for case, xs, outs, _ in check_cases(cases, fwd_rtol=1e-4, fwd_atol=1e-5):
        assert outs[0].parent.info.type_name == "BatchMatmul"
        assert outs[0].parent.info.args == {"transpose_a": ta, "transpose_b": tb}


def test_batch_matmul_errors_and_defaults():
    a, b = var(np.ones((2, 3, 4))), var(np.ones((2, 4, 5)))
    assert F.batch_matmul(a, b).parent.info.args == {"transpose_a": False, "transpose_b": False}
    assert F.batch_matmul(a, b).shape == (2, 3, 5)
    with pytest.raises(ValueError, match="batch_matmul"):
        F.batch_matmul(a, var(np.ones((2, 3, 5))))
    with pytest.raises(ValueError, match="batch_matmul"):
        F.batch_matmul(var(np.ones(3)), b)
    with pytest.raises(ValueError, match="batch_matmul"):
        F.batch_matmul(var(np.ones((2, 3, 4))), var(np.ones((3, 4, 5))))


def test_unary_wrong_input_type():
    with pytest.raises(TypeError, match="Exp"):
        F.exp("x")
    with pytest.raises(TypeError):
        F.sin()
