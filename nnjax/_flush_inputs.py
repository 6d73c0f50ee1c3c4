"""What a flush reads and writes: the arrays of a layout's slots, the program's
input values and their signature, the snapshot records keep, the results stored.

A training loop flushes the same arrays with values of the same kinds every
step: what follows from the kinds (which inputs are constant fills, which
results are left out, the arrays results go to) is worked out once
(``InputFacts``) and reused while the kinds stay the same. Arrays are seen
through their attributes only.
"""
import math
import weakref
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _step_results as step_results
from ._assemble import ConstFill, const_shapes
from ._plan import jax_dtype
from ._step_results import F32, F64, Donated, left_out_slots


class SlotArrays:
    """The NdArray of each slot of a layout, and what the last flush of these arrays
    worked out from the kinds of their values (``facts``): a training loop's flushes
    find the same kinds every step and reuse it."""

    __slots__ = ("layout", "arrays", "inputs", "written", "facts")

    def __init__(self, layout, arrays):
        self.layout = layout
        self.arrays = arrays
        self.inputs = [arrays[s] for s in layout.input_slots]
        self.written = [arrays[s] for s in layout.written]
        self.facts = None


class InputFacts(NamedTuple):
    """What a flush derives from its input signature (valid while the signature and
    the arrays' ``_keep_out`` flags are unchanged)."""
    input_sig: tuple
    keep_out_changes: int
    value_index: list      # per input, its index in the values (-1: a constant fill)
    value_arrays: list     # the arrays passed as values
    left_out: tuple
    shapes: dict           # const_shapes
    left_out_refs: list    # (slot, weak reference) per left-out array
    written: tuple         # the slots the program returns
    written_arrays: list   # their arrays
    value_dtypes: tuple    # the dtypes of the values
    fill_arrays: tuple     # (array, dtype) of each constant fill
    programs: dict         # donated slots -> (program key, Program), filled by the queue
    donors: tuple          # (slot, its index in the values) of the layout's donors
    donation: dict         # donated slots -> (snapshot entries, values passed undonated)
    host_inputs: "HostInputs"
    recycled: tuple        # (slot, its index in the values) of the layout's recycled inputs
    spares: "step_results.Spares"


def values_of_same_kinds(facts, inputs):
    """The program inputs' values (constant fills left out) when every input holds a
    value of the kind ``facts`` were worked out for, else None (a training loop's
    flushes: one look at each array, instead of ``input_values`` and ``input_facts``)."""
    if facts is None or facts.keep_out_changes != step_results.keep_out_changes:
        return None
    if [a._lazy for a in inputs].count(None) != len(inputs):
        return None
    for a, dtype in facts.fill_arrays:
        if a._head is not None or not a._zero_fill or a._dtype is not dtype:
            return None
    values = [a._head for a in facts.value_arrays]
    try:
        dtypes = tuple([h.dtype for h in values])
    except AttributeError:  # a head that is None: the array holds a fill now
        return None
    return values if dtypes == facts.value_dtypes else None


def input_values(inputs):
    """The program inputs' heads (None for a constant fill) and their signature
    (dtype or ConstFill)."""
    if [a._lazy for a in inputs].count(None) != len(inputs):
        for a in inputs:
            if a._lazy is not None:
                a._resolve()
    heads = [a._head for a in inputs]
    pending = [i for i, h in enumerate(heads) if h is None]
    if not pending:
        return heads, tuple([h.dtype for h in heads])
    sig = [None if h is None else h.dtype for h in heads]
    for i in pending:
        a = inputs[i]
        if a._zero_fill:
            # zeroed by zero_grad/zero() for this step: a constant XLA folds away
            fill = _zero_fills.get(a._dtype)
            if fill is None:
                fill = _zero_fills[a._dtype] = ConstFill(0, a._dtype)
            sig[i] = fill
        else:
            # any other pending fill becomes a real array once, so that the first
            # step and the later ones (where it holds results) share one program
            heads[i] = a._materialize()
            sig[i] = heads[i].dtype
    return heads, tuple(sig)


_zero_fills = {}


