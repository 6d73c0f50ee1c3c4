"""Solver ops on the execution queue: update, gradient operations, inf/NaN checks.

The only solver code that touches the queue. A solver keeps one ``Slot``
per parameter: ``param`` (a Variable), ``states`` ({state name: NdArray}),
the arrays the ops read and write, and ``t``, its step count (an int kept on
the host: each update passes the counts as one int32 operand). It hands
over its "active" slots: ``(name, slot)`` pairs of the parameters whose
gradient was written since ``zero_grad``.

Without hooks every call queues ONE op covering all active parameters, which
runs inside the same compiled program as the step's forward and backward.
With hooks each parameter's op runs at once, between its pre and post hook.
"""
from collections import OrderedDict

import jax
import jax.numpy as jnp
import numpy as np

from . import _modes
from ._queue import Op, Template, enqueue, flush, run_now
from ._ndarray import NdArray, device_full
from ._step_results import single_process

T_MAX = np.iinfo(np.int32).max - 1
"""The largest step count: ``t`` stops advancing there (it is stored as int32)."""

_MAX_UPDATE_TEMPLATES = 64


class Slot:
    """One registered parameter: the Variable, its state arrays and step count (an int)."""

    __slots__ = ("param", "states", "t")

    def __init__(self, param, states, t):
        self.param = param
        self.states = states
        self.t = t


def _device_zeros(shape, dtype=np.float32):
    return NdArray._from_device(device_full(shape, 0, dtype), np.dtype(dtype))


def new_slot(param, state_names):
    """A Slot for ``param`` with zero float32 states (param's shape) and ``t = 0``."""
    states = OrderedDict((n, _device_zeros(param.shape)) for n in state_names)
    return Slot(param, states, 0)


def _per_parameter(active, make_op, pre_hook, post_hook):
    """Run ``make_op([item])`` at once for each active item, between the hooks."""
    for item in active:
        flush()
        if pre_hook is not None:
            pre_hook()
        run_now(make_op([item]))
        if post_hook is not None:
            post_hook()


# ---------------------------------------------------------------- update
def update(active, rule, key, hyper_operand, templates, pre_hook=None, post_hook=None):
    """Queue (or, with hooks, run) the update ``rule`` (a SolverRule) on the active parameters.

    key: what identifies the solver's program besides the arrays (its name
    and static switches); hyper_operand: a callable giving the hyperparameter
    (names, float32 values) when each op is made: they are a program
    argument, so changing one never recompiles; templates: the solver's dict
    caching one template per set of active parameters.
    """
    if pre_hook is not None or post_hook is not None or _modes.solver_hooks_active():
        pre_hook, post_hook = _modes.with_global_hooks(pre_hook, post_hook, "solver")
    if not active:
        return

    def make_op(items):
        hyper_names, hyper = hyper_operand()
        template = _update_template(items, rule, key, hyper_names, templates)
        return Op(template=template, operands=(hyper, _advance_counts(items)))
    if pre_hook is None and post_hook is None:
        enqueue(make_op(active))
    else:
        _per_parameter(active, make_op, pre_hook, post_hook)


def _update_template(active, rule, key, hyper_names, templates):
    """The cached template for these active parameters: the step's flush layout is then cached."""
    params = [s.param for _, s in active]
    last = templates.get("last")  # (a training loop updates the same parameters every step)
    if last is not None and last[0] == active and last[1] is hyper_names and last[2] == params:
        return last[3]
    ckey = (hyper_names,) + tuple((k, id(s), id(s.param)) for k, s in active)
    template = templates.get(ckey)
    if template is None:
        if len(templates) > _MAX_UPDATE_TEMPLATES:
            templates.clear()
        template = templates[ckey] = _new_update_template(active, rule, key, hyper_names)
    templates["last"] = (active, hyper_names, params, template)
    return template


def hyper_argument(values):
    """Hyperparameter values as the float32 program argument an update passes each
    step: on the device in a single process (a numpy argument is copied into the
    program at every call; a solver keeps this one while its values stay)."""
    values = np.array(values, np.float32)
    return jax.device_put(values) if single_process() else values


def _advance_counts(active):
    """Advance each active slot's step count ``t`` (up to T_MAX) and return the
    new counts as an int32 operand. The counts never enter the program as
    arrays: a scalar each way per parameter would cost more to move than the
    addition does."""
    counts = []
    for _, s in active:
        now = s.t
        if now < T_MAX:
            now = s.t = now + 1
        counts.append(now)
    return np.array(counts, np.int32)


