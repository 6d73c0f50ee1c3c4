"""``nnabla.experimental.graph_converters``: rewrite a built graph with modifiers.

``GraphConverter(modifiers).convert(outputs)`` rebuilds the graph of ``outputs``
function by function; each FunctionModifier may replace a function's output.
"""
from .graph_converter import GraphConverter, FunctionModifier
from .batch_normalization_folding import (BatchNormalizationFoldingModifier,
                                          AddBiasModifier,
                                          BatchNormalizationFoldingModifierInner,
                                          BatchNormalizationFoldingOppositeModifierInner)
from .batch_normalization_self_folding import BatchNormalizationSelfFoldingModifier
from .fused_batch_normalization import FusedBatchNormalizationModifier
from .unfused_batch_normalization import UnfusedBatchNormalizationModifier
from .channel_last import ChannelLastModifier
from .channel_first import ChannelFirstModifier
from .remove_function import RemoveFunctionModifier
from .batch_norm_batchstat import BatchNormBatchStatModifier
from .test_mode import TestModeModifier
from .identity import IdentityModifier
from .no_grad import NoGradModifier
from .prune import PruningModifier
from .quantize import (QuantizeNonQNNToRecordingModifier,
                       QuantizeRecordingToTrainingModifier)
from .lowered import jax_inference_function
