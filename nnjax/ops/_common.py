"""Helpers shared by the function modules."""
import math

import numpy as np

from .._apply import apply_function, round_to_storage  # noqa: F401  (re-exported)
from .._registry import lowering  # noqa: F401  (re-exported for the op modules)


def call(type_name, inputs, args, outputs=None):
    return apply_function(type_name, list(inputs), args, outputs=outputs)


def norm_axis(axis, ndim, fname="function", arg="axis"):
    """A non-negative axis, or ValueError naming the function."""
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{fname}: {arg} must be an int, got {type(axis).__name__}")
    if not -ndim <= axis < max(ndim, 1):
        raise ValueError(f"{fname}: {arg}={axis} is out of range for an input of rank {ndim}")
    return int(axis) % max(ndim, 1)


def as_list(v, n, name, fname):
    """Expand an int or sequence to a list of ``n`` ints."""
    if v is None:
        return None
    if isinstance(v, (int, np.integer)):
        return [int(v)] * n
    v = [int(i) for i in v]
    if len(v) != n:
        raise ValueError(f"{fname}: {name} must have {n} elements, got {v}")
    return v


def int_list(fname, name, values):
    """A list of Python ints, or TypeError naming the function and the argument."""
    if isinstance(values, (int, np.integer)) and not isinstance(values, bool):
        return [int(values)]
    try:
        values = list(values)
    except TypeError:
        raise TypeError(f"{fname}: {name} must be a sequence of ints, got "
                        f"{type(values).__name__}") from None
    out = []
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{fname}: {name} must hold ints, got {v!r}")
        out.append(int(v))
    return out


def int_shape(v):
    """The shape of an array input as a tuple of Python ints."""
    return tuple(int(s) for s in v.shape)


def prod(shape):
    """The number of elements of ``shape`` (a Python int; a symbolic size when
    ``shape`` holds ``jax.export`` symbolic dimensions)."""
    size = math.prod(shape)
    return int(size) if isinstance(size, (int, np.integer)) else size


def check_base_axis(fname, x, base_axis, spare=0):
    """base_axis as a non-negative int that leaves ``spare`` axes after it."""
    ndim = len(x.shape)
    if isinstance(base_axis, bool) or not isinstance(base_axis, (int, np.integer)):
        raise TypeError(f"{fname}: base_axis must be an int, got {type(base_axis).__name__}")
    b = int(base_axis) + ndim if base_axis < 0 else int(base_axis)
    if not 0 <= b <= ndim - spare:
        raise ValueError(f"{fname}: base_axis={base_axis} is out of range for an input of "
                         f"shape {int_shape(x)}")
    return b


def as_axes(fname, axes, ndim, arg="axes"):
    """A list of distinct non-negative axes (an int is one axis), or an error naming the
    function."""
    if isinstance(axes, (int, np.integer)):
        axes = [axes]
    out = []
    for a in axes:
        a = norm_axis(a, ndim, fname, arg)
        if a in out:
            raise ValueError(f"{fname}: {arg} {list(axes)} repeats axis {a}")
        out.append(a)
    return out


def as_shape(shape, fname):
    """A shape argument (None, an int or a sequence) as a list of non-negative ints."""
    if shape is None:
        return []
    if isinstance(shape, (int, np.integer)):
        shape = [shape]
    shape = [int(s) for s in shape]
    if any(s < 0 for s in shape):
        raise ValueError(f"{fname}: shape must not have negative dimensions, got {shape}")
    return shape


def check_seed(seed, fname):
    """The ``seed`` of a random function as an int (-1 or non-negative)."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"{fname}: seed must be an int, got {type(seed).__name__}")
    if seed < -1:
        raise ValueError(f"{fname}: seed must be -1 or non-negative, got {seed}")
    return int(seed)


def batch_size(shape, base_axis):
    """The number of samples: the product of ``shape[:base_axis]``."""
    return int(np.prod(shape[:base_axis], dtype=np.int64))


def check_base_axis_index(base_axis, ndim, fname):
    """base_axis as an int in [0, ndim) (a negative one counts from the end), or an
    error naming the function."""
    if not isinstance(base_axis, (int, np.integer)):
        raise TypeError(f"{fname}: base_axis must be an int, got {type(base_axis).__name__}")
    if not -max(ndim, 1) <= base_axis < max(ndim, 1):
        raise ValueError(f"{fname}: base_axis={base_axis} is out of range for an input of rank "
                         f"{ndim}")
    return int(base_axis) % max(ndim, 1)
