"""Array manipulation: shape changes, joins and splits, slicing and padding, indexing
(gather/scatter, boolean masks), sorting, matrix helpers and packed sequences.

Functions whose output shape depends on input *values* (``nonzero``, ``bool_gather``,
``pack_padded_sequence``, ``pad_packed_sequence``) read those values when the graph is
built: the wrapper computes the input if needed (``forward``) and fixes the output
shape from its current values. When those values later change so that the count
changes, the graph must be built again (the recorded node keeps the old shape).
"""
import builtins

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._plan import freeze
from ._common import call, lowering, norm_axis
from .arithmetic import _broadcast_shape, _check_scalar, _shape



# ---------------------------------------------------------------- helpers
def _ints(fname, name, values):
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


def _as_index_input(indices):
    """Index arrays given as lists/numpy become constant (int) Variables."""
    from .._ndarray import NdArray
    from .._variable import Variable
    if isinstance(indices, (Variable, NdArray)):
        return indices
    arr = np.asarray(indices)
    if arr.dtype.kind == "f":
        arr = arr.astype(np.int64)
    return Variable.from_numpy_array(arr)


def _host_values(v):
    """The current values of an input as numpy (computing a Variable if needed)."""
    from .._ndarray import NdArray
    from .._variable import Variable
    if isinstance(v, Variable):
        if v.parent is not None:
            v.forward()
        return np.array(v.d)
    if isinstance(v, NdArray):
        return np.array(v.data)
    return np.asarray(v)


class _ValueShapedLowering:
    """The lowering of one data-dependent node: the registered rule with the
    value-derived sizes fixed. Objects are interned per (type, args, sizes) because
    their identity is part of the compiled-program key."""

    _interned = {}

    def __init__(self, rule, kwargs):
        self.rule = rule
        self.kwargs = kwargs

    @classmethod
    def get(cls, type_name, rule, kwargs):
        key = (type_name, freeze(kwargs))
        obj = cls._interned.get(key)
        if obj is None:
            obj = cls._interned[key] = cls(rule, dict(kwargs))
        return obj

    def _lower(self, *xs):
        return self.rule(*xs, **self.kwargs)


def _call_value_shaped(type_name, rule, inputs, args, sizes, outputs):
    from .._apply import apply_function
    lower = _ValueShapedLowering.get(type_name, rule, dict(args, **sizes))
    return apply_function(type_name, list(inputs), args, outputs=outputs,
                          python_function=lower)


def _int_index(a):
    return a.astype(jnp.int32)


# ---------------------------------------------------------------- reshape, transpose
@lowering("Reshape")
def _reshape(x, shape, inplace=True):
    return jnp.reshape(x, tuple(shape))


def reshape(x, shape, inplace=True, n_outputs=-1, outputs=None):
    """Same values in a new ``shape`` (one entry may be -1)."""
    shape = _ints("reshape", "shape", shape)
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
    axes = [norm_axis(a, ndim, "transpose", "axes") for a in _ints("transpose", "axes", axes)]
    if sorted(axes) != list(range(ndim)):
        raise ValueError(f"transpose: axes {axes} is not a permutation for shape {_shape(x)}")
    return call("Transpose", [x], dict(axes=axes), outputs)


@lowering("Broadcast")
def _broadcast(x, shape):
    return jnp.broadcast_to(x, tuple(shape))


def broadcast(x, shape, n_outputs=-1, outputs=None):
    """Broadcast dimensions of size 1 to ``shape`` (same rank as ``x``)."""
    shape = _ints("broadcast", "shape", shape)
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
    reps = _ints("tile", "reps", reps)
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
        raise ValueError(f"split: axis {axis} of shape {shape} is empty")
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


@lowering("Meshgrid")
def _meshgrid(*xs, ij_indexing=False):
    return tuple(jnp.meshgrid(*xs, indexing="ij" if ij_indexing else "xy"))


