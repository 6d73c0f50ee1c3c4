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
import weakref
import time
import warnings
from collections import OrderedDict
from typing import NamedTuple

import numpy as np
import jax
import jax.numpy as jnp

from ._plan import jax_dtype
from ._program import Program, starts_optimized, tier_up_hits

MAX_CACHED_PROGRAMS = 512
MAX_CACHED_LAYOUTS = 512
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
                f"shared={self.shared}, hits={self.hits}, "
                f"executions={self.executions}, recomputes={self.recomputes}, "
                f"compile_seconds={self.compile_seconds:.3f})")


stats = CompileStats()
# the buffers of Variables a solver updates (weak): a graph reading one is trained
# and is fused from its first run (nnjax/_program.py, runs_by_function)
trained_buffers = weakref.WeakSet()
_programs = OrderedDict()
_layouts = OrderedDict()
_structures = {}
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

    __slots__ = ("key", "reads", "writes", "build", "kind", "tid", "reusable")

    def __init__(self, key, reads, writes, build, kind="function", reusable=False):
        self.key = key
        self.reads = list(reads)
        self.writes = list(writes)
        self.build = build
        self.kind = kind
        self.tid = next(_template_ids)
        self.reusable = reusable


class Op:
    """A queued computation: a template plus this call's operands (rng keys,
    learning rates: small arrays passed to the program each call) and, for
    forward and backward ops, the ``Record`` of what it left out.

    The template's ``kind`` is 'forward', 'function', 'backward' or 'update'
    (step boundaries).
    """

    __slots__ = ("template", "operands", "record")

    def __init__(self, key=None, reads=(), writes=(), build=None, operands=(), kind="function",
                 template=None, record=None):
        if template is None:
            template = _interned_template(key, reads, writes, build, kind)
        self.template = template
        self.operands = tuple(operands)
        self.record = record


_interned = OrderedDict()


def _interned_template(key, reads, writes, build, kind):
    """Solver-style ops (kind 'update': long-lived parameter and state arrays)
    are rebuilt by their owners every step; reuse one template per distinct
    (key, arrays) so the flush layout is cached. Other ad-hoc ops are not kept."""
    if kind != "update":
        return Template(key, reads, writes, build, kind)
    ikey = (key, tuple(map(id, reads)), tuple(map(id, writes)))
    t = _interned.get(ikey)
    if t is None:
        t = Template(key, reads, writes, build, kind, reusable=True)
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
    for a in op.template.reads:
        lazy = a._lazy
        if lazy is not None and lazy[0].pending:
            flush()  # the op that left this value out must run before it is read
        if not a._queued:
            a._queued = True
            _queued_arrays.append(a)
    for a in op.template.writes:
        a._zeroed = False
        if not a._queued:
            a._queued = True
            _queued_arrays.append(a)
    _queue.append(op)


def pending_kinds():
    """The kinds of the ops queued now (read only)."""
    return frozenset(_queue_kinds)


def run_now(op):
    """Queue ``op`` and run the queue."""
    enqueue(op)
    flush()


# ---------------------------------------------------------------- flush
class ConstFill(NamedTuple):
    """An input signature entry: the array is a pending zero fill (folded as a constant)."""
    fill: object
    dtype: object


class OpSignature(NamedTuple):
    """One op's part of a program's structure."""
    key: object
    read_slots: tuple
    write_slots: tuple
    read_shapes: tuple
    operand_meta: tuple


class Layout(NamedTuple):
    """Where the arrays of a queue of ops sit in one program."""
    sources: tuple       # slot -> (op index, is_write, position)
    input_slots: tuple   # slots passed in (first reads)
    written: tuple       # slots handed back
    structure_id: int
    op_sigs: tuple       # OpSignature per op


