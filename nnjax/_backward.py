"""Backward: ``jax.vjp`` of a plan, accumulated into the leaves' grads.

As in NNabla, gradients accumulate into the grads of leaf variables that
need them (``backward()`` twice doubles them) while intermediate grads are
overwritten; ``need_grad=False`` cuts propagation. Intermediate grads nobody
has read are left out of the step and computed from a ``Record`` when read.
With hooks (or function observers), the backward runs one function at a time.
"""
import numpy as np
import jax
import jax.numpy as jnp

from . import _modes
from ._buffer_needs import keeps_inputs
from ._forward import function_op, prior_state_arrays, reads_trained, rng_operands, root_bytes
from ._function_backward import check_backward_allowed, run_function_backward
from ._ndarray import NdArray
from ._plan import INACTIVE, get_plan, group_by_buffer, jax_dtype, run_steps, step_callables
from ._plan import sum_groups
from ._joined_step import merged_op
from ._queue import (Op, Template, cached_template, enqueue, flush, last_queued, replace_last,
                     run_now, stats)
from ._program import runs_by_function
from ._records import Record


def need_grad_slots(plan):
    """Slots that need a gradient (dynamic propagation) and slots cut by need_grad=False."""
    need = [False] * len(plan.variables)
    stop = set()
    for r in plan.roots:
        s = plan.index[id(r)]
        # as NNabla, integer leaves are read as floats, so their grads flow too
        need[s] = bool(r.need_grad) and not jnp.issubdtype(r._buffers.data.dtype, jnp.bool_)
    for fn, step in zip(plan.functions, plan.steps):
        any_in = any(need[i] for i in step.ins if i >= 0)
        for o, s in zip(fn.outputs, step.outs):
            inexact = jnp.issubdtype(o._buffers.data.dtype, jnp.inexact)
            if o._need_grad is False or not inexact:
                stop.add(s)
            else:
                need[s] = any_in or o._need_grad is True  # set on the variable itself
    return need, frozenset(stop)


def _seeds_itself(fn):
    """NNabla's Sink(one_input_grad=False): each input's own grad is its seed."""
    return fn._info.type_name == "Sink" and not fn._info.args.get("one_input_grad", True)


def _seed_spec(output, grad):
    """(kind, extra read arrays, operands) describing the backward seed."""
    parent = output._parent
    if _seeds_itself(parent):
        return ("sink",), [v._buffers.grad for v in parent.inputs], ()
    if grad is None:
        return ("read",), [output._buffers.grad], ()
    if isinstance(grad, NdArray):
        return ("read",), [grad], ()
    if np.isscalar(grad) or (isinstance(grad, np.ndarray) and grad.ndim == 0):
        return ("const", float(grad)), [], ()
    arr = np.asarray(grad, dtype=np.float32)
    if arr.shape != output.shape:
        arr = np.broadcast_to(arr, output.shape)
    return ("operand",), [], (arr,)


def grad_to_data_slots(plan, need):
    """Slots whose data a function's backward overwrites with their gradient
    (``grad_to_data``), for the functions whose backward runs."""
    slots = set()
    for fn, step in zip(plan.functions, plan.steps):
        if fn.spec.grad_to_data and any(need[s] for s in step.outs):
            slots.update(step.ins[i] for i in fn.spec.grad_to_data
                         if i < len(step.ins) and step.ins[i] >= 0)
    return slots


