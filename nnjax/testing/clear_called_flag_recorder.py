"""Which buffers were cleared, function by function (``nnabla.testing.clear_called_flag_recorder``).

While activated, each function that runs in a graph's ``forward`` or
``backward`` appends one entry to the input record and one to the output
record: for each of its inputs (outputs) a pair ``(data cleared, grad
cleared)`` read from ``NdArray.clear_called`` after the function ran. Entries
come in execution order (forward first, then backward, as they run);
absent optional inputs are left out, as ``Function.inputs`` lists them.

While the recorder is active, graphs run one function at a time, as with
function hooks, and that path frees buffers as NNabla does:
``forward(clear_no_need_grad=True)`` frees an intermediate's data after its
last reader unless a backward reads it (``recompute`` variables are freed and
recomputed in backward), ``forward(clear_buffer=True)`` frees every
intermediate's data, and ``backward(clear_buffer=True)`` frees intermediate
grads once read. The fused path (no hooks) computes the same values and only
leaves unread intermediates unmaterialized.

``deactivate_clear_called_flag_recorder()`` stops recording and drops what
was recorded.
"""
from .. import _modes

__all__ = ["activate_clear_called_flag_recorder", "deactivate_clear_called_flag_recorder",
           "get_input_clear_called_flags", "get_output_clear_called_flags"]

_recorded = {"inputs": [], "outputs": []}


def _flags(variables):
    return [(bool(v._buffers.data.clear_called), bool(v._buffers.grad.clear_called))
            for v in variables]


def _record(function_node):
    _recorded["inputs"].append(_flags(function_node.inputs))
    _recorded["outputs"].append(_flags(function_node.outputs))


def activate_clear_called_flag_recorder():
    """Start recording (recording goes on from any earlier activation)."""
    _modes.add_function_observer(_record)


def deactivate_clear_called_flag_recorder():
    """Stop recording and forget the records."""
    _modes.remove_function_observer(_record)
    _recorded["inputs"].clear()
    _recorded["outputs"].clear()


def get_input_clear_called_flags():
    """``[[(data cleared, grad cleared) per input] per function run]``, a copy."""
    return [list(entry) for entry in _recorded["inputs"]]


def get_output_clear_called_flags():
    """``[[(data cleared, grad cleared) per output] per function run]``, a copy."""
    return [list(entry) for entry in _recorded["outputs"]]
