"""ONNX export and import (``nnabla.utils.converter.onnx``)."""
from .exporter import OnnxExporter, ExportError, SUPPORTED_OPSETS, DEFAULT_OPSET
from .importer import OnnxImporter, OnnxImportError

__all__ = ["OnnxExporter", "OnnxImporter", "ExportError", "OnnxImportError", "SUPPORTED_OPSETS",
           "DEFAULT_OPSET"]
