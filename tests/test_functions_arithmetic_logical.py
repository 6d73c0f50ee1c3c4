"""Arithmetic and logical functions: forward against numpy, backward against central
differences of the numpy reference, type names and args, argument errors."""
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
from function_check import check_cases, check_grad, var



RS = np.random.RandomState(7)
SHAPE_PAIRS = [((2, 3), (2, 3)), ((2, 3), (1, 3)), ((2, 1, 3), (4, 1)), ((3,), ()),
               ((0, 3), (1, 3))]


def _n(shape):
    return np.asarray(RS.randn(*shape), np.float32)


def _u(shape, lo=0.5, hi=2.0):
    return np.asarray(RS.uniform(lo, hi, shape), np.float32)


# ---------------------------------------------------------------- two-operand arithmetic
BINARY = [
    ("add2", "Add2", lambda a, b: a + b),
    ("sub2", "Sub2", lambda a, b: a - b),
    ("mul2", "Mul2", lambda a, b: a * b),
    ("div2", "Div2", lambda a, b: a / b),
    ("pow2", "Pow2", lambda a, b: a ** b),
    ("bc_add2", "BcAdd2", lambda a, b: a + b),
]


@pytest.mark.parametrize("fname, type_name, ref", BINARY)
def test_binary_arithmetic(fname, type_name, ref):
    fn = getattr(F, fname)
    cases = [(fn, ref, [_u(s0), _u(s1)]) for s0, s1 in SHAPE_PAIRS]
    built = check_cases(cases)
    for (case, xs, outs, _), (s0, s1) in zip(built, SHAPE_PAIRS):
        assert outs[0].parent.info.type_name == type_name
        assert outs[0].parent.info.args == {"inplace": False}
        assert outs[0].shape == np.broadcast_shapes(s0, s1)


def test_binary_inplace_arg_and_errors():
    y = F.add2(var(np.ones((2, 3))), var(np.ones((2, 3))), inplace=True)
    assert y.parent.info.args == {"inplace": True}
    with pytest.raises(ValueError, match="sub2"):
        F.sub2(var(np.ones((2, 3))), var(np.ones((2, 4))))
    with pytest.raises(TypeError, match="mul2"):
        F.mul2(var(np.ones(2)))
    with pytest.raises(TypeError, match="Div2"):
        F.div2(var(np.ones(2)), "x")


def test_project_gradcheck_on_arithmetic():
    check_grad(lambda a, b: F.div2(F.mul2(a, b), F.add2(a, b)), [_u((2, 3)), _u((1, 3))])


# ---------------------------------------------------------------- n-ary
def test_add_n_mul_n():
    cases = []
    for n in [1, 2, 4]:
        arrays = [_u((2, 3)) for _ in range(n)]
        cases.append((lambda *v: F.add_n(*v), lambda *v: np.sum(v, 0), arrays))
        cases.append((lambda *v: F.mul_n(*v), lambda *v: np.prod(v, 0), arrays))
    built = check_cases(cases)
    for (case, xs, outs, _) in built:
        assert outs[0].parent.info.type_name in ("AddN", "MulN")
        assert len(outs[0].parent.inputs) == len(xs) and outs[0].parent.info.args == {}
    y = F.add_n([var(np.ones(2)), var(np.ones(2))])  # a list is accepted too
    y.forward()
    np.testing.assert_allclose(y.d, [2, 2])


def test_n_ary_errors():
    with pytest.raises(ValueError, match="add_n"):
        F.add_n()
    with pytest.raises(ValueError, match="mul_n"):
        F.mul_n(var(np.ones((2, 3))), var(np.ones((3, 2))))
    with pytest.raises(TypeError, match="add_n"):
        F.add_n(var(np.ones(2)), axis=1)


