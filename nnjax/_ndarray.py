"""NdArray: one buffer whose value lives on the device or on the host.

The buffer has one "head" at a time:
- a lazy fill (``zero()``/``fill(v)``): only (value,) is stored until used;
- a ``jax.Array`` (results of compiled programs stay here until observed);
- a writable ``numpy.ndarray`` handed out by ``.data``/``cast``/``get_data``;
  writes through it are seen by the next compiled call, which uploads it.

Arrays that a not-yet-run program reads or writes are marked ``_queued``;
any host access to such an array runs the queued programs first, so the user
always sees NNabla's eager semantics. Arithmetic operators are installed by
``nnjax._operators`` (they build graph nodes, a layer above this one).
"""
import math
import operator
import sys

import numpy as np
import jax

from ._queue import flush

_DEFAULT_DTYPE = np.dtype(np.float32)
# sys.getrefcount of a head inside _write_into_held that nobody else holds:
# the attribute, the local name and getrefcount's argument
_UNHELD_REFS = 3


def _as_shape(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(s) for s in shape)


def device_full(shape, fill, dtype):
    """A device array of one value. Made on the host and copied over: jnp.full
    would compile an XLA program for every new shape (tens of ms on a CPU),
    which a graph run once (a test case, a notebook cell) pays for each buffer."""
    return jax.device_put(np.full(shape, fill, dtype))


