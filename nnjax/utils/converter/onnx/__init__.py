"""ONNX export and import (``nnabla.utils.converter.onnx``)."""
from .exporter import OnnxExporter, ExportError, SUPPORTED_OPSETS, DEFAULT_OPSET

__all__ = ["OnnxExporter", "ExportError", "SUPPORTED_OPSETS", "DEFAULT_OPSET"]