def _make_layout(ops):
    """Assign a slot to every distinct array of the queued ops."""
    slot_of = {}
    sources = []
    input_slots = []
    written = []
    written_set = set()
    op_sigs = []

    def slot(array, source):
        s = slot_of.get(id(array))
        if s is None:
            s = slot_of[id(array)] = len(sources)
            sources.append(source)
            if not source[1]:  # first seen as a read: a program input
                input_slots.append(s)
        return s

    for i, op in enumerate(ops):
        t = op.template
        rs = [slot(a, (i, 0, j)) for j, a in enumerate(t.reads)]
        ws = [slot(a, (i, 1, j)) for j, a in enumerate(t.writes)]
        for s in ws:
            if s not in written_set:
                written_set.add(s)
                written.append(s)
        shapes = tuple(tuple(a.shape) for a in t.reads)
        op_sigs.append(OpSignature(
            t.key, tuple(rs), tuple(ws), shapes,
            tuple((np.shape(x), np.asarray(x).dtype.str) for x in op.operands)))
    structure = (tuple(op_sigs), tuple(written))
    sid = _structures.get(structure)
    if sid is None:
        sid = len(_structures)
        _structures[structure] = sid
    return Layout(tuple(sources), tuple(input_slots), tuple(written), sid, tuple(op_sigs))


def _layout_of(ops):
    """The layout of ``ops``, cached when every template is reusable."""
    if not all(op.template.reusable for op in ops):
        return _make_layout(ops)
    lkey = tuple(op.template.tid for op in ops)
    layout = _layouts.get(lkey)
    if layout is not None:
        _layouts.move_to_end(lkey)
        return layout
    layout = _make_layout(ops)
    if len(_layouts) >= MAX_CACHED_LAYOUTS:
        _layouts.popitem(last=False)
    _layouts[lkey] = layout
    return layout


def _input_values(arrays, input_slots):
    """The program's input values and their signature (dtype or ConstFill)."""
    values = []
    input_sig = []
    for s in input_slots:
        a = arrays[s]
        if a._lazy is not None:
            a._resolve()
        head = a._head
        if head is None:
            if a._zero_fill:
                # zeroed by zero_grad/zero() for this step: a constant XLA folds away
                input_sig.append(ConstFill(0, a._dtype))
                continue
            # any other pending fill becomes a real array once, so that the first
            # step and the later ones (where it holds results) share one program
            head = a._materialize()
        values.append(head)
        input_sig.append(head.dtype)
    return values, tuple(input_sig)


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

    layout = _layout_of(ops)
    templates = [op.template for op in ops]
    arrays = [templates[i].writes[j] if rw else templates[i].reads[j]
              for i, rw, j in layout.sources]
    values, input_sig = _input_values(arrays, layout.input_slots)
    key = (layout.structure_id, input_sig)
    operands = [op.operands for op in ops]

    if any(op.record is not None for op in ops):
        _take_snapshots(ops, layout, arrays, values, input_sig)

    program = _programs.get(key)
    if program is None:
        program = _compile(ops, layout, arrays, input_sig, values)
        if len(_programs) >= MAX_CACHED_PROGRAMS:
            _programs.popitem(last=False)
        _programs[key] = program
        start = time.perf_counter()
        outs = program.run(values, operands)
        stats.compile_seconds += time.perf_counter() - start
        stats.compiles += 1
        stats.shared += program.shared
        _note_miss(layout.structure_id, input_sig, layout.op_sigs)
    else:
        _programs.move_to_end(key)
        stats.hits += 1
        if program.due_for_tier_up():
            start = time.perf_counter()
            outs = program.tier_up(values, operands)
            stats.compile_seconds += time.perf_counter() - start
            stats.tier_ups += 1
        else:
            outs = program.run(values, operands)
    stats.executions += 1
    stats.last_ops = tuple(t.kind for t in templates)
    for s, v in zip(layout.written, outs):
        arrays[s]._set_value(v)
    for op in ops:
        if op.record is not None:
            op.record.pending = False


