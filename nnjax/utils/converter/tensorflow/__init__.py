"""TensorFlow export (SavedModel, frozen .pb) and TFLite export, through ONNX and onnx2tf."""
from .exporter import MissingExtraError, TensorflowExporter, TFLiteExporter, require_tensorflow

__all__ = ["TensorflowExporter", "TFLiteExporter", "MissingExtraError", "require_tensorflow"]
