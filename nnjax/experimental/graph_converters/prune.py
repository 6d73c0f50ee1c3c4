"""Channel-wise pruning of convolution and affine weights by their L2 norm."""
import numpy as np

from .graph_converter import FunctionModifier, call_function, parameter_beside

PRUNABLE = ("Convolution", "Deconvolution", "DepthwiseConvolution",
            "DepthwiseDeconvolution", "Affine")


class PruningModifier(FunctionModifier):
    """Zero each output channel whose squared L2 norm (summed over the other axes
    of the weight) is not above ``pruning_threshold``. The pruned weights are new
    parameters ``w-pruned`` and ``b-pruned`` in the weight's scope.

    ``functions_to_prune``: the types to prune; ``channel_last``: the layout of
    Deconvolution weights (output channels last)."""

    def __init__(self, pruning_threshold, functions_to_prune=PRUNABLE, channel_last=False):
        super().__init__()
        self._channel_last = channel_last
        self._pruning_threshold = pruning_threshold
        self._fct_set = [f for f in functions_to_prune if f in PRUNABLE]

    def calculate_axis(self, f):
        """The output channel axis of ``f``'s weight."""
        kind = f.info.type_name
        if kind == "Affine":
            return 1
        if kind == "Deconvolution":
            return -1 if self._channel_last else 1
        return 0

    def modify(self, f, inputs):
        if f.info.type_name not in self._fct_set:
            return None
        x, w = inputs[:2]
        b = inputs[2] if len(inputs) == 3 else None
        axis = self.calculate_axis(f) % w.ndim
        others = tuple(a for a in range(w.ndim) if a != axis)
        norm = np.sum(np.asarray(w.d) ** 2, axis=others, keepdims=True)
        mask = norm > self._pruning_threshold
        new = [x, parameter_beside(w, "w-pruned", w.d * mask)]
        if b is not None:
            new.append(parameter_beside(w, "b-pruned", b.d * mask.reshape(-1)))
        return call_function(f.info.type_name, new, f.info.args)
