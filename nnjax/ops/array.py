"""Array manipulation: reshape, transpose, concatenate, split, slice, stack, broadcast."""
import builtins

import jax.numpy as jnp
import numpy as np

from ._common import call, lowering, norm_axis

_CAT = "Array Manipulation"


@lowering("Reshape", category=_CAT)
def _reshape(x, shape, inplace=True):
    return jnp.reshape(x, tuple(shape))


def reshape(x, shape, inplace=True, outputs=None):
    """Same values in a new ``shape`` (one entry may be -1)."""
    shape = [int(s) for s in shape]
    size = int(np.prod(x.shape, dtype=np.int64))
    if shape.count(-1) > 1:
        raise ValueError(f"reshape: at most one -1 allowed in shape {shape}")
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
        if known == 0 or size % known:
            raise ValueError(f"reshape: cannot reshape {tuple(x.shape)} to {tuple(shape)}")
        shape[shape.index(-1)] = size // known
    if int(np.prod(shape, dtype=np.int64)) != size:
        raise ValueError(f"reshape: cannot reshape {tuple(x.shape)} (size {size}) to "
                         f"{tuple(shape)}")
    return call("Reshape", [x], dict(shape=shape, inplace=inplace), outputs)


@lowering("Transpose", category=_CAT)
def _transpose(x, axes):
    return jnp.transpose(x, axes)


def transpose(x, axes, outputs=None):
    """Permute axes."""
    axes = [norm_axis(a, len(x.shape), "transpose", "axes") for a in axes]
    if sorted(axes) != list(range(len(x.shape))):
        raise ValueError(f"transpose: axes {axes} is not a permutation for shape {tuple(x.shape)}")
    return call("Transpose", [x], dict(axes=axes), outputs)


@lowering("Concatenate", category=_CAT)
def _concatenate(*xs, axis):
    return jnp.concatenate(xs, axis=axis)


def concatenate(*x, **kw):
    """Join inputs along ``axis`` (default: the last axis)."""
    if len(x) == 1 and isinstance(x[0], (list, tuple)):
        x = tuple(x[0])
    if not x:
        raise ValueError("concatenate: at least one input is required")
    axis = kw.pop("axis", None)
    outputs = kw.pop("outputs", None)
    if kw:
        raise TypeError(f"concatenate: unexpected arguments {sorted(kw)}")
    ndim = len(x[0].shape)
    axis = ndim - 1 if axis is None else norm_axis(axis, ndim, "concatenate")
    for i, v in enumerate(x[1:], 1):
        s0, s1 = tuple(x[0].shape), tuple(v.shape)
        if len(s1) != ndim or s0[:axis] + s0[axis + 1:] != s1[:axis] + s1[axis + 1:]:
            raise ValueError(f"concatenate: input {i} shape {s1} does not match input 0 shape "
                             f"{s0} outside axis {axis}")
    return call("Concatenate", list(x), dict(axis=axis), outputs)


@lowering("Split", category=_CAT)
def _split(x, axis):
    return tuple(jnp.squeeze(p, axis) for p in jnp.split(x, x.shape[axis], axis=axis))


def split(x, axis=0):
    """Split along ``axis`` into ``x.shape[axis]`` outputs with that axis removed."""
    axis = norm_axis(axis, len(x.shape), "split")
    out = call("Split", [x], dict(axis=axis))
    return out if isinstance(out, tuple) else (out,)


@lowering("Slice", category=_CAT)
def _slice(x, start, stop, step):
    index = tuple(builtins.slice(a, b, c) for a, b, c in zip(start, stop, step))
    return x[index]


def slice(x, start=None, stop=None, step=None, outputs=None):
    """``x[start:stop:step]`` per axis (lists over the leading axes)."""
    shape = tuple(x.shape)
    n = len(shape)
    start = list(start) if start is not None else [0] * n
    stop = list(stop) if stop is not None else list(shape)
    step = list(step) if step is not None else [1] * n
    if not (len(start) == len(stop) == len(step)) or len(start) > n:
        raise ValueError(f"slice: start {start}, stop {stop}, step {step} do not fit shape {shape}")
    if any(s == 0 for s in step):
        raise ValueError(f"slice: step must not be 0, got {step}")
    start += [0] * (n - len(start))
    stop += list(shape[len(stop):])
    step += [1] * (n - len(step))
    return call("Slice", [x], dict(start=start, stop=stop, step=step), outputs)


@lowering("Stack", category=_CAT)
def _stack(*xs, axis=0):
    return jnp.stack(xs, axis=axis)


def stack(*x, **kw):
    """Join inputs of the same shape along a new ``axis``."""
    if len(x) == 1 and isinstance(x[0], (list, tuple)):
        x = tuple(x[0])
    axis = kw.pop("axis", 0)
    outputs = kw.pop("outputs", None)
    if kw:
        raise TypeError(f"stack: unexpected arguments {sorted(kw)}")
    if not x:
        raise ValueError("stack: at least one input is required")
    for i, v in enumerate(x[1:], 1):
        if tuple(v.shape) != tuple(x[0].shape):
            raise ValueError(f"stack: input {i} shape {tuple(v.shape)} differs from input 0 "
                             f"shape {tuple(x[0].shape)}")
    axis = norm_axis(axis, len(x[0].shape) + 1, "stack")
    return call("Stack", list(x), dict(axis=axis), outputs)


@lowering("Broadcast", category=_CAT)
def _broadcast(x, shape):
    return jnp.broadcast_to(x, tuple(shape))


def broadcast(x, shape, outputs=None):
    """Broadcast dimensions of size 1 to ``shape``."""
    shape = [int(s) for s in shape]
    if len(shape) != len(x.shape) or any(a != b and a != 1 for a, b in zip(x.shape, shape)):
        raise ValueError(f"broadcast: cannot broadcast {tuple(x.shape)} to {tuple(shape)}")
    return call("Broadcast", [x], dict(shape=shape), outputs)
