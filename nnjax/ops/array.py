"""Array manipulation: shape changes (reshape, transpose, broadcast, tile), joins and
splits, slicing, padding, flips and shifts, sorting, shape read-out and assign."""
import builtins
import functools

import jax
import jax.numpy as jnp
import numpy as np

from .._registry import InvalidArgumentError
from ._common import call, int_list, lowering, norm_axis
from .arithmetic import _check_scalar, _shape



# ---------------------------------------------------------------- reshape, transpose
@lowering("Reshape")
def _reshape(x, shape, inplace=True):
    return jnp.reshape(x, tuple(shape))


def reshape(x, shape, inplace=True, n_outputs=-1, outputs=None):
    """Same values in a new ``shape`` (one entry may be -1)."""
    shape = int_list("reshape", "shape", shape)
    xs = _shape(x)
    size = int(np.prod(xs, dtype=np.int64))
    if shape.count(-1) > 1:
        raise ValueError(f"reshape: at most one -1 allowed in shape {shape}")
    if any(s < -1 for s in shape):
        raise ValueError(f"reshape: negative dimension in shape {shape}")
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
        if known == 0 or size % known:
            raise ValueError(f"reshape: cannot reshape {xs} to {tuple(shape)}")
        shape[shape.index(-1)] = size // known
    if int(np.prod(shape, dtype=np.int64)) != size:
        raise ValueError(f"reshape: cannot reshape {xs} (size {size}) to {tuple(shape)}")
    return call("Reshape", [x], dict(shape=shape, inplace=bool(inplace)), outputs)


@lowering("Transpose")
def _transpose(x, axes):
    return jnp.transpose(x, tuple(axes))


def transpose(x, axes, n_outputs=-1, outputs=None):
    """Permute axes: output axis i is input axis ``axes[i]``."""
    ndim = len(_shape(x))
    axes = [norm_axis(a, ndim, "transpose", "axes") for a in int_list("transpose", "axes", axes)]
    if sorted(axes) != list(range(ndim)):
        raise ValueError(f"transpose: axes {axes} is not a permutation for shape {_shape(x)}")
    return call("Transpose", [x], dict(axes=axes), outputs)


@lowering("Broadcast")
def _broadcast(x, shape):
    return jnp.broadcast_to(x, tuple(shape))


def broadcast(x, shape, n_outputs=-1, outputs=None):
    """Broadcast dimensions of size 1 to ``shape`` (same rank as ``x``)."""
    shape = int_list("broadcast", "shape", shape)
    xs = _shape(x)
    if len(shape) != len(xs) or any(a != b and a != 1 for a, b in zip(xs, shape)):
        raise ValueError(f"broadcast: cannot broadcast {xs} to {tuple(shape)} (same rank "
                         "required; only dimensions of size 1 are broadcast)")
    return call("Broadcast", [x], dict(shape=shape), outputs)


@lowering("BroadcastTo")
def _broadcast_to(x, y, axis=-1):
    start = x.ndim - y.ndim if axis < 0 else axis
    shape = (1,) * start + y.shape + (1,) * (x.ndim - start - y.ndim)
    return jnp.broadcast_to(y.reshape(shape), x.shape)


def broadcast_to(x, y, axis=-1, n_outputs=-1, outputs=None):
    """``y`` broadcast to the shape of ``x`` (experimental in NNabla).

    ``y``'s shape must equal ``x``'s dimensions from ``axis`` on (from the tail when
    ``axis`` is negative). Only the shape of ``x`` is used; the gradient goes to ``y``
    (NNabla defines no backward for this function).
    """
    xs, ys = _shape(x), _shape(y)
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"broadcast_to: axis must be an int, got {type(axis).__name__}")
    if len(ys) > len(xs):
        raise ValueError(f"broadcast_to: y {ys} has a higher rank than x {xs}")
    if axis < 0:
        ok = xs[len(xs) - len(ys):] == ys
    else:
        ok = axis < len(xs) and xs[axis:axis + len(ys)] == ys
    if not ok:
        raise ValueError(f"broadcast_to: y {ys} does not fit x {xs} at axis {axis}")
    return call("BroadcastTo", [x, y], dict(axis=int(axis)), outputs)


@lowering("Tile")
def _tile(x, reps):
    return jnp.tile(x, tuple(reps))