def meshgrid(*x, ij_indexing=False):
    """Coordinate arrays from 1-D inputs (``xy`` indexing unless ``ij_indexing``)."""
    if len(x) == 1 and isinstance(x[0], (list, tuple)):
        x = tuple(x[0])
    if not x:
        raise ValueError("meshgrid: at least one input is required")
    for i, v in enumerate(x):
        if len(_shape(v)) != 1:
            raise ValueError(f"meshgrid: input {i} has shape {_shape(v)}; inputs must be 1-D")
    out = call("Meshgrid", list(x), dict(ij_indexing=bool(ij_indexing)))
    return out if isinstance(out, tuple) else (out,)


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
    pad_width = _ints("pad", "pad_width", pad_width)
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
    axes = [norm_axis(a, ndim, "flip", "axes") for a in _ints("flip", "axes", axes)]
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
    shifts = [0] * ndim if shifts is None else _ints("shift", "shifts", shifts)
    if len(shifts) > ndim:
        raise ValueError(f"shift: {len(shifts)} shifts for an input of rank {ndim}")
    if border_mode not in ("nearest", "reflect"):
        raise ValueError(f"shift: border_mode must be 'nearest' or 'reflect', got "
                         f"{border_mode!r}")
    return call("Shift", [x], dict(shifts=shifts, border_mode=border_mode), outputs)


# ---------------------------------------------------------------- sort, one-hot, shape
@lowering("Sort")
def _sort(x, axis=-1, reverse=False, with_index=False, only_index=False):
    index = jnp.argsort(x, axis=axis, stable=True, descending=bool(reverse))
    if only_index:
        return index.astype(jnp.int32)
    value = jnp.take_along_axis(x, index, axis=axis)
    if with_index:
        return value, index.astype(jnp.int32)
    return value


def sort(x, axis=-1, reverse=False, with_index=False, only_index=False):
    """Sort along ``axis`` (descending when ``reverse``); ``with_index`` returns
    ``(values, indices)``, ``only_index`` the int32 indices alone."""
    norm_axis(axis, len(_shape(x)), "sort")
    return call("Sort", [x], dict(axis=int(axis), reverse=bool(reverse),
                                  with_index=bool(with_index), only_index=bool(only_index)))


@lowering("OneHot")
def _one_hot(x, shape):
    idx = _int_index(x)
    flat = jnp.zeros(x.shape[:-1], jnp.int32)
    for i, s in enumerate(shape):
        flat = flat * s + idx[..., i]
    size = int(np.prod(shape, dtype=np.int64))
    y = jax.nn.one_hot(flat, size, dtype=jnp.float32)
    return y.reshape(x.shape[:-1] + tuple(shape))


def one_hot(x, shape, n_outputs=-1, outputs=None):
    """One-hot arrays from integer labels: the last axis of ``x`` holds
    ``len(shape)`` indices; the output has shape ``x.shape[:-1] + shape``."""
    shape = _ints("one_hot", "shape", shape)
    xs = _shape(x)
    if not xs or xs[-1] != len(shape):
        raise ValueError(f"one_hot: the last dimension of x {xs} must equal len(shape) "
                         f"= {len(shape)}")
    if any(s <= 0 for s in shape):
        raise ValueError(f"one_hot: shape must be positive, got {shape}")
    return call("OneHot", [x], dict(shape=shape), outputs)


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
    start, end = _ints("shape", "start", start)[0], _ints("shape", "end", end)[0]
    return call("Shape", [x], dict(start=start, end=end), outputs)


# ---------------------------------------------------------------- matrices
@lowering("MatrixDiag")
def _matrix_diag(x):
    return x[..., :, None] * jnp.eye(x.shape[-1], dtype=x.dtype)


def matrix_diag(x, n_outputs=-1, outputs=None):
    """Diagonal matrices from the last axis: (..., N) -> (..., N, N)."""
    if not _shape(x):
        raise ValueError("matrix_diag: the input must have at least one dimension")
    return call("MatrixDiag", [x], {}, outputs)


@lowering("MatrixDiagPart")
def _matrix_diag_part(x):
    return jnp.diagonal(x, axis1=-2, axis2=-1)


def matrix_diag_part(x, n_outputs=-1, outputs=None):
    """Diagonals of the last two (square) axes: (..., N, N) -> (..., N)."""
    s = _shape(x)
    if len(s) < 2 or s[-1] != s[-2]:
        raise ValueError(f"matrix_diag_part: the last two dimensions of {s} must be square")
    return call("MatrixDiagPart", [x], {}, outputs)


@lowering("Trilu")
def _trilu(x, k=0, upper=True):
    return jnp.triu(x, k) if upper else jnp.tril(x, k)


def trilu(x, k=0, upper=True, n_outputs=-1, outputs=None):
    """Upper (``j >= i + k``) or lower (``j <= i + k``) triangle of the last two axes;
    the other elements are zero."""
    if len(_shape(x)) < 2:
        raise ValueError(f"trilu: input must have at least 2 dimensions, got {_shape(x)}")
    k = _ints("trilu", "k", k)[0]
    return call("Trilu", [x], dict(k=k, upper=bool(upper)), outputs)


