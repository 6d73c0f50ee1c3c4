"""Direct runs: a single-op flush repeated with none of the queue's general work.

A graph run function by function many times over (a finite-difference loop
evaluates it thousands of times) flushes the same single-op queues with the
same kinds of values again and again. A ``DirectRun`` repeats such a flush: it
checks that the inputs are what they were and calls the program.
"""
from . import _queue as queue
from . import _step_results as step_results
from ._flush_inputs import store_results
from ._program import NEVER
from ._rounded_inputs import round_values, widen_results


class DirectRun:
    """The last flush, to be repeated on the same arrays (see ``direct_run``)."""

    __slots__ = ("inputs", "input_sig", "keep_out_changes", "program", "operands",
                 "written_arrays", "kinds", "rounded")

    def __init__(self, slots, facts, program, operands, rounded):
        self.inputs = slots.inputs
        self.input_sig = facts.input_sig
        self.keep_out_changes = facts.keep_out_changes
        self.program = program
        self.operands = operands
        self.written_arrays = facts.written_arrays
        self.kinds = slots.layout.kinds
        self.rounded = rounded  # what the flush rounded (nnjax._rounded_inputs), or None

    def __call__(self, new_operands=None):
        """Run again (with ``new_operands()``: a stochastic function's fresh keys,
        drawn only once the run is sure to happen, so that a fallback draws no key
        twice); false (nothing done) when the inputs changed kind, the queue holds
        ops or the program is due to tier up: the caller flushes."""
        if queue.last_queued() is not None or (
                self.keep_out_changes != step_results.keep_out_changes):
            return False
        heads = []
        for a in self.inputs:
            head = a._head
            if head is None or a._lazy is not None:
                return False
            heads.append(head)
        if tuple([h.dtype for h in heads]) != self.input_sig:
            return False
        rounded = self.rounded
        if rounded is not None:
            heads = round_values(rounded, heads)
        program = self.program
        if program.fast and program.tier_up_hits != NEVER and program.due_for_tier_up():
            return False  # the queue's flush runs the tier-up
        try:
            outs = program.run(heads, [], self.operands if new_operands is None
                               else new_operands())
        except TypeError:  # an array changed shape (reset_shape)
            return False
        stats = queue.stats
        stats.hits += 1
        stats.executions += 1
        stats.last_ops = self.kinds
        if rounded is not None:
            outs = widen_results(rounded, outs)
        store_results(self.written_arrays, outs)
        return True


def direct_run(new_operands=False):
    """A DirectRun of the flush that just ran, or None when it can't be repeated
    that way: several ops, records, left-out or donated values, constant fills, or
    operands (unless ``new_operands``: the caller passes them each run)."""
    last = queue.last_flush()
    if last is None:
        return None
    slots, facts, program, operands, special, rounded = last
    if (special or len(operands) != 1 or (len(operands[0]) and not new_operands)
            or len(facts.value_arrays) != len(slots.inputs)):
        return None
    return DirectRun(slots, facts, program, operands, rounded)
