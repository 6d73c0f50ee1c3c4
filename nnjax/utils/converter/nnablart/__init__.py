"""nnabla-c-runtime's NNB format (``nnabla.utils.converter.nnablart``)."""
from .nnb import NnbExporter, ApiLevel, NN_BINARY_FORMAT_VERSION
from .reader import read_nnb
from .runtime_table import C_RUNTIME_SUPPORTED

__all__ = ["NnbExporter", "ApiLevel", "NN_BINARY_FORMAT_VERSION", "read_nnb",
           "C_RUNTIME_SUPPORTED"]
