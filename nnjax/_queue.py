"""The op queue: stateful calls run as one jit-compiled XLA program.

An op reads some NdArrays and writes others through a pure function built
from its structural key. ``forward``, ``backward``, solver updates and the
like enqueue ops; the queue runs (``flush``) when a value is observed on the
host, when a queued array is written by the user, or when a new training
step begins. The queued ops become one jit-compiled program, cached under a
key made of the ops' keys, how they share arrays, and the input shapes and
dtypes: a training loop compiles once.

Arrays are handled through their attributes only (``_queued``, ``_lazy``,
``_head``, ``_resolve``, ``_materialize``, ``_set_value`` ...): this module
sits below ``_ndarray``, which imports ``flush`` from here.
"""
import itertools
import time
import weakref
from collections import OrderedDict

from ._assemble import compile_layout, make_layout, note_miss, slot_arrays
from ._flush_inputs import (SlotArrays, donation_split, held_heads, input_facts, input_values,
                            move_unchanged_to_device, program_signature, store_results,
                            take_snapshots, values_of_same_kinds)
from ._rounded_inputs import round_inputs, widen_results
from ._step_results import StepRecord, donated_inputs, leave_out, spare_buffers

MAX_CACHED_PROGRAMS = 1024
MAX_CACHED_LAYOUTS = 4096  # (small: a network run function by function has one per node)
MAX_QUEUE = 4096
MAX_INTERNED = 256


class CompileStats:
    """Counters of the program cache (``nnabla.compile_stats()``)."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.compiles = 0
        self.tier_ups = 0
        self.shared = 0
        self.on_host = 0  # programs numpy runs (nnjax._host_programs), counted in compiles
        self.hits = 0
        self.compile_seconds = 0.0
        self.executions = 0
        self.recomputes = 0
        self.updates = 0  # solver update ops queued
        self.last_ops = ()
        self._recent_misses = []

    @property
    def misses(self):
        return self.compiles

    def __repr__(self):
        return (f"CompileStats(compiles={self.compiles}, tier_ups={self.tier_ups}, "
                f"shared={self.shared}, on_host={self.on_host}, hits={self.hits}, "
                f"executions={self.executions}, recomputes={self.recomputes}, "
                f"compile_seconds={self.compile_seconds:.3f})")


stats = CompileStats()
# the buffers of Variables a solver updates (weak): a graph reading one is trained
# and is fused from its first run (nnjax/_program.py, runs_by_function)
trained_buffers = weakref.WeakSet()
_programs = OrderedDict()
_layouts = OrderedDict()
_queue = []
_queue_kinds = set()
_queued_arrays = []
_template_ids = itertools.count(1)


class Template:
    """The fixed part of an op: structural key, arrays read and written, builder.

    ``build()`` returns ``fn(read_values, operands) -> write_values``; it must
    depend on ``key`` alone. Templates cached by their owner (a plan, a solver)
    are ``reusable``: the flush layout of a queue of reusable templates is
    cached too, which keeps the per-step Python cost small.
    """

    __slots__ = ("key", "reads", "writes", "build", "kind", "tid", "reusable", "optional",
                 "rounding", "marked_reads", "marked_writes", "_marks_beyond")

    def __init__(self, key, reads, writes, build, kind="function", reusable=False,
                 optional=()):
        self.key = key
        self.reads = list(reads)
        self.writes = list(writes)
        self.build = build
        self.kind = kind
        self.tid = next(_template_ids)
        self.reusable = reusable
        # positions in ``writes`` a training step may leave out of its results
        # until somebody reads them (leaf gradients): see ``_left_out``
        self.optional = tuple(optional)
        # reads a lone run of this op may get rounded (see nnjax._rounded_inputs)
        self.rounding = ()
        # what ``enqueue`` visits: each array once (a forward joined with its backward
        # reads the roots twice)
        self.marked_reads = tuple({id(a): a for a in self.reads}.values())
        self.marked_writes = tuple({id(a): a for a in self.writes}.values())
        self._marks_beyond = None

    def marks_beyond(self, other):
        """(reads, writes) ``enqueue`` visits for this template that it did not visit
        for ``other`` (the op this one replaces in the queue: see ``replace_last``)."""
        cache = self._marks_beyond
        if cache is None:
            cache = self._marks_beyond = {}
        marks = cache.get(other.tid)
        if marks is None:
            seen_reads = {id(a) for a in other.marked_reads}
            seen_writes = {id(a) for a in other.marked_writes}
            marks = cache[other.tid] = (
                tuple(a for a in self.marked_reads if id(a) not in seen_reads),
                tuple(a for a in self.marked_writes if id(a) not in seen_writes))
            if len(cache) > 8:  # (a template replaces one kind of op in a loop)
                cache.clear()
        return marks


class Op:
    """A queued computation: a template plus this call's operands (rng keys,
    learning rates: small arrays passed to the program each call) and, for
    forward and backward ops, the ``Record`` of what it left out.

    The template's ``kind`` is 'forward', 'function', 'backward' or 'update'
    (step boundaries).
    """

    __slots__ = ("template", "operands", "record", "parts")

    def __init__(self, key=None, reads=(), writes=(), build=None, operands=(), kind="function",
                 template=None, record=None, optional=(), parts=None):
        if template is None:
            template = _interned_template(key, reads, writes, build, kind, optional)
        self.template = template
        self.operands = tuple(operands)
        self.record = record
        # an op made of two (a forward and its backward): ((record, first read, end), ...)
        self.parts = parts


def last_queued():
    """The op queued last (None if the queue is empty)."""
    return _queue[-1] if _queue else None


def replace_last(op):
    """Put ``op`` in place of the op queued last; ``op`` reads and writes at least
    the arrays the replaced one did (a forward merged with its backward). The
    replaced op's arrays are marked already: only the new ones are visited."""
    replaced = _queue.pop()
    if op.template.kind != "backward" or len(_queue) >= MAX_QUEUE:
        enqueue(op)
        return
    reads, writes = op.template.marks_beyond(replaced.template)
    _queue_kinds.add("backward")
    _mark(reads, writes)
    _queue.append(op)


