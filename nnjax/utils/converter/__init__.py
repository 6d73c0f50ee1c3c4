"""Converter helpers (``nnabla.utils.converter``).

For now this holds the function-information queries that NNabla's own test
utilities and the NNP helpers use (``get_category_info``,
``get_function_info``, ``type_to_pack_format``) and a few small NNP lookups.
The file-format converters (ONNX, NNB, ...) are to be added here later.
"""
from .utils import (calc_shape_size, func_set_import_nnp, get_category_info,
                    get_function_info, search_network, select_executor,
                    type_to_pack_format)

__all__ = ["calc_shape_size", "func_set_import_nnp", "get_category_info",
           "get_function_info", "search_network", "select_executor",
           "type_to_pack_format"]
