"""Reductions: sum, mean, max, min over axes; total sum and mean."""
import jax.numpy as jnp

from ._common import call, lowering, norm_axes

_CAT = "Reduction"


@lowering("Sum", category=_CAT)
def _sum(x, axes, keep_dims=False):
    return jnp.sum(x, axis=tuple(axes), keepdims=keep_dims)


@lowering("Mean", category=_CAT)
def _mean(x, axes, keep_dims=False):
    return jnp.mean(x, axis=tuple(axes), keepdims=keep_dims)


def _extreme(x, axes, keep_dims, with_index, only_index, reduce_fn, arg_fn):
    axes = tuple(axes)
    value = reduce_fn(x, axis=axes, keepdims=keep_dims)
    if not (with_index or only_index):
        return value
    # index into the flattened reduced axes, as NNabla reports it
    rest = [a for a in range(x.ndim) if a not in axes]
    moved = jnp.transpose(x, rest + list(axes))
    flat = moved.reshape(tuple(x.shape[a] for a in rest) + (-1,))
    index = arg_fn(flat, axis=-1)
    if keep_dims:
        for a in sorted(axes):
            index = jnp.expand_dims(index, a)
    index = index.astype(jnp.int32)
    if only_index:
        return index
    return value, index


@lowering("Max", category=_CAT)
def _max(x, axes, keep_dims=False, with_index=False, only_index=False):
    return _extreme(x, axes, keep_dims, with_index, only_index, jnp.max, jnp.argmax)


@lowering("Min", category=_CAT)
def _min(x, axes, keep_dims=False, with_index=False, only_index=False):
    return _extreme(x, axes, keep_dims, with_index, only_index, jnp.min, jnp.argmin)


@lowering("ReduceSum", category=_CAT)
def _reduce_sum(x):
    return jnp.sum(x)


@lowering("ReduceMean", category=_CAT)
def _reduce_mean(x):
    return jnp.mean(x)


def sum(x, axis=None, keepdims=False):
    """Sum over ``axis`` (int, list, or None for all axes)."""
    axes = norm_axes(axis, len(x.shape), "sum")
    return call("Sum", [x], dict(axes=axes, keep_dims=bool(keepdims)))


def mean(x, axis=None, keepdims=False):
    """Mean over ``axis`` (int, list, or None for all axes)."""
    axes = norm_axes(axis, len(x.shape), "mean")
    return call("Mean", [x], dict(axes=axes, keep_dims=bool(keepdims)))


def max(x, axis=None, keepdims=False, with_index=False, only_index=False):
    """Maximum over ``axis``; with_index adds, only_index returns, the argmax."""
    axes = norm_axes(axis, len(x.shape), "max")
    return call("Max", [x], dict(axes=axes, keep_dims=bool(keepdims),
                                 with_index=bool(with_index), only_index=bool(only_index)))


def min(x, axis=None, keepdims=False, with_index=False, only_index=False):
    """Minimum over ``axis``; with_index adds, only_index returns, the argmin."""
    axes = norm_axes(axis, len(x.shape), "min")
    return call("Min", [x], dict(axes=axes, keep_dims=bool(keepdims),
                                 with_index=bool(with_index), only_index=bool(only_index)))


def reduce_sum(x, outputs=None):
    """Sum of all elements (0-d output)."""
    return call("ReduceSum", [x], {}, outputs)


def reduce_mean(x, outputs=None):
    """Mean of all elements (0-d output)."""
    return call("ReduceMean", [x], {}, outputs)
