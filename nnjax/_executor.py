"""Lazy execution: stateful calls are queued as ops and run as one XLA program.

An op reads some NdArrays and writes others through a pure function built
from its structural key. ``forward``, ``backward``, solver updates and the
like enqueue ops; the queue runs (``flush``) when a value is observed on the
host, when a queued array is written by the user, or when a new training
step begins. The queued ops become one jit-compiled program, cached under a
key made of the ops' keys, how they share arrays, and the input shapes and
dtypes: a training loop compiles once.

Values a step does not need to hand back (intermediate data and gradients
nobody has read) are left out of the program's outputs. Their arrays carry
a ``Record`` of what the step computed from (the root values, random keys,
seed), and reading one computes it from that record; from then on the
variable is "observed" and later steps return it directly.
"""
import itertools
import time
import warnings
from collections import OrderedDict

import numpy as np
import jax
import jax.numpy as jnp

from . import _ndarray
from ._graph import build_plan, run_steps, step_callables, _jax_dtype
from ._variable import graph_version

MAX_CACHED_PROGRAMS = 512
MAX_CACHED_LAYOUTS = 512
MAX_QUEUE = 4096


class CompileStats:
    """Counters of the program cache (``nnabla.compile_stats()``)."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.compiles = 0
        self.hits = 0
        self.compile_seconds = 0.0
        self.executions = 0
        self.recomputes = 0
        self.last_ops = ()
        self._recent_misses = []

    @property
    def misses(self):
        return self.compiles

    def __repr__(self):
        return (f"CompileStats(compiles={self.compiles}, hits={self.hits}, "
                f"executions={self.executions}, recomputes={self.recomputes}, "
                f"compile_seconds={self.compile_seconds:.3f})")


stats = CompileStats()
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
    learning rates: small arrays passed to the program each call).

    ``kind`` is 'forward', 'function', 'backward' or 'update' (step boundaries).
    """

    __slots__ = ("template", "operands", "record")

    def __init__(self, key=None, reads=(), writes=(), build=None, operands=(), kind="function",
                 template=None, record=None):
        if template is None:
            template = _interned_template(key, reads, writes, build, kind)
        self.template = template
        self.operands = tuple(operands)
        self.record = record

    key = property(lambda self: self.template.key)
    reads = property(lambda self: self.template.reads)
    writes = property(lambda self: self.template.writes)
    build = property(lambda self: self.template.build)
    kind = property(lambda self: self.template.kind)


_interned = OrderedDict()
MAX_INTERNED = 256


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


def run_now(op):
    enqueue(op)
    flush()


