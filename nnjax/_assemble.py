"""Assembling a queue of ops into one program.

``make_layout`` gives every distinct array the ops read or write a slot;
``compile_layout`` turns the ops' templates into one pure function of the
slots passed in (values, or constant fills folded into the program) that
returns the written slots, wrapped in a tiered ``Program``. The queue
(``nnjax._queue``) decides when to flush and which written slots to return.
Ops and templates are seen through their attributes only.
"""
import os
import warnings
from typing import NamedTuple

import numpy as np
import jax.numpy as jnp

from ._plan import jax_dtype
from ._program import Program, starts_optimized, tier_up_hits

# structure (op signatures, written slots) -> its id, part of program keys
_structures = {}


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
    kinds: tuple         # each op's template kind
    optional: tuple      # (slot, its input position or -1): written slots every writer
                         # marks optional (see nnjax._queue.left_out)
    donors: tuple        # (slot, its input position): inputs the program writes and only
                         # solver updates read (solver states: see nnjax._queue._donated)
    recycled: tuple      # (slot, its input position): inputs a training step writes that
                         # not only solver updates read (parameters, running statistics:
                         # see nnjax._step_results.spare_buffers)


def make_layout(ops):
    """Assign a slot to every distinct array of the queued ops."""
    slot_of = {}
    sources = []
    input_slots = []
    written = []
    written_set = set()
    op_sigs = []
    required = set()  # slots some op writes as a result it must hand back
    read_elsewhere = set()  # slots some op other than a solver update reads

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
        required.update(s for j, s in enumerate(ws) if j not in t.optional)
        if not (isinstance(t.key, tuple) and t.key and t.key[0] == "update"):
            read_elsewhere.update(rs)
        for s in ws:
            if s not in written_set:
                written_set.add(s)
                written.append(s)
        shapes = tuple(tuple(a.shape) for a in t.reads)
        op_sigs.append(OpSignature(
            t.key, tuple(rs), tuple(ws), shapes,
            tuple((np.shape(x), np.asarray(x).dtype.str) for x in op.operands)))
    kinds = tuple(k for op in ops
                  for k in (("forward", "backward") if op.parts else (op.template.kind,)))
    position = {s: k for k, s in enumerate(input_slots)}
    optional = (tuple((s, position.get(s, -1)) for s in written if s not in required)
                if "update" in kinds else ())
    donors = tuple((s, position[s]) for s in written
                   if s in position and s not in read_elsewhere) if donation() else ()
    recycled = tuple((s, position[s]) for s in written
                     if s in position and s in read_elsewhere
                     ) if donation() and "update" in kinds else ()
    if donors:
        # the donors' results first, in the donors' order: jax gives each result the
        # first unused donated buffer of its shape and dtype, so each state is updated
        # in its own buffer (a parameter written before its states would take the
        # first state's buffer, and XLA would copy every state)
        donor_slots = [s for s, _ in donors]
        donor_set = set(donor_slots)
        written = donor_slots + [s for s in written if s not in donor_set]
    structure = (tuple(op_sigs), tuple(written))
    sid = _structures.get(structure)
    if sid is None:
        sid = len(_structures)
        _structures[structure] = sid
    return Layout(tuple(sources), tuple(input_slots), tuple(written), sid, tuple(op_sigs),
                  kinds, optional, donors, recycled)


def slot_arrays(ops, layout):
    templates = [op.template for op in ops]
    return [templates[i].writes[j] if rw else templates[i].reads[j]
            for i, rw, j in layout.sources]


def donation():
    """Whether inputs only solver updates read are donated (NNJAX_DONATE=0 turns it
    off; read when a layout is made)."""
    return os.environ.get("NNJAX_DONATE", "1") != "0"


def const_shapes(arrays, layout, input_sig):
    """{input slot: shape} of the inputs passed as constant fills: what a program
    needs of its arrays besides the values."""
    return {s: arrays[s].shape for s, sig in zip(layout.input_slots, input_sig)
            if type(sig) is ConstFill}


def compile_layout(templates, layout, shapes, input_sig, written, values, donated=(),
                   spares=0):
    """A Program running ``templates`` (laid out by ``layout``) and returning the
    values of the ``written`` slots; ``shapes``: {input slot: shape} (for
    inputs passed as constant fills); ``donated``: the input slots passed in
    the program's second (donated) argument, the others come in the first;
    ``spares``: how many buffers follow them there, for results only (see
    nnjax._step_results.spare_buffers)."""
    fns = [t.build() for t in templates]
    value_slots = [s for s, sig in zip(layout.input_slots, input_sig)
                   if not isinstance(sig, ConstFill) and s not in donated]
    consts = [(s, shapes[s], jax_dtype(sig.dtype), sig.fill)
              for s, sig in zip(layout.input_slots, input_sig) if isinstance(sig, ConstFill)]
    plan = [(fn, sig.read_slots, sig.write_slots) for fn, sig in zip(fns, layout.op_sigs)]

    def program(values, donated_values, operands):
        env = dict(zip(donated, donated_values))
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
    float_inputs = any(np.issubdtype(v.dtype, np.inexact) for v in values) or any(
        np.issubdtype(np.dtype(dtype), np.inexact) for _, _, dtype, _ in consts)
    kinds = set(layout.kinds)
    compiled = Program(program, fast=not starts_optimized(kinds, nbytes),
                       tier_up_hits=tier_up_hits(kinds, nbytes, float_inputs),
                       keep_unused=spares > 0)
    return compiled


_miss_by_structure = {}


def note_miss(sid, input_sig, op_sigs, recent):
    """Warn when a program keeps recompiling, naming the cause."""
    seen = _miss_by_structure.get(sid)
    if seen is None:
        _miss_by_structure[sid] = [1, input_sig]
        types = tuple(_structure(sig.key) for sig in op_sigs)
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
        if not changed:  # evicted from the cache and compiled again: not the user's doing
            seen[1] = input_sig
            return
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
