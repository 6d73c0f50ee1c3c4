"""Forward: the ops computing a plan's outputs, or one function's.

``forward(outputs)`` queues one op that writes the data of the variables
someone needs (the outputs, persistent variables, and intermediates read
before); every other computed variable is left lazy, with a ``Record`` to
compute it from if it is read. In-place state (batch-norm running
statistics) is written back to the roots that hold it.
"""
import weakref

import numpy as np

from . import _modes
from . import random as _random
from ._ndarray import NdArray
from ._buffer_needs import backward_reads, keeps_inputs
from ._direct_run import direct_run
from ._plan import get_plan, run_steps, single_function_plan, step_callables
from ._program import runs_by_function
from ._queue import (Op, Template, cached_template, enqueue, flush, run_now, stats,
                     trained_buffers)
from ._records import Record
from ._rounded_inputs import forward_rounding


# A node running stochastic functions inside (a ``Grad`` node) -> those functions, in
# the order its lowering takes their keys
_INNER_RNG = weakref.WeakKeyDictionary()
# stochastic function -> how many draws ago it drew (a count of all draws), and a
# composite node -> the counts of its inner functions' draws it last used
_DRAWN_AT = weakref.WeakKeyDictionary()
_USED_AT = weakref.WeakKeyDictionary()
_draws = [0]


def set_inner_rng(fn, functions):
    """``fn`` runs the stochastic ``functions`` inside: its keys are theirs."""
    _INNER_RNG[fn] = tuple(functions)


def _draw_leaf(fn):
    src = fn.rng_source if fn.rng_source is not None else _random._function_rng()
    fn.rng_key_data = src.randint(0, 2 ** 31 - 1, size=2).astype(np.uint32)
    _draws[0] += 1
    _DRAWN_AT[fn] = _draws[0]


def _compose(fn):
    """A composite's keys: its inner functions' keys from their latest forward when
    they ran since the composite last used them (the same step), else fresh ones."""
    inner = _INNER_RNG.get(fn, ())
    used = _USED_AT.get(fn, {})
    rows = []
    for f in inner:
        if f in _INNER_RNG:
            rows.append(_compose(f))
            continue
        if f.rng_key_data is None or _DRAWN_AT.get(f, 0) <= used.get(id(f), 0):
            _draw_leaf(f)
        rows.append(f.rng_key_data.reshape(1, 2))
    _USED_AT[fn] = {id(f): _DRAWN_AT.get(f, 0) for f in inner}
    fn.rng_key_data = (np.concatenate(rows) if rows
                       else np.zeros((0, 2), np.uint32))
    return fn.rng_key_data


def draw_rng_keys(functions):
    """Fresh random keys for the stochastic ``functions`` (kept on each node): one
    row each, the rows of its inner functions for a composite (drawn last, so a
    composite reuses the keys its inner functions drew in the same forward)."""
    for fn in functions:
        if fn not in _INNER_RNG:
            _draw_leaf(fn)
    for fn in functions:
        if fn in _INNER_RNG:
            _compose(fn)
    return stacked_keys(functions)


def stacked_keys(functions):
    """The functions' last drawn keys as one (rows, 2) operand."""
    if not functions:
        return None
    return np.concatenate([np.reshape(fn.rng_key_data, (-1, 2)) for fn in functions])


def rng_operands(functions, fresh):
    """The op operand holding the functions' keys: new ones, or the last drawn."""
    if not functions:
        return ()
    if fresh:
        return (draw_rng_keys(functions),)
    missing = [fn for fn in functions if fn.rng_key_data is None]
    if missing:
        draw_rng_keys(missing)
    return (stacked_keys(functions),)


def _state_slots(plan, root_slots):
    """Root slots that functions of the plan update in place, in order."""
    slots = []
    for fn, step in zip(plan.functions, plan.steps):
        for k in fn.spec.state_inputs:
            slot = step.ins[k] if k < len(step.ins) else -1
            if slot >= 0 and slot in root_slots and slot not in slots:
                slots.append(slot)
    return tuple(slots)


# Function node -> {input index: NdArray}: for functions whose gradient is taken at
# the state they read (``prior_state_grad``), that state as their last forward read it
_PRIOR_STATE = weakref.WeakKeyDictionary()


def prior_state_arrays(plan, create=True):
    """{root slot: NdArray} holding the state the plan's ``prior_state_grad``
    functions last read (the backward reads these instead of the updated roots);
    ``create=False``: only those a forward already made."""
    if plan.cache.get("has-prior-state") is None:
        plan.cache["has-prior-state"] = any(fn.spec.prior_state_grad for fn in plan.functions)
    if not plan.cache["has-prior-state"]:
        return {}
    root_slots = {plan.index[id(r)] for r in plan.roots}
    arrays = {}
    for fn, step in zip(plan.functions, plan.steps):
        if not fn.spec.prior_state_grad:
            continue
        held = _PRIOR_STATE.get(fn) if not create else _PRIOR_STATE.setdefault(fn, {})
        for k in fn.spec.state_inputs:
            slot = step.ins[k] if k < len(step.ins) else -1
            if slot < 0 or slot not in root_slots:
                continue
            data = plan.variables[slot]._buffers.data
            array = None if held is None else held.get(k)
            if create and (array is None or tuple(array.shape) != tuple(data.shape)):
                array = held[k] = NdArray(tuple(data.shape), data.dtype)
            if array is not None:
                arrays[slot] = array
    return arrays