def _check_square_batch(fname, x):
    s = _shape(x)
    if len(s) != 3 or s[1] != s[2]:
        raise ValueError(f"{fname}: input must be a batch of square matrices (B, N, N), "
                         f"got {s}")


@lowering("BatchDet")
def _batch_det(x):
    return jnp.linalg.det(x)


@lowering("BatchInv")
def _batch_inv(x):
    return jnp.linalg.inv(x)


@lowering("BatchLogdet")
def _batch_logdet(x):
    return jnp.linalg.slogdet(x)[1]


@lowering("BatchCholesky")
def _batch_cholesky(x, upper=False):
    lower = jnp.linalg.cholesky(x)
    return jnp.swapaxes(lower, -1, -2) if upper else lower


def batch_det(x, n_outputs=-1, outputs=None):
    """Determinants of a batch of square matrices: (B, N, N) -> (B,)."""
    _check_square_batch("batch_det", x)
    return call("BatchDet", [x], {}, outputs)


def batch_inv(x, n_outputs=-1, outputs=None):
    """Inverses of a batch of square matrices (B, N, N)."""
    _check_square_batch("batch_inv", x)
    return call("BatchInv", [x], {}, outputs)


def batch_logdet(x, n_outputs=-1, outputs=None):
    """``log|det|`` of a batch of square matrices: (B, N, N) -> (B,)."""
    _check_square_batch("batch_logdet", x)
    return call("BatchLogdet", [x], {}, outputs)


def batch_cholesky(x, upper=False, n_outputs=-1, outputs=None):
    """Cholesky factors of a batch of symmetric positive-definite matrices: lower
    ``L`` with ``x = L L^T`` (or ``U = L^T`` when ``upper``). The gradient with
    respect to ``x`` is symmetric."""
    _check_square_batch("batch_cholesky", x)
    return call("BatchCholesky", [x], dict(upper=bool(upper)), outputs)


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


# ---------------------------------------------------------------- gather and scatter
@lowering("Gather")
def _gather(x, indices, axis=0, batch_dims=0):
    def take(xb, ib):
        return jnp.take(xb, _int_index(ib), axis=axis - batch_dims)
    for _ in range(batch_dims):
        take = jax.vmap(take)
    return take(x, indices)


def gather(x, Indices, axis=0, batch_dims=0, n_outputs=-1, outputs=None):
    """``x`` gathered along ``axis`` by integer ``Indices``; the first ``batch_dims``
    axes are batch axes shared by ``x`` and the indices.

    Output shape: ``x.shape[:axis] + Indices.shape[batch_dims:] + x.shape[axis+1:]``.
    """
    Indices = _as_index_input(Indices)
    xs, ids = _shape(x), _shape(Indices)
    axis = _ints("gather", "axis", axis)[0]
    batch_dims = _ints("gather", "batch_dims", batch_dims)[0]
    if axis < 0:
        axis += len(xs)
    if not 0 <= axis < len(xs):
        raise ValueError(f"gather: axis is out of range for x of shape {xs}")
    if batch_dims < 0 or axis < batch_dims or len(ids) < batch_dims:
        raise ValueError(f"gather: batch_dims={batch_dims} must be within 0..axis ({axis}) "
                         f"and the rank of the indices {ids}")
    if xs[:batch_dims] != ids[:batch_dims]:
        raise ValueError(f"gather: batch dimensions of x {xs} and indices {ids} differ")
    if Indices.parent is None and hasattr(Indices, "d"):
        values = np.asarray(Indices.d)
        if values.size and (values.min() < 0 or values.max() >= xs[axis]):
            raise ValueError(f"gather: indices must be within [0, {xs[axis]}) for axis "
                             f"{axis} of x {xs}")
    return call("Gather", [x, Indices], dict(axis=axis, batch_dims=batch_dims), outputs)


@lowering("GatherNd")
def _gather_nd(x, indices):
    idx = _int_index(indices)
    return x[tuple(idx[i] for i in range(idx.shape[0]))]


def gather_nd(data, indices):
    """Elements or slices of ``data`` at ``indices`` of shape (M, Y...): the output
    has shape ``Y... + data.shape[M:]``."""
    indices = _as_index_input(indices)
    ds, ids = _shape(data), _shape(indices)
    if len(ids) < 1 or ids[0] > len(ds):
        raise ValueError(f"gather_nd: indices {ids} must have a first dimension M <= "
                         f"rank of data {ds}")
    return call("GatherNd", [data, indices], {})


