"""NdArray, as NNabla's Python API tutorial ("NdArray" and "Imperative Mode") uses it.

Values are checked against numpy; NNabla's documented buffer semantics
(writable ``.data`` reference, lazy ``fill``/``zero``, ``modification_count``,
``clear``) are checked through the public API.
"""
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F


def executions():
    return nn.compile_stats().executions


# ---------------------------------------------------------------- metadata
def test_shape_dtype_strides_size():
    a = nn.NdArray((2, 3, 4))
    assert a.shape == (2, 3, 4)
    assert a.ndim == 3
    assert a.size == 24
    with pytest.raises(RuntimeError, match="no dtype yet"):
        a.dtype  # as NNabla: no dtype until first read or written
    a.data
    assert a.dtype == np.float32  # a first read makes it float32
    assert tuple(a.strides) == (12, 4, 1)  # element strides, C order
    assert a.size_from_axis() == 24
    assert a.size_from_axis(1) == 12
    assert a.size_from_axis(2) == 4
    assert nn.NdArray(5).shape == (5,)
    assert nn.NdArray([2, 2]).shape == (2, 2)
    assert nn.NdArray().shape == ()
    assert len(nn.NdArray((7, 2))) == 7
    assert "NdArray((2, 3, 4))" in repr(a)


def test_data_is_a_writable_reference():
    rs = np.random.RandomState(0)
    a = nn.NdArray((2, 3, 4))
    values = rs.randn(*a.shape)
    a.data = values.astype(np.float32)
    np.testing.assert_allclose(a.data, values.astype(np.float32))
    assert a.data.dtype == np.float32
    # tutorial: slicing assignment through the reference modifies the array
    a.data[0, :, ::2] = 0
    expected = values.astype(np.float32).copy()
    expected[0, :, ::2] = 0
    np.testing.assert_array_equal(a.data, expected)
    # the same numpy object is handed out while nothing else writes the array
    ref = a.data
    assert ref is a.data
    ref[1, 0, 0] = 42.0
    assert a.data[1, 0, 0] == 42.0
    # a function reading the array afterwards sees writes through an old reference
    ref[1, 0, 1] = -3.0
    out = F.identity(a)
    assert out.data[1, 0, 0] == 42.0 and out.data[1, 0, 1] == -3.0


def test_data_setter_scalar_fills():
    a = nn.NdArray((2, 3))
    a.data = 1.5
    np.testing.assert_array_equal(a.data, np.full((2, 3), 1.5, np.float32))
    a.data = 0
    assert a.zeroing  # NNabla turns a zero scalar into zero()
    np.testing.assert_array_equal(a.data, np.zeros((2, 3), np.float32))
    a.data = np.float32(2.0)
    np.testing.assert_array_equal(a.data, np.full((2, 3), 2.0, np.float32))


def test_data_setter_broadcasts_and_rejects_bad_shape():
    a = nn.NdArray((2, 3))
    a.data = np.arange(3)
    np.testing.assert_array_equal(a.data, np.tile(np.arange(3, dtype=np.float32), (2, 1)))
    with pytest.raises(ValueError):
        a.data = np.zeros((4, 5))
    np.testing.assert_array_equal(a.data[0], np.arange(3))


def test_fill_and_zero_are_lazy():
    a = nn.NdArray((3, 4))
    a.fill(7)
    # nothing is allocated until the values are requested (NNabla's lazy fill)
    assert a._head is None
    assert a.modification_count == 1
    assert not a.zeroing
    np.testing.assert_array_equal(a.data, np.full((3, 4), 7, np.float32))
    a.zero()
    assert a._head is None
    assert a.zeroing
    assert a.modification_count == 1
    # a read-only view keeps the zeroing state, a writable one ends it
    np.testing.assert_array_equal(a.get_data("r"), np.zeros((3, 4)))
    assert a.zeroing
    a.data[0, 0] = 1
    assert not a.zeroing


def test_fresh_array_flags():
    a = nn.NdArray((2,))
    assert not a.zeroing
    assert a.modification_count == 0
    assert not a.clear_called


