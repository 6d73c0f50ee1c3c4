"""``NdArray.narrow``: views that share memory with the array they narrow.

JAX arrays are immutable, so a view holds no values of its own: it records its
root array and its rows ``[r0, r1)`` along axis 0 (views of views point at the
same root). Reading a view slices the root's host buffer (a writable numpy
array kept as the root's head, so numpy slices share its memory); a write
through the view (``fill``, ``data``, ``copy_from``, a program writing it as an
output) goes into that buffer. The root flushes queued programs before any
access while it has views, so writes queued on a view land before a read.
As in NNabla, only axis 0 is narrowed, views of one array may not overlap,
a view keeps its root's dtype (a cast to another dtype is an error) and
cannot be cleared.
"""
import weakref

import numpy as np

from ._ndarray import NdArray
from ._queue import flush


def narrow(self, dim, start, length):
    """A view of ``length`` entries of axis 0 from ``start``: it shares this
    array's memory (writes through either are seen by the other)."""
    if dim != 0:
        raise RuntimeError(f"NdArray.narrow: only dim 0 can be narrowed, got dim={dim}")
    if not self._shape:
        raise RuntimeError("NdArray.narrow: a 0-d array cannot be narrowed")
    size = self._shape[0]
    if not 0 <= start < max(size, 1):
        raise RuntimeError(f"NdArray.narrow: start must be in [0, {size - 1}], got {start}")
    if length < 0 or start + length > size:
        raise RuntimeError(f"NdArray.narrow: start ({start}) + length ({length}) must stay "
                           f"within axis 0 of size {size}, with length >= 0")
    live = [r for r in (self._children or ()) if r() is not None]
    for ref in live:
        s0, n0 = ref()._span
        if start < s0 + n0 and s0 < start + length:
            raise RuntimeError(f"NdArray.narrow: rows [{start}, {start + length}) overlap "
                               f"the narrowed rows [{s0}, {s0 + n0}) of the same array")
    view = _NarrowedNdArray(self, start, length)
    self._children = live + [weakref.ref(view)]
    return view


class _NarrowedNdArray(NdArray):
    """Rows ``[r0, r1)`` of a root array (``NdArray.narrow``). It owns no values:
    reads slice the root's host buffer, writes go into it; the dtype is the root's."""

    __slots__ = ("_root", "_rows", "_span")

    def __init__(self, parent, start, length):
        root = getattr(parent, "_root", parent)
        offset = parent._rows[0] if parent is not root else 0
        self._root = root
        self._rows = (offset + start, offset + start + length)
        self._span = (start, length)
        self._shape = (length,) + parent.shape[1:]
        self._modification_count = 0
        self._queued = False
        self._zeroed = False
        self._zero_fill = False
        self._lazy = None
        self._children = None
        self._dtype_unset = False
        self._keep_out = True  # (its values live in the root's buffer)

    def _buffer(self):
        return self._root._host_buffer()[self._rows[0]:self._rows[1]]

    def _written(self):
        root = self._root
        root._modification_count += 1
        root._zeroed = root._zero_fill = False

    @property
    def _head(self):
        return self._buffer()

    @_head.setter
    def _head(self, value):
        if value is None:
            return
        buf = self._buffer()
        if isinstance(value, np.ndarray) and np.may_share_memory(value, buf):
            return  # already this view's memory
        buf[...] = np.asarray(value)
        self._written()

    @property
    def _fill(self):
        return None

    @_fill.setter
    def _fill(self, value):
        if value is not None:
            self._buffer()[...] = value
            self._written()

    @property
    def _dtype(self):
        return self._root._dtype

    @_dtype.setter
    def _dtype(self, value):
        pass  # values written into a view take its root's dtype

    @property
    def _exposed(self):
        return True  # the root's buffer is shared: programs snapshot it

    @_exposed.setter
    def _exposed(self, value):
        pass

    def _adopt_dtype(self, dtype):
        pass  # values written into a view take its root's dtype

    def _write_into_held(self, value, held=None):
        return False  # (writes go into the root's buffer already: see _head)

    def _held_elsewhere(self):
        return False

    def _set_dtype(self, dtype):
        if np.dtype(dtype) != self._root._dtype:
            raise RuntimeError(f"NdArray: a narrowed array keeps its root's dtype "
                               f"{self._root._dtype}; cannot make it {np.dtype(dtype)}")

    def _sync(self, read=False):
        flush()
        self._root._sync(read)
        if read and self._lazy is not None:
            self._resolve()

    def cast(self, dtype, ctx=None):
        self._set_dtype(dtype)
        data = self._host(writable=True)
        return data if ctx is None else None

    def clear(self):
        raise RuntimeError("NdArray.clear: a narrowed array cannot be cleared "
                           "(clear the array it was narrowed from)")


class _ReshapedNdArray(_NarrowedNdArray):
    """All of a root array seen with another shape (``Variable.reshape(unlink=False)``):
    reads and writes go through the root's host buffer, as a narrowed view's."""

    __slots__ = ()

    def __init__(self, parent, shape):
        super().__init__(parent, 0, parent.shape[0] if parent.shape else 1)
        if isinstance(parent, _ReshapedNdArray):
            self._rows = parent._rows
        self._shape = tuple(shape)
        self._span = (0, 0)  # covers no rows for narrow()'s overlap check

    def _buffer(self):
        root_buffer = self._root._host_buffer()
        if root_buffer.ndim:
            root_buffer = root_buffer[self._rows[0]:self._rows[1]]
        return root_buffer.reshape(self._shape)


def reshaped_view(self, shape):
    """This array's memory seen with ``shape`` (same number of elements):
    ``NdArray.view``; it works on narrowed arrays too."""
    shape = tuple(int(s) for s in shape)
    if int(np.prod(shape, dtype=np.int64)) != self.size:
        raise ValueError(f"NdArray reshape view: cannot view {self.shape} as {shape}")
    root = getattr(self, "_root", self)
    view = _ReshapedNdArray(self, shape)
    live = [r for r in (root._children or ()) if r() is not None]
    root._children = live + [weakref.ref(view)]
    return view


def install():
    """Put ``narrow`` (and the reshape view) on NdArray (idempotent)."""
    NdArray.narrow = narrow
    NdArray._reshaped_view = reshaped_view
    NdArray.view = reshaped_view
