"""Index-driven functions: gather, gather_nd, scatter_nd, scatter_add and one_hot."""
import builtins

import jax
import jax.numpy as jnp
import numpy as np

from .._ndarray import NdArray
from .._registry import InvalidArgumentError
from .._variable import Variable
from ._common import call, int_list, lowering, norm_axis
from .arithmetic import _shape



# ---------------------------------------------------------------- helpers
def _as_index_input(indices):
    """Index arrays given as lists/numpy become constant (int) Variables."""
    if isinstance(indices, (Variable, NdArray)):
        return indices
    arr = np.asarray(indices)
    if arr.dtype.kind == "f":
        arr = arr.astype(np.int64)
    return Variable.from_numpy_array(arr)


def _int_index(a):
    return a.astype(jnp.int32)


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
    axis = int_list("gather", "axis", axis)[0]
    batch_dims = int_list("gather", "batch_dims", batch_dims)[0]
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
        shape = int_list("scatter_nd", "shape", shape)
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
    grids[axis % idx.ndim] = idx  # a negative axis counts from the end of the current rank
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
    given = 0 if axis is None else axis
    axis = norm_axis(given, len(s0), "scatter_add")
    for d in range(len(s0)):
        if si[d] > s1[d] or (d != axis and si[d] > s0[d]):
            raise ValueError(f"scatter_add: indices {si} exceed x0 {s0} or x1 {s1} at "
                             f"dimension {d}")
    return call("ScatterAdd", [x0, indices, x1], dict(axis=int(given)))


# ---------------------------------------------------------------- one-hot
@lowering("OneHot")
def _one_hot(x, shape):
    idx = _int_index(x)
    flat = jnp.zeros(x.shape[:-1], jnp.int32)
    valid = jnp.ones(x.shape[:-1], bool)
    for i, s in enumerate(shape):
        k = idx[..., i]
        k = jnp.where(k < 0, k + s, k)  # negative labels count from the end
        valid = valid & (k >= 0) & (k < s)
        flat = flat * s + jnp.clip(k, 0, s - 1)
    size = int(np.prod(shape, dtype=np.int64))
    # a label out of range (after wrapping) gives an all-zero row
    y = jax.nn.one_hot(flat, size, dtype=jnp.float32) * valid[..., None]
    return y.reshape(x.shape[:-1] + tuple(shape))


def one_hot(x, shape, n_outputs=-1, outputs=None):
    """One-hot arrays from integer labels: the last axis of ``x`` holds
    ``len(shape)`` indices (negative ones count from the end; one out of range gives
    an all-zero array); the output has shape ``x.shape[:-1] + shape``."""
    shape = int_list("one_hot", "shape", shape)
    xs = _shape(x)
    if not xs or xs[-1] != len(shape):
        raise InvalidArgumentError(f"one_hot: the last dimension of x {xs} must equal len(shape) "
                         f"= {len(shape)}")
    if any(s <= 0 for s in shape):
        raise ValueError(f"one_hot: shape must be positive, got {shape}")
    return call("OneHot", [x], dict(shape=shape), outputs)
