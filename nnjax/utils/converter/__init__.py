"""File converters (``nnabla.utils.converter``): NNP, ONNX, NNB, TensorFlow/TFLite, StableHLO.

``convert_files(args, ifiles, output)`` is what ``nnabla_cli convert`` and
``python -m converters`` run; the formats' readers and writers are
``nnabla.NnpImporter``/``NnpExporter``, ``onnx.OnnxExporter``/``OnnxImporter``,
``nnablart.NnbExporter``, ``tensorflow.TensorflowExporter``/``tflite.TFLiteExporter``
(the ``tf`` extra) and ``stablehlo.StableHloExporter``. The function
information queries (``get_category_info``, ``get_function_info``,
``type_to_pack_format``) are built from the function declarations.
"""
from .utils import (calc_shape_size, func_set_import_nnp, get_category_info,
                    get_function_info, search_network, select_executor,
                    type_to_pack_format)
from .supported_info import extensions, formats
from .nnablart import get_api_level_info
from .commands import (ConvertError, convert_files, dump_files, func_set_import_config,
                       func_set_nnabla_support, func_set_nnb_support, func_set_nncr_support,
                       func_set_onnx_support, nnb_template)

__all__ = ["calc_shape_size", "func_set_import_nnp", "get_category_info",
           "get_function_info", "search_network", "select_executor",
           "type_to_pack_format", "extensions", "formats", "convert_files", "dump_files",
           "nnb_template", "ConvertError", "func_set_import_config", "func_set_nnabla_support",
           "func_set_onnx_support", "func_set_nnb_support", "func_set_nncr_support",
           "get_api_level_info"]
