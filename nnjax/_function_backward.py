"""One function's backward, run on its own: the op writing the grads of its
inputs (``function_backward_op``) and ``run_function_backward``, which writes
or adds them from one program per (type, args, shapes). Used by
``Function.backward`` and by a graph's backward run function by function."""
import numpy as np
import jax
import jax.numpy as jnp

from ._forward import prior_state_of, rng_operands
from ._ndarray import NdArray
from ._plan import INACTIVE, call_lowering, group_by_buffer, jax_dtype, sum_groups
from ._queue import Op, run_now
from ._rounded_inputs import backward_rounding


def check_backward_allowed(fn):
    """RuntimeError where NNabla refuses the backward of ``fn`` (its spec's
    ``backward_error`` says why)."""
    refuse = fn.spec.backward_error
    message = refuse(fn.info.args) if refuse is not None else None
    if message:
        raise RuntimeError(f"{fn.info.type_name}: {message}")



def function_backward_op(fn, targets, stop, step, inputs=None, outputs=None, write_to=None):
    """The op writing (or, where ``targets`` says accumulate, adding) the grads of
    one function's inputs ``targets`` [(input index, accumulate)] from its
    outputs' grads. ``inputs`` (positional) and ``outputs``: other Variables
    than the node's to run it on. ``write_to``: arrays (one per target) to write
    the grads into instead of the inputs' buffers."""
    check_backward_allowed(fn)
    spec = fn.spec
    args = fn.lower_args
    pyfunc = fn.python_function
    # the node's own inputs: state it updates in place is read as its last forward read it
    prior = prior_state_of(fn) if inputs is None else {}
    inputs = fn._inputs if inputs is None else inputs
    outputs = fn.outputs if outputs is None else outputs
    n_in = len(inputs)
    present = tuple(i for i, v in enumerate(inputs)
                    if v is not None and step.ins[i] != INACTIVE)
    active = tuple(i for i in range(n_in) if step.ins[i] != INACTIVE)
    out_stop = tuple(s in stop for s in step.outs)
    # one write per grad buffer: an input given twice (x * x) sums its parts
    to_data = spec.grad_to_data
    targets = tuple((i, acc and i not in to_data) for i, acc in targets)
    grad_arrays, group_of = group_by_buffer(
        write_to if write_to is not None else
        [inputs[i]._buffers.data if i in to_data else inputs[i]._buffers.grad
         for i, _ in targets])
    group_acc = tuple(next(acc for (i, acc), g in zip(targets, group_of) if g == k)
                      for k in range(len(grad_arrays)))
    reads = ([prior.get(i, inputs[i]._buffers.data) for i in present]
             + [o._buffers.grad for o in outputs]
             + [a for a, acc in zip(grad_arrays, group_acc) if acc])
    rng = rng_operands([fn] if spec.rng else [], fresh=False)
    key = ("backward_function", step.type_name, step.args, step.host_id, present, targets,
           group_of, out_stop, n_in)
    n_present = len(present)
    n_out = len(outputs)
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
                key = None if not spec.rng else ops[0] if pyfunc is not None else ops[0][0]
                res, _ = call_lowering(spec, args, pyfunc, key, [vals[i] for i in active])
                return tuple(jax.lax.stop_gradient(r) if s else r for r, s in zip(res, out_stop))

            # an integer leaf is differentiated as float32 (its grad is float, as the fused backward's)
            outs, vjp = jax.vjp(f, tuple(
                in_values[i] if jnp.issubdtype(in_values[i].dtype, jnp.inexact)
                else jnp.asarray(in_values[i]).astype(jnp.float32) for i in target_idx))
            cots = tuple(jnp.asarray(g, o.dtype) if jnp.issubdtype(o.dtype, jnp.inexact)
                         else np.zeros(o.shape, jax.dtypes.float0)
                         for g, o in zip(out_grads, outs))
            (grads,) = vjp(cots)
            sums = sum_groups(group_of, len(group_acc), grads)
            return [next(old) + g if acc else g for g, acc in zip(sums, group_acc)]
        return run

    op = Op(key, reads, writes=grad_arrays, build=build, operands=rng, kind="function")
    if write_to is not None and not any(acc for _, acc in targets):
        # (the grads of rounded inputs come out rounded: only into write_to's arrays)
        op.template.rounding = backward_rounding(
            spec, present, prior, n_out,
            lambda i: group_of[target_idx.index(i)] if i in target_idx else None)
    return op


# (type, args) of functions whose vjp works only in the inputs a call asks for
_ASKED_INPUTS_ONLY = set()


def run_function_backward(fn, targets, step, inputs=None, outputs=None, stop=frozenset()):
    """Write or add the grads of one function's inputs ``targets`` [(input
    index, accumulate)] now: for ``Function.backward`` on given Variables, and
    for a graph's backward run function by function (``inputs`` None: the
    node's own). ``stop``: output slots that give no grad.

    One program per (type, args, shapes) computes the grads of every
    differentiable input, whichever of them a call asks for and however it
    accumulates; the grads asked for are then stored or added here. (NNabla's
    function tests ask for each input in turn, with and without accumulation:
    a program per combination compiled six for a three-input function; in a
    graph, an input is a leaf that accumulates in one and an intermediate in
    another.) An input given twice, a Python function, or a lowering
    differentiable only in the inputs asked for runs the one exact program of
    ``function_backward_op``.
    """
    own = fn._inputs if inputs is None else inputs
    targets = tuple((i, acc) for i, acc in targets if step.ins[i] != INACTIVE)
    if not targets:
        return
    to_data = fn.spec.grad_to_data
    dests = [own[i]._buffers.data if i in to_data else own[i]._buffers.grad
             for i, _ in targets]
    marker = (step.type_name, step.args)
    every = tuple(i for i, v in enumerate(own) if v is not None and step.ins[i] != INACTIVE
                  and (i in to_data or np.issubdtype(v.data.dtype, np.inexact)))
    if (fn.python_function is not None or marker in _ASKED_INPUTS_ONLY
            or len(set(map(id, dests))) < len(dests)
            or any(i not in every for i, _ in targets)):  # (an integer leaf's grad)
        run_now(function_backward_op(fn, targets, stop, step, inputs, outputs))
        return
    grads = [NdArray(own[i].shape, own[i].data.dtype) for i in every]
    try:
        run_now(function_backward_op(fn, tuple((i, False) for i in every), stop, step,
                                     inputs, outputs, write_to=grads))
    except Exception:  # e.g. a while_loop in an input nobody asked the grad of
        _ASKED_INPUTS_ONLY.add(marker)
        run_now(function_backward_op(fn, targets, stop, step, inputs, outputs))
        return
    for (i, accumulate), dest in zip(targets, dests):
        grad = grads[every.index(i)]._head
        dest._sync(read=True)
        if accumulate and i not in to_data:
            grad = _sum(dest._input_value(), grad)
        dest._set_value(grad)


def _sum(old, grad):
    """old + grad as the program's add computes it (in JAX's dtypes)."""
    old_dtype = jax_dtype(old.dtype)
    if jax.default_backend() == "cpu" and old_dtype == grad.dtype:
        # one rounded add either way; numpy's costs no compile for a new shape
        return jax.device_put(np.asarray(old, old_dtype) + np.asarray(grad))
    return jnp.asarray(old, old_dtype) + grad
