"""TFLite export in NNabla's module layout (``nnabla.utils.converter.tflite``)."""
from ..tensorflow import TFLiteExporter

__all__ = ["TFLiteExporter"]