class NdArray:
    """A multi-dimensional array, as ``nnabla.NdArray``.

    Args:
        shape: the shape, as ints (``NdArray(2, 3)``) or one tuple (``NdArray((2, 3))``).
    """

    __slots__ = ("_shape", "_dtype", "_head", "_fill", "_modification_count",
                 "_queued", "_zeroed", "_zero_fill", "_lazy", "_exposed", "_children",
                 "_dtype_unset", "_keep_out", "_borrowed", "__weakref__")

    def __init__(self, *shape, dtype=None):
        if len(shape) == 2 and isinstance(shape[0], (tuple, list)):
            shape, dtype = shape  # NdArray(shape, dtype): nnjax's own calls
        elif len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = shape[0]      # NdArray((2, 3))
        try:
            dims = tuple(map(operator.index, shape))  # (ints and numpy integers)
        except TypeError:
            dims = None
        if dims is None or bool in map(type, shape):
            raise ValueError(f"NdArray: the shape must be ints, given as NdArray(2, 3) or "
                             f"NdArray((2, 3)); got {shape!r}")
        self._shape = dims
        self._dtype = np.dtype(dtype) if dtype is not None else _DEFAULT_DTYPE
        # as NNabla, an array made without a dtype has none until it is first
        # read or written (reading makes it float32)
        self._dtype_unset = dtype is None
        self._head = None
        self._fill = 0
        self._modification_count = 0
        self._queued = False
        self._zeroed = False
        self._zero_fill = False  # the pending fill comes from zero(): fold it in programs
        self._lazy = None
        self._exposed = False    # a numpy head the user may hold (and write) a view of
        self._children = None    # weak references to the views made by narrow()
        self._keep_out = False   # read once after a step left it out: always return it
        self._borrowed = None    # host memory a DLPack producer owns (see _write_into_held)

    # ------------------------------------------------------------ factories
    @staticmethod
    def from_numpy_array(nparr):
        """Create an NdArray holding a copy of ``nparr``."""
        nparr = np.asarray(nparr)
        a = NdArray(nparr.shape, nparr.dtype)
        a._head = np.array(nparr, copy=True)
        a._fill = None
        return a

    @classmethod
    def _from_device(cls, value, dtype=None):
        a = cls(value.shape, dtype if dtype is not None else value.dtype)
        a._head = value
        a._fill = None
        return a

    # ------------------------------------------------------------ metadata
    @property
    def shape(self):
        return self._shape

    @property
    def ndim(self):
        return len(self._shape)

    @property
    def size(self):
        return int(math.prod(self._shape))

    def size_from_axis(self, axis=-1):
        """Product of the dimensions from ``axis`` on (all if -1)."""
        if axis < 0:
            return self.size
        return int(math.prod(self._shape[axis:]))

    @property
    def dtype(self):
        if self._dtype_unset:
            raise RuntimeError(f"NdArray.dtype: the array of shape {self._shape} has no dtype "
                               "yet (made without one and never read or written)")
        return self._dtype

    @property
    def strides(self):
        """Strides in elements (C order)."""
        strides, acc = [], 1
        for s in reversed(self._shape):
            strides.append(acc)
            acc *= s
        return tuple(reversed(strides))

    @property
    def modification_count(self):
        """How many times the array was written."""
        return self._modification_count

    @property
    def zeroing(self):
        """True from ``zero()`` until the array is next written (as NNabla: a fresh array is not zeroing)."""
        return self._zeroed

    @property
    def clear_called(self):
        return self._head is None and self._fill is None

    def __bool__(self):  # always true, whatever the shape (as in NNabla)
        return True

    def __len__(self):
        if not self._shape:
            raise TypeError("len() of a 0-d NdArray")
        return self._shape[0]

    def __repr__(self):
        return f"<NdArray({self._shape}) dtype={self._dtype.name} at {hex(id(self))}>"

    # ------------------------------------------------------------ internal access
    def _sync(self, read=False):
        """Run queued programs touching this array; with ``read``, also compute a
        value left out of a compiled step."""
        if self._queued or self._children:
            flush()  # (a view's queued writes land in this array's buffer)
        if read and self._lazy is not None:
            self._resolve()

    def _resolve(self):
        """Compute a value that a compiled step left out (see ``nnjax._records``)."""
        record, slot = self._lazy
        self._lazy = None
        record.resolve(slot, self)

    def _touch(self):
        self._modification_count += 1
        self._dtype_unset = False
        self._zeroed = False
        self._zero_fill = False
        self._lazy = None
        self._exposed = False

    def _input_value(self):
        """The value as a program input: a jax/numpy array (never a copy)."""
        if self._lazy is not None:
            self._resolve()
        if self._head is None:
            return np.full(self._shape, 0 if self._fill is None else self._fill,
                           dtype=self._dtype)
        return self._head

    def _const_fill(self):
        """The fill value if the array is a pending constant, else None."""
        if self._lazy is not None:
            self._resolve()
        if self._head is None:
            return 0 if self._fill is None else self._fill
        return None

    def _materialize(self):
        """Turn a pending fill into a device array (not counted as a write)."""
        fill = 0 if self._fill is None else self._fill
        dtype = {8: np.dtype(np.float32) if self._dtype.kind == "f" else
                 np.dtype(np.int32) if self._dtype.kind == "i" else np.dtype(np.uint32)
                 }.get(self._dtype.itemsize, self._dtype) if self._dtype.itemsize == 8 else self._dtype
        self._head = device_full(self._shape, fill, dtype)
        self._fill = None
        return self._head

    def _write_into_held(self, value, held=None):
        """Write ``value`` into the numpy head itself when somebody still holds
        it (a view the user took from ``.data``, a DLPack consumer) or it is
        memory a DLPack producer owns: NNabla writes results into the array's
        memory, so such views see them. False (the head is then replaced) when
        nobody holds it, or when the shape or dtype differ. Callers check
        ``_exposed`` first. ``held``: ``_held_elsewhere()`` as asked before a
        program read the head (JAX may still hold an input it copies in)."""
        head = self._head
        if (type(head) is not np.ndarray or head.dtype != value.dtype
                or head.shape != tuple(value.shape) or not head.flags.writeable):
            return False
        head = None  # (not a holder for _held_elsewhere to count)
        if not (self._held_elsewhere() if held is None else held):
            return False
        np.copyto(self._head, np.asarray(value))
        self._fill = None
        self._touch()
        self._exposed = True  # still held
        return True

    def _held_elsewhere(self):
        """Whether the numpy head is memory somebody besides this array holds or owns."""
        head = self._head
        return type(head) is np.ndarray and (
            head is self._borrowed or sys.getrefcount(head) > _UNHELD_REFS)

    def _set_value(self, value):
        """Store a program result (a jax.Array of this array's shape)."""
        if self._exposed and self._write_into_held(value):
            return
        if self._dtype == np.float64 and value.dtype == np.float32:
            # as NNabla, where a function writing float32 makes that the head's dtype
            self._dtype = _DEFAULT_DTYPE
        self._head = value
        self._fill = None
        self._touch()

    def _host_buffer(self):
        """The values as a writable numpy array kept as the head (shared with views)."""
        self._sync(read=True)
        head = self._head
        if head is None:
            head = np.full(self._shape, 0 if self._fill is None else self._fill, self._dtype)
        elif not (isinstance(head, np.ndarray) and head.dtype == self._dtype
                  and head.flags.writeable):
            head = np.array(np.asarray(head), dtype=self._dtype, copy=True)
        self._head = head
        self._fill = None
        self._exposed = True
        return head

    # ------------------------------------------------------------ host access
    def _host(self, writable=True):
        self._sync(read=True)
        head = self._head
        if head is None:
            fill = 0 if self._fill is None else self._fill
            head = np.full(self._shape, fill, dtype=self._dtype)
        elif not isinstance(head, np.ndarray):
            head = np.asarray(head)
            if head.dtype != self._dtype:
                head = head.astype(self._dtype)
            elif writable:
                head = np.array(head, copy=True)
            if not writable:
                self._exposed = True  # (the view may share the device buffer: never donate it)
                return head
        elif head.dtype != self._dtype:
            head = head.astype(self._dtype)
        self._head = head
        self._fill = None
        self._dtype_unset = False
        if writable:
            self._touch()
        self._exposed = True
        return head

    @property
    def data(self):
        """A writable numpy reference to the values."""
        return self._host(writable=True)

    @data.setter
    def data(self, value):
        self._sync()
        if type(value) is np.ndarray and value.ndim and value.shape == self._shape:
            # (a batch written every step: the general path below does the same)
            if self._exposed and self._write_into_held(value):
                return
            self._adopt_dtype(value.dtype)
            self._head = np.array(value, dtype=self._dtype, copy=True)
            self._fill = None
            self._touch()
            return
        if np.isscalar(value) or (isinstance(value, np.ndarray) and value.ndim == 0
                                  and self._shape != ()):
            if value == 0:
                self.zero()  # as NNabla: a zero scalar becomes a lazy zero()
                return
            if np.asarray(value).dtype.kind == "f" or value <= (1 << 53):
                self.fill(value)  # (a fill value is a float64: exact up to 2**53)
                return
            value = np.asarray(value)  # a larger integer: written as an array of its dtype
        value = _unwrap(value)
        if isinstance(value, np.ndarray) or not hasattr(value, "block_until_ready"):
            arr = np.asarray(value)
            self._adopt_dtype(arr.dtype)  # as NNabla: the array takes the value's dtype
            if arr.shape != self._shape:
                try:
                    arr = np.broadcast_to(arr, self._shape)
                except ValueError:
                    raise ValueError(f"NdArray.data: a value of shape {arr.shape} cannot be "
                                     f"written into an array of shape {self._shape}") from None
            if self._exposed and self._write_into_held(arr):
                return
            self._head = np.array(arr, dtype=self._dtype, copy=True)
        else:
            if value.shape != self._shape:
                raise ValueError(f"NdArray.data: shape {value.shape} does not "
                                 f"match the array's shape {self._shape}")
            self._adopt_dtype(value.dtype)
            self._head = value if value.dtype == self._dtype else value.astype(self._dtype)
        self._fill = None
        self._touch()

    def get_data(self, mode="rw", dtype=None):
        """Values as numpy; ``mode`` is 'r', 'w' or 'rw'."""
        if mode not in ("r", "w", "rw"):
            raise ValueError(f"NdArray.get_data: mode must be 'r', 'w' or 'rw', got {mode!r}")
        if dtype is not None and np.dtype(dtype) != self._dtype:
            if mode == "r":  # a converted read-only copy; the array keeps its dtype
                out = self._host(writable=False).astype(dtype)
                out.flags.writeable = False
                return out
            return self.cast(dtype)
        if mode == "r":
            return self._host(writable=False)
        return self._host(writable=True)

    def cast(self, dtype, ctx=None):
        """Change the array's dtype in place; return a writable numpy reference
        (nothing when ``ctx`` is given, as NNabla)."""
        dtype = np.dtype(dtype)
        self._sync(read=True)
        if dtype != self._dtype:
            if self._head is None:
                self._dtype = dtype
            else:
                host = np.asarray(self._head).astype(dtype)
                self._dtype = dtype
                self._head = host
        data = self._host(writable=True)
        return data if ctx is None else None

    def fill(self, value):
        """Fill with a scalar (lazily: nothing is allocated until used)."""
        self._sync()
        self._head = None
        self._fill = value.item() if isinstance(value, np.generic) else value
        self._modification_count = 0  # as NNabla: a fill clears, then counts one write
        self._touch()

    def zero(self):
        """Fill with zeros (lazily)."""
        if self._queued or self._children is not None or type(self) is not NdArray:
            self.fill(0)
        else:  # fill(0) inlined: every zero_grad zeroes every gradient
            self._head = None
            self._fill = 0
            self._modification_count = 1
            self._dtype_unset = self._exposed = False
            self._lazy = None
        self._zeroed = True
        self._zero_fill = True

    def clear(self):
        """Release the buffer; it reads as zeros afterwards."""
        self._sync()
        self._head = None
        self._fill = None
        self._modification_count = 0
        self._zeroed = False
        self._zero_fill = False
        self._lazy = None

    def copy_from(self, arr, use_current_context=True):
        """Copy the values of ``arr`` into this array and return this array.

        The array takes ``arr``'s dtype; with ``use_current_context`` an ``arr``
        holding no values yet (fresh, or after ``zero``/``fill``) copies as float32.
        """
        if not isinstance(arr, NdArray):
            raise TypeError(f"NdArray.copy_from: expected an NdArray, got {type(arr).__name__}")
        if arr.shape != self._shape:
            raise ValueError(f"NdArray.copy_from: shape {arr.shape} does not match {self._shape}")
        self._sync()
        arr._sync(read=True)
        if arr._head is None and not use_current_context:
            raise ValueError("NdArray.copy_from(use_current_context=False): the source "
                             "array holds no values yet (fresh, or after zero()/fill())")
        dtype = arr._dtype if arr._head is not None else _DEFAULT_DTYPE
        if (arr._head is not None and self._exposed and arr._head.dtype == dtype
                and self._write_into_held(arr._head)):
            return self
        self._set_dtype(dtype)
        if arr._head is None:
            self._head = None
            self._fill = arr._fill
        elif isinstance(arr._head, np.ndarray):
            self._head = np.array(arr._head, dtype=dtype, copy=True)
            self._fill = None
        else:
            value = arr._head
            if value.dtype != dtype:
                # convert on the host: JAX (without x64) would truncate 64-bit dtypes
                value = np.asarray(value).astype(dtype)
            self._head = value  # jax arrays are immutable: sharing is a copy
            self._fill = None
        self._touch()
        return self

    def _set_dtype(self, dtype):
        self._dtype = np.dtype(dtype)
        self._dtype_unset = False

    def _adopt_dtype(self, dtype):
        """Take the dtype of a value written whole (a view keeps its root's)."""
        self._set_dtype(dtype)

    def __array__(self, dtype=None, copy=None):
        host = self._host(writable=False)
        return host if dtype is None else host.astype(dtype)

    __hash__ = object.__hash__


def _unwrap(value):
    if isinstance(value, NdArray):
        return value._host(writable=False)
    return value