@lowering("ScatterNd", state_inputs=(2,))
def _scatter_nd(data, indices, out=None, shape=(), add=False):
    idx = _int_index(indices)
    base = out if out is not None else jnp.zeros(tuple(shape), data.dtype)
    key = tuple(idx[i] for i in range(idx.shape[0]))
    y = base.at[key].add(data) if add else base.at[key].set(data)
    return y, y


def scatter_nd(data, indices, shape=None, out=None, add=False):
    """Scatter ``data`` into a new zero array of ``shape`` (or into a copy of ``out``)
    at ``indices`` of shape (M, Y...); ``add`` accumulates instead of assigning.

    When ``out`` is a leaf Variable it is also updated in place on forward.
    """
    from .._ndarray import NdArray
    from .._variable import Variable
    indices = _as_index_input(indices)
    if shape is None and out is None:
        raise TypeError("scatter_nd: one of `shape` or `out` must be given")
    if shape is not None and out is not None:
        raise TypeError("scatter_nd: only one of `shape` or `out` may be given")
    if out is not None:
        if not isinstance(out, (Variable, NdArray)):
            raise TypeError("scatter_nd: out must be a Variable or NdArray")
        shape = list(_shape(out))
    else:
        shape = _ints("scatter_nd", "shape", shape)
    ds, ids = _shape(data), _shape(indices)
    if len(ids) < 2:
        raise ValueError(f"scatter_nd: indices {ids} must have at least 2 dimensions")
    m, k = ids[0], len(ids) - 1
    if m > len(shape) or len(shape) != len(ds) + m - k:
        raise ValueError(f"scatter_nd: data {ds} and indices {ids} do not fit the output "
                         f"shape {tuple(shape)}")
    if ds[:k] != ids[1:] or tuple(ds[k:]) != tuple(shape[m:]):
        raise ValueError(f"scatter_nd: data shape {ds} must be indices.shape[1:] {ids[1:]} "
                         f"+ shape[M:] {tuple(shape[m:])}")
    return call("ScatterNd", [data, indices, out], dict(shape=list(shape), add=bool(add)))


@lowering("ScatterAdd")
def _scatter_add(x0, indices, x1, axis=0):
    idx = _int_index(indices)
    grids = list(jnp.meshgrid(*[jnp.arange(s) for s in idx.shape], indexing="ij"))
    grids[axis] = idx
    src = x1[tuple(builtins.slice(0, s) for s in idx.shape)]
    return x0.at[tuple(grids)].add(src)


def scatter_add(x0, indices, x1, axis=None):
    """A copy of ``x0`` with ``x1[p]`` added at ``p`` with its ``axis`` coordinate
    replaced by ``indices[p]``, for every position ``p`` of ``indices``."""
    indices = _as_index_input(indices)
    s0, si, s1 = _shape(x0), _shape(indices), _shape(x1)
    if not len(s0) == len(si) == len(s1):
        raise ValueError(f"scatter_add: x0 {s0}, indices {si} and x1 {s1} must have the "
                         "same rank")
    axis = norm_axis(0 if axis is None else axis, len(s0), "scatter_add")
    for d in range(len(s0)):
        if si[d] > s1[d] or (d != axis and si[d] > s0[d]):
            raise ValueError(f"scatter_add: indices {si} exceed x0 {s0} or x1 {s1} at "
                             f"dimension {d}")
    return call("ScatterAdd", [x0, indices, x1], dict(axis=axis))


def _mask_positions(mask, count):
    flat = mask.reshape(-1) != 0
    return jnp.nonzero(flat, size=count, fill_value=flat.shape[0])[0]


@lowering("BoolGather", data_dependent=True)
def _bool_gather(input, mask, nnz=0):
    pos = _mask_positions(mask, nnz)
    flat = input.reshape((-1,) + input.shape[mask.ndim:])
    return jnp.take(flat, pos, axis=0, mode="fill", fill_value=0)


def bool_gather(input, mask, n_outputs=-1, outputs=None):
    """Elements (or trailing sub-arrays) of ``input`` where ``mask`` is non-zero.

    ``mask`` has the leading shape of ``input``; the output has shape
    ``(nnz,) + input.shape[mask.ndim:]``. The count ``nnz`` is read from the mask's
    current values when the graph is built (rebuild the graph when it changes).
    """
    gs, ms = _shape(input), _shape(mask)
    if len(gs) < len(ms) or gs[:len(ms)] != ms:
        raise ValueError(f"bool_gather: mask {ms} must equal the leading dimensions of "
                         f"input {gs}")
    nnz = int(np.count_nonzero(_host_values(mask)))
    return _call_value_shaped("BoolGather", _bool_gather, [input, mask], {},
                              dict(nnz=nnz), outputs)


