"""``all_reduce`` as an op of the queued training step.

When ``all_reduce`` (or ``all_reduce_callback``) follows a queued ``backward``, it does not
run the step at once: it queues an op that exchanges the arrays from inside the step's
compiled program (an ordered host callback, as sync batch normalization's statistics), so
forward, backward, the exchange and the solver update run as one program per step.

The rule for zeroed arrays: the op is queued only when no array of the call is zeroing on
this rank (backward wrote them all, the usual case); otherwise the call runs as a separate
exchange, which counts the ranks on which each array is zeroing. Both paths send the same
message (the values, then one zeroing flag per array, packed) through the same exchange,
and every other collective and ``barrier`` first runs the queued step, so the exchanges
happen in the same order on every rank: ranks that decide differently (different graphs
per rank) still agree. A rank that queues the op has no zeroing array, so no array of the
call is zeroing on every rank, and every rank writes every array; an array zeroing on every
rank is only possible where every rank took the separate path, which keeps it zeroed.
``NNJAX_FUSED_ALL_REDUCE=0`` turns the fused path off.
"""
import functools
import os

import jax
import numpy as np
from jax.experimental import io_callback

from .._queue import Op, Template, cached_template, enqueue, pending_kinds
from . import _collectives, _runtime

KIND = "all_reduce"
_MAX_TEMPLATES = 64


def enabled():
    return os.environ.get("NNJAX_FUSED_ALL_REDUCE", "1") != "0"


def fusable(arrays):
    """Whether an all-reduce of ``arrays`` joins the queued step (see the module's rule)."""
    return enabled() and "backward" in pending_kinds() and not any(a.zeroing for a in arrays)


def enqueue_all_reduce(templates, group, rank, arrays, division, scale=1.0):
    """Queue the all-reduce (the mean with ``division``) of ``arrays`` over ``group``,
    multiplied by ``scale`` first; ``templates`` is the communicator's template cache."""
    scaled = scale != 1.0
    ckey = (group, bool(division), scaled) + tuple(map(id, arrays))
    if ckey not in templates and len(templates) >= _MAX_TEMPLATES:
        templates.clear()
    template = cached_template(templates, ckey, lambda: _template(
        group, rank, list(arrays), bool(division), scaled))
    enqueue(Op(template=template, operands=(np.float32(scale),)))


def _template(group, rank, arrays, division, scaled):
    key = (KIND, group, rank, division, scaled, len(arrays))

    def build():
        exchange = _exchange(group, rank, division, len(arrays))

        def run(values, operands):
            if scaled:  # as the separate path: scaled in the array's dtype, then summed
                values = [v * operands[0].astype(v.dtype) for v in values]
            return exchange(values)
        return run
    return Template(key, arrays, arrays, build, KIND, reusable=True)


@functools.lru_cache(maxsize=64)
def _exchange(group, rank, division, n):
    """``fn(values) -> results`` inside a program: an ordered callback running the
    separate path's exchange with no array zeroing."""
    not_zeroing = np.zeros(n, np.int32)
    what = f"all_reduce on group {group.name!r} inside the training step"

    def host(*values):
        with _runtime.Watchdog(rank, what):
            *results, _ = _collectives.all_reduce(group, list(values), division, not_zeroing)
            return [np.asarray(r) for r in results]

    def run(values):
        shapes = [jax.ShapeDtypeStruct(v.shape, v.dtype) for v in values]
        return list(io_callback(host, shapes, *values, ordered=True))
    return run
