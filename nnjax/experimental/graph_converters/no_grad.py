"""The graph rebuilt with its parameters not needing gradients."""
from ...parameter import get_parameters
from .graph_converter import FunctionModifier, call_function


class NoGradModifier(FunctionModifier):
    """Every function rebuilt; each input that is a registered parameter is
    replaced by a variable sharing its data with ``need_grad=False``."""

    def modify(self, f, inputs):
        params = set(id(p._buffers) for p in get_parameters(grad_only=False).values())
        new = [inp.get_unlinked_variable(need_grad=False) if id(inp._buffers) in params
               else inp for inp in inputs]
        return call_function(f.info.type_name, new, f.info.args)