class BackwardInfo:
    """Need-grad analysis of a plan for a backward from ``out_slot``."""

    __slots__ = ("need", "stop", "out_slot", "diff_roots", "grad_arrays", "group_of",
                 "inter_all", "seed_key", "seed_reads", "seeded_slots", "data_roots")

    def __init__(self, plan, output, seed_key, seed_reads):
        need, stop = need_grad_slots(plan)
        for fn, step in zip(plan.functions, plan.steps):
            if fn.spec.backward_error is not None and any(need[s] for s in step.outs):
                check_backward_allowed(fn)
        self.need, self.stop = need, stop
        self.out_slot = plan.index[id(output)]
        # slots whose own grads seed the backward (a Sink's inputs): not written
        self.seeded_slots = (tuple(plan.index[id(v)] for v in output._parent.inputs)
                             if seed_key[0] == "sink" else ())
        root_slots = [plan.index[id(r)] for r in plan.roots]
        root_set = set(root_slots)
        to_data = grad_to_data_slots(plan, need) & root_set
        self.data_roots = tuple(s for s in root_slots if s in to_data)
        self.diff_roots = tuple(s for s in root_slots if need[s] and s not in to_data)
        self.grad_arrays, self.group_of = group_by_buffer(
            [plan.variables[s]._buffers.grad for s in self.diff_roots])
        self.inter_all = tuple(s for s in range(len(plan.variables))
                               if need[s] and s not in root_set and s != self.out_slot
                               and s not in self.seeded_slots)
        self.seed_key = seed_key
        self.seed_reads = seed_reads


def backward_template(plan, info, inter, leaves=True, cache=True):
    """The template adding the leaves' grads (``leaves``) and writing the grads
    of the intermediate slots ``inter``."""
    def make():
        root_slots = tuple(plan.index[id(r)] for r in plan.roots)
        variables = plan.variables
        diff_roots, group_of = info.diff_roots, info.group_of
        grad_arrays = info.grad_arrays if leaves else []
        n_groups = len(grad_arrays)
        inter_shapes = tuple((variables[s].shape,
                              jax_dtype(variables[s]._buffers.data.dtype).str) for s in inter)
        seed_key = info.seed_key
        steps = plan.steps
        n_vars = len(variables)
        callables = step_callables(plan)
        stop = info.stop
        out_slot = info.out_slot
        seeded_slots = info.seeded_slots
        prior = prior_state_arrays(plan, create=False)
        reads = ([prior.get(s, r._buffers.data) for s, r in zip(root_slots, plan.roots)]
                 + grad_arrays + info.seed_reads)
        data_roots = info.data_roots if leaves else ()
        writes = (grad_arrays + [variables[s]._buffers.grad for s in inter]
                  + [variables[s]._buffers.data for s in data_roots])
        data_dtypes = tuple(jax_dtype(variables[s]._buffers.data.dtype) for s in data_roots)
        n_roots = len(root_slots)
        has_rng = bool(plan.rng_functions)
        key = ("backward", steps, root_slots, diff_roots, group_of if leaves else None, inter,
               inter_shapes, tuple(sorted(stop)), out_slot, variables[out_slot].shape, seed_key,
               data_roots)

        def build():
            def run(read_values, ops):
                root_values = read_values[:n_roots]
                old_grads = read_values[n_roots:n_roots + n_groups]
                keys = ops[0] if has_rng else None
                seed_grads = read_values[n_roots + n_groups:]
                if seed_key[0] == "read":
                    seed = read_values[n_roots + n_groups]
                elif seed_key[0] == "sink":
                    seed = 1.0
                elif seed_key[0] == "const":
                    seed = seed_key[1]
                else:
                    seed = ops[-1]
                fixed = dict(zip(root_slots, root_values))

                def f(diff_values, perturbs):
                    env = [None] * n_vars
                    for s, v in fixed.items():
                        env[s] = jax.lax.stop_gradient(v)
                    for s, v in zip(diff_roots + data_roots, diff_values):
                        env[s] = v
                    run_steps(steps, callables, env, keys, stop=stop, perturb=perturbs)
                    if seeded_slots:  # sum of <input, its grad>: the vjp seeds each input
                        return sum(jnp.vdot(env[s].astype(jnp.float32),
                                            jax.lax.stop_gradient(g).astype(jnp.float32))
                                   for s, g in zip(seeded_slots, seed_grads))
                    return env[out_slot]

                diff_values = (tuple(_differentiable(fixed[s]) for s in diff_roots + data_roots)
                               if leaves else ())
                perturbs = {s: jnp.zeros(shape, dtype)
                            for s, (shape, dtype) in zip(inter, inter_shapes)}
                out, vjp = jax.vjp(f, diff_values, perturbs)
                cot = jnp.broadcast_to(jnp.asarray(seed, out.dtype), out.shape)
                g_roots, g_inter = vjp(cot)
                n_diff = len(g_roots) - len(data_roots)
                sums = sum_groups(group_of, n_groups, g_roots[:n_diff])
                new = [old + g.astype(old.dtype) for old, g in zip(old_grads, sums)]
                to_data = [g.astype(d) for g, d in zip(g_roots[n_diff:], data_dtypes)]
                return new + [g_inter[s] for s in inter] + to_data
            return run
        # the leaves' grads may be left out of a training step's results until read
        return Template(key, reads, writes, build, "backward",
                        optional=range(len(grad_arrays)))

    if not cache:
        return make()
    prior = prior_state_arrays(plan, create=False)
    return cached_template(plan.cache, ("backward", id(info), inter,
                                        tuple((s, id(a)) for s, a in prior.items())), make)