def prior_state_of(fn):
    """{input index: NdArray} holding the state ``fn``'s last forward read (only
    for ``prior_state_grad`` functions a forward has run)."""
    return _PRIOR_STATE.get(fn, {}) if fn.spec.prior_state_grad else {}


def forward_template(plan, materialize, kind="forward", cache=True):
    """The template writing the data of the ``materialize`` slots (and state)."""
    def make():
        steps = plan.steps
        root_slots = tuple(plan.index[id(r)] for r in plan.roots)
        state_slots = _state_slots(plan, root_slots)
        prior = prior_state_arrays(plan)
        prior_slots = tuple(prior)
        n_vars = len(plan.variables)
        callables = step_callables(plan)
        reads = [r._buffers.data for r in plan.roots]
        writes = ([plan.variables[s]._buffers.data for s in materialize]
                  + [plan.variables[s]._buffers.data for s in state_slots]
                  + [prior[s] for s in prior_slots])
        key = ("forward", steps, root_slots, materialize, state_slots, prior_slots)

        def build():
            def run(read_values, operands):
                env = [None] * n_vars
                for s, v in zip(root_slots, read_values):
                    env[s] = v
                read = {s: env[s] for s in prior_slots}
                updates = run_steps(steps, callables, env, operands[0] if operands else None)
                return ([env[s] for s in materialize]
                        + [updates.get(s, env[s]) for s in state_slots]
                        + [read[s] for s in prior_slots])
            return run
        template = Template(key, reads, writes, build, kind)
        if kind == "function" and len(plan.functions) == 1:
            template.rounding = forward_rounding(plan.functions[0].spec, steps[0], root_slots)
        return template

    if not cache:
        return make()
    return cached_template(plan.cache, ("forward", kind, materialize), make)


def _rebuild_forward(plan, info, slot):
    """Record callback: the template computing one left-out data slot."""
    plan.observed_data.add(slot)
    return forward_template(plan, (slot,), cache=False)


def forward_op(plan, materialize, kind="forward", fresh_rng=True):
    """Forward of ``plan`` writing the data of the ``materialize`` slots; every
    other computed variable is left lazy (computed from the record if read).
    ``fresh_rng=False`` reuses the keys the functions drew last (a recompute)."""
    materialize = tuple(materialize)
    template = forward_template(plan, materialize, kind)
    operands = rng_operands(plan.rng_functions, fresh=fresh_rng)
    record = None
    if kind == "forward":
        record = Record(plan, operands, _rebuild_forward)
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


def forward(outputs, clear_buffer=False, function_pre_hook=None, function_post_hook=None,
            clear_no_need_grad=False):
    """Queue the forward of ``outputs`` (Variables) from the roots of their graph."""
    plan = get_plan(outputs)
    if not plan.functions:
        return
    if (function_pre_hook is None and function_post_hook is None
            and not _modes.function_hooks_active()):
        replay = plan.cache.get(("replay-forward", id(outputs[0]) if len(outputs) == 1
                                 else tuple(map(id, outputs))))
        if replay is not None and replay.observed == len(plan.observed_data):
            enqueue(replay.op())
            return
    observers = _modes.function_observers()
    function_pre_hook, function_post_hook = _modes.with_global_hooks(function_pre_hook,
                                                                     function_post_hook)
    if function_pre_hook is not None or function_post_hook is not None or observers:
        freed = None
        if clear_buffer or clear_no_need_grad:
            freed = freed_after_forward(plan.functions, outputs, clear_buffer)
        _forward_by_function(plan, function_pre_hook, function_post_hook, observers, freed)
        return
    output_ids = tuple(map(id, outputs))
    if runs_by_function(plan, ("forward-runs", output_ids), stats.updates, reads_trained,
                        root_bytes):
        _forward_by_function(plan, None, None)
        return
    observed = plan.observed_data
    mkey = ("materialize", output_ids, len(observed))
    materialize = plan.cache.get(mkey)
    if materialize is None:
        root_ids = {id(r) for r in plan.roots}
        # a function computes all its outputs: the siblings of a wanted output are stored too
        wanted = {id(o) for v in outputs
                  for o in (v._parent.outputs if v._parent is not None else [v])}
        # an output written into a root's own array (``outputs=[x.data]``) is always stored
        root_arrays = {id(r._buffers.data) for r in plan.roots}
        materialize = plan.cache[mkey] = tuple(
            s for s, v in enumerate(plan.variables) if id(v) not in root_ids
            and (id(v) in wanted or v._persistent or s in observed
                 or id(v._buffers.data) in root_arrays
                 or getattr(v._buffers.data, "_root", None) is not None))
    op = forward_op(plan, materialize)
    if op.template.reusable:
        # fused for good (runs_by_function said so): the next call replays this one
        replay_key = output_ids[0] if len(output_ids) == 1 else output_ids
        plan.cache[("replay-forward", replay_key)] = ForwardReplay(
            plan, materialize, op.template, len(observed))
    enqueue(op)


