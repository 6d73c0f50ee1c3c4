"""What a function's backward reads: which input data, whether its outputs' data.

``forward(clear_no_need_grad=True)`` frees an intermediate's data once the last
function reading it ran, unless some backward still reads it. nnjax's backward
differentiates the lowering again and needs none of these buffers, but the
observable clearing follows NNabla's per-function rules listed here. A type not
listed is taken to read every input and output, so nothing around it is freed.
"""

# type name -> (input indices whose data the backward reads, reads output data?)
_NEEDS = {
    "Identity": ((), False),
    "AddScalar": ((), False),
    "MulScalar": ((), False),
    "Add2": ((), False),
    "Sub2": ((), False),
    "AddN": ((), False),
    "Reshape": ((), False),
    "Mul2": ((0, 1), False),
    "Div2": ((0, 1), False),
    "Tanh": ((), True),
    "Sigmoid": ((), True),
    "Exp": ((), True),
    "Sin": ((0,), False),
    "Cos": ((0,), False),
    "Log": ((0,), False),
    "Convolution": ((0, 1), False),
    "Affine": ((0, 1), False),
    "BatchNormalization": ((0, 2, 3, 4), False),
}

# Functions whose inputs are never freed (their inputs are graph outputs).
_KEEP_INPUTS = frozenset({"Sink"})


def backward_reads(type_name, n_inputs):
    """(input indices read by the backward, whether output data is read)."""
    needs = _NEEDS.get(type_name)
    if needs is None:
        return tuple(range(n_inputs)), True
    return needs


def keeps_inputs(type_name):
    return type_name in _KEEP_INPUTS
