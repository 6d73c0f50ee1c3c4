"""Inference graph: running statistics in batch normalizations, given functions removed."""
from .batch_norm_batchstat import BatchNormBatchStatModifier
from .remove_function import RemoveFunctionModifier


class TestModeModifier(object):
    """``[BatchNormBatchStatModifier(), RemoveFunctionModifier(rm_funcs)]``, the
    modifiers GraphConverter runs for a test-mode graph."""

    def __new__(cls, rm_funcs=[]):
        return [BatchNormBatchStatModifier(), RemoveFunctionModifier(rm_funcs=rm_funcs)]