class ForwardReplay:
    """What a repeated fused forward of the same outputs needs: the cached
    template and the arrays it leaves out. Valid while the plan is (the graph
    is unchanged) and no further intermediate was observed."""

    __slots__ = ("plan", "template", "left_out", "observed")

    def __init__(self, plan, materialize, template, observed):
        self.plan = plan
        self.template = template
        self.left_out = plan.cache[("left-out", materialize)]
        self.observed = observed

    def op(self):
        plan = self.plan
        operands = (draw_rng_keys(plan.rng_functions),) if plan.rng_functions else ()
        record = Record(plan, operands, _rebuild_forward)
        for array, s in self.left_out:
            array._lazy = (record, s)
        return Op(template=self.template, operands=operands, record=record)


def reads_trained(plan):
    """Whether the graph reads a parameter that a solver updates."""
    return any(r._buffers in trained_buffers for r in plan.roots)


def root_bytes(plan):
    """The size of the graph's inputs."""
    return sum(r._buffers.data.size * r._buffers.data._dtype.itemsize for r in plan.roots)


def _function_needs_grad(fn):
    return any(v is not None and v.need_grad for v in fn._inputs)


def freed_after_forward(functions, outputs, clear_buffer):
    """{function index: variables whose data is freed once it ran}.

    An intermediate (not a root, output or persistent variable) is freed after
    its last reader ran: always with ``clear_buffer``; with ``clear_no_need_grad``
    only when no backward reads it (or it is marked ``recompute``)."""
    kept = {id(v) for v in outputs}
    needed = set()
    last_reader = {}
    for k, fn in enumerate(functions):
        name = fn.info.type_name
        ins = list(fn._inputs)
        grad_on = _function_needs_grad(fn)
        reads_in, reads_out = backward_reads(name, len(ins))
        if grad_on and reads_out:
            needed.update(id(o) for o in fn.outputs)
        for j, v in enumerate(ins):
            if v is None:
                continue
            last_reader[id(v)] = (k, v)
            if keeps_inputs(name):
                kept.add(id(v))
            if grad_on and j in reads_in:
                needed.add(id(v))
    freed = {}
    for k, v in last_reader.values():
        if v._parent is None or v._persistent or id(v) in kept:
            continue
        if clear_buffer or v._recompute or id(v) not in needed:
            freed.setdefault(k, []).append(v)
    return freed


def _forward_by_function(plan, pre_hook, post_hook, observers=(), freed=None):
    """Unfused forward: one function at a time, hooks (then observers) around each."""
    flush()
    if pre_hook is None and post_hook is None and not observers and not freed:
        _repeat_by_function(plan)
        return
    for k, fn in enumerate(plan.functions):
        if pre_hook is not None:
            pre_hook(fn)
        run_function(fn)
        for v in (freed or {}).get(k, ()):
            v._buffers.data.clear()
        if post_hook is not None:
            post_hook(fn)
        for observer in observers:
            observer(fn)


def _repeat_by_function(plan):
    """An unfused forward with no hooks: each function's flush is repeated
    directly (``DirectRun``, with fresh keys for a stochastic function) where its
    last one can be, else queued as usual."""
    runs = plan.cache.get("direct-runs")
    if runs is None:
        runs = plan.cache["direct-runs"] = [None] * len(plan.functions)
    for k, fn in enumerate(plan.functions):
        entry = runs[k]  # (DirectRun, what draws a stochastic function's fresh keys) or None
        if entry is not None and entry[0](entry[1]):
            continue
        run_now(function_op(fn))
        run = direct_run(new_operands=True)
        runs[k] = None if run is None else (run, _fresh_keys(single_function_plan(fn).rng_functions))


def _fresh_keys(stochastic):
    """What a DirectRun calls for new keys: None for a function drawing none."""
    return (lambda: [rng_operands(stochastic, fresh=True)]) if stochastic else None


def function_op(fn, inputs=None, outputs=None, fresh_rng=True):
    """The op computing one function's outputs from its inputs' current data
    (or ``outputs`` from ``inputs``: positional, None where absent)."""
    plan = single_function_plan(fn, inputs, outputs)
    n_in = len(plan.roots)
    return forward_op(plan, tuple(range(n_in, len(plan.variables))), kind="function",
                      fresh_rng=fresh_rng)


def run_function(fn):
    """Compute one function node now."""
    run_now(function_op(fn))