_interned = OrderedDict()


def _interned_template(key, reads, writes, build, kind, optional=()):
    """Solver-style ops (kind 'update': long-lived parameter and state arrays)
    are rebuilt by their owners every step; reuse one template per distinct
    (key, arrays) so the flush layout is cached. Other ad-hoc ops are not kept."""
    if kind != "update":
        return Template(key, reads, writes, build, kind, optional=optional)
    ikey = (key, tuple(map(id, reads)), tuple(map(id, writes)), tuple(optional))
    t = _interned.get(ikey)
    if t is None:
        t = Template(key, reads, writes, build, kind, reusable=True, optional=optional)
        if len(_interned) >= MAX_INTERNED:
            _interned.popitem(last=False)
        _interned[ikey] = t
    return t


def cached_template(cache, cache_key, factory):
    """The template stored in ``cache[cache_key]``, made by ``factory()`` once."""
    t = cache.get(cache_key)
    if t is None:
        t = factory()
        t.reusable = True
        cache[cache_key] = t
    return t


def enqueue(op):
    """Queue ``op``; starts a new program when a new training step begins."""
    kind = op.template.kind
    if _queue:
        kinds = _queue_kinds
        if kind in ("forward", "function") and ("backward" in kinds or "update" in kinds):
            flush()
        elif kind == "forward" and "forward" in kinds:
            flush()
        elif len(_queue) >= MAX_QUEUE:
            flush()
    _queue_kinds.add(kind)
    if kind == "update":
        stats.updates += 1
    template = op.template
    _mark(template.marked_reads, template.marked_writes)
    _queue.append(op)


def _mark(reads, writes):
    """Mark the arrays an op being queued reads and writes."""
    for a in reads:
        lazy = a._lazy
        if lazy is not None and lazy[0].pending:
            flush()  # the op that left this value out must run before it is read
        if not a._queued:
            a._queued = True
            _queued_arrays.append(a)
    for a in writes:
        a._zeroed = False
        if not a._queued:
            a._queued = True
            _queued_arrays.append(a)


def pending_kinds():
    """The kinds of the ops queued now (read only)."""
    return frozenset(_queue_kinds)


def run_now(op):
    """Queue ``op`` and run the queue."""
    enqueue(op)
    flush()


# ---------------------------------------------------------------- flush
# The arrays of the last few cached layouts (a training loop, or a train/eval pair,
# flushes the same queues over and over); kept apart from the layouts, which may
# outlive the arrays' graphs.
_recent_arrays = OrderedDict()
MAX_RECENT_ARRAYS = 4


def _layout_of(ops):
    """The _SlotArrays of ``ops``; its layout is cached when every template is reusable."""
    reusable = True
    for op in ops:
        if not op.template.reusable:
            reusable = False
            break
    if not reusable:
        layout = make_layout(ops)
        return SlotArrays(layout, slot_arrays(ops, layout))
    lkey = tuple([op.template.tid for op in ops])
    recent = _recent_arrays.get(lkey)
    if recent is not None:
        return recent
    layout = _layouts.get(lkey)
    if layout is not None:
        _layouts.move_to_end(lkey)
    else:
        layout = make_layout(ops)
        if len(_layouts) >= MAX_CACHED_LAYOUTS:
            _layouts.popitem(last=False)
        _layouts[lkey] = layout
    recent = SlotArrays(layout, slot_arrays(ops, layout))
    if len(_recent_arrays) >= MAX_RECENT_ARRAYS:
        _recent_arrays.popitem(last=False)
    _recent_arrays[lkey] = recent
    return recent


