"""Variable indexing (``x[..., :4, None]``) mapped onto F.slice / F.reshape / F.flip."""
import numpy as np


def _expand_key(key, ndim):
    if not isinstance(key, tuple):
        key = (key,)
    n_real = sum(1 for k in key if k is not None and k is not Ellipsis)
    if n_real > ndim:
        raise IndexError(f"too many indices ({n_real}) for a variable of rank {ndim}")
    out = []
    seen_ellipsis = False
    for k in key:
        if k is Ellipsis:
            if seen_ellipsis:
                raise IndexError("an index can only have a single ellipsis")
            seen_ellipsis = True
            out.extend([slice(None)] * (ndim - n_real))
        else:
            out.append(k)
    n_now = sum(1 for k in out if k is not None)
    out.extend([slice(None)] * (ndim - n_now))
    return out


def getitem(x, key):
    from . import functions as F
    if isinstance(key, (list, np.ndarray)) or (
            isinstance(key, tuple) and any(isinstance(k, (list, np.ndarray)) for k in key)):
        raise IndexError("Variable indexing supports ints, slices, None and Ellipsis; "
                         "use F.gather_nd for integer-array indexing")
    shape = tuple(x.shape)
    items = _expand_key(key, len(shape))
    start, stop, step, out_shape = [], [], [], []
    flips = []
    axis = 0
    for k in items:
        if k is None:
            out_shape.append(1)
            continue
        size = shape[axis]
        if isinstance(k, (int, np.integer)):
            i = int(k)
            if not -size <= i < size:
                raise IndexError(f"index {i} is out of bounds for axis {axis} with size {size}")
            i %= size
            start.append(i)
            stop.append(i + 1)
            step.append(1)
        elif isinstance(k, slice):
            a, b, c = k.indices(size)
            if c < 0:
                # take the positive-step slice, then flip that axis
                n = len(range(a, b, c))
                lo = a + (n - 1) * c if n else 0
                start.append(lo)
                stop.append(lo + (n - 1) * (-c) + 1 if n else 0)
                step.append(-c)
                flips.append(axis)
            else:
                start.append(a)
                stop.append(b)
                step.append(c)
            out_shape.append(len(range(*k.indices(size))))
        else:
            raise IndexError(f"unsupported index {k!r}")
        axis += 1
    full = all(s == 0 and e == n and t == 1 for s, e, t, n in zip(start, stop, step, shape))
    y = x if full else F.slice(x, start, stop, step)
    if flips:
        y = F.flip(y, flips)
    if tuple(out_shape) != tuple(y.shape):
        y = F.reshape(y, out_shape)
    elif y is x:
        y = F.identity(x)
    return y


def setitem(x, key, value):
    raise TypeError("Variable item assignment builds no graph in nnjax; write through "
                    "x.d[...] = value, or compose F.where/F.concatenate")
