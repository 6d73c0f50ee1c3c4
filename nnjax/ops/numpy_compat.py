"""numpy-compatible helpers: ``dot`` (NNabla's ``numpy_compat_functions.dot``) and
``matmul`` (numpy's matmul rules; the ``@`` operator of Variable and NdArray).

Both compose registered functions (Affine, BatchMatmul, Sum, Mul2, Reshape,
Transpose, MulScalar); they record no node of their own.
"""
import numpy as np

from .._ndarray import NdArray
from .._variable import Variable
from . import array, layers, reduction
from .arithmetic import _shape, mul_scalar
from .math import batch_matmul


def _is_array(x):
    return isinstance(x, (Variable, NdArray))


def _values(x):
    if isinstance(x, Variable):
        if x.parent is not None:
            x.forward()
        return np.asarray(x.d)
    return np.asarray(x.data)


def dot(a, b, out=None):
    """numpy.dot for Variables/NdArrays.

    Both 1-D: inner product (0-d). Both 2-D: matrix product. One 0-d: product with
    that scalar (its current value is read, as NNabla does). ``b`` 1-D: sum product
    over the last axis of ``a`` and ``b``. ``b`` N-D (N >= 2): sum product over the
    last axis of ``a`` and the second-to-last axis of ``b``. Other operands are
    handed to ``numpy.dot``. ``out``: a Variable (rewired onto the result) or NdArray
    (overwritten) of the result's shape.
    """
    if _is_array(a) != _is_array(b) and np.ndim(b if _is_array(a) else a) == 0:
        # an array times a Python/numpy scalar (numpy.dot's 0-d rule)
        arr, scalar = (a, b) if _is_array(a) else (b, a)
        result = mul_scalar(arr, float(np.asarray(scalar)))
    elif _is_array(a) and _is_array(b):
        if isinstance(a, NdArray) != isinstance(b, NdArray):
            # NdArray with Variable: computed at once from the Variable's values
            a, b = (x.data if isinstance(x, Variable) else x for x in (a, b))
        sa, sb = _shape(a), _shape(b)
        if len(sa) == 0 or len(sb) == 0:
            if len(sa) == 0:
                result = mul_scalar(b, float(_values(a)))
            else:
                result = mul_scalar(a, float(_values(b)))
        elif len(sa) == 1 and len(sb) == 1:
            if sa != sb:
                raise ValueError(f"dot: shapes {sa} and {sb} are not aligned")
            result = reduction.sum(a * b)
        elif sa[-1] != (sb[-1] if len(sb) == 1 else sb[-2]):
            raise ValueError(f"dot: shapes {sa} and {sb} are not aligned")
        elif len(sa) == 2 and len(sb) == 2:
            result = layers.affine(a, b)
        elif len(sb) == 1:
            h = layers.affine(a, array.reshape(b, (-1, 1)), base_axis=len(sa) - 1)
            result = array.reshape(h, h.shape[:-1])
        else:
            order = list(range(len(sb)))
            order.insert(0, order.pop(len(sb) - 2))
            result = layers.affine(a, array.transpose(b, order), base_axis=len(sa) - 1)
    else:
        result = np.dot(a, b)
    if out is None:
        return result
    out_dtype, result_dtype = _dtype(out), _dtype(result)
    if type(out) is not type(result) or _shape(out) != _shape(result) \
            or out_dtype != result_dtype:
        raise ValueError("dot: out must have the same shape, type and dtype as the result "
                         f"({type(result).__name__} of shape {_shape(result)}, dtype "
                         f"{result_dtype}); got {type(out).__name__} of shape {_shape(out)}, "
                         f"dtype {out_dtype}")
    if isinstance(out, NdArray):
        out.copy_from(result)
    elif isinstance(out, Variable):
        out.rewire_on(result)
    elif isinstance(out, np.ndarray):
        out[...] = result
    # a numpy scalar cannot be written in place (NNabla leaves it as it is)
    return None


def _dtype(x):
    if isinstance(x, Variable):
        return x.data.dtype
    return np.asarray(x).dtype if not isinstance(x, NdArray) else x._dtype


def matmul(a, b):
    """numpy.matmul (the ``@`` operator): matrix products over the last two axes with
    broadcast batch axes; a 1-D operand is a vector (its axis is removed from the
    result). Recorded as BatchMatmul (with Reshape for 1-D operands)."""
    sa, sb = _shape(a), _shape(b)
    if len(sa) == 0 or len(sb) == 0:
        raise ValueError(f"matmul: 0-d operands are not allowed, got shapes {sa} and {sb}")
    if len(sa) == 1:
        a = array.reshape(a, (1,) + sa)
    if len(sb) == 1:
        b = array.reshape(b, sb + (1,))
    if _shape(a)[-1] != _shape(b)[-2]:
        raise ValueError(f"matmul: shapes {sa} and {sb} are not aligned")
    y = batch_matmul(a, b)
    if len(sa) == 1 or len(sb) == 1:
        ys = _shape(y)
        if len(sb) == 1:
            ys = ys[:-1]
        if len(sa) == 1:
            ys = ys[:-2] + ys[-1:] if len(sb) > 1 else ys[:-1]
        y = array.reshape(y, ys)
    return y