# ---------------------------------------------------------------- flush
def _make_layout(ops):
    """Assign a slot to every distinct array of the queued ops.

    Returns (sources, input_slots, written, structure_id): ``sources[slot]`` says
    where to find the array (op index, read/write, position).
    """
    slot_of = {}
    sources = []
    input_slots = []
    written = []
    written_set = set()
    op_sigs = []
    for i, op in enumerate(ops):
        t = op.template
        rs = []
        for j, a in enumerate(t.reads):
            s = slot_of.get(id(a))
            if s is None:
                s = len(sources)
                slot_of[id(a)] = s
                sources.append((i, 0, j))
                input_slots.append(s)
            rs.append(s)
        ws = []
        for j, a in enumerate(t.writes):
            s = slot_of.get(id(a))
            if s is None:
                s = len(sources)
                slot_of[id(a)] = s
                sources.append((i, 1, j))
            ws.append(s)
            if s not in written_set:
                written_set.add(s)
                written.append(s)
        shapes = tuple(tuple(a.shape) for a in t.reads)
        op_sigs.append((t.key, tuple(rs), tuple(ws), shapes,
                        tuple((np.shape(x), np.asarray(x).dtype.str) for x in op.operands)))
    structure = (tuple(op_sigs), tuple(written))
    sid = _structures.get(structure)
    if sid is None:
        sid = len(_structures)
        _structures[structure] = sid
    return tuple(sources), tuple(input_slots), tuple(written), sid, op_sigs


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

    reusable = all(op.template.reusable for op in ops)
    layout = None
    if reusable:
        lkey = tuple(op.template.tid for op in ops)
        layout = _layouts.get(lkey)
        if layout is not None:
            _layouts.move_to_end(lkey)
    if layout is None:
        layout = _make_layout(ops)
        if reusable:
            if len(_layouts) >= MAX_CACHED_LAYOUTS:
                _layouts.popitem(last=False)
            _layouts[lkey] = layout
    sources, input_slots, written, sid, op_sigs = layout
    templates = [op.template for op in ops]
    arrays = [templates[i].writes[j] if rw else templates[i].reads[j] for i, rw, j in sources]

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
                input_sig.append(("f", 0, a._dtype))
                continue
            # any other pending fill becomes a real array once, so that the first
            # step and the later ones (where it holds results) share one program
            head = a._materialize()
        values.append(head)
        input_sig.append(head.dtype)
    key = (sid, tuple(input_sig))
    operands = [op.operands for op in ops]

    if any(op.record is not None for op in ops):
        _take_snapshots(ops, layout, arrays, values, input_sig)

    program = _programs.get(key)
    if program is None:
        program = _compile(ops, layout, arrays, input_sig)
        if len(_programs) >= MAX_CACHED_PROGRAMS:
            _programs.popitem(last=False)
        _programs[key] = program
        start = time.perf_counter()
        outs = program(values, operands)
        stats.compile_seconds += time.perf_counter() - start
        stats.compiles += 1
        _note_miss(sid, key[1], op_sigs)
    else:
        _programs.move_to_end(key)
        stats.hits += 1
        outs = program(values, operands)
    stats.executions += 1
    stats.last_ops = tuple(t.kind for t in templates)
    for s, v in zip(written, outs):
        arrays[s]._set_value(v)
    for op in ops:
        if op.record is not None:
            op.record.pending = False


def _compile(ops, layout, arrays, input_sig):
    sources, input_slots, written, sid, op_sigs = layout
    fns = [op.template.build() for op in ops]
    value_slots = [s for s, sig in zip(input_slots, input_sig)
                   if not (isinstance(sig, tuple) and sig[0] == "f")]
    consts = [(s, arrays[s].shape, _jax_dtype(sig[2]), sig[1])
              for s, sig in zip(input_slots, input_sig)
              if isinstance(sig, tuple) and sig[0] == "f"]
    plan = [(fn, sig[1], sig[2]) for fn, sig in zip(fns, op_sigs)]

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

    return jax.jit(program)


def _take_snapshots(ops, layout, arrays, values, input_sig):
    """Point each op's Record at this flush's input values (the values its
    reads had). Host arrays a user holds a view of are copied; the rest are
    immutable (jax arrays) or owned by nnjax, so keeping references suffices."""
    sources, input_slots, written, sid, op_sigs = layout
    kept = list(values)
    k = 0
    for s, sig in zip(input_slots, input_sig):
        if isinstance(sig, tuple) and sig[0] == "f":
            continue
        if arrays[s]._exposed and isinstance(kept[k], np.ndarray):
            kept[k] = np.array(kept[k])
        k += 1
    shared = (input_slots, input_sig, kept)
    for op, sig in zip(ops, op_sigs):
        if op.record is not None:
            op.record.snapshot = (shared, sig[1])


def _snapshot_values(snapshot):
    """The read values kept by ``_take_snapshots`` (None if some read was
    produced inside the same program rather than passed in)."""
    if snapshot is None:
        return None
    (input_slots, input_sig, kept), read_slots = snapshot
    value_of = {}
    it = iter(kept)
    for s, sig in zip(input_slots, input_sig):
        if isinstance(sig, tuple) and sig[0] == "f":
            value_of[s] = ("fill", sig[1], sig[2])
        else:
            value_of[s] = next(it)
    if not all(s in value_of for s in read_slots):
        return None
    return [value_of[s] for s in read_slots]


