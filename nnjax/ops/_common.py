"""Helpers shared by the function modules."""
import numpy as np

from .._apply import apply_function
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


def norm_axes(axes, ndim, fname="function"):
    if axes is None:
        return list(range(ndim))
    if isinstance(axes, (int, np.integer)):
        axes = [axes]
    return [norm_axis(a, ndim, fname, "axes") for a in axes]


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


def shape_of(x):
    return tuple(x.shape)
