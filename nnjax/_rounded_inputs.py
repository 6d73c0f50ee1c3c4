"""Reduced-precision functions run on their float32 inputs rounded before the program.

On the CPU, the float16 and bfloat16 variant of a function first rounds each float32
input (its state inputs aside) to its type (``FunctionSpec.rounds_inputs_to``). Run
on its own (a graph's first runs go function by function), it gets those inputs
rounded on the host instead, so its program is the one the function compiles for
inputs of that type: NNabla's half-precision tests feed a function both float32
inputs and float16 copies of them (identity-inserted), which compiled it twice, as
its backward. The grad of a rounded input comes out in the reduced type and is
widened to float32 after the run, as the program's own cast would have done
(exactly).

A template lists what may be rounded as ``rounding``: (read position, dtype, write
positions whose dtype follows that read). The queue's flush calls ``round_inputs``
for a lone op that has one.
"""
from typing import NamedTuple

import numpy as np

from ._plan import jax_dtype

F32 = np.dtype(np.float32)


class Rounded(NamedTuple):
    """What a flush rounded: (value index, dtype) of the inputs, and the positions
    of the results to widen back to float32."""
    values: tuple
    widen: tuple


def forward_rounding(spec, step, root_slots):
    """``rounding`` of one function's forward reading ``root_slots``: every root it
    reads at no state position (its outputs are of the reduced type either way)."""
    dtype = spec.rounds_inputs_to
    if dtype is None:
        return ()
    state = set(spec.state_inputs)
    return tuple((p, dtype, ()) for p, s in enumerate(root_slots)
                 if s in step.ins and not any(x == s and i in state
                                               for i, x in enumerate(step.ins)))


def backward_rounding(spec, present, prior, n_outputs, grad_position):
    """``rounding`` of one function's backward reading its ``present`` inputs (those
    in ``prior`` as their prior state), then its ``n_outputs`` outputs' grads: the
    inputs at no state position (their grads, at ``grad_position(input index)`` or
    None, follow them) and the grads of the outputs before the state outputs (cast
    to the outputs' reduced type first)."""
    dtype = spec.rounds_inputs_to
    if dtype is None:
        return ()
    state = set(spec.state_inputs)
    rounding = []
    for p, i in enumerate(present):
        if i not in state and i not in prior:
            g = grad_position(i)
            rounding.append((p, dtype, () if g is None else (g,)))
    n = len(present)
    rounding += [(n + k, dtype, ()) for k in range(n_outputs - len(state))]
    return tuple(rounding)


def round_inputs(rounding, op_sig, input_slots, value_index, written, values, input_sig):
    """(values, program input signature, Rounded) with the float32 values that
    ``rounding`` names rounded, or None when there is none to round. ``op_sig``: the
    op's OpSignature in the flush layout; ``written``: the slots the program returns."""
    reads = op_sig.read_slots
    named = {p for p, _, _ in rounding}
    position = None
    done = set()  # slots rounded
    sig = rounded = widen = None
    for p, dtype, follow in rounding:
        s = reads[p]
        if s not in done:
            if any(q not in named for q, r in enumerate(reads) if r == s):
                continue  # also read where it is not rounded
            if position is None:
                position = {slot: k for k, slot in enumerate(input_slots)}
            k = value_index[position[s]]
            if k < 0 or jax_dtype(values[k].dtype) != F32:
                continue
            if sig is None:
                values, sig, rounded, widen = list(values), list(input_sig), [], []
            values[k] = np.asarray(values[k], F32).astype(dtype)
            sig[position[s]] = dtype
            rounded.append((k, dtype))
            done.add(s)
        for w in follow:  # (an input read twice: each read's grad)
            slot = op_sig.write_slots[w]
            if slot in written and written.index(slot) not in widen:
                widen.append(written.index(slot))
    if sig is None:
        return None
    return values, tuple(sig), Rounded(tuple(rounded), tuple(widen))


def round_values(rounded, heads):
    """``heads`` with the values a flush rounded rounded again (a DirectRun's repeat)."""
    for k, dtype in rounded.values:
        heads[k] = np.asarray(heads[k], F32).astype(dtype)
    return heads


def widen_results(rounded, outs):
    """The program's results with the grads of rounded inputs widened to float32."""
    if not rounded.widen:
        return outs
    outs = list(outs)
    for j in rounded.widen:
        outs[j] = np.asarray(outs[j]).astype(F32)
    return outs