def _compile(ops, layout, arrays, input_sig, values):
    fns = [op.template.build() for op in ops]
    value_slots = [s for s, sig in zip(layout.input_slots, input_sig)
                   if not isinstance(sig, ConstFill)]
    consts = [(s, arrays[s].shape, jax_dtype(sig.dtype), sig.fill)
              for s, sig in zip(layout.input_slots, input_sig) if isinstance(sig, ConstFill)]
    plan = [(fn, sig.read_slots, sig.write_slots) for fn, sig in zip(fns, layout.op_sigs)]
    written = layout.written

    def program(values, operands):
        env = {}
        for s, v in zip(value_slots, values):
            env[s] = v
        for s, shape, dtype, fill in consts:
            env[s] = jnp.full(shape, fill, dtype)
        for (fn, rs, ws), op_operands in zip(plan, operands):
            outs = fn([env[s] for s in rs], op_operands)
            for s, v in zip(ws, outs):
                env[s] = v
        return [env[s] for s in written]

    nbytes = sum(getattr(v, "nbytes", 0) for v in values)
    kinds = {op.template.kind for op in ops}
    return Program(program, fast=not starts_optimized(kinds, nbytes),
                   tier_up_hits=tier_up_hits(kinds, nbytes))


def _take_snapshots(ops, layout, arrays, values, input_sig):
    """Point each op's Record at this flush's input values (the values its
    reads had). Host arrays a user holds a view of are copied; the rest are
    immutable (jax arrays) or owned by nnjax, so keeping references suffices."""
    kept = list(values)
    k = 0
    for s, sig in zip(layout.input_slots, input_sig):
        if isinstance(sig, ConstFill):
            continue
        if arrays[s]._exposed and isinstance(kept[k], np.ndarray):
            kept[k] = np.array(kept[k])
        k += 1
    shared = (layout.input_slots, input_sig, kept)
    for op, sig in zip(ops, layout.op_sigs):
        if op.record is not None:
            op.record.snapshot = (shared, sig.read_slots)


_miss_by_structure = {}


def _note_miss(sid, input_sig, op_sigs):
    """Warn when a program keeps recompiling, naming the cause."""
    seen = _miss_by_structure.get(sid)
    if seen is None:
        _miss_by_structure[sid] = [1, input_sig]
        types = tuple(_structure(sig.key) for sig in op_sigs)
        recent = stats._recent_misses
        recent.append(hash(types))
        if len(recent) > 64:
            del recent[0]
        if recent.count(hash(types)) == 32:
            warnings.warn("nnjax: graphs of the same function types compiled 32 times with "
                          "different shapes or args; keep shapes and args fixed between "
                          "iterations to reuse compiled programs", RuntimeWarning, stacklevel=3)
        return
    seen[0] += 1
    if seen[0] == 4:
        changed = [i for i, (a, b) in enumerate(zip(seen[1], input_sig)) if a != b]
        detail = "; ".join(f"input {i}: {_sig_text(seen[1][i])} -> {_sig_text(input_sig[i])}"
                           for i in changed[:3])
        warnings.warn("nnjax: the same step compiled 4 times because its inputs' dtypes or "
                      f"constant fills change ({detail}); keep them fixed (e.g. write "
                      "arrays with .d = values of one dtype, avoid varying scalar fills)",
                      RuntimeWarning, stacklevel=3)
    seen[1] = input_sig


def _sig_text(sig):
    return f"fill {sig.fill} {np.dtype(sig.dtype).name}" if isinstance(sig, ConstFill) else str(sig)


def _structure(key):
    """An op key without shapes and args: the function types it runs."""
    if not isinstance(key, tuple) or not key:
        return key
    if key[0] in ("forward", "backward") and isinstance(key[1], tuple):
        return (key[0],) + tuple(step[0] for step in key[1])
    if key[0] in ("backward_function", "update"):
        return key[:2]
    return key[0]


def compile_count():
    """Number of programs compiled so far."""
    return stats.compiles
