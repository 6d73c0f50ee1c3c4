"""FusedBatchNormalization split into ``BatchNormalization -> Add2 -> ReLU``."""
from ... import functions as F
from .graph_converter import FunctionModifier, call_function


class UnfusedBatchNormalizationModifier(FunctionModifier):
    """Each FusedBatchNormalization becomes BatchNormalization (on the same
    parameters), ``z + h`` when it has a residual ``z``, then the nonlinearity."""

    def __init__(self):
        super().__init__()
        self._fct_set = {"relu": F.relu}

    def modify(self, f, inputs):
        if f.info.type_name != "FusedBatchNormalization":
            return None
        args = dict(f.info.args)
        nonlinearity = args.pop("nonlinearity")
        if nonlinearity not in self._fct_set:
            raise ValueError(f"UnfusedBatchNormalizationModifier: nonlinearity "
                             f"{nonlinearity!r} is not one of {sorted(self._fct_set)}")
        h = call_function("BatchNormalization", inputs[:5],
                          {k: args[k] for k in ("axes", "decay_rate", "eps", "batch_stat")})
        if len(inputs) == 6:
            h = inputs[5] + h
        return self._fct_set[nonlinearity](h)
