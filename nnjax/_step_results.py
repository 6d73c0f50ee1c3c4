"""What a training step hands back and what it gives away.

A flushed program returns only the written arrays somebody may read: the
leaves' gradients a training step consumes are left out (``left_out_slots``)
and computed by a ``StepRecord`` when read. Its solver states are donated
(``donated_inputs``): their buffers hold the new values. Arrays are seen
through their attributes only; the queue hands down how to find a program.
"""
import sys
from typing import NamedTuple

import numpy as np
import jax

from ._assemble import ConstFill, compile_layout

F64 = np.dtype(np.float64)
F32 = np.dtype(np.float32)


# ---------------------------------------------------------------- donation
# Inputs that the program writes and that only solver updates read (solver states)
# are donated: their buffers hold the new values, as in a hand-written step with
# ``donate_argnums``. Only a buffer nobody else holds is given: a device array that
# no other Python object refers to and of which no numpy view was handed out. A state
# somebody else holds (a numpy view handed out, a record of a step that kept it) is
# copied and the copy given: the program stays the same (a training step compiled
# without donation is another XLA compile of the whole step, seconds for an RNN).
class Donated(NamedTuple):
    """A snapshot entry for a donated input (no record reads it)."""
    shape: tuple
    dtype: object


# references to a head while donated_inputs looks at it: the NdArray, the values list,
# the loop variable and getrefcount's argument
_SOLE_OWNER_REFS = 4


def donated_inputs(donors, arrays, values):
    """(slots, values) of the inputs this flush donates to the program (``donors``:
    (slot, value index) of the layout's donors passed as values; a layout has
    donors only while NNJAX_DONATE is not 0)."""
    slots, donated_values, held = [], [], []
    for s, k in donors:
        head = values[k]
        kind = type(head)
        if kind is np.ndarray:
            # a host value goes over as a copy anyway: donating that copy keeps the
            # program the same from the first step on
            head = values[k] = jax.device_put(head)
        elif not (kind in _device_types or _is_device_array(head)):
            continue
        elif arrays[s]._exposed or sys.getrefcount(head) != _SOLE_OWNER_REFS:
            held.append((len(donated_values), k))
        slots.append(s)
        donated_values.append(head)
    if held:
        copies = jax.device_put([donated_values[i] for i, _ in held], may_alias=False)
        for (i, k), copy in zip(held, copies):
            donated_values[i] = values[k] = copy
    return tuple(slots), donated_values


_device_types = set()


# A training step's parameters are read by its forward and backward and written by
# its update. Their new values cannot take the buffers of the values the step reads:
# the step's StepRecord keeps those, to compute gradients read after the update. The
# values the previous step read are free by then (its record went with zero_grad),
# and they are the right size: they are given to the program for the new values.
# Each parameter then alternates between two buffers instead of taking fresh memory
# every step (a hand-written step that donates its parameters keeps each in one).
class Spares:
    """The values a kind of step's recycled inputs (parameters, running statistics)
    had at its last flush (None where they may not be given: see ``spare_buffers``)."""

    __slots__ = ("last",)

    def __init__(self):
        self.last = ()


# references to a kept value while spare_buffers looks at it: the local name and
# getrefcount's argument
_SPARE_OWNER_REFS = 2


def spare_buffers(recycled, spares, arrays, values):
    """The buffers, one per recycled input (``recycled``: (slot, value index)), that
    this flush donates after the solver states for the inputs' new values: the values
    the last flush of this kind of step read, where nobody else holds them (no other
    reference, no numpy view ever made of them), else copies of this flush's values
    (a kind of step's first flushes). Keeps this flush's values for the next one."""
    last = spares.last
    buffers, fresh, kept = [], [], []
    for i, (s, k) in enumerate(recycled):
        old = None
        if last:
            old = last[i]  # (a device array: only those are kept below)
            last[i] = None  # (the only reference left is ``old``)
        value = values[k]
        if (old is None or getattr(old, "_npy_value", True) is not None
                or sys.getrefcount(old) != _SPARE_OWNER_REFS
                or old.shape != value.shape or old.dtype != value.dtype or old.is_deleted()):
            fresh.append((len(buffers), value))
            old = None
        buffers.append(old)
        old = None
        device = type(value) in _device_types or _is_device_array(value)
        kept.append(value if device and not arrays[s]._exposed else None)
    if fresh:
        # (copies: no program to compile; for arrays of RECYCLE_MIN_BYTES or more the
        # copy costs about what a new buffer's first write does)
        copies = jax.device_put([v for _, v in fresh], may_alias=False)
        for (i, _), copy in zip(fresh, copies):
            buffers[i] = copy
    spares.last = kept
    return buffers