def flush():
    """Run every queued op as one compiled program."""
    if not _queue:
        return
    ops = list(_queue)
    _queue.clear()
    _queue_kinds.clear()
    for a in _queued_arrays:
        a._queued = False
    _queued_arrays.clear()

    slots = _layout_of(ops)
    layout, arrays = slots.layout, slots.arrays
    facts = slots.facts
    # (asked before any list here or JAX holds the heads the program reads)
    held = held_heads(slots.written)
    values = values_of_same_kinds(facts, slots.inputs)
    if values is not None:
        input_sig = facts.input_sig
    else:
        values, input_sig = input_values(slots.inputs)  # (None for each constant fill)
        facts = input_facts(slots, input_sig)
        if len(facts.value_arrays) != len(values):
            # (one list of the heads at a time: donation counts references)
            values = [h for h, k in zip(values, facts.value_index) if k >= 0]
    left_out = facts.left_out
    donated, donated_values = donated_inputs(facts.donors, arrays, values)
    donated_entries = passed = ()
    if donated:
        donated_entries, passed = donation_split(layout, facts, donated)
    recycled = facts.recycled
    if recycled:
        donated_values += spare_buffers(recycled, facts.spares, arrays, values)
    operands = [op.operands for op in ops]

    kept = rounded = None
    program_sig = input_sig
    if left_out or any(op.record is not None or op.parts is not None for op in ops):
        kept = take_snapshots(ops, layout, values, facts, donated_entries)
    elif len(ops) == 1 and ops[0].template.rounding and not donated and not recycled:
        found = round_inputs(ops[0].template.rounding, layout.op_sigs[0], layout.input_slots,
                             facts.value_index, facts.written, values, input_sig)
        if found is not None:
            values, program_sig, rounded = found
    passed_values = values
    if donated:
        values = [values[k] for k in passed]

    templates = [op.template for op in ops]
    known = facts.programs.get(donated) if rounded is None else None
    if known is not None:
        key, program = known  # (kept in use even if the LRU order below dropped it)
    else:
        key = (layout.structure_id, program_signature(program_sig), left_out, donated,
               len(recycled))
        program = _programs.get(key)
        if program is not None:
            _programs.move_to_end(key)
    if program is None:
        program = compile_layout(templates, layout, facts.shapes, program_sig, facts.written,
                                 values + donated_values, donated, len(recycled))
        if len(_programs) >= MAX_CACHED_PROGRAMS:
            _programs.popitem(last=False)
        _programs[key] = program
        start = time.perf_counter()
        outs = program.run(values, donated_values, operands)
        stats.compile_seconds += time.perf_counter() - start
        stats.compiles += 1
        stats.shared += program.shared
        stats.on_host += program.on_host
        note_miss((layout.structure_id, left_out), program_sig, layout.op_sigs,
                  stats._recent_misses)
    else:
        stats.hits += 1
        if program.due_for_tier_up():
            start = time.perf_counter()
            outs = program.tier_up(values, donated_values, operands)
            if not program.fast:
                stats.compile_seconds += time.perf_counter() - start
                stats.tier_ups += 1
        else:
            try:
                outs = program.run(values, donated_values, operands)
            except TypeError:
                outs = program.lower_again(values, donated_values, operands)
    if rounded is None and known is None:
        facts.programs[donated] = (key, program)
    stats.executions += 1
    stats.last_ops = layout.kinds
    if rounded is not None:
        outs = widen_results(rounded, outs)
    if rounded is None and not program.on_host:
        move_unchanged_to_device(facts, passed_values)
    store_results(facts.written_arrays, outs, held)
    global _last_flush
    _last_flush = (slots, facts, program, operands,
                   bool(donated or recycled) or kept is not None, rounded)
    if left_out:
        record = StepRecord(templates, layout, facts.shapes, input_sig, kept, operands,
                            left_out, _recompute_program)
        leave_out(record, arrays, left_out, facts.left_out_refs)
    for op in ops:
        if op.record is not None:
            op.record.pending = False
        if op.parts is not None:
            for part, _, _ in op.parts:
                part.pending = False


# the last flush (slots, facts, program, operands, special, rounded): what
# nnjax._direct_run repeats
_last_flush = None


def last_flush():
    """(slots, facts, program, operands, special, rounded) of the last flush, or None."""
    return _last_flush


def _recompute_program(key, compile_it):
    """The program cached under ``key``, compiled by ``compile_it()`` the first time
    (a StepRecord's recompute)."""
    stats.recomputes += 1
    program = _programs.get(key)
    if program is None:
        program = compile_it()
        if len(_programs) >= MAX_CACHED_PROGRAMS:
            _programs.popitem(last=False)
        _programs[key] = program
        stats.compiles += 1
    return program


def compile_count():
    """Number of programs compiled so far."""
    return stats.compiles
