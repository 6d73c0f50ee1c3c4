"""Reductions: sum, mean, max, min (with argmax/argmin), p-norm, product over axes;
cumulative sum and product; total sum and mean."""
import builtins
import warnings

import jax.numpy as jnp
import numpy as np

from ._common import call, int_list, lowering
from .arithmetic import _check_scalar, _shape



def _axes_arg(fname, axis, ndim, name="axis"):
    """NNabla's axes argument (a list of ints) from None, an int or an iterable."""
    if axis is None:
        return list(range(ndim))
    if isinstance(axis, (bool, np.bool_)):
        raise TypeError(f"{fname}: {name} must be an int or a sequence of ints, got bool")
    out = int_list(fname, name, axis)
    for a in out:
        if not -ndim <= a < builtins.max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise ValueError(f"{fname}: {name}={a} is out of range for an input of rank "
                             f"{ndim}")
    normalized = [a % ndim for a in out] if ndim else []
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"{fname}: {name} {out} has repeated axes")
    return out


def _norm(axes, ndim):
    """Sorted non-negative axes; an empty list means all axes (NNabla's rule)."""
    if ndim == 0:
        return ()
    if not axes:
        return tuple(range(ndim))
    return tuple(sorted({a % ndim for a in axes}))


def _keep(y, axes, keep_dims):
    if keep_dims:
        for a in axes:
            y = jnp.expand_dims(y, a)
    return y


@lowering("Sum")
def _sum(x, axes=(), keep_dims=False):
    return jnp.sum(x, axis=_norm(axes, x.ndim), keepdims=keep_dims)


@lowering("Mean")
def _mean(x, axes=(), keep_dims=False):
    return jnp.mean(x, axis=_norm(axes, x.ndim), keepdims=keep_dims)


@lowering("Prod")
def _prod(x, axes=(), keep_dims=False):
    return jnp.prod(x, axis=_norm(axes, x.ndim), keepdims=keep_dims)


@lowering("Norm")
def _norm_lower(x, p=2.0, axes=(), keep_dims=False):
    s = jnp.sum(jnp.abs(x) ** p, axis=_norm(axes, x.ndim), keepdims=keep_dims)
    return s ** (1.0 / p)


def _extreme(x, axes, keep_dims, with_index, only_index, arg_fn):
    """Max/min as NNabla computes them: the first extreme element of the flattened
    reduced axes is selected, it alone receives the gradient."""
    axes = _norm(axes, x.ndim)
    rest = [a for a in range(x.ndim) if a not in axes]
    moved = jnp.transpose(x, rest + list(axes))
    flat = moved.reshape(tuple(x.shape[a] for a in rest) + (-1,))
    index = arg_fn(flat, axis=-1)
    value = jnp.take_along_axis(flat, index[..., None], axis=-1)[..., 0]
    value = _keep(value, axes, keep_dims)
    index = _keep(index.astype(jnp.int32), axes, keep_dims)
    if only_index:
        return index
    if with_index:
        return value, index
    return value


@lowering("Max")
def _max(x, axes=(), keep_dims=False, with_index=False, only_index=False):
    return _extreme(x, axes, keep_dims, with_index, only_index, jnp.argmax)


@lowering("Min")
def _min(x, axes=(), keep_dims=False, with_index=False, only_index=False):
    return _extreme(x, axes, keep_dims, with_index, only_index, jnp.argmin)


def _shift_in(y, axis, fill):
    """Shift ``y`` by one along ``axis`` (towards higher indices), filling with ``fill``."""
    n = y.shape[axis]
    if n == 0:
        return y
    head = jnp.full_like(jnp.take(y, jnp.arange(1), axis=axis), fill)
    body = jnp.take(y, jnp.arange(n - 1), axis=axis)
    return jnp.concatenate([head, body], axis=axis)


def _cumulative(x, axis, exclusive, reverse, op, fill):
    axis = axis % x.ndim
    if reverse:
        x = jnp.flip(x, axis)
    if exclusive:
        x = _shift_in(x, axis, fill)
    y = op(x, axis=axis)
    if reverse:
        y = jnp.flip(y, axis)
    return y


@lowering("CumSum")
def _cumsum(x, axis=0, exclusive=False, reverse=False):
    return _cumulative(x, axis, exclusive, reverse, jnp.cumsum, 0)


@lowering("CumProd")
def _cumprod(x, axis=0, exclusive=False, reverse=False):
    return _cumulative(x, axis, exclusive, reverse, jnp.cumprod, 1)


@lowering("ReduceSum")
def _reduce_sum(x):
    return jnp.sum(x)


