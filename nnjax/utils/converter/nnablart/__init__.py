"""nnabla-c-runtime's NNB format (``nnabla.utils.converter.nnablart``)."""
from .nnb import NnbExporter, ApiLevel, ApiLevelInfo, NN_BINARY_FORMAT_VERSION, get_api_level_info
from .reader import read_nnb
from .runtime_table import C_RUNTIME_SUPPORTED

__all__ = ["NnbExporter", "ApiLevel", "ApiLevelInfo", "NN_BINARY_FORMAT_VERSION", "read_nnb",
           "get_api_level_info",
           "C_RUNTIME_SUPPORTED"]
