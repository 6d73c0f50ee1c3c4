"""NdArray.narrow views, copy_from/get_data/cast semantics, NdArray indexing and
matmul/dot with mixed operands, checked against numpy views and formulas."""
import weakref

import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F


def test_narrow_writes_are_shared_like_numpy_views():
    rs = np.random.RandomState(0)
    ref = rs.randn(10, 3).astype(np.float32)
    a = nn.NdArray.from_numpy_array(ref)
    ref = ref.copy()
    b = a.narrow(0, 2, 5)          # rows 2..6
    c = b.narrow(0, 1, 2)          # rows 3..4 of a
    d = a.narrow(0, 8, 2)
    ref_b, ref_c, ref_d = ref[2:7], ref[2:7][1:3], ref[8:10]
    c.fill(4.0)
    ref_c[...] = 4.0
    b.data[0, 1] = -2.0            # through the numpy reference of the view
    ref_b[0, 1] = -2.0
    d.data = np.arange(6, dtype=np.float32).reshape(2, 3)
    ref_d[...] = np.arange(6).reshape(2, 3)
    b += 1                          # a program result written into the view
    ref_b += 1
    np.testing.assert_array_equal(a.data, ref)
    np.testing.assert_array_equal(c.data, ref_c)
    assert b.shape == (5, 3) and c.shape == (2, 3) and b.dtype == np.float32
    # a write to the root is seen by the views
    a.fill(2.0)
    np.testing.assert_array_equal(c.get_data("r"), np.full((2, 3), 2.0))


def test_narrow_as_function_output_and_copy_target():
    src = nn.NdArray.from_numpy_array(np.array([1.0, 2.0], np.float32))
    base = nn.NdArray((5,))
    base.fill(9)
    view = base.narrow(0, 1, 2)
    F.identity(src, outputs=[view])
    np.testing.assert_array_equal(base.data, [9, 1, 2, 9, 9])
    other = base.narrow(0, 3, 2)
    assert other.copy_from(src) is other
    np.testing.assert_array_equal(base.data, [9, 1, 2, 1, 2])


def test_narrow_dtype_follows_root_and_errors():
    a = nn.NdArray.from_numpy_array(np.arange(8, dtype=np.float32).reshape(4, 2))
    b = a.narrow(0, 0, 2)
    b.cast(np.float32)                       # same dtype: allowed
    with pytest.raises(RuntimeError, match="dtype"):
        b.cast(np.float16)
    with pytest.raises(RuntimeError, match="dtype"):
        b.get_data("rw", dtype=np.float16)
    half = b.get_data("r", dtype=np.float16)  # a converted copy: allowed
    assert half.dtype == np.float16 and b.dtype == np.float32
    a.cast(np.float16)
    assert b.dtype == np.float16
    np.testing.assert_array_equal(b.data, [[0, 1], [2, 3]])
    with pytest.raises(RuntimeError, match="cleared"):
        b.clear()
    with pytest.raises(RuntimeError, match="overlap"):
        a.narrow(0, 1, 2)
    with pytest.raises(RuntimeError, match="dim 0"):
        a.narrow(1, 0, 1)
    with pytest.raises(RuntimeError, match="start"):
        a.narrow(0, 3, 2)
    # a float64 root: writing a float32 result into its view is refused
    d = nn.NdArray.from_numpy_array(np.zeros(4))
    v = d.narrow(0, 0, 2)
    w = d.narrow(0, 2, 2)
    with pytest.raises(RuntimeError, match="dtype"):
        v += w


def test_copy_from_dtype_rules():
    src = nn.NdArray((3,))
    src.zero()
    src.cast(np.uint8)[...] = 7
    dst = nn.NdArray((3,))
    dst.copy_from(src, use_current_context=False)
    assert dst.dtype == np.uint8 and list(dst.data) == [7, 7, 7]
    src.zero()                              # no values: a float32 copy of the fill
    dst.copy_from(src)
    assert dst.dtype == np.float32 and list(dst.data) == [0, 0, 0]
    with pytest.raises(ValueError, match="no values"):
        dst.copy_from(nn.NdArray((3,)), use_current_context=False)


def test_ndarray_getitem_setitem_follow_numpy():
    rs = np.random.RandomState(1)
    ref = rs.rand(4, 5).astype(np.float32)
    x = nn.NdArray.from_numpy_array(ref)
    ref = ref.copy()
    np.testing.assert_allclose(x[1:3, ::2].data, ref[1:3, ::2])
    np.testing.assert_allclose(x[[0, 3]].data, ref[[0, 3]])
    mask = ref > 0.5
    x[mask] = -1
    ref[mask] = -1
    x[nn.NdArray.from_numpy_array(np.array([1, 2]))] = np.arange(5)
    ref[[1, 2]] = np.arange(5)
    np.testing.assert_array_equal(x.data, ref)
    with pytest.raises(ValueError, match=r"\(4, 5\)"):
        x[0] = np.zeros(3)