def test_modification_count_and_clear():
    a = nn.NdArray((2, 2))
    assert a.modification_count == 0
    a.data[...] = 1  # a writable access counts as a modification
    assert a.modification_count == 1
    a.get_data("r")  # read only: not a modification
    assert a.modification_count == 1
    a.get_data("rw")
    assert a.modification_count == 2
    F.add_scalar(a, 1, outputs=[a])  # a function writing the array
    assert a.modification_count > 2
    a.clear()
    assert a.clear_called
    assert a.modification_count == 0
    # reading a cleared array does not raise
    assert a.data.shape == (2, 2)
    assert not a.clear_called
    a.fill(3)
    assert a.modification_count == 1


def test_get_data_modes_and_dtype():
    a = nn.NdArray.from_numpy_array(np.arange(6, dtype=np.float32).reshape(2, 3))
    r = a.get_data("r")
    np.testing.assert_array_equal(r, np.arange(6).reshape(2, 3))
    w = a.get_data("w")
    w[...] = 5
    np.testing.assert_array_equal(a.data, np.full((2, 3), 5))
    rw = a.get_data("rw")
    rw[0, 0] = -1
    assert a.data[0, 0] == -1
    as_int = a.get_data("r", dtype=np.int32)
    assert as_int.dtype == np.int32
    with pytest.raises(ValueError, match="mode"):
        a.get_data("x")


def test_cast_changes_dtype_in_place():
    a = nn.NdArray.from_numpy_array(np.array([[1.7, -2.2], [3.9, 0.0]], np.float32))
    ref = a.cast(np.int32)
    assert a.dtype == np.int32
    assert ref.dtype == np.int32
    np.testing.assert_array_equal(ref, np.array([[1, -2], [3, 0]]))
    ref[0, 0] = 9  # cast returns a writable reference
    assert a.data[0, 0] == 9
    back = a.cast(np.float32)
    assert a.dtype == np.float32 and back.dtype == np.float32
    np.testing.assert_array_equal(back, np.array([[9, -2], [3, 0]], np.float32))
    # casting a pending fill keeps it lazy
    b = nn.NdArray((2,))
    b.fill(2)
    np.testing.assert_array_equal(b.cast(np.float16), np.array([2, 2], np.float16))
    assert b.dtype == np.float16


def test_from_numpy_array_copies_and_keeps_dtype():
    src = np.arange(6).reshape(2, 3)
    a = nn.NdArray.from_numpy_array(src)
    assert a.shape == (2, 3)
    assert a.dtype == src.dtype
    src[0, 0] = 100
    assert a.data[0, 0] == 0  # a copy
    b = nn.NdArray.from_numpy_array(np.ones((2, 3, 4)))
    np.testing.assert_array_equal(b.data, np.ones((2, 3, 4)))


def test_copy_from():
    a = nn.NdArray.from_numpy_array(np.arange(4, dtype=np.float32))
    b = nn.NdArray((4,))
    b.copy_from(a)
    np.testing.assert_array_equal(b.data, np.arange(4))
    a.data[0] = 10  # later writes to the source do not leak
    assert b.data[0] == 0
    # from a device result: the destination takes the source's dtype (as NNabla)
    c = nn.NdArray((4,), dtype=np.int64)
    assert c.copy_from(a + 1) is c
    assert c.dtype == np.float32
    np.testing.assert_array_equal(c.data, np.array([11, 2, 3, 4]))
    # int64 values beyond float32/int32 survive (converted on the host)
    big = nn.NdArray.from_numpy_array(np.array([2 ** 40 + 1, -3, 0, 7], dtype=np.int64))
    c.copy_from(big, use_current_context=False)
    assert c.dtype == np.int64 and c.data[0] == 2 ** 40 + 1
    # from a pending fill
    d = nn.NdArray((4,))
    d.fill(3)
    b.copy_from(d)
    np.testing.assert_array_equal(b.data, np.full(4, 3))
    with pytest.raises(ValueError):
        b.copy_from(nn.NdArray((5,)))
    with pytest.raises(TypeError):
        b.copy_from(np.zeros(4))


