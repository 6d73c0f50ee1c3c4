"""The same graph rebuilt, optionally on other input variables."""
import numpy as np

from .graph_converter import FunctionModifier, call_function


class IdentityModifier(FunctionModifier):
    """Rebuild every function as it is. ``inputs`` maps original graph inputs to
    the variables the copy reads instead; with ``copy_value`` those receive the
    originals' data and grad (shapes must match)."""

    def __init__(self, inputs={}, copy_value=False):
        super().__init__()
        self._input_dict = dict(inputs)
        self._copy_value = copy_value

    def modify(self, f, inputs):
        if not self._input_dict:
            return None
        replaced = list(inputs)
        changed = False
        for i, orig in enumerate(f.inputs):
            if orig.parent is not None or orig not in self._input_dict:
                continue
            new = self._input_dict[orig]
            if self._copy_value:
                if tuple(new.shape) != tuple(orig.shape):
                    raise ValueError(f"IdentityModifier: with copy_value=True the replacing "
                                     f"input {tuple(new.shape)} must have the original's "
                                     f"shape {tuple(orig.shape)}")
                new.d = np.array(orig.d)
                new.g = np.array(orig.g)
            replaced[i] = new
            changed = True
        if not changed:
            return None
        self.init_map_func_inputs(f, replaced)
        return call_function(f.info.type_name, replaced, f.info.args)