@lowering("BoolScatter", state_inputs=(2,))
def _bool_scatter(sdata, mask, gdata=None):
    tail = sdata.shape[1:]
    base = gdata if gdata is not None else jnp.zeros(mask.shape + tail, sdata.dtype)
    pos = _mask_positions(mask, sdata.shape[0])
    flat = base.reshape((-1,) + tail).at[pos].set(sdata, mode="drop")
    y = flat.reshape(mask.shape + tail)
    return y, y


def bool_scatter(sdata, mask, gdata=None, n_outputs=-1, outputs=None):
    """Scatter the rows of ``sdata`` (``(nnz,) + D``) to where ``mask`` is non-zero,
    into zeros of shape ``mask.shape + D`` or into a copy of ``gdata`` (then updated
    in place on forward when it is a leaf)."""
    ss, ms = _shape(sdata), _shape(mask)
    if not ss:
        raise ValueError("bool_scatter: sdata must have at least one dimension")
    out_shape = ms + ss[1:]
    if gdata is not None and _shape(gdata) != out_shape:
        raise ValueError(f"bool_scatter: gdata {_shape(gdata)} must have shape "
                         f"mask.shape + sdata.shape[1:] = {out_shape}")
    return call("BoolScatter", [sdata, mask, gdata], {}, outputs)


@lowering("BoolFill")
def _bool_fill(data, mask, value=0.0):
    m = jnp.broadcast_to(mask, data.shape) != 0
    return jnp.where(m, jnp.asarray(value, data.dtype), data)


def bool_fill(data, mask, value=0, n_outputs=-1, outputs=None):
    """``data`` with ``value`` where ``mask`` (broadcast to ``data``) is non-zero; no
    gradient flows to the filled places."""
    ds, ms = _shape(data), _shape(mask)
    if len(ms) > len(ds) or _broadcast_shape("bool_fill", ds, ms) != tuple(ds):
        raise ValueError(f"bool_fill: mask {ms} cannot be broadcast to data {ds}")
    return call("BoolFill", [data, mask], dict(value=_check_scalar("bool_fill", value,
                                                                   "value")), outputs)


@lowering("NonZero", data_dependent=True)
def _nonzero(x, nnz=0):
    idx = jnp.nonzero(x != 0, size=nnz)
    return lax.stop_gradient(jnp.stack(idx, axis=0).astype(jnp.int32))


def nonzero(x, n_outputs=-1, outputs=None):
    """Indices of non-zero elements, shape ``(x.ndim, nnz)`` (int32).

    ``nnz`` is read from the current values of ``x`` when the graph is built (the
    input is computed if needed); rebuild the graph when the count changes.
    """
    if not _shape(x):
        raise ValueError("nonzero: the input must have at least one dimension")
    nnz = int(np.count_nonzero(_host_values(x)))
    return _call_value_shaped("NonZero", _nonzero, [x], {}, dict(nnz=nnz), outputs)


# ---------------------------------------------------------------- packed sequences
def _pack_positions(lengths, batch_first):
    """Static (time, batch) positions of the packed rows, time-major order."""
    t_max = builtins.max(lengths) if lengths else 0
    ts, bs = [], []
    for t in range(t_max):
        for b, n in enumerate(lengths):
            if n > t:
                ts.append(t)
                bs.append(b)
    return np.asarray(ts, np.int32), np.asarray(bs, np.int32)


@lowering("PackPaddedSequence", data_dependent=True)
def _pack_padded_sequence(padded_sequence, lengths, batch_first=False, lengths_values=()):
    ts, bs = _pack_positions(list(lengths_values), batch_first)
    n_time = padded_sequence.shape[1 if batch_first else 0]
    if batch_first:
        packed = padded_sequence[bs, ts]
    else:
        packed = padded_sequence[ts, bs]
    sizes = [builtins.sum(1 for n in lengths_values if n > t) for t in range(n_time)]
    return packed, jnp.asarray(np.asarray(sizes, np.int32))