def test_matmul_and_dot_with_mixed_operands():
    rs = np.random.RandomState(2)
    a = rs.randn(3, 4).astype(np.float32)
    b = rs.randn(4).astype(np.float32)
    na, vb = nn.NdArray.from_numpy_array(a), nn.Variable.from_numpy_array(b)
    out = na @ vb                      # NdArray with Variable: computed at once
    assert isinstance(out, nn.NdArray)
    np.testing.assert_allclose(out.data, a @ b, rtol=1e-5)
    with pytest.raises(AssertionError):   # NNabla asserts on 0-d operands
        na @ nn.NdArray(())
    scaled = F.dot(2.5, na)
    assert isinstance(scaled, nn.NdArray)
    np.testing.assert_allclose(scaled.data, 2.5 * a)
    wrong = nn.NdArray((3,))
    wrong.cast(np.int64)
    with pytest.raises(ValueError, match="dtype"):
        F.dot(na, nn.NdArray.from_numpy_array(b), wrong)


def test_numpy_scalar_on_the_left_of_a_variable():
    v = nn.Variable.from_numpy_array(np.array([1.0, 2.0], np.float32))
    with nn.auto_forward():
        y = np.float64(3.0) ** v
    assert isinstance(y, nn.Variable)
    np.testing.assert_allclose(y.d, 3.0 ** np.array([1.0, 2.0]), rtol=1e-6)


def test_a_held_data_reference_sees_later_writes_as_in_nnabla():
    """NNabla writes results into an array's memory, so a numpy reference taken
    from ``.data`` earlier shows them: in-place operators, a forward writing a
    function's output, the ``.d`` setter and copy_from."""
    rs = np.random.RandomState(1)
    start = rs.randn(2, 3).astype(np.float32)
    a = nn.NdArray.from_numpy_array(start)
    held = a.data
    a += 1.5
    a *= 2.0
    np.testing.assert_array_equal(held, (start + np.float32(1.5)) * np.float32(2))

    x = nn.Variable.from_numpy_array(start)
    y = F.tanh(x * 3.0)
    y.forward()
    y_held = y.d
    x_held = x.d
    new_x = rs.randn(2, 3).astype(np.float32)
    x.d = new_x                                   # the setter writes into x's memory
    np.testing.assert_array_equal(x_held, new_x)
    x.d = new_x[0]                                # broadcast over the rows, in place too
    np.testing.assert_array_equal(x_held, np.broadcast_to(new_x[0], (2, 3)))
    x.d = new_x
    y.forward()
    np.testing.assert_allclose(y_held, np.tanh(new_x * 3), rtol=1e-6, atol=1e-6)
    assert y.d is y_held

    b = nn.NdArray.from_numpy_array(np.zeros((2, 3), np.float32))
    b_held = b.data
    b.copy_from(nn.NdArray.from_numpy_array(start))
    np.testing.assert_array_equal(b_held, start)


def test_a_result_replaces_a_head_nobody_holds():
    x = nn.Variable.from_numpy_array(np.ones((2, 3), np.float32))
    y = x * 2.0
    y.forward()
    first = weakref.ref(y.d)                      # read, then dropped (a weak reference holds nothing)
    x.d = np.full((2, 3), 4.0, np.float32)
    y.forward()
    # A new buffer, no copy into the old one. (Comparing id()s is not enough:
    # the freed head's address can come back for the new one.)
    assert first() is None and y.d is not None
    np.testing.assert_array_equal(y.d, np.full((2, 3), 8.0, np.float32))


def test_dlpack_memory_takes_results_both_ways():
    """``from_dlpack`` memory (numpy as the producer here) takes the NdArray's
    results; memory handed out by ``to_dlpack`` shows them to the consumer."""
    from nnabla.utils.dlpack import from_dlpack, to_dlpack

    producer = np.arange(12, dtype=np.float32).reshape(3, 4)
    expected = producer.copy()
    a = from_dlpack(producer)
    a += 1
    a.data = np.full((3, 4), 2.0, np.float32)
    a *= 3
    expected[...] = 6.0
    np.testing.assert_array_equal(producer, expected)
    producer[0, 0] = -1.0                        # the producer's writes are seen too
    assert a.data[0, 0] == -1.0

    class Capsule:                               # a bare capsule as a DLPack producer
        def __init__(self, capsule):
            self.capsule = capsule

        def __dlpack__(self, stream=None, **kwargs):
            return self.capsule

        def __dlpack_device__(self):
            return (1, 0)

    b = nn.NdArray.from_numpy_array(np.ones((2, 2), np.float32))
    consumer = np.from_dlpack(Capsule(to_dlpack(b)))
    b += 4
    np.testing.assert_array_equal(consumer, np.full((2, 2), 5.0, np.float32))