_miss_by_structure = {}


def _note_miss(sid, input_sig, op_sigs):
    """Warn when a program keeps recompiling, naming the cause."""
    seen = _miss_by_structure.get(sid)
    if seen is None:
        _miss_by_structure[sid] = [1, input_sig]
        types = tuple(_structure(sig[0]) for sig in op_sigs)
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
        detail = "; ".join(f"input {i}: {seen[1][i]} -> {input_sig[i]}" for i in changed[:3])
        warnings.warn("nnjax: the same step compiled 4 times because its inputs' dtypes or "
                      f"constant fills change ({detail}); keep them fixed (e.g. write "
                      "arrays with .d = values of one dtype, avoid varying scalar fills)",
                      RuntimeWarning, stacklevel=3)
    seen[1] = input_sig


def _structure(key):
    """An op key without shapes and args: the function types it runs."""
    if not isinstance(key, tuple) or not key:
        return key
    if key[0] in ("forward", "backward") and isinstance(key[1], tuple):
        return (key[0],) + tuple(step[0] for step in key[1])
    if key[0] in ("backward_function", "update"):
        return key[:2]
    return key[0]


_ndarray.flush_queue = flush


def compile_count():
    """Number of programs compiled so far."""
    return stats.compiles


# ---------------------------------------------------------------- records
def _snapshot_arrays(snapshot, originals):
    """NdArrays holding a record's snapshot (or the originals when it has none)."""
    if snapshot is None:
        return list(originals)
    out = []
    for v, orig in zip(snapshot, originals):
        if isinstance(v, tuple) and v[0] == "fill":
            a = _ndarray.NdArray(orig.shape, v[2])
            a._fill = v[1]
        elif isinstance(v, np.ndarray):
            a = _ndarray.NdArray.from_numpy_array(v)
        else:
            a = _ndarray.NdArray._from_device(v, orig.dtype)
        out.append(a)
    return out


class Record:
    """What a forward or backward op computed from, to compute what it left out.

    ``pending`` until the op has run; ``snapshot`` holds the values its reads
    had then (None if they were produced inside the same program: the current
    values are used instead).
    """

    __slots__ = ("plan", "kind", "operands", "snapshot", "pending", "info")

    def __init__(self, plan, kind, operands, info=None):
        self.plan = plan
        self.kind = kind
        self.operands = operands
        self.snapshot = None
        self.pending = True
        self.info = info

    def resolve(self, slot, array):
        if self.pending:
            flush()
        stats.recomputes += 1
        plan = self.plan
        if self.kind == "forward":
            plan.observed_data.add(slot)
            template = _forward_template(plan, (slot,), cache=False)
        else:
            plan.observed_grad.add(slot)
            template = _backward_template(plan, self.info, (slot,), leaves=False, cache=False)
        snapshot = _snapshot_values(self.snapshot)
        if self.kind == "backward" and snapshot is not None:
            # the backward op also read the leaves' old grads; the recompute does not
            n_roots, n_groups = len(plan.roots), len(self.info.grad_arrays)
            snapshot = snapshot[:n_roots] + snapshot[n_roots + n_groups:]
        reads = _snapshot_arrays(snapshot, template.reads)
        ad_hoc = Template(template.key, reads, [array], template.build, template.kind)
        run_now(Op(template=ad_hoc, operands=self.operands))


# ---------------------------------------------------------------- plans
def get_plan(outputs):
    head = outputs[0]
    cached = head._plan_cache
    version = graph_version[0]
    if cached is not None and cached[0] == version and len(outputs) == 1:
        return cached[1]
    plan = build_plan(outputs)
    if len(outputs) == 1:
        head._plan_cache = (version, plan)
    return plan


