"""Mask- and value-driven functions: bool_gather, bool_scatter, bool_fill, nonzero and
packed sequences.

Functions whose output shape depends on input *values* (``nonzero``, ``bool_gather``,
``pack_padded_sequence``, ``pad_packed_sequence``) are registered ``data_dependent``
with a ``sizes`` rule: when the node is recorded, the inputs are computed if needed
and the rule fixes the output shape from their current values. When those values
later change so that the count changes, the graph must be built again (the recorded
node keeps the old shape).
"""
import builtins

import jax.numpy as jnp
import numpy as np
from jax import lax

from .._apply import host_values
from ._common import call, int_list, lowering
from .arithmetic import _broadcast_shape, _check_scalar, _shape



# ---------------------------------------------------------------- boolean masks
def _mask_positions(mask, count):
    flat = mask.reshape(-1) != 0
    return jnp.nonzero(flat, size=count, fill_value=flat.shape[0])[0]


def _mask_count(values, **args):
    return dict(nnz=int(np.count_nonzero(values[1])))


@lowering("BoolGather", data_dependent=True, sizes=_mask_count)
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
    return call("BoolGather", [input, mask], {}, outputs)


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


def _nonzero_count(values, **args):
    return dict(nnz=int(np.count_nonzero(values[0])))


@lowering("NonZero", data_dependent=True, sizes=_nonzero_count)
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
    return call("NonZero", [x], {}, outputs)


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


def _lengths_of(values, **args):
    return dict(lengths_values=tuple(int(v) for v in values[1].reshape(-1)))


@lowering("PackPaddedSequence", data_dependent=True, sizes=_lengths_of)
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
    values = [int(v) for v in host_values(lengths).reshape(-1)]
    if any(v < 0 or v > n_time for v in values):
        raise ValueError(f"pack_padded_sequence: lengths {values} must be within 0..{n_time}")
    if any(a < b for a, b in zip(values, values[1:])):
        raise ValueError(f"pack_padded_sequence: lengths {values} must be sorted in "
                         "decreasing order")
    return call("PackPaddedSequence", [padded_sequence, lengths],
                dict(batch_first=bool(batch_first)), outputs)


def _batch_sizes_of(values, **args):
    return dict(sizes_values=tuple(int(v) for v in values[1].reshape(-1)))


@lowering("PadPackedSequence", data_dependent=True, sizes=_batch_sizes_of)
def _pad_packed_sequence(packed_sequence, batch_sizes, batch_first=False, padding_value=0.0,
                         total_length=-1, sizes_values=()):
    sizes = list(sizes_values)
    n_batch = builtins.max(sizes) if sizes else 0
    n_time = builtins.max(total_length, len(sizes))
    lengths = [builtins.sum(1 for s in sizes if s > b) for b in range(n_batch)]
    ts, bs = _pack_positions(lengths, batch_first)
    tail = packed_sequence.shape[1:]
    # NNabla's kernel pads with zeros whatever padding_value says (the arg is only
    # recorded), and scripts and files depend on those numbers
    if batch_first:
        padded = jnp.zeros((n_batch, n_time) + tail, packed_sequence.dtype)
        padded = padded.at[bs, ts].set(packed_sequence)
    else:
        padded = jnp.zeros((n_time, n_batch) + tail, packed_sequence.dtype)
        padded = padded.at[ts, bs].set(packed_sequence)
    return padded, jnp.asarray(np.asarray(lengths, np.int32))


def pad_packed_sequence(packed_sequence, batch_sizes, batch_first=False, padding_value=0.0,
                        total_length=-1, n_outputs=-1, outputs=None):
    """Inverse of :func:`pack_padded_sequence`: returns ``(padded_sequence, lengths)``.

    The padded length is ``max(total_length, len(batch_sizes))`` (a shorter
    ``total_length`` does not cut the sequences); the batch size is
    read from the current ``batch_sizes`` values when the graph is built. The
    padding is zeros, as NNabla's kernel writes, whatever ``padding_value`` is.
    """
    ps, bs = _shape(packed_sequence), _shape(batch_sizes)
    if len(ps) < 1 or len(bs) != 1:
        raise ValueError(f"pad_packed_sequence: packed_sequence {ps} needs at least 1 "
                         f"dimension and batch_sizes {bs} must be 1-D")
    sizes = [int(v) for v in host_values(batch_sizes).reshape(-1)]
    if any(a < b for a, b in zip(sizes, sizes[1:])) or any(s < 0 for s in sizes):
        raise ValueError(f"pad_packed_sequence: batch_sizes {sizes} must be non-negative "
                         "and non-increasing")
    if builtins.sum(sizes) != ps[0]:
        raise ValueError(f"pad_packed_sequence: batch_sizes {sizes} sum to "
                         f"{builtins.sum(sizes)}, packed_sequence has {ps[0]} rows")
    total_length = int_list("pad_packed_sequence", "total_length", total_length)[0]
    args = dict(batch_first=bool(batch_first),
                padding_value=_check_scalar("pad_packed_sequence", padding_value,
                                            "padding_value"),
                total_length=total_length)
    return call("PadPackedSequence", [packed_sequence, batch_sizes], args, outputs)