# ---------------------------------------------------------------- scalar arithmetic
SCALAR = [
    ("add_scalar", "AddScalar", True, lambda x, v: x + v, 2.5),
    ("mul_scalar", "MulScalar", True, lambda x, v: x * v, -1.5),
    ("pow_scalar", "PowScalar", True, lambda x, v: x ** v, 3),
    ("pow_scalar", "PowScalar", True, lambda x, v: x ** v, 0.5),
    ("pow_scalar", "PowScalar", True, lambda x, v: x ** v, -2),
    ("pow_scalar", "PowScalar", True, lambda x, v: x ** v, 0),
    ("r_sub_scalar", "RSubScalar", False, lambda x, v: v - x, 1.25),
    ("r_div_scalar", "RDivScalar", False, lambda x, v: v / x, 3.0),
    ("r_pow_scalar", "RPowScalar", False, lambda x, v: v ** x, 2.0),
]


def test_scalar_arithmetic():
    cases, expected = [], []
    for fname, type_name, has_inplace, ref, val in SCALAR:
        fn = getattr(F, fname)
        for shape in [(2, 3), ()]:
            cases.append(((lambda f, v: lambda t: f(t, v))(fn, val),
                          (lambda r, v: lambda t: r(t, v))(ref, val), [_u(shape)]))
            args = {"val": float(val)}
            if has_inplace:
                args["inplace"] = False
            expected.append((type_name, args))
    built = check_cases(cases)
    for (case, xs, outs, _), (type_name, args) in zip(built, expected):
        assert outs[0].parent.info.type_name == type_name
        assert outs[0].parent.info.args == args


def test_scalar_defaults_and_errors():
    x = var(np.ones((2,)))
    for name in ["add_scalar", "mul_scalar", "pow_scalar", "r_sub_scalar", "r_div_scalar",
                 "r_pow_scalar"]:
        assert getattr(F, name)(x).parent.info.args["val"] == 1.0
    with pytest.raises(TypeError, match="add_scalar"):
        F.add_scalar(x, "2")
    with pytest.raises(TypeError, match="r_pow_scalar"):
        F.r_pow_scalar(x, [1, 2])


def test_operators_record_nnabla_functions():
    x = var(np.full((2,), 2.0))
    assert (x + 1).parent.info.type_name == "AddScalar"
    assert (1 - x).parent.info.type_name == "RSubScalar"
    assert (x / 2).parent.info.type_name == "MulScalar"
    assert (2 / x).parent.info.type_name == "RDivScalar"
    assert (2 ** x).parent.info.type_name == "RPowScalar"
    assert (x * x).parent.info.type_name == "Mul2"
    y = (x ** 2 + 3 * x - 1) / x
    y.forward()
    np.testing.assert_allclose(y.d, [4.5, 4.5])


def test_imperative_ndarray():
    a = nn.NdArray.from_numpy_array(np.array([1.0, 2.0], np.float32))
    b = nn.NdArray.from_numpy_array(np.array([3.0, 5.0], np.float32))
    y = F.mul2(a, b)
    assert isinstance(y, nn.NdArray)
    np.testing.assert_allclose(y.data, [3, 10])
    out = nn.NdArray((2,))
    F.add_scalar(a, 1, outputs=[out])
    np.testing.assert_allclose(out.data, [2, 3])


# ---------------------------------------------------------------- sign, min, max
def test_sign_forward_and_straight_through():
    x = np.array([[-2.0, 0.0, 3.0], [0.5, -0.1, 0.0]], np.float32)
    vs, ys = [], []
    for alpha in [1.0, 0.0, -0.5]:
        v = var(x)
        y = F.sign(v, alpha)
        assert y.parent.info.type_name == "Sign" and y.parent.info.args == {"alpha": alpha}
        vs.append(v)
        ys.append(y)
    nn.forward_all(ys)
    for y, alpha in zip(ys, [1.0, 0.0, -0.5]):
        np.testing.assert_array_equal(y.d, np.where(x > 0, 1, np.where(x < 0, -1, alpha)))
    g = RS.randn(2, 3).astype(np.float32)
    vs[0].g = 0
    ys[0].backward(g)
    np.testing.assert_allclose(vs[0].g, g)  # full straight-through
    assert F.sign(vs[0]).parent.info.args == {"alpha": 1.0}


