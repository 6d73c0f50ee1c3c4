"""Functions of given types removed from a graph (their input 0 passed on)."""
from .graph_converter import FunctionModifier


class RemoveFunctionModifier(FunctionModifier):
    """Remove every function whose type is in ``rm_funcs`` (e.g. ``['MulScalar']``):
    the functions after it receive its first input instead of its output."""

    def __init__(self, rm_funcs=[]):
        super().__init__()
        self._rm_funcs = list(rm_funcs)

    def modify(self, f, inputs):
        if f.info.type_name in self._rm_funcs:
            return inputs[0]
        return None