_program_sigs = {}
MAX_PROGRAM_SIGS = 1024


def program_signature(input_sig):
    """``input_sig`` with 64-bit dtypes as JAX passes them (narrowed): a float64
    value (``x.d = a float64 array``, as a finite-difference loop writes) runs the
    float32 value's program instead of tracing and lowering a twin of it."""
    sig = _program_sigs.get(input_sig)
    if sig is None:
        if len(_program_sigs) >= MAX_PROGRAM_SIGS:
            _program_sigs.clear()
        sig = _program_sigs[input_sig] = tuple(
            jax_dtype(d) if isinstance(d, np.dtype) else d for d in input_sig)
    return sig


def input_facts(slots, input_sig):
    """The InputFacts of a flush of ``slots`` (a SlotArrays) with this input signature."""
    facts = slots.facts
    if (facts is not None and facts.input_sig == input_sig
            and facts.keep_out_changes == step_results.keep_out_changes):
        return facts
    layout, arrays = slots.layout, slots.arrays
    value_index, value_arrays = [], []
    for a, sig in zip(slots.inputs, input_sig):
        if type(sig) is ConstFill:
            value_index.append(-1)
        else:
            value_index.append(len(value_arrays))
            value_arrays.append(a)
    left_out = left_out_slots(layout, arrays, input_sig)
    written = layout.written
    if left_out:
        written = tuple(s for s in written if s not in left_out)
    facts = slots.facts = InputFacts(
        input_sig, step_results.keep_out_changes, value_index, value_arrays, left_out,
        const_shapes(arrays, layout, input_sig),
        [(s, weakref.ref(arrays[s])) for s in left_out], written, [arrays[s] for s in written],
        tuple(sig for sig in input_sig if type(sig) is not ConstFill),
        tuple((a, sig.dtype) for a, sig in zip(slots.inputs, input_sig) if type(sig) is ConstFill),
        {}, tuple((s, value_index[k]) for s, k in layout.donors if value_index[k] >= 0), {},
        HostInputs(), _recycled(layout, arrays, value_index, input_sig), step_results.Spares())
    return facts


# Recycled buffers (nnjax._step_results.spare_buffers) pay where a new buffer would be
# fresh memory: a width-4096 MLP's 64 MiB weights (above glibc's largest heap block,
# 32 MiB, every allocation is new pages) ran 15-20% faster, 16 MiB ones about 3%, and
# smaller ones come from the allocator's free lists anyway, while each recycled input
# costs its step about 0.8 us of Python: only arrays of at least this size take part.
RECYCLE_MIN_BYTES = 1 << 20


def _recycled(layout, arrays, value_index, input_sig):
    """(slot, value index) of the recycled inputs (parameters, running statistics)
    given spare buffers: passed as values of a floating dtype JAX keeps (a result of
    the same kind takes the buffer), of at least RECYCLE_MIN_BYTES, in a single
    process."""
    if not layout.recycled or not step_results.single_process():
        return ()
    found = []
    for s, k in layout.recycled:
        sig = input_sig[k]
        if (value_index[k] >= 0 and jnp.issubdtype(sig, jnp.floating)
                and jax_dtype(sig) == sig
                and math.prod(arrays[s].shape) * sig.itemsize >= RECYCLE_MIN_BYTES):
            found.append((s, value_index[k]))
    return tuple(found)


class HostInputs:
    """The numpy values a kind of step passed at its first flush (value indices) and
    those heads (see ``move_unchanged_to_device``)."""

    __slots__ = ("indices", "last")

    def __init__(self):
        self.indices = None
        self.last = ()