def _new_update_template(active, rule, key, hyper_names):
    names = rule.state_names
    reads, writes = [], []
    for _, s in active:
        reads += [s.param._buffers.data, s.param._buffers.grad]
        reads += [s.states[n] for n in names]
        writes += [s.param._buffers.data] + [s.states[n] for n in names]
    tkey = ("update",) + tuple(key) + (hyper_names, names, len(active))

    def build():
        return _update_program(rule.update, names, hyper_names)
    return Template(tkey, reads, writes, build, "update", reusable=True)


def _update_program(rule_update, names, hyper_names):
    """The traced update: per parameter, apply the rule at its (advanced) step count."""
    per = 2 + len(names)

    def run(values, operands):
        h = {n: operands[0][i] for i, n in enumerate(hyper_names)}
        counts = operands[1]
        out = []
        for i in range(len(values) // per):
            p, g = values[i * per:i * per + 2]
            st = dict(zip(names, values[i * per + 2:(i + 1) * per]))
            new_p, new_st = rule_update(p, g.astype(p.dtype), st, counts[i], h)
            out += [new_p.astype(p.dtype)]
            out += [new_st[n].astype(st[n].dtype) for n in names]
        return out
    return run


# ---------------------------------------------------------------- gradients
def _decay(g, c, p):
    return g + c * p


def _clip(g, c, p):
    sq = jnp.sum(g * g)
    scaled = c * g / jnp.sqrt(jnp.where(sq > 0, sq, 1))
    return jnp.where((sq > 0) & (sq > c * c), scaled, g)


def _scale(g, c, p):
    return g * c


# tag -> (g <- fn(g, c, p), whether fn reads the parameter p)
_GRAD_FNS = {"weight_decay": (_decay, True), "clip_grad_by_norm": (_clip, False),
             "scale_grad": (_scale, False)}


def grad_op(tag, scalar, active, pre_hook=None, post_hook=None):
    """Queue (or, with hooks, run) a gradient operation on each active gradient.

    tag: ``weight_decay`` (g + c w), ``clip_grad_by_norm`` (g rescaled to norm
    c if its norm exceeds c) or ``scale_grad`` (c g), with ``c = scalar``, a
    float32 operand (no recompilation when it changes).
    """
    pre_hook, post_hook = _modes.with_global_hooks(pre_hook, post_hook, "solver")
    if not active:
        return
    fn, with_param = _GRAD_FNS[tag]

    def make_op(items):
        return _grad_op(tag, fn, scalar, with_param, items)
    if pre_hook is None and post_hook is None:
        enqueue(make_op(active))
    else:
        _per_parameter(active, make_op, pre_hook, post_hook)


def _grad_op(tag, fn, scalar, with_param, active):
    reads, writes = [], []
    for _, s in active:
        if with_param:
            reads.append(s.param._buffers.data)
        reads.append(s.param._buffers.grad)
        writes.append(s.param._buffers.grad)
    key = (tag, len(active), with_param)
    step = 2 if with_param else 1

    def build():
        def run(values, operands):
            c = operands[0]
            if with_param:
                return [fn(g, c.astype(g.dtype), p.astype(g.dtype))
                        for p, g in zip(values[0::step], values[1::step])]
            return [fn(g, c.astype(g.dtype), None) for g in values]
        return run
    return Op(key, reads, writes, build, (np.float32(scalar),), kind="update",
              optional=range(len(writes)))


# ---------------------------------------------------------------- checks
_TESTS = {"inf": jnp.isinf, "nan": jnp.isnan, "inf_or_nan": lambda g: ~jnp.isfinite(g)}


def check_grads(kind, active, pre_hook=None, post_hook=None):
    """True if an active gradient holds an inf / a NaN (``kind``: inf, nan, inf_or_nan).

    Without hooks: one fused device-side reduction; only a scalar comes back
    to the host. With hooks: each gradient is read back in turn.
    """
    pre_hook, post_hook = _modes.with_global_hooks(pre_hook, post_hook, "solver")
    test = _TESTS[kind]
    if not active:
        return False
    if pre_hook is not None or post_hook is not None:
        for _, s in active:
            flush()
            if pre_hook is not None:
                pre_hook()
            g = np.asarray(s.param.grad.get_data("r"))
            if post_hook is not None:
                post_hook()
            if bool(np.any(np.asarray(test(g)))):
                return True
        return False
    flag = NdArray((), np.int32)
    reads = [s.param._buffers.grad for _, s in active]

    def build():
        def run(values, operands):
            hit = jnp.zeros((), bool)
            for g in values:
                if jnp.issubdtype(g.dtype, jnp.inexact):
                    hit = hit | jnp.any(test(g))
            return [hit.astype(jnp.int32)]
        return run
    enqueue(Op(("check_grad", kind, len(reads)), reads, [flag], build, (), kind="update"))
    return bool(np.asarray(flag.data))