def tile(x, reps, n_outputs=-1, outputs=None):
    """``x`` repeated ``reps`` times along each axis (numpy.tile rules)."""
    reps = int_list("tile", "reps", reps)
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: reps must be non-negative, got {reps}")
    return call("Tile", [x], dict(reps=reps), outputs)


# ---------------------------------------------------------------- joins and splits
@lowering("Concatenate")
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
    kw.pop("n_outputs", None)
    if kw:
        raise TypeError(f"concatenate: unexpected arguments {sorted(kw)}")
    s0 = _shape(x[0])
    ndim = len(s0)
    if ndim == 0:
        raise ValueError("concatenate: inputs must have at least one dimension")
    axis = ndim - 1 if axis is None else norm_axis(axis, ndim, "concatenate")
    for i, v in enumerate(x[1:], 1):
        s1 = _shape(v)
        if len(s1) != ndim or s0[:axis] + s0[axis + 1:] != s1[:axis] + s1[axis + 1:]:
            raise ValueError(f"concatenate: input {i} shape {s1} does not match input 0 "
                             f"shape {s0} outside axis {axis}")
    return call("Concatenate", list(x), dict(axis=axis), outputs)


@lowering("Split")
def _split(x, axis=0):
    return tuple(jnp.squeeze(p, axis) for p in jnp.split(x, x.shape[axis], axis=axis))


def split(x, axis=0):
    """Split along ``axis`` into ``x.shape[axis]`` outputs with that axis removed."""
    shape = _shape(x)
    axis = norm_axis(axis, len(shape), "split")
    if shape[axis] == 0:
        raise InvalidArgumentError(f"split: axis {axis} of shape {shape} is empty")
    if 0 in shape[axis + 1:]:  # as NNabla's setup: the slices would hold nothing
        raise InvalidArgumentError(f"split: the axes after axis {axis} of shape {shape} are "
                                   "empty")
    out = call("Split", [x], dict(axis=axis))
    return out if isinstance(out, tuple) else (out,)


@lowering("Stack")
def _stack(*xs, axis=0):
    return jnp.stack(xs, axis=axis)


def stack(*x, **kw):
    """Join inputs of the same shape along a new ``axis``."""
    if len(x) == 1 and isinstance(x[0], (list, tuple)):
        x = tuple(x[0])
    axis = kw.pop("axis", 0)
    outputs = kw.pop("outputs", None)
    kw.pop("n_outputs", None)
    if kw:
        raise TypeError(f"stack: unexpected arguments {sorted(kw)}")
    if not x:
        raise ValueError("stack: at least one input is required")
    for i, v in enumerate(x[1:], 1):
        if _shape(v) != _shape(x[0]):
            raise ValueError(f"stack: input {i} shape {_shape(v)} differs from input 0 "
                             f"shape {_shape(x[0])}")
    axis = norm_axis(axis, len(_shape(x[0])) + 1, "stack")
    return call("Stack", list(x), dict(axis=axis), outputs)


# ---------------------------------------------------------------- slicing and padding
@lowering("Slice")
def _slice(x, start, stop, step):
    lead = x.ndim - len(start)
    index = (builtins.slice(None),) * lead + tuple(
        builtins.slice(a, b, c) for a, b, c in zip(start, stop, step))
    return x[index]


def slice(x, start=None, stop=None, step=None, n_outputs=-1, outputs=None):
    """``x[start:stop:step]`` per axis, with Python's slice rules (negative indices and
    steps). Shorter lists apply to the trailing axes; ``None`` entries take the
    defaults of a Python slice."""
    shape = _shape(x)
    n = len(shape)
    start = list(start) if start is not None else [0] * n
    stop = list(stop) if stop is not None else list(shape)
    step = list(step) if step is not None else [1] * n
    if not len(start) == len(stop) == len(step):
        raise ValueError(f"slice: start {start}, stop {stop} and step {step} must have the "
                         "same length")
    if len(start) > n:
        raise ValueError(f"slice: {len(start)} entries for an input of shape {shape}")
    offset = n - len(start)
    for i in range(len(start)):
        dim = shape[offset + i]
        s = 1 if step[i] is None else step[i]
        for name, v in (("start", start[i]), ("stop", stop[i]), ("step", s)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer))):
                raise TypeError(f"slice: {name} entries must be ints or None, got {v!r}")
        if s == 0:
            raise ValueError(f"slice: step must not be 0, got {step}")
        if start[i] is None:
            start[i] = -1 if s < 0 else 0
        if stop[i] is None:
            stop[i] = -dim - 1 if s < 0 else dim
        step[i] = s
    return call("Slice", [x], dict(start=[int(v) for v in start], stop=[int(v) for v in stop],
                                   step=[int(v) for v in step]), outputs)


