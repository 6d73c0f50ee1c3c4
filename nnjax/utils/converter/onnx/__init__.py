"""ONNX export and import (``nnabla.utils.converter.onnx``)."""
from .exporter import OnnxExporter, ExportError, SUPPORTED_OPSETS, DEFAULT_OPSET
from .importer import OnnxImporter, ImportError_

__all__ = ["OnnxExporter", "OnnxImporter", "ExportError", "ImportError_", "SUPPORTED_OPSETS",
           "DEFAULT_OPSET"]