def move_unchanged_to_device(facts, values):
    """Give the arrays whose numpy head a kind of step passed unchanged in its first
    two flushes (labels, an initial state written once) a device head with the same
    values: a numpy argument is copied into the program at every call. Only nnjax's
    own heads move (no view handed out, not a view or the root of views), in a single
    process, and only where JAX's narrowing (int64 labels to int32) keeps every
    value; the array's dtype stays. Called after an XLA program ran on ``values``,
    before its results are stored."""
    seen = facts.host_inputs
    indices = seen.indices
    if indices is None:  # (the first flush of this kind of step)
        written = {id(a) for a in facts.written_arrays}  # (they take the results)
        seen.indices = [k for k, v in enumerate(values) if type(v) is np.ndarray
                        and id(facts.value_arrays[k]) not in written]
        seen.last = [values[k] for k in seen.indices]
        return
    if not indices:
        return
    moving = []
    for k, last in zip(indices, seen.last):
        head = values[k]
        if head is last:
            a = facts.value_arrays[k]
            if (a._head is head and not a._exposed and a._children is None
                    and not hasattr(a, "_root")):
                moving.append((a, head))
    # an input written anew between two flushes (a batch) is not watched further
    seen.indices = seen.last = ()
    if moving and step_results.single_process():
        for a, head in moving:
            value = _narrowed_exactly(head)
            if value is not None:
                a._head = jax.device_put(value)  # (same values: not a write)


def _narrowed_exactly(head):
    """``head`` in the dtype JAX computes in, or None where narrowing changes a value."""
    dtype = jax_dtype(head.dtype)
    if dtype == head.dtype:
        return head
    value = head.astype(dtype)
    return value if np.array_equal(value, head) else None


def donation_split(layout, facts, donated):
    """(entries, passed) for a flush donating the input slots ``donated``: the
    snapshot's (value index, Donated) entries, and the indices of the values passed
    in the program's first argument. Worked out once per kind of step."""
    split = facts.donation.get(donated)
    if split is None:
        donated_set = set(donated)
        entries, passed = [], []
        for s, k, sig in zip(layout.input_slots, facts.value_index, facts.input_sig):
            if k < 0:
                continue
            if s in donated_set:
                entries.append((k, Donated(facts.value_arrays[k].shape, sig)))
            else:
                passed.append(k)
        split = facts.donation[donated] = (tuple(entries), passed)
    return split


_NONE_HELD = frozenset()


def held_heads(arrays):
    """The ids of the arrays whose numpy head somebody else holds now, asked before a
    program reads them (``store_results``)."""
    held = _NONE_HELD
    for a in arrays:
        if a._exposed and a._held_elsewhere():
            held = held | {id(a)}
    return held


def store_results(written_arrays, outs, held=None):
    """``NdArray._set_value`` of each written array, inlined (the step's hot loop).
    ``held``: ``held_heads`` of the arrays before the program ran (None: ask now)."""
    for a, value in zip(written_arrays, outs):
        if a._exposed and a._write_into_held(value, None if held is None else id(a) in held):
            continue  # a numpy head somebody holds takes the values in place
        if a._dtype is F64 and value.dtype == F32:
            a._dtype = F32  # as NNabla: a function writing float32 makes it the head's dtype
        a._head = value
        a._fill = None
        a._modification_count += 1
        a._dtype_unset = a._zeroed = a._zero_fill = a._exposed = False
        a._lazy = None


def take_snapshots(ops, layout, values, facts, donated_entries=()):
    """Point each op's Record at this flush's input values (the values its
    reads had). Host arrays a user holds a view of are copied; the rest are
    immutable (jax arrays) or owned by nnjax, so keeping references suffices.
    A donated value (no record reads it) is kept as its shape and dtype
    (``donated_entries``, from ``donation_split``)."""
    kept = values
    exposed = [a._exposed for a in facts.value_arrays].count(False) != len(values)
    if donated_entries or exposed:
        kept = list(values)
        for k, entry in donated_entries:
            kept[k] = entry
        if exposed:
            for k, a in enumerate(facts.value_arrays):
                if a._exposed and type(kept[k]) is np.ndarray:
                    kept[k] = np.array(kept[k])
    shared = (layout.input_slots, facts.input_sig, kept)
    for op, sig in zip(ops, layout.op_sigs):
        if op.parts is not None:
            for part, start, end in op.parts:
                part.snapshot = (shared, sig.read_slots[start:end])
        elif op.record is not None:
            op.record.snapshot = (shared, sig.read_slots)
    return kept
