"""``nnabla._dropout_workaround``: the mask of a Dropout, reached from its input.

NNabla's Dropout keeps its mask on its input variable so that ``dropout_backward``
(``nnabla.backward_functions.registry['Dropout']``) can reuse the draw of the
forward. Here the mask is recomputed from the random key the Dropout's last
forward drew: ``_get_dropout_mask(x)`` gives a Variable made by a node that
takes its key from that Dropout node, so every forward of a graph holding it
uses the key of the Dropout's latest forward (a Dropout that never ran uses key
zero, as ``nn.grad`` then does).
"""
import numpy as np

from ._apply import apply_function
from ._registry import internal_spec
from .ops.stochastic import dropout_mask


def _mask_lowering(key, shape=(), dtype="float32", p=0.5):
    return dropout_mask(key, tuple(shape), np.dtype(dtype), p)


_MASK_SPEC = internal_spec("DropoutMask", _mask_lowering, rng=True)


class _KeyOf:
    """An ``rng_source`` handing out the key a Dropout node drew last."""

    def __init__(self, node):
        self.node = node

    def randint(self, low, high, size):
        key = self.node.rng_key_data
        return np.zeros(size, np.uint32) if key is None else np.array(key, np.uint32)


def dropout_node_of(dropout_input):
    """The Dropout node last set up on ``dropout_input`` (RuntimeError if none)."""
    consumers = [ref() for ref in getattr(dropout_input, "_consumers", ())]
    nodes = [fn for fn in consumers if fn is not None and fn.info.type_name == "Dropout"
             and fn.inputs and fn.inputs[0] is dropout_input]
    if not nodes:
        raise RuntimeError("_get_dropout_mask: no Dropout takes this variable as its input; "
                           "set a mask by building F.dropout(x, ...) on it before")
    return nodes[-1]


def _get_dropout_mask(dropout_input):
    """The 0/1 mask of the Dropout on ``dropout_input`` (a Variable, no gradient)."""
    node = dropout_node_of(dropout_input)
    args = node.info.args
    mask = apply_function("DropoutMask", [],
                          dict(shape=tuple(dropout_input.shape),
                               dtype=np.dtype(dropout_input.data.dtype).name,
                               p=float(args["p"])), spec=_MASK_SPEC)
    mask.parent.rng_source = _KeyOf(node)
    mask.need_grad = False
    mask.persistent = True
    mask.forward()
    return mask
