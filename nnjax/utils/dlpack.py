"""DLPack exchange, as ``nnabla.utils.dlpack`` (through numpy's DLPack support).

``to_dlpack(a)`` hands out a capsule over the array's host buffer: the consumer
(PyTorch, CuPy on the host, JAX, numpy ...) reads and writes the very memory the
NdArray holds. ``from_dlpack(dlp)`` takes a capsule or any object with
``__dlpack__`` (host memory) and makes an NdArray over it without copying; reads
see the producer's later writes, and results written into the NdArray (``a += 1``,
a function's output) are copied into that memory, as NNabla writes in place.
"""
import numpy as np

from .._ndarray import NdArray

_HOST_DEVICE = (1, 0)  # kDLCPU, device 0


class _Capsule:
    """A bare DLPack capsule seen as a host-memory DLPack producer."""

    def __init__(self, capsule):
        self._capsule = capsule

    def __dlpack__(self, stream=None, **kwargs):
        return self._capsule

    def __dlpack_device__(self):
        return _HOST_DEVICE


class _WritableView:
    """Exposes the memory of a read-only import (legacy capsules carry no read-only
    flag, so numpy marks them read-only) as writable, keeping the import alive."""

    def __init__(self, array):
        self._array = array
        interface = dict(array.__array_interface__)
        interface["data"] = (interface["data"][0], False)
        self.__array_interface__ = interface


def from_dlpack(dlp, arr=None):
    """An NdArray over the memory of ``dlp`` (a capsule or a ``__dlpack__`` object);
    with ``arr`` given, that NdArray takes the memory and is returned."""
    producer = dlp if hasattr(dlp, "__dlpack__") else _Capsule(dlp)
    try:
        host = np.from_dlpack(producer)
    except (TypeError, ValueError, RuntimeError, BufferError) as e:
        raise ValueError(f"nnabla.utils.dlpack.from_dlpack: cannot read the DLPack "
                         f"({type(dlp).__name__}): {e}; only host (CPU) memory is "
                         "supported") from None
    if not host.flags.writeable:
        host = np.asarray(_WritableView(host))
    if arr is None:
        arr = NdArray(host.shape, host.dtype)
    elif not isinstance(arr, NdArray):
        raise TypeError(f"from_dlpack: arr must be an NdArray, got {type(arr).__name__}")
    arr._sync()
    arr._shape = tuple(host.shape)
    arr._dtype = host.dtype
    arr._head = host
    arr._fill = None
    arr._touch()
    arr._exposed = True
    arr._borrowed = host  # results are written into the producer's memory
    return arr


def to_dlpack(a, dtype=None, ctx=None):
    """A DLPack capsule over ``a``'s host buffer (cast to ``dtype`` first if given;
    ``ctx`` is accepted for NNabla's signature: the buffer is host memory)."""
    if not isinstance(a, NdArray):
        raise TypeError(f"to_dlpack: expected an NdArray, got {type(a).__name__}")
    if dtype is not None and np.dtype(dtype) != a.dtype:
        a.cast(dtype)
    return a._host_buffer().__dlpack__()