def draw_rng_keys(functions):
    from . import random as _random
    keys = []
    for fn in functions:
        src = fn.rng_source if fn.rng_source is not None else _random._function_rng()
        fn.rng_key_data = src.randint(0, 2 ** 31 - 1, size=2).astype(np.uint32)
        keys.append(fn.rng_key_data)
    return np.stack(keys) if keys else None


def _rng_operands(functions, fresh):
    if not functions:
        return ()
    if fresh:
        return (draw_rng_keys(functions),)
    missing = [fn for fn in functions if fn.rng_key_data is None]
    if missing:
        draw_rng_keys(missing)
    return (np.stack([fn.rng_key_data for fn in functions]),)


# ---------------------------------------------------------------- forward
def _forward_template(plan, materialize, kind="forward", cache=True):
    def make():
        steps = plan.steps
        root_slots = tuple(plan.index[id(r)] for r in plan.roots)
        state_slots = []
        for fn, step in zip(plan.functions, steps):
            for k in fn.spec.state_inputs:
                slot = step[2][k] if k < len(step[2]) else -1
                if slot >= 0 and slot in root_slots and slot not in state_slots:
                    state_slots.append(slot)
        state_slots = tuple(state_slots)
        n_vars = len(plan.variables)
        callables = step_callables(plan)
        reads = [r._buffers.data for r in plan.roots]
        writes = ([plan.variables[s]._buffers.data for s in materialize]
                  + [plan.variables[s]._buffers.data for s in state_slots])
        key = ("forward", steps, root_slots, materialize, state_slots)

        def build():
            def run(read_values, operands):
                env = [None] * n_vars
                for s, v in zip(root_slots, read_values):
                    env[s] = v
                updates = run_steps(steps, callables, env, operands[0] if operands else None)
                return ([env[s] for s in materialize]
                        + [updates.get(s, env[s]) for s in state_slots])
            return run
        return Template(key, reads, writes, build, kind)

    if not cache:
        return make()
    return cached_template(plan.cache, ("forward", kind, materialize), make)


def _forward_op(plan, materialize, kind="forward"):
    """Forward of ``plan`` writing the data of the ``materialize`` slots; every
    other computed variable is left lazy (computed from the record if read)."""
    materialize = tuple(materialize)
    template = _forward_template(plan, materialize, kind)
    operands = _rng_operands(plan.rng_functions, fresh=True)
    record = None
    if kind == "forward":
        record = Record(plan, "forward", operands)
        left_out = plan.cache.get(("left-out", materialize))
        if left_out is None:
            wanted = set(materialize)
            root_ids = {id(r) for r in plan.roots}
            left_out = plan.cache[("left-out", materialize)] = tuple(
                (v._buffers.data, s) for s, v in enumerate(plan.variables)
                if s not in wanted and id(v) not in root_ids)
        for array, s in left_out:
            array._lazy = (record, s)
    return Op(template=template, operands=operands, record=record)


def forward(outputs, clear_buffer=False, function_pre_hook=None, function_post_hook=None):
    plan = get_plan(outputs)
    if not plan.functions:
        return
    if function_pre_hook is not None or function_post_hook is not None:
        flush()
        for fn in plan.functions:
            if function_pre_hook is not None:
                function_pre_hook(fn)
            run_function(fn)
            if function_post_hook is not None:
                function_post_hook(fn)
        return
    observed = plan.observed_data
    mkey = ("materialize", tuple(map(id, outputs)), len(observed))
    materialize = plan.cache.get(mkey)
    if materialize is None:
        root_ids = {id(r) for r in plan.roots}
        wanted = {id(v) for v in outputs}
        materialize = plan.cache[mkey] = tuple(
            s for s, v in enumerate(plan.variables) if id(v) not in root_ids
            and (id(v) in wanted or v._persistent or s in observed))
    enqueue(_forward_op(plan, materialize))


