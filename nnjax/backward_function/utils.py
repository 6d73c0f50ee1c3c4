"""Helpers NNabla's backward functions share (``nnabla.backward_function.utils``)."""
import nnabla.functions as F


def no_grad(x):
    """``x`` with ``need_grad=False`` (a view that stops gradients)."""
    return x.apply(need_grad=False)


def positive_axis(axis, D):
    """``axis`` counted from the front of a ``D``-dimensional shape."""
    return axis if axis >= 0 else D + axis


def create_slice(shape, axis, front=True):
    """(start, stop, step) of the front (or back) half of ``shape`` along ``axis``;
    the front half has ``shape[axis] // 2`` elements."""
    axis = positive_axis(axis, len(shape))
    start, stop = [0] * len(shape), list(shape)
    half = shape[axis] // 2
    if front:
        stop[axis] = half
    else:
        start[axis] = half
    return start, stop, [1] * len(shape)


def force_list(x):
    """``x`` as a list (a tuple converted, anything else wrapped)."""
    if isinstance(x, list):
        return x
    return list(x) if isinstance(x, tuple) else [x]


def force_tuple(x):
    """``x`` as a tuple (a list converted, anything else wrapped)."""
    if isinstance(x, tuple):
        return x
    return tuple(x) if isinstance(x, list) else (x,)


def sum_for_arithmetics_with_shape(dx, x_shape):
    """Sum ``dx`` over the axes where ``x_shape`` is 1 (undo a broadcast), keeping dims."""
    axes = [a for a, s in enumerate(x_shape) if s == 1]
    return F.sum(dx, axes, keepdims=True)


def sum_for_arithmetics(dx, x):
    """``sum_for_arithmetics_with_shape`` with the shape of ``x``."""
    return sum_for_arithmetics_with_shape(dx, x.shape)
