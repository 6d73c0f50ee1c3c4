"""Batch normalizations switched to their running statistics (``batch_stat=False``)."""
from .graph_converter import FunctionModifier, call_function

BN_TYPES = ("BatchNormalization", "FusedBatchNormalization", "SyncBatchNormalization")


class BatchNormBatchStatModifier(FunctionModifier):
    """Set ``batch_stat=False`` on BatchNormalization, FusedBatchNormalization and
    SyncBatchNormalization (same inputs and parameters)."""

    def __init__(self):
        super().__init__()
        self._fct_set = BN_TYPES

    def modify(self, f, inputs):
        if f.info.type_name not in self._fct_set:
            return None
        args = dict(f.info.args)
        args["batch_stat"] = False
        return call_function(f.info.type_name, inputs, args)