@pytest.mark.parametrize("fname, type_name, np_op", [
    ("maximum2", "Maximum2", np.maximum), ("minimum2", "Minimum2", np.minimum)])
def test_minimum_maximum2(fname, type_name, np_op):
    fn = getattr(F, fname)
    cases = [(fn, np_op, [_n(s0), _n(s1)])
             for s0, s1 in SHAPE_PAIRS]
    for case, xs, outs, _ in check_cases(cases):
        assert outs[0].parent.info.type_name == type_name and outs[0].parent.info.args == {}


@pytest.mark.parametrize("fname, gt", [("maximum2", True), ("minimum2", False)])
def test_minimum_maximum2_tie_gradient_goes_to_second_input(fname, gt):
    a, b = var([1.0, 2.0, 3.0]), var([1.0, 5.0, 0.0])
    y = getattr(F, fname)(a, b)
    y.forward()
    a.g, b.g = 0, 0
    y.backward(np.ones(3, np.float32))
    first = (a.d > b.d) if gt else (a.d < b.d)
    np.testing.assert_array_equal(a.g, first.astype(np.float32))
    np.testing.assert_array_equal(b.g, (~first).astype(np.float32))
    assert a.g[0] == 0 and b.g[0] == 1  # tie


def test_minimum_maximum_scalar():
    x = np.array([[-1.0, 0.25, 2.0], [0.7, 3.0, -0.2]], np.float32)
    cases = []
    for fname, type_name, ref in [("maximum_scalar", "MaximumScalar", np.maximum),
                                  ("minimum_scalar", "MinimumScalar", np.minimum)]:
        fn = getattr(F, fname)
        assert fn(var(x)).parent.info.args == {"val": 1.0}
        cases.append(((lambda f: lambda t: f(t, 0.5))(fn), (lambda r: lambda t: r(t, 0.5))(ref),
                      [x]))
        # at the scalar value itself the gradient is zero (strict comparison)
        cases.append(((lambda f: lambda t: f(t, 0.5))(fn), (lambda r: lambda t: r(t, 0.5))(ref),
                      [np.array([0.5], np.float32)], []))
    built = check_cases(cases)
    assert built[0][2][0].parent.info.type_name == "MaximumScalar"
    assert built[0][2][0].parent.info.args == {"val": 0.5}
    assert built[2][2][0].parent.info.type_name == "MinimumScalar"
    assert built[1][1][0].g[0] == 0 and built[3][1][0].g[0] == 0


# ---------------------------------------------------------------- comparisons and logic
COMPARE = [("equal", "Equal", np.equal), ("not_equal", "NotEqual", np.not_equal),
           ("greater_equal", "GreaterEqual", np.greater_equal),
           ("greater", "Greater", np.greater), ("less_equal", "LessEqual", np.less_equal),
           ("less", "Less", np.less)]
LOGIC = [("logical_and", "LogicalAnd", np.logical_and),
         ("logical_or", "LogicalOr", np.logical_or),
         ("logical_xor", "LogicalXor", np.logical_xor)]


def test_compare_and_logic():
    xs, ys, refs = [], [], []
    for fname, type_name, np_op in COMPARE + LOGIC:
        for s0, s1 in SHAPE_PAIRS[1:3]:
            a = np.asarray(RS.randint(-1, 2, s0), np.float32)
            b = np.asarray(RS.randint(-1, 2, s1), np.float32)
            va, vb = var(a), var(b)
            y = getattr(F, fname)(va, vb)
            assert y.parent.info.type_name == type_name and y.parent.info.args == {}
            xs += [va, vb]
            ys.append(y)
            refs.append(np_op(a, b).astype(np.float32))
    loss = F.add_n(*[F.sum(y) for y in ys])
    nn.forward_all(ys + [loss])
    for y, r in zip(ys, refs):
        assert y.d.dtype == np.float32
        np.testing.assert_array_equal(y.d, r)
    for v in xs:
        v.g = 1
    loss.backward()
    for v in xs:
        np.testing.assert_array_equal(v.g, np.ones(v.shape))  # no gradient added