def pack_padded_sequence(padded_sequence, lengths, batch_first=False, n_outputs=-1,
                         outputs=None):
    """Pack a padded batch of sequences sorted by decreasing length.

    ``padded_sequence``: (T, B, ...) or (B, T, ...) when ``batch_first``; ``lengths``:
    (B,). Returns ``(packed_sequence (N, ...), batch_sizes (T,))`` with
    ``N = sum(lengths)``. ``N`` is read from the current ``lengths`` values when the
    graph is built (rebuild the graph when they change).
    """
    ps, ls = _shape(padded_sequence), _shape(lengths)
    if len(ps) < 2:
        raise ValueError(f"pack_padded_sequence: padded_sequence {ps} needs at least 2 "
                         "dimensions")
    if len(ls) != 1:
        raise ValueError(f"pack_padded_sequence: lengths {ls} must be 1-D")
    n_batch = ps[0] if batch_first else ps[1]
    n_time = ps[1] if batch_first else ps[0]
    if ls[0] != n_batch:
        raise ValueError(f"pack_padded_sequence: lengths {ls} do not match the batch "
                         f"size of padded_sequence {ps}")
    values = [int(v) for v in _host_values(lengths).reshape(-1)]
    if any(v < 0 or v > n_time for v in values):
        raise ValueError(f"pack_padded_sequence: lengths {values} must be within 0..{n_time}")
    if any(a < b for a, b in zip(values, values[1:])):
        raise ValueError(f"pack_padded_sequence: lengths {values} must be sorted in "
                         "decreasing order")
    return _call_value_shaped("PackPaddedSequence", _pack_padded_sequence,
                              [padded_sequence, lengths], dict(batch_first=bool(batch_first)),
                              dict(lengths_values=tuple(values)), outputs)


@lowering("PadPackedSequence", data_dependent=True)
def _pad_packed_sequence(packed_sequence, batch_sizes, batch_first=False, padding_value=0.0,
                         total_length=-1, sizes_values=()):
    sizes = list(sizes_values)
    n_batch = builtins.max(sizes) if sizes else 0
    n_time = builtins.max(total_length, len(sizes))
    lengths = [builtins.sum(1 for s in sizes if s > b) for b in range(n_batch)]
    ts, bs = _pack_positions(lengths, batch_first)
    tail = packed_sequence.shape[1:]
    if batch_first:
        padded = jnp.full((n_batch, n_time) + tail, padding_value, packed_sequence.dtype)
        padded = padded.at[bs, ts].set(packed_sequence)
    else:
        padded = jnp.full((n_time, n_batch) + tail, padding_value, packed_sequence.dtype)
        padded = padded.at[ts, bs].set(packed_sequence)
    return padded, jnp.asarray(np.asarray(lengths, np.int32))


def pad_packed_sequence(packed_sequence, batch_sizes, batch_first=False, padding_value=0.0,
                        total_length=-1, n_outputs=-1, outputs=None):
    """Inverse of :func:`pack_padded_sequence`: returns ``(padded_sequence, lengths)``.

    The padded length is ``max(total_length, len(batch_sizes))``; the batch size is
    read from the current ``batch_sizes`` values when the graph is built.
    """
    ps, bs = _shape(packed_sequence), _shape(batch_sizes)
    if len(ps) < 1 or len(bs) != 1:
        raise ValueError(f"pad_packed_sequence: packed_sequence {ps} needs at least 1 "
                         f"dimension and batch_sizes {bs} must be 1-D")
    sizes = [int(v) for v in _host_values(batch_sizes).reshape(-1)]
    if any(a < b for a, b in zip(sizes, sizes[1:])) or any(s < 0 for s in sizes):
        raise ValueError(f"pad_packed_sequence: batch_sizes {sizes} must be non-negative "
                         "and non-increasing")
    if builtins.sum(sizes) != ps[0]:
        raise ValueError(f"pad_packed_sequence: batch_sizes {sizes} sum to "
                         f"{builtins.sum(sizes)}, packed_sequence has {ps[0]} rows")
    total_length = _ints("pad_packed_sequence", "total_length", total_length)[0]
    if 0 <= total_length < len(sizes):
        raise ValueError(f"pad_packed_sequence: total_length {total_length} is shorter than "
                         f"the {len(sizes)} time steps")
    args = dict(batch_first=bool(batch_first),
                padding_value=_check_scalar("pad_packed_sequence", padding_value,
                                            "padding_value"),
                total_length=total_length)
    return _call_value_shaped("PadPackedSequence", _pad_packed_sequence,
                              [packed_sequence, batch_sizes], args,
                              dict(sizes_values=tuple(sizes)), outputs)
