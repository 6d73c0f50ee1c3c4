"""Variable indexing as NNabla records it.

``x[key]``:
- basic keys (ints, slices, None, Ellipsis) become one ``Slice`` (negative steps
  included) followed by a ``Reshape`` when ints drop axes or None adds them;
- advanced keys become one ``GatherNd``: integer arrays/lists (one per leading axis),
  integer Variables/NdArrays (stacked with ``Stack``), or a single boolean mask
  (numpy, list of bools, or a bool-dtype Variable/NdArray) whose non-zero positions
  are read when the graph is built. Mixing slices with arrays is not supported
  (an IndexError; NNabla does not support it either).

For an NdArray, ``x[key]`` computes at once through the same functions and
``x[key] = value`` writes into the array at once (numpy's indexing rules).

``x[key] = value`` on a Variable records a ``ScatterNd`` into ``x``: when ``x`` has a parent, ``x``
is rewired onto ``ScatterNd(value, indices, out=<x before the assignment>)`` so the
following graph sees the assigned values and gradients flow to both. For a leaf ``x``
a constant value is written into ``x.d`` at once; with a Variable value the leaf is
rewired the same way (as NNabla does), so ``x`` is computed with the graph.
"""
import numpy as np

from . import functions as F
from ._apply import host_values
from ._ndarray import NdArray
from ._plan import bump_graph
from ._variable import Variable

_SEQUENCE_TYPES = (tuple, list, np.ndarray)


def _is_advanced(k):
    return isinstance(k, _SEQUENCE_TYPES + (Variable, NdArray))


def _is_bool_mask(k):
    if isinstance(k, (tuple, list)):
        return len(k) > 0 and all(isinstance(v, (bool, np.bool_)) for v in k)
    if isinstance(k, np.ndarray):
        return k.dtype == np.bool_
    if isinstance(k, Variable):
        return k.data.dtype == np.bool_
    if isinstance(k, NdArray):
        return k.dtype == np.bool_
    return False


def _normalize_key(key):
    if isinstance(key, tuple):
        return list(key)
    return [key]


def _basic_prepare(shape, key):
    """Expand Ellipsis, fill trailing axes; return (key, per-axis slice objects)."""
    ndim = len(shape)
    for k in key:
        if not (k is None or k is Ellipsis or isinstance(k, (slice, int, np.integer))
                or isinstance(k, (bool, np.bool_))):
            raise TypeError(f"invalid index {k!r}")
    n_ellipsis = sum(1 for k in key if k is Ellipsis)
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    n_real = sum(1 for k in key if k is not None and k is not Ellipsis)
    if n_real > ndim:
        raise IndexError(f"too many indices ({n_real}) for an array of rank {ndim}")
    if n_ellipsis:
        pos = key.index(Ellipsis)
        key = key[:pos] + [slice(None)] * (ndim - n_real) + key[pos + 1:]
    key = key + [slice(None)] * (ndim - sum(1 for k in key if k is not None))
    per_axis = []
    axis = 0
    for k in key:
        if k is None:
            continue
        size = shape[axis]
        if isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)):
            i = int(k)
            if not -size <= i < size:
                raise IndexError(f"index {i} is out of bounds for axis {axis} with size {size}")
            i %= size
            per_axis.append(slice(i, i + 1, 1))
        elif isinstance(k, slice):
            per_axis.append(k)
        else:
            raise TypeError(f"invalid index {k!r}")
        axis += 1
    return key, per_axis


def _basic_result_shape(key, sliced_shape):
    axes = iter(sliced_shape)
    shape = []
    for k in key:
        if k is None:
            shape.append(1)
        elif isinstance(k, (int, np.integer)):
            next(axes)
        else:
            shape.append(next(axes))
    return tuple(shape)


def _slice_args(per_axis):
    start = [s.start for s in per_axis]
    stop = [s.stop for s in per_axis]
    step = [s.step for s in per_axis]
    return start, stop, step


def _basic_getitem(x, key):
    key, per_axis = _basic_prepare(tuple(x.shape), key)
    start, stop, step = _slice_args(per_axis)
    y = F.slice(x, start, stop, step)
    shape = _basic_result_shape(key, y.shape)
    if tuple(y.shape) != shape:
        y = F.reshape(y, shape)
    return y


def _advanced_indices(x, idx):
    """GatherNd indices (numpy or Variable) for the advanced index list ``idx``."""
    if len(idx) == 1 and _is_bool_mask(idx[0]):
        mask = host_values(idx[0]).astype(bool)
        if mask.ndim > len(x.shape) or mask.shape != tuple(x.shape[:mask.ndim]):
            raise IndexError(f"boolean index of shape {mask.shape} does not match the "
                             f"leading dimensions of {tuple(x.shape)}")
        return np.vstack(np.nonzero(mask)) if mask.ndim else np.zeros((0, 0), np.int64)
    if all(isinstance(k, (Variable, NdArray)) for k in idx):
        return F.stack(*idx)
    if all(isinstance(k, (int, np.integer, tuple, list, np.ndarray)) and not _is_bool_mask(k)
           for k in idx):
        arrays = np.broadcast_arrays(*[np.asarray(k) for k in idx])
        arr = np.array(arrays)
        if arr.dtype.kind not in "iu":
            raise IndexError(f"arrays used as indices must be of integer type, got "
                             f"{arr.dtype}")
        if arr.shape[0] > len(x.shape):
            raise IndexError(f"too many indices ({arr.shape[0]}) for an array of rank "
                             f"{len(x.shape)}")
        for axis, a in enumerate(arr):
            size = x.shape[axis]
            if a.size and (a.min() < -size or a.max() >= size):
                raise IndexError(f"index out of bounds for axis {axis} with size {size}")
        return arr
    shown = ", ".join(repr(k) for k in idx)
    raise IndexError(f"Variable indexing: slices mixed with integer arrays or masks ({shown}) "
                     "are not supported, as in NNabla; index in two steps or use F.gather_nd")