COMPARE_SCALAR = [("equal_scalar", "EqualScalar", np.equal),
                  ("not_equal_scalar", "NotEqualScalar", np.not_equal),
                  ("greater_equal_scalar", "GreaterEqualScalar", np.greater_equal),
                  ("greater_scalar", "GreaterScalar", np.greater),
                  ("less_equal_scalar", "LessEqualScalar", np.less_equal),
                  ("less_scalar", "LessScalar", np.less)]


def test_compare_scalar():
    x = np.array([[-1.0, -0.5, 0.0], [0.5, 1.0, 2.0]], np.float32)
    cases = []
    for fname, type_name, np_op in COMPARE_SCALAR:
        fn = getattr(F, fname)
        assert fn(var(x)).parent.info.args == {"val": 1.0}
        for val in [0.0, 1.0, -0.5]:
            cases.append(((lambda f, v: lambda t: f(t, v))(fn, val),
                          (lambda o, v: lambda t: o(t, v).astype(np.float32))(np_op, val), [x]))
    built = check_cases(cases, grad=False)
    for (case, xs, outs, _), (fname, type_name, _) in zip(
            built, [c for c in COMPARE_SCALAR for _ in range(3)]):
        assert outs[0].parent.info.type_name == type_name
    assert built[4][2][0].parent.info.args == {"val": 1.0}


def test_logical_scalar():
    x = np.array([[0.0, 2.0, -1.0], [0.0, 0.0, 0.5]], np.float32)
    cases, names = [], []
    for fname, type_name, np_op in [("logical_and_scalar", "LogicalAndScalar", np.logical_and),
                                    ("logical_or_scalar", "LogicalOrScalar", np.logical_or),
                                    ("logical_xor_scalar", "LogicalXorScalar", np.logical_xor)]:
        with pytest.raises(TypeError, match=fname):
            getattr(F, fname)(var(x), "yes")
        for val in [True, False]:
            cases.append(((lambda f, v: lambda t: f(t, v))(getattr(F, fname), val),
                          (lambda o, v: lambda t: o(t != 0, v).astype(np.float32))(np_op, val),
                          [x]))
            names.append((type_name, val))
    for (case, xs, outs, _), (type_name, val) in zip(check_cases(cases, grad=False), names):
        assert outs[0].parent.info.type_name == type_name
        assert outs[0].parent.info.args == {"val": val}


def test_logical_not_isnan_isinf():
    x = np.array([0.0, 1.0, np.nan, np.inf, -np.inf, -2.0], np.float32)
    ys, refs = [], []
    for fname, type_name, ref in [("logical_not", "LogicalNot", x == 0),
                                  ("isnan", "IsNaN", np.isnan(x)),
                                  ("isinf", "IsInf", np.isinf(x))]:
        y = getattr(F, fname)(var(x))
        assert y.parent.info.type_name == type_name and y.parent.info.args == {}
        ys.append(y)
        refs.append(ref.astype(np.float32))
    nn.forward_all(ys)
    for y, r in zip(ys, refs):
        np.testing.assert_array_equal(y.d, r)


def test_integer_input_gives_float_output():
    x = nn.Variable.from_numpy_array(np.array([0, 3, 5]))
    y = F.greater_scalar(x, 2)
    y.forward()
    assert y.d.dtype == np.float32
    np.testing.assert_array_equal(y.d, [0, 1, 1])