def _differentiable(value):
    """A leaf's value as JAX can differentiate it: integers read as float32."""
    if jnp.issubdtype(value.dtype, jnp.inexact):
        return value
    return jnp.asarray(value).astype(jnp.float32)


def _rebuild_backward(plan, info, slot):
    """Record callback: the template computing one left-out intermediate grad."""
    plan.observed_grad.add(slot)
    return backward_template(plan, info, (slot,), leaves=False, cache=False)


def backward(output, grad=1, clear_buffer=False, function_pre_hook=None,
             function_post_hook=None):
    """Queue the backward from ``output`` (seeded with ``grad``; None: its ``.g``)."""
    parent = output._parent
    if parent is None:
        return
    plan = get_plan([output])
    if (function_pre_hook is None and function_post_hook is None
            and not _modes.function_hooks_active() and _replayable_seed(grad)):
        replay = plan.cache.get(("replay-backward", id(output), grad))
        if replay is not None and replay.observed == len(plan.observed_grad):
            _enqueue_backward(plan, replay.info, replay.op())
            return
    observers = _modes.function_observers()
    function_pre_hook, function_post_hook = _modes.with_global_hooks(function_pre_hook,
                                                                     function_post_hook)
    if function_pre_hook is not None or function_post_hook is not None or observers:
        _backward_by_function(plan, output, grad, function_pre_hook, function_post_hook,
                              observers, clear_buffer)
        return
    if runs_by_function(plan, ("backward-runs", id(output)), stats.updates, reads_trained,
                        root_bytes):
        _backward_by_function(plan, output, grad, None, None)
        return
    seed_key, seed_reads, seed_operands = _seed_spec(output, grad)
    cacheable = grad is None or seed_key[0] != "read"
    info_key = ("backward-info", id(output), seed_key)
    info = plan.cache.get(info_key) if cacheable else None
    if info is None:
        info = BackwardInfo(plan, output, seed_key, seed_reads)
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
    template = backward_template(plan, info, inter, cache=cacheable)
    if (cacheable and template.reusable and _replayable_seed(grad)
            and not plan.cache["has-prior-state"]):
        # fused for good: the next identical call replays this one
        plan.cache[("replay-backward", id(output), grad)] = BackwardReplay(
            plan, info, template, left_out, len(observed))
    operands = rng_operands(plan.rng_functions, fresh=False) + seed_operands
    _enqueue_backward(plan, info, _backward_op(plan, info, template, left_out, operands))


def _replayable_seed(grad):
    """A seed a replayed backward can key on: its own grad (None) or a Python number."""
    return grad is None or type(grad) in (int, float)


def _enqueue_backward(plan, info, op):
    """Queue a backward op; right after the forward of the same graph it joins it."""
    forward_op_ = last_queued()
    merged = None
    if forward_op_ is not None and forward_op_.template.kind == "forward":
        merged = merged_op(plan, info, forward_op_, op)
    if merged is None:
        enqueue(op)
    else:
        replace_last(merged)