@lowering("Pad")
def _pad(x, pad_width, mode="constant", constant_value=0.0):
    pairs = [(pad_width[i], pad_width[i + 1]) for i in range(0, len(pad_width), 2)]
    widths = [(0, 0)] * (x.ndim - len(pairs)) + pairs
    if mode == "constant":
        return jnp.pad(x, widths, mode="constant", constant_values=constant_value)
    return jnp.pad(x, widths, mode="reflect" if mode == "reflect" else "edge")


def pad(x, pad_width, mode="constant", constant_value=0, n_outputs=-1, outputs=None):
    """Pad the trailing ``len(pad_width) // 2`` axes by (before, after) pairs.

    ``mode``: 'constant' (``constant_value``), 'reflect' (mirror without repeating the
    edge) or 'repeat' (repeat the edge value).
    """
    pad_width = int_list("pad", "pad_width", pad_width)
    shape = _shape(x)
    if len(pad_width) % 2:
        raise ValueError(f"pad: pad_width {pad_width} must hold an even number of values")
    if len(pad_width) > 2 * len(shape):
        raise ValueError(f"pad: pad_width {pad_width} has more values than allowed for "
                         f"shape {shape}")
    if any(p < 0 for p in pad_width):
        raise ValueError(f"pad: pad_width values must be non-negative, got {pad_width}")
    if mode not in ("constant", "reflect", "repeat"):
        raise ValueError(f"pad: mode must be 'constant', 'reflect' or 'repeat', got {mode!r}")
    if mode == "reflect":
        dims = shape[len(shape) - len(pad_width) // 2:]
        for d, (b, a) in zip(dims, zip(pad_width[::2], pad_width[1::2])):
            if (b or a) and d < 2:
                raise ValueError(f"pad: reflect padding of an axis of size {d}")
    return call("Pad", [x], dict(pad_width=pad_width, mode=mode,
                                 constant_value=_check_scalar("pad", constant_value,
                                                              "constant_value")), outputs)


@lowering("Flip")
def _flip(x, axes):
    return jnp.flip(x, tuple(axes)) if axes else x


def flip(x, axes=None, n_outputs=-1, outputs=None):
    """Reverse the order of elements along ``axes`` (default: the last axis)."""
    ndim = len(_shape(x))
    if axes is None:
        axes = [ndim - 1]
    axes = [norm_axis(a, ndim, "flip", "axes") for a in int_list("flip", "axes", axes)]
    return call("Flip", [x], dict(axes=axes), outputs)


def _shift_index(size, shift, border_mode):
    i = np.arange(size)
    if border_mode == "reflect":
        a = np.abs(i + 2 * size - shift) % (2 * size) if size > 1 else np.zeros_like(i)
        return np.where(a >= size, 2 * size - 1 - a, a)
    return np.clip(i - shift, 0, size - 1)


@lowering("Shift")
def _shift(x, shifts, border_mode="nearest"):
    for d in range(x.ndim):
        k = len(shifts) - x.ndim + d
        s = shifts[k] if k >= 0 else 0
        if s and x.shape[d]:
            x = jnp.take(x, jnp.asarray(_shift_index(x.shape[d], s, border_mode)), axis=d)
    return x


def shift(x, shifts=None, border_mode="nearest", n_outputs=-1, outputs=None):
    """Shift elements by ``shifts`` (trailing axes); the vacated places are filled by
    the nearest edge value ('nearest') or by mirroring ('reflect')."""
    ndim = len(_shape(x))
    shifts = [0] * ndim if shifts is None else int_list("shift", "shifts", shifts)
    if len(shifts) > ndim:
        raise ValueError(f"shift: {len(shifts)} shifts for an input of rank {ndim}")
    if border_mode not in ("nearest", "reflect"):
        raise ValueError(f"shift: border_mode must be 'nearest' or 'reflect', got "
                         f"{border_mode!r}")
    return call("Shift", [x], dict(shifts=shifts, border_mode=border_mode), outputs)


# ---------------------------------------------------------------- sort, shape
def _sort_index(x, axis, reverse):
    return jnp.argsort(x, axis=axis, stable=True, descending=bool(reverse))


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def _sorted_values(x, axis, reverse):
    return jnp.take_along_axis(x, _sort_index(x, axis, reverse), axis=axis)


def _sorted_values_fwd(x, axis, reverse):
    index = _sort_index(x, axis, reverse)
    return jnp.take_along_axis(x, index, axis=axis), index


def _sorted_values_bwd(axis, reverse, index, g):
    # NNabla's Sort backward: dx[i] = dy[index[i]] along the axis (a gather by the
    # sort index, not the scatter that inverts the permutation)
    return (jnp.take_along_axis(g, index, axis=axis),)


_sorted_values.defvjp(_sorted_values_fwd, _sorted_values_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def _index_only(x, axis, reverse):
    return _sort_index(x, axis, reverse).astype(x.dtype)


def _index_only_fwd(x, axis, reverse):
    index = _sort_index(x, axis, reverse)
    return index.astype(x.dtype), index


# NNabla's backward reads the grad of its first output: with only_index that is the
# index output, whose grad reaches x as dx[i] = dindex[index[i]]
_index_only.defvjp(_index_only_fwd, _sorted_values_bwd)


@lowering("Sort")
def _sort(x, axis=-1, reverse=False, with_index=False, only_index=False):
    if only_index:  # a float array (as NNabla's) carrying a gradient
        return _index_only(x, axis, bool(reverse))
    index = _sort_index(x, axis, reverse)
    value = _sorted_values(x, axis, bool(reverse))
    if with_index:
        return value, index.astype(jnp.int32)
    return value


def sort(x, axis=-1, reverse=False, with_index=False, only_index=False):
    """Sort along ``axis`` (descending when ``reverse``); ``with_index`` returns
    ``(values, int32 indices)``, ``only_index`` the indices alone, as floats of x's
    dtype. The gradient is NNabla's: ``dx[i] = dy[index[i]]`` along ``axis``, ``dy``
    the grad of the first output (the indices with ``only_index``)."""
    norm_axis(axis, len(_shape(x)), "sort")
    return call("Sort", [x], dict(axis=int(axis), reverse=bool(reverse),
                                  with_index=bool(with_index), only_index=bool(only_index)))


def _shape_range(ndim, start, end):
    s = start + ndim if start < 0 else builtins.min(start, ndim)
    if end < 0:
        e = ndim + end
    elif end > 0:
        e = builtins.min(end, ndim)
    else:
        e = ndim
    return s, e


@lowering("Shape")
def _shape_lower(x, start=0, end=0):
    s, e = _shape_range(x.ndim, start, end)
    return jnp.asarray(np.asarray(x.shape[s:e] if e > s else (), np.float32))


def shape(x, start=0, end=0, n_outputs=-1, outputs=None):
    """The dimensions ``x.shape[start:end]`` as a 1-D float array (``end=0``: up to
    the last axis)."""
    if not _shape(x):
        raise ValueError("shape: the input must have at least one dimension")
    start = 0 if start is None else int_list("shape", "start", start)[0]
    end = 0 if end is None else int_list("shape", "end", end)[0]
    return call("Shape", [x], dict(start=start, end=end), outputs)


# ---------------------------------------------------------------- assign
@jax.custom_vjp
def _assigned(dst, src):
    return src


def _assigned_fwd(dst, src):
    return src, jnp.zeros_like(src)


def _assigned_bwd(zeros, g):
    return g, zeros


_assigned.defvjp(_assigned_fwd, _assigned_bwd)


@lowering("Assign", state_inputs=(0,))
def _assign(dst, src):
    return _assigned(dst, src), src


def assign(dst, src, n_outputs=-1, outputs=None):
    """Copy ``src`` into ``dst`` when computed; the output holds ``src``'s values.

    The gradient of the output goes to ``dst`` (none to ``src``), as in NNabla.
    """
    if _shape(dst) != _shape(src):
        raise ValueError(f"assign: dst {_shape(dst)} and src {_shape(src)} must have the "
                         "same shape")
    return call("Assign", [dst, src], {}, outputs)