def test_reset_nan_inf():
    ys, vs, masks = [], [], []
    for fname, type_name, bad in [("reset_nan", "ResetNaN", np.nan),
                                  ("reset_inf", "ResetInf", np.inf)]:
        x = np.array([[1.0, bad, -2.0], [-bad, 0.5, bad]], np.float32)
        fn = getattr(F, fname)
        assert fn(var(x)).parent.info.args == {"val": 0.0}
        for val in [0.0, -3.0]:
            v = var(x)
            y = fn(v, val)
            assert y.parent.info.type_name == type_name and y.parent.info.args == {"val": val}
            bad_mask = np.isnan(x) if fname == "reset_nan" else np.isinf(x)
            ys.append((y, np.where(bad_mask, val, x)))
            vs.append((v, bad_mask))
    loss = F.add_n(*[F.sum(y) for y, _ in ys])
    nn.forward_all([y for y, _ in ys] + [loss])
    for y, r in ys:
        np.testing.assert_array_equal(y.d, r)
    for v, _ in vs:
        v.g = 0
    loss.backward()
    for v, bad_mask in vs:
        np.testing.assert_array_equal(v.g, np.where(bad_mask, 0.0, 1.0))


# ---------------------------------------------------------------- where
def test_where():
    cases = []
    for cshape, xshape in [((2, 3), (2, 3)), ((2, 3), (2, 3, 4)), ((2,), (2, 3, 2)), ((), (3,))]:
        cond = np.asarray(RS.rand(*cshape) > 0.5).astype(np.float32)
        c = cond.reshape(cshape + (1,) * (len(xshape) - len(cshape)))
        a, b = _n(xshape), _n(xshape)
        cases.append(((lambda cd: lambda t, f: F.where(var(cd, False), t, f))(cond),
                      (lambda cc: lambda t, f: np.where(cc != 0, t, f))(c), [a, b]))
    for case, xs, outs, _ in check_cases(cases):
        assert outs[0].parent.info.type_name == "Where" and outs[0].parent.info.args == {}


def test_where_errors():
    c, x = var(np.ones((2, 3))), var(np.ones((2, 3)))
    with pytest.raises(ValueError, match="where"):
        F.where(c, x, var(np.ones((2, 4))))
    with pytest.raises(ValueError, match="where"):
        F.where(var(np.ones((3,))), x, x)
    with pytest.raises(ValueError, match="where"):
        F.where(var(np.ones((2, 3, 4))), x, x)


# ---------------------------------------------------------------- searchsorted
def test_searchsorted():
    cases, rights = [], []
    for right in [False, True]:
        for sshape, vshape in [((6,), (4,)), ((2, 5), (2, 3)), ((2, 2, 4), (2, 2, 1))]:
            seq = np.sort(np.asarray(RS.randint(0, 5, sshape), np.float32), axis=-1)
            vals = np.asarray(RS.randint(-1, 6, vshape), np.float32)
            vals.flat[0] = seq.flat[0]  # an exact match

            def ref(s, v, right=right):
                out = np.empty(v.shape, np.float32)
                for idx in np.ndindex(*v.shape[:-1]):
                    out[idx] = np.searchsorted(s[idx], v[idx], side="right" if right else "left")
                return out
            cases.append(((lambda r: lambda s, v: F.searchsorted(s, v, right=r))(right), ref,
                          [seq, vals]))
            rights.append(right)
    for (case, xs, outs, _), right in zip(check_cases(cases, grad=False), rights):
        assert outs[0].parent.info.type_name == "SearchSorted"
        assert outs[0].parent.info.args == {"right": right}
        assert outs[0].d.dtype == np.float32
    s = var(np.arange(3))
    assert F.searchsorted(s, s).parent.info.args == {"right": False}


def test_searchsorted_errors():
    with pytest.raises(ValueError, match="searchsorted"):
        F.searchsorted(var(np.ones((2, 3))), var(np.ones((3,))))
    with pytest.raises(ValueError, match="searchsorted"):
        F.searchsorted(var(np.ones((2, 3))), var(np.ones((3, 2))))