def _backward_op(plan, info, template, left_out, operands):
    # the recompute does not read the leaves' old grads
    n_roots = len(plan.roots)
    record = Record(plan, operands, _rebuild_backward, info,
                    skip=(n_roots, n_roots + len(info.grad_arrays)))
    for array, s in left_out:
        array._lazy = (record, s)
    return Op(template=template, operands=operands, record=record)


class BackwardReplay:
    """A repeated fused backward from the same output with the same constant
    seed: its cached template and left-out grads. Valid while the plan is
    and no further intermediate grad was observed."""

    __slots__ = ("plan", "info", "template", "left_out", "observed")

    def __init__(self, plan, info, template, left_out, observed):
        self.plan = plan
        self.info = info
        self.template = template
        self.left_out = left_out
        self.observed = observed

    def op(self):
        plan = self.plan
        operands = rng_operands(plan.rng_functions, fresh=False)
        return _backward_op(plan, self.info, self.template, self.left_out, operands)


def _restore_data(v):
    """Recompute a variable whose data a forward freed (and, first, its freed inputs)."""
    if v is None or v._parent is None or not v._buffers.data.clear_called:
        return
    for inp in v._parent._inputs:
        _restore_data(inp)
    run_now(function_op(v._parent))


def _grads_kept(plan, output, grad):
    """Variables whose grad ``clear_buffer`` keeps: persistent ones, inputs of
    functions that forbid it (Sink), and a seed the caller holds (None, an NdArray)."""
    kept = {id(v) for v in plan.variables if v._persistent}
    for fn in plan.functions:
        if keeps_inputs(fn.info.type_name):
            kept.update(id(v) for v in fn._inputs if v is not None)
    if grad is None or isinstance(grad, NdArray):
        kept.add(id(output))
    return kept


def _backward_by_function(plan, output, grad, pre_hook, post_hook, observers=(),
                          clear_buffer=False):
    """Unfused backward: one function at a time, hooks (then observers) around each.
    With ``clear_buffer`` an intermediate's grad is freed once its producer's
    backward read it."""
    flush()
    need, stop = need_grad_slots(plan)
    kept = _grads_kept(plan, output, grad) if clear_buffer else None
    own_grad = None
    if grad is not None:
        if isinstance(grad, NdArray):
            output._buffers.grad.copy_from(grad)
        else:
            # a value seed is the output's grad only during this backward (as NNabla)
            own_grad = output._buffers.grad
            output._buffers.grad = NdArray(output.shape, np.float32)
            output._buffers.grad.data = grad
    try:
        _run_backward_steps(plan, output, need, stop, pre_hook, post_hook, observers,
                            clear_buffer, kept)
    finally:
        if own_grad is not None:
            output._buffers.grad = own_grad


def _run_backward_steps(plan, output, need, stop, pre_hook, post_hook, observers,
                        clear_buffer, kept):
    root_set = {id(r) for r in plan.roots}
    written = {id(output)}
    for fn, step in zip(reversed(plan.functions), reversed(plan.steps)):
        if not any(need[s] for s in step.outs):
            continue
        if pre_hook is not None:
            pre_hook(fn)
        targets = []
        seeds_itself = _seeds_itself(fn)
        if seeds_itself:  # its inputs' grads are already there: later parts add to them
            written.update(id(v) for v in fn._inputs if v is not None)
        for i, v in enumerate(() if seeds_itself else fn._inputs):
            if v is None or step.ins[i] == INACTIVE or not (need[step.ins[i]]
                                                            or i in fn.spec.grad_to_data):
                continue
            accumulate = id(v) in root_set or id(v) in written
            targets.append((i, accumulate))
            written.add(id(v))
        if targets:
            for v in fn._inputs:
                _restore_data(v)
            # an output this backward gave no grad (off the path) contributes none
            off_path = [s for o, s in zip(fn.outputs, step.outs) if id(o) not in written]
            run_function_backward(fn, tuple(targets), step,
                                  stop=stop.union(off_path) if off_path else stop)
        if clear_buffer:
            for o in fn.outputs:
                if id(o) not in kept:
                    o._buffers.grad.clear()
        if post_hook is not None:
            post_hook(fn)
        for observer in observers:
            observer(fn)