def _single_function_plan(fn):
    from ._graph import Plan, freeze
    variables, index, ins = [], {}, []
    for v in fn._inputs:
        if v is None:
            ins.append(-1)
            continue
        s = index.get(id(v))
        if s is None:
            s = len(variables)
            index[id(v)] = s
            variables.append(v)
        ins.append(s)
    roots = list(variables)
    outs = []
    for o in fn.outputs:
        index[id(o)] = len(variables)
        outs.append(len(variables))
        variables.append(o)
    step = (fn.spec.type_name, freeze(fn.info.args), tuple(ins), tuple(outs),
            id(fn.python_function) if fn.python_function is not None else None)
    return Plan([fn], roots, index, (step,), variables,
                [fn] if fn.spec.rng else [])


def function_op(fn):
    """The op computing one function's outputs from its inputs' current data."""
    plan = _single_function_plan(fn)
    n_in = len(plan.roots)
    return _forward_op(plan, tuple(range(n_in, len(plan.variables))), kind="function")


def run_function(fn):
    run_now(function_op(fn))


# ---------------------------------------------------------------- backward
def _need_grad_slots(plan):
    """Slots that need a gradient (dynamic propagation) and slots cut by need_grad=False."""
    need = [False] * len(plan.variables)
    stop = set()
    for r in plan.roots:
        s = plan.index[id(r)]
        need[s] = bool(r.need_grad) and jnp.issubdtype(r._buffers.data.dtype, jnp.inexact)
    for fn, step in zip(plan.functions, plan.steps):
        any_in = any(need[i] for i in step[2] if i >= 0)
        for o, s in zip(fn.outputs, step[3]):
            inexact = jnp.issubdtype(o._buffers.data.dtype, jnp.inexact)
            if o._need_grad is False or not inexact:
                stop.add(s)
            else:
                need[s] = any_in
    return need, frozenset(stop)


def _seed_spec(output, grad):
    """(kind, extra read arrays, operands) describing the backward seed."""
    if grad is None:
        return ("read",), [output._buffers.grad], ()
    if isinstance(grad, _ndarray.NdArray):
        return ("read",), [grad], ()
    if np.isscalar(grad) or (isinstance(grad, np.ndarray) and grad.ndim == 0):
        return ("const", float(grad)), [], ()
    arr = np.asarray(grad, dtype=np.float32)
    if arr.shape != output.shape:
        arr = np.broadcast_to(arr, output.shape)
    return ("operand",), [], (arr,)


class _BackwardInfo:
    """Need-grad analysis of a plan for a backward from ``out_slot``."""

    __slots__ = ("need", "stop", "out_slot", "diff_roots", "grad_arrays", "group_of",
                 "inter_all", "seed_key", "seed_reads")

    def __init__(self, plan, output, seed_key, seed_reads):
        need, stop = _need_grad_slots(plan)
        self.need, self.stop = need, stop
        self.out_slot = plan.index[id(output)]
        root_slots = [plan.index[id(r)] for r in plan.roots]
        root_set = set(root_slots)
        self.diff_roots = tuple(s for s in root_slots if need[s])
        # roots sharing one grad buffer (a parameter used several times through
        # unlinked copies) add their contributions into that buffer once
        grad_arrays, group_of = [], []
        for s in self.diff_roots:
            g = plan.variables[s]._buffers.grad
            for i, a in enumerate(grad_arrays):
                if a is g:
                    group_of.append(i)
                    break
            else:
                group_of.append(len(grad_arrays))
                grad_arrays.append(g)
        self.grad_arrays = grad_arrays
        self.group_of = tuple(group_of)
        self.inter_all = tuple(s for s in range(len(plan.variables))
                               if need[s] and s not in root_set and s != self.out_slot)
        self.seed_key = seed_key
        self.seed_reads = seed_reads