def _is_device_array(value):
    """isinstance(value, jax.Array), remembering the concrete type (the check is slow)."""
    if isinstance(value, jax.Array):
        _device_types.add(type(value))
        return True
    return False


# ---------------------------------------------------------------- left-out results
# A training step (a program with a solver update) leaves out of its results the
# written arrays that every writer marks optional (the leaves' gradients, which the
# update consumes inside the program) and that were zeroed for this step (a
# gradient that accumulates over steps is read by the next one) until somebody
# reads one: the array then holds a StepRecord, and reading it runs the step's ops
# again on the values the step read, returning those arrays; from then on they
# are returned (``_keep_out``).
_process_count = []
# times an array's ``_keep_out`` was set (the queue's cached left-out slots check it)
keep_out_changes = 0


def single_process():
    """Whether this is the only process of the JAX runtime (asked once, when a
    program first runs: the runtime is set up by then)."""
    if not _process_count:
        _process_count.append(jax.process_count())
    return _process_count[0] == 1


def left_out_slots(layout, arrays, input_sig):
    """The optional written slots to leave out of this flush's results."""
    if not layout.optional:
        return ()
    if not single_process():
        # a recompute would run a step's collectives again, alone: one process only
        return ()
    return tuple(s for s, k in layout.optional
                 if (k < 0 or type(input_sig[k]) is ConstFill) and not arrays[s]._keep_out)


def leave_out(record, arrays, left_out, refs):
    """Mark the left-out arrays as written, their values held by ``record``;
    ``refs``: (slot, weak reference) of each."""
    for s in left_out:
        a = arrays[s]
        a._modification_count += 1
        a._dtype_unset = a._zeroed = a._zero_fill = a._exposed = False
        a._lazy = (record, s)
    record.arrays = refs


class StepRecord:
    """A flushed step's ops and the values it read: computes its left-out results."""

    __slots__ = ("templates", "layout", "shapes", "input_sig", "values", "operands",
                 "left_out", "arrays", "pending", "program_for")

    def __init__(self, templates, layout, shapes, input_sig, values, operands, left_out,
                 program_for):
        self.program_for = program_for  # (key, compile) -> the cached or new Program
        self.templates = templates
        self.layout = layout
        self.shapes = shapes
        self.input_sig = input_sig
        self.values = values
        self.operands = operands
        self.left_out = left_out
        self.arrays = ()
        self.pending = False

    def resolve(self, slot, array):
        """Compute every left-out array still waiting on this record (reading one
        usually means the others are read too); keep them in later results."""
        global keep_out_changes
        key = (self.layout.structure_id, self.input_sig, ("recompute", self.left_out))
        program = self.program_for(key, lambda: compile_layout(
            self.templates, self.layout, self.shapes, self.input_sig, self.left_out,
            self.values))
        values = [np.zeros(v.shape, v.dtype) if type(v) is Donated else v for v in self.values]
        try:
            outs = program.run(values, [], self.operands)
        except TypeError:  # see Program.lower_again
            outs = program.lower_again(values, [], self.operands)
        for (s, ref), value in zip(self.arrays, outs):
            a = array if s == slot else ref()
            if a is None or (a is not array and (a._lazy is None or a._lazy[0] is not self)):
                continue
            a._lazy = None
            if not a._keep_out:
                keep_out_changes += 1
                a._keep_out = True
            if a._dtype == F64 and value.dtype == F32:
                a._dtype = F32
            a._head = value
            a._fill = None