@lowering("ReduceMean")
def _reduce_mean(x):
    return jnp.mean(x)


# ---------------------------------------------------------------- wrappers
def _reduce(type_name, fname, x, axis, keepdims, extra=None, outputs=None):
    shape = _shape(x)
    axes = _axes_arg(fname, axis, len(shape))
    for a in _norm(axes, len(shape)):
        if shape[a] == 0 and type_name in ("Max", "Min"):
            raise ValueError(f"{fname}: cannot reduce the empty axis {a} of shape {shape}")
    args = dict(axes=axes, keep_dims=bool(keepdims))
    if extra:
        args.update(extra)
    return call(type_name, [x], args, outputs)


def sum(x, axis=None, keepdims=False):
    """Sum over ``axis`` (an int, a sequence of ints, or None for all axes).

    Type ``Sum`` with args ``axes`` and ``keep_dims``.
    """
    return _reduce("Sum", "sum", x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    """Mean over ``axis`` (an int, a sequence of ints, or None for all axes)."""
    return _reduce("Mean", "mean", x, axis, keepdims)


def max(x, axis=None, keepdims=False, with_index=False, only_index=False):
    """Maximum over ``axis``.

    ``with_index`` returns ``(values, indices)``, ``only_index`` the indices alone
    (int32): the position of the first maximum within the reduced axes, flattened
    in axis order. The gradient goes to that first maximum only.
    """
    return _reduce("Max", "max", x, axis, keepdims,
                   dict(with_index=bool(with_index), only_index=bool(only_index)))


def min(x, axis=None, keepdims=False, with_index=False, only_index=False):
    """Minimum over ``axis``; ``with_index``/``only_index`` as in :func:`max`."""
    return _reduce("Min", "min", x, axis, keepdims,
                   dict(with_index=bool(with_index), only_index=bool(only_index)))


def prod(x, axis=None, keepdims=False):
    """Product over ``axis`` (an int, a sequence of ints, or None for all axes)."""
    return _reduce("Prod", "prod", x, axis, keepdims)


def norm(x, p=None, axis=None, keepdims=False):
    """``(sum |x|^p) ** (1/p)`` over ``axis``; ``p`` defaults to 2 and must be >= 1."""
    p = 2.0 if p is None else _check_scalar("norm", p, "p")
    if not p >= 1:
        raise ValueError(f"norm: p must be greater than or equal to 1, got {p}")
    shape = _shape(x)
    axes = _axes_arg("norm", axis, len(shape))
    return call("Norm", [x], dict(p=p, axes=axes, keep_dims=bool(keepdims)))


def _cum(type_name, fname, x, axis, exclusive, reverse, outputs):
    shape = _shape(x)
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{fname}: axis must be an int, got {type(axis).__name__}")
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"{fname}: axis={axis} is out of range for an input of shape "
                         f"{shape}")
    return call(type_name, [x], dict(axis=int(axis), exclusive=bool(exclusive),
                                     reverse=bool(reverse)), outputs)


def cumsum(x, axis=0, exclusive=False, reverse=False, n_outputs=-1, outputs=None):
    """Cumulative sum along ``axis``; ``exclusive`` leaves out the current element,
    ``reverse`` accumulates from the end."""
    return _cum("CumSum", "cumsum", x, axis, exclusive, reverse, outputs)


def cumprod(x, axis=0, exclusive=False, reverse=False, n_outputs=-1, outputs=None):
    """Cumulative product along ``axis``; ``exclusive`` and ``reverse`` as in cumsum."""
    return _cum("CumProd", "cumprod", x, axis, exclusive, reverse, outputs)


def reduce_sum(x, n_outputs=-1, outputs=None):
    """Sum of all elements (0-d output). Deprecated in NNabla: use :func:`sum`."""
    return call("ReduceSum", [x], {}, outputs)


def reduce_mean(x, n_outputs=-1, outputs=None):
    """Mean of all elements (0-d output). Deprecated in NNabla: use :func:`mean`."""
    return call("ReduceMean", [x], {}, outputs)


def reduce(x, op="sum"):
    """Deprecated NNabla helper: ``reduce_sum`` (op='sum') or ``reduce_mean`` ('mean')."""
    warnings.warn("Deprecated API. Use ``sum`` or ``mean`` instead.", DeprecationWarning,
                  stacklevel=2)
    if op == "sum":
        return reduce_sum(x)
    if op == "mean":
        return reduce_mean(x)
    raise ValueError(f"reduce: op must be 'sum' or 'mean', got {op!r}")
