"""Records: computing, on demand, values a compiled step left out.

A step hands back only what it must (see ``_forward``/``_backward``). The
arrays it left out carry ``_lazy = (record, slot)``; reading one calls
``Record.resolve``, which rebuilds a one-output template with the callback the
op's owner gave (``rebuild(plan, info, slot)``) and runs it on the values the
step read (its snapshot), so the value is the one that step computed.
"""
import numpy as np

from ._ndarray import NdArray
from ._assemble import ConstFill
from ._queue import Op, Template, run_now, flush, stats


class Record:
    """What a forward or backward op computed from, to compute what it left out.

    ``pending`` until the op has run; ``snapshot`` holds the values its reads
    had then (None if they were produced inside the same program: the current
    values are used instead). ``skip``: a (start, stop) range of the op's reads
    that the rebuilt template does not read (a backward's old leaf grads).
    """

    __slots__ = ("plan", "info", "operands", "rebuild", "skip", "snapshot", "pending")

    def __init__(self, plan, operands, rebuild, info=None, skip=None):
        self.plan = plan
        self.info = info
        self.operands = operands
        self.rebuild = rebuild
        self.skip = skip
        self.snapshot = None
        self.pending = True

    def resolve(self, slot, array):
        """Compute ``slot``'s value into ``array``."""
        if self.pending:
            flush()
        stats.recomputes += 1
        template = self.rebuild(self.plan, self.info, slot)
        snapshot = snapshot_values(self.snapshot)
        if snapshot is not None and self.skip is not None:
            start, stop = self.skip
            snapshot = snapshot[:start] + snapshot[stop:]
        reads = snapshot_arrays(snapshot, template.reads)
        ad_hoc = Template(template.key, reads, [array], template.build, template.kind)
        run_now(Op(template=ad_hoc, operands=self.operands))


def snapshot_values(snapshot):
    """The read values kept at flush (None if some read was produced inside the
    same program rather than passed in)."""
    if snapshot is None:
        return None
    (input_slots, input_sig, kept), read_slots = snapshot
    value_of = {}
    it = iter(kept)
    for s, sig in zip(input_slots, input_sig):
        value_of[s] = sig if isinstance(sig, ConstFill) else next(it)
    if not all(s in value_of for s in read_slots):
        return None
    return [value_of[s] for s in read_slots]


def snapshot_arrays(snapshot, originals):
    """NdArrays holding a record's snapshot (or the originals when it has none)."""
    if snapshot is None:
        return list(originals)
    out = []
    for v, orig in zip(snapshot, originals):
        if isinstance(v, ConstFill):
            a = NdArray(orig.shape, v.dtype)
            a._fill = v.fill
        elif isinstance(v, np.ndarray):
            a = NdArray.from_numpy_array(v)
        else:
            a = NdArray._from_device(v, orig.dtype)
        out.append(a)
    return out
