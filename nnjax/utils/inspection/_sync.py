"""Waiting for device work, for the timers of the inspection and profiler tools.

nnjax queues computations and XLA runs them asynchronously, so a timer that
only looks at the host clock would measure dispatch. ``wait_for`` runs the
queue (``nn.synchronize()``) and then blocks until the device values of the
given variables / arrays are computed; with nothing given it waits on every
live device array.
"""
import jax

from ..._queue import flush
from ..._ndarray import NdArray
from ..._variable import Variable


def _heads(items):
    for item in items:
        if item is None:
            continue
        if isinstance(item, Variable):
            yield item._buffers.data._head
            yield item._buffers.grad._head
        elif isinstance(item, NdArray):
            yield item._head
        else:
            yield item


def _block(value):
    ready = getattr(value, "block_until_ready", None)
    if ready is None:
        return
    try:
        ready()
    except Exception:  # a deleted buffer has nothing left to wait for
        pass


def wait_for(items=None):
    """Flush the queue, then block until the values of ``items`` are ready.

    ``items``: Variables (data and grad), NdArrays or jax arrays; ``None``
    waits on every live jax array.
    """
    flush()
    if items is None:
        for value in jax.live_arrays():
            _block(value)
        return
    for value in _heads(items):
        _block(value)


def wait_for_function(func):
    """Wait until everything a function node reads or writes is computed."""
    wait_for(list(func.inputs) + list(func.outputs))