def _backward_template(plan, info, inter, leaves=True, cache=True):
    def make():
        root_slots = tuple(plan.index[id(r)] for r in plan.roots)
        variables = plan.variables
        diff_roots, group_of = info.diff_roots, info.group_of
        grad_arrays = info.grad_arrays if leaves else []
        n_groups = len(grad_arrays)
        inter_shapes = tuple((variables[s].shape,
                              _jax_dtype(variables[s]._buffers.data.dtype).str) for s in inter)
        seed_key = info.seed_key
        steps = plan.steps
        n_vars = len(variables)
        callables = step_callables(plan)
        stop = info.stop
        out_slot = info.out_slot
        reads = [r._buffers.data for r in plan.roots] + grad_arrays + info.seed_reads
        writes = grad_arrays + [variables[s]._buffers.grad for s in inter]
        n_roots = len(root_slots)
        has_rng = bool(plan.rng_functions)
        key = ("backward", steps, root_slots, diff_roots, group_of if leaves else None, inter,
               inter_shapes, tuple(sorted(stop)), out_slot, variables[out_slot].shape, seed_key)

        def build():
            def run(read_values, ops):
                root_values = read_values[:n_roots]
                old_grads = read_values[n_roots:n_roots + n_groups]
                keys = ops[0] if has_rng else None
                if seed_key[0] == "read":
                    seed = read_values[n_roots + n_groups]
                elif seed_key[0] == "const":
                    seed = seed_key[1]
                else:
                    seed = ops[-1]
                fixed = dict(zip(root_slots, root_values))

                def f(diff_values, perturbs):
                    env = [None] * n_vars
                    for s, v in fixed.items():
                        env[s] = jax.lax.stop_gradient(v)
                    for s, v in zip(diff_roots, diff_values):
                        env[s] = v
                    run_steps(steps, callables, env, keys, stop=stop, perturb=perturbs)
                    return env[out_slot]

                diff_values = tuple(fixed[s] for s in diff_roots) if leaves else ()
                perturbs = {s: jnp.zeros(shape, dtype)
                            for s, (shape, dtype) in zip(inter, inter_shapes)}
                out, vjp = jax.vjp(f, diff_values, perturbs)
                cot = jnp.broadcast_to(jnp.asarray(seed, out.dtype), out.shape)
                g_roots, g_inter = vjp(cot)
                sums = [None] * n_groups
                for i, g in zip(group_of, g_roots):
                    sums[i] = g if sums[i] is None else sums[i] + g
                new = [old + g.astype(old.dtype) for old, g in zip(old_grads, sums)]
                return new + [g_inter[s] for s in inter]
            return run
        return Template(key, reads, writes, build, "backward")

    if not cache:
        return make()
    return cached_template(plan.cache, ("backward", id(info), inter), make)


def backward(output, grad=1, clear_buffer=False, function_pre_hook=None,
             function_post_hook=None):
    if output._parent is None:
        return
    plan = get_plan([output])
    if function_pre_hook is not None or function_post_hook is not None:
        _backward_by_function(plan, output, grad, function_pre_hook, function_post_hook)
        return
    seed_key, seed_reads, seed_operands = _seed_spec(output, grad)
    cacheable = grad is None or seed_key[0] != "read"
    info_key = ("backward-info", id(output), seed_key)
    info = plan.cache.get(info_key) if cacheable else None
    if info is None:
        info = _BackwardInfo(plan, output, seed_key, seed_reads)
        if cacheable:
            plan.cache[info_key] = info
    observed = plan.observed_grad
    ikey = ("inter", id(info), len(observed))
    chosen = plan.cache.get(ikey) if cacheable else None
    if chosen is None:
        inter = tuple(s for s in info.inter_all
                      if s in observed or plan.variables[s]._persistent)
        left_out = tuple((plan.variables[s]._buffers.grad, s) for s in info.inter_all
                         if s not in set(inter))
        chosen = (inter, left_out)
        if cacheable:
            plan.cache[ikey] = chosen
    inter, left_out = chosen
    template = _backward_template(plan, info, inter, cache=cacheable)
    operands = _rng_operands(plan.rng_functions, fresh=False) + seed_operands
    record = Record(plan, "backward", operands, info)
    for array, s in left_out:
        array._lazy = (record, s)
    enqueue(Op(template=template, operands=operands, record=record))
    del clear_buffer