def _strip_full_slices(idx):
    """Trailing ``:`` and ``...`` select everything: drop them from an advanced key."""
    idx = list(idx)
    while idx and (idx[-1] is Ellipsis or (isinstance(idx[-1], slice)
                                           and idx[-1] == slice(None))):
        idx.pop()
    return idx


def _advanced_getitem(x, key):
    idx = _strip_full_slices(k for k in key if k is not None)
    newaxes = [1 if k is None else 0 for k in key]
    indices = _advanced_indices(x, idx)
    y = F.gather_nd(x, indices)
    if sum(newaxes):
        first = newaxes.index(0)
        shape = [1] * first + [y.shape[0]] + [1] * sum(newaxes[first:]) + list(y.shape[1:])
        y = F.reshape(y, shape)
    return y


def getitem(x, key):
    """``x[key]`` (see the module docstring)."""
    if isinstance(key, _SEQUENCE_TYPES[1:] + (Variable, NdArray)):
        return _advanced_getitem(x, [key])
    if isinstance(key, tuple):
        if any(_is_advanced(k) for k in key):
            return _advanced_getitem(x, list(key))
        return _basic_getitem(x, list(key))
    if key is None or key is Ellipsis or isinstance(key, (slice, int, np.integer)):
        return _basic_getitem(x, [key])
    raise TypeError(f"invalid index {key!r}")


# ---------------------------------------------------------------- assignment
def _basic_scatter_indices(x, key, value_shape):
    """(indices (ndim, ...), sliced shape) for a basic key."""
    shape = tuple(x.shape)
    key, per_axis = _basic_prepare(shape, key)
    ranges = [np.arange(shape[ax])[s] for ax, s in enumerate(per_axis)]
    grids = np.array(np.meshgrid(*ranges, indexing="ij")) if ranges else np.zeros((0,))
    sliced = _basic_result_shape(key, tuple(len(r) for r in ranges))
    return grids, sliced


def _prepare_value(value, target_shape, fname="setitem"):
    """``value`` broadcast (numpy rules) to ``target_shape``, reshaped as needed."""
    vs = tuple(value.shape)
    if vs == tuple(target_shape):
        return value
    try:
        np.broadcast_shapes(vs, tuple(target_shape))
    except ValueError:
        raise ValueError(f"{fname}: could not broadcast a value of shape {vs} into shape "
                         f"{tuple(target_shape)}") from None
    if len(vs) > len(target_shape):
        value = F.reshape(value, vs[len(vs) - len(target_shape):])
        vs = tuple(value.shape)
    if len(vs) < len(target_shape):
        value = F.reshape(value, (1,) * (len(target_shape) - len(vs)) + vs)
    if tuple(value.shape) != tuple(target_shape):
        value = F.broadcast(value, target_shape)
    return value


def _scatter(out, key, value):
    """Record ScatterNd(value, indices, out=out) for ``out[key] = value``."""
    keys = _normalize_key(key)
    if any(_is_advanced(k) for k in keys):
        idx = _strip_full_slices(k for k in keys if k is not None)
        newaxes = [1 if k is None else 0 for k in keys]
        if sum(newaxes):
            first = newaxes.index(0)
            vs = tuple(value.shape)
            value = F.reshape(value, vs[first:first + 1] + vs[sum(newaxes) + 1:])
        indices = _advanced_indices(out, idx)
        ishape = tuple(indices.shape)
        upshape = ishape[1:] + tuple(out.shape[ishape[0]:])
        value = _prepare_value(value, upshape)
        return F.scatter_nd(value, indices, out=out)
    indices, sliced = _basic_scatter_indices(out, keys, value.shape)
    value = _prepare_value(value, sliced)
    value = F.reshape(value, indices.shape[1:]) if tuple(value.shape) != indices.shape[1:] \
        else value
    return F.scatter_nd(value, indices, out=out)


def _host_key(key):
    """``key`` with its NdArray/Variable parts read as numpy arrays."""
    def one(k):
        if isinstance(k, NdArray):
            return np.asarray(k._host(writable=False))
        if isinstance(k, Variable):
            return np.asarray(k.data._host(writable=False))
        return k
    return tuple(one(k) for k in key) if isinstance(key, tuple) else one(key)


def ndarray_setitem(x, key, value):
    """``x[key] = value`` for an NdArray: written at once, with numpy's rules."""
    if isinstance(value, Variable):
        value = value.data
    if isinstance(value, NdArray):
        value = value._host(writable=False)
    try:
        x.data[_host_key(key)] = value
    except (IndexError, ValueError) as e:
        raise type(e)(f"NdArray.__setitem__ (array shape {x.shape}): {e}") from None


def setitem(x, key, value):
    """``x[key] = value`` (see the module docstring)."""
    if isinstance(value, NdArray):
        value = Variable.from_numpy_array(np.asarray(value.data))
    if not isinstance(value, Variable):
        arr = np.asarray(value)
        if x.parent is None:
            try:
                x.d[_host_key(key)] = arr
            except (IndexError, ValueError) as e:
                raise type(e)(f"setitem: {e}") from None
            return
        value = Variable.from_numpy_array(arr.astype(x.data.dtype) if arr.dtype.kind == "f"
                                          or x.data.dtype.kind == "f" else arr)
    parent = x.parent
    before = x.get_unlinked_variable()
    if parent is not None:
        before._parent = parent
        parent.outputs = [before if o is x else o for o in parent.outputs]
        bump_graph()
    y = _scatter(before, key, value)
    x.rewire_on(y)