# ---------------------------------------------------------------- imperative arithmetic
def test_binary_operators_run_at_once():
    rs = np.random.RandomState(1)
    xa = rs.rand(2, 3).astype(np.float32) + 0.5
    ya = rs.rand(2, 3).astype(np.float32) + 0.5
    x = nn.NdArray.from_numpy_array(xa)
    y = nn.NdArray.from_numpy_array(ya)
    cases = [
        (lambda: x + y, xa + ya), (lambda: x - y, xa - ya), (lambda: x * y, xa * ya),
        (lambda: x / y, xa / ya), (lambda: x ** y, xa ** ya),
        (lambda: x + 2, xa + 2), (lambda: 2 + x, 2 + xa), (lambda: x - 2, xa - 2),
        (lambda: 2 - x, 2 - xa), (lambda: x * 3, xa * 3), (lambda: 3 * x, 3 * xa),
        (lambda: x / 4, xa / 4), (lambda: 4 / x, 4 / xa), (lambda: x ** 2, xa ** 2),
        (lambda: 2 ** x, 2 ** xa), (lambda: -x, -xa), (lambda: +x, xa),
        (lambda: abs(x - 1), np.abs(xa - 1)),
    ]
    for make, expected in cases:
        before = executions()
        out = make()
        assert isinstance(out, nn.NdArray)
        if out is not x:
            assert executions() > before  # computed when called, not when read
        np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-6)


def test_inplace_operators_modify_the_same_object():
    base = np.arange(4, dtype=np.float32).reshape(2, 2) + 1
    x = nn.NdArray.from_numpy_array(base)
    alias = x
    two = nn.NdArray.from_numpy_array(np.full((2, 2), 2, np.float32))

    def check(expected):
        assert x is alias
        np.testing.assert_allclose(x.data, expected, rtol=1e-5)

    before = executions()
    x += 1
    assert executions() > before  # ran at once
    check(base + 1)
    x -= 0.5
    check(base + 0.5)
    x *= 3
    check((base + 0.5) * 3)
    x /= 2
    check((base + 0.5) * 1.5)
    x **= 2
    check(((base + 0.5) * 1.5) ** 2)
    x += two
    check(((base + 0.5) * 1.5) ** 2 + 2)
    x -= two
    check(((base + 0.5) * 1.5) ** 2)


def test_tutorial_imperative_mode():
    # "Imperative Mode" of the Python API tutorial
    xi = nn.NdArray.from_numpy_array(np.arange(4).reshape(2, 2))
    yi = F.relu(xi - 1)
    assert isinstance(yi, nn.NdArray)
    np.testing.assert_array_equal(xi.data, [[0, 1], [2, 3]])
    np.testing.assert_array_equal(yi.data, [[0, 0], [1, 2]])
    assert yi.dtype == np.float32  # NNabla functions compute in float
    xi.copy_from(xi + 1)
    assert np.all(xi.data == (np.arange(4).reshape(2, 2) + 1))
    xi += 1
    assert np.all(xi.data == (np.arange(4).reshape(2, 2) + 2))


def test_imperative_function_on_float_ndarrays():
    rs = np.random.RandomState(2)
    a = rs.randn(3, 4).astype(np.float32)
    x = nn.NdArray.from_numpy_array(a)
    before = executions()
    y = F.tanh(x)
    s = F.sum(x, axis=1)
    assert executions() >= before + 2
    assert isinstance(y, nn.NdArray) and isinstance(s, nn.NdArray)
    np.testing.assert_allclose(y.data, np.tanh(a), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s.data, a.sum(1), rtol=1e-5, atol=1e-5)
    # outputs= writes into given arrays
    out = nn.NdArray((3, 4))
    r = F.sigmoid(x, outputs=[out])
    assert r is out
    np.testing.assert_allclose(out.data, 1 / (1 + np.exp(-a)), rtol=1e-5)


def test_comparison_operators():
    x = nn.NdArray.from_numpy_array(np.array([1, 2, 3], np.float32))
    np.testing.assert_array_equal((x > 2).data, [0, 0, 1])
    np.testing.assert_array_equal((x <= 2).data, [1, 1, 0])


def test_numpy_interop():
    x = nn.NdArray.from_numpy_array(np.array([1.0, 2.0], np.float32))
    np.testing.assert_array_equal(np.asarray(x), [1.0, 2.0])
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    assert x == x and hash(x) == hash(x)
    assert x != nn.NdArray.from_numpy_array(np.array([1.0, 2.0], np.float32))