def _backward_by_function(plan, output, grad, pre_hook, post_hook):
    """Unfused backward: one function at a time, hooks around each."""
    flush()
    need, stop = _need_grad_slots(plan)
    if grad is not None:
        if isinstance(grad, _ndarray.NdArray):
            output._buffers.grad.copy_from(grad)
        else:
            output._buffers.grad.data = grad
    root_set = {id(r) for r in plan.roots}
    written = {id(output)}
    for fn, step in zip(reversed(plan.functions), reversed(plan.steps)):
        if not any(need[s] for s in step[3]):
            continue
        if pre_hook is not None:
            pre_hook(fn)
        targets = []
        for i, v in enumerate(fn._inputs):
            if v is None or not need[step[2][i]]:
                continue
            accumulate = id(v) in root_set or id(v) in written
            targets.append((i, accumulate))
            written.add(id(v))
        if targets:
            run_now(_function_backward_op(fn, tuple(targets), stop, step))
        if post_hook is not None:
            post_hook(fn)


def _function_backward_op(fn, targets, stop, step):
    spec = fn.spec
    args = fn.info.args
    pyfunc = fn.python_function
    inputs = fn._inputs
    n_in = len(inputs)
    present = tuple(i for i, v in enumerate(inputs) if v is not None)
    out_stop = tuple(s in stop for s in step[3])
    # one write per grad buffer: an input given twice (x * x) sums its parts
    grad_arrays, group_of, group_acc = [], [], []
    for i, acc in targets:
        g = inputs[i]._buffers.grad
        for k, a in enumerate(grad_arrays):
            if a is g:
                group_of.append(k)
                break
        else:
            group_of.append(len(grad_arrays))
            grad_arrays.append(g)
            group_acc.append(acc)
    group_of, group_acc = tuple(group_of), tuple(group_acc)
    reads = ([inputs[i]._buffers.data for i in present]
             + [o._buffers.grad for o in fn.outputs]
             + [a for a, acc in zip(grad_arrays, group_acc) if acc])
    writes = grad_arrays
    rng = _rng_operands([fn] if spec.rng else [], fresh=False)
    key = ("backward_function", step[0], step[1], step[4], present, targets, group_of,
           out_stop, n_in)
    n_present = len(present)
    n_out = len(fn.outputs)
    target_idx = tuple(i for i, _ in targets)

    def build():
        def run(read_values, ops):
            in_values = dict(zip(present, read_values[:n_present]))
            out_grads = read_values[n_present:n_present + n_out]
            old = iter(read_values[n_present + n_out:])

            def f(diff):
                vals = [None] * n_in
                for i in present:
                    vals[i] = jax.lax.stop_gradient(in_values[i])
                for i, v in zip(target_idx, diff):
                    vals[i] = v
                if pyfunc is not None:
                    res = pyfunc._lower(*vals)
                elif spec.rng:
                    res = spec.lower(ops[0][0], *vals, **args)
                else:
                    res = spec.lower(*vals, **args)
                if not isinstance(res, (tuple, list)):
                    res = (res,)
                n_state = len(spec.state_inputs)
                res = res[:len(res) - n_state] if n_state else res
                return tuple(jax.lax.stop_gradient(r) if s else r for r, s in zip(res, out_stop))

            outs, vjp = jax.vjp(f, tuple(in_values[i] for i in target_idx))
            cots = tuple(jnp.asarray(g, o.dtype) if jnp.issubdtype(o.dtype, jnp.inexact)
                         else np.zeros(o.shape, jax.dtypes.float0)
                         for g, o in zip(out_grads, outs))
            (grads,) = vjp(cots)
            sums = [None] * len(group_acc)
            for k, g in zip(group_of, grads):
                sums[k] = g if sums[k] is None else sums[k] + g
            return [next(old) + g if acc else g for g, acc in zip(sums, group_acc)]
        return run

    return Op(key, reads, writes, build, rng, kind="function")
