"""The file formats ``convert`` reads and writes, as NNabla lists them (plus StableHLO).

TensorFlow outputs (SAVED_MODEL, TFLITE, TF_PB) need the ``tf`` extra."""
import collections
import os

_SupportedInfo = collections.namedtuple("_SupportedInfo", "import_name export_name")

extensions = _SupportedInfo(
    import_name=[".nnp", ".nntxt", ".prototxt", ".protobuf", ".h5", ".onnx"],
    export_name=[".nnp", ".nntxt", ".prototxt", ".protobuf", ".h5", ".nnb", ".onnx",
                 ".tflite", "saved_model", ".pb", ".stablehlo", ".mlir"])
formats = _SupportedInfo(
    import_name=["NNP", "ONNX"],
    export_name=["NNP", "NNB", "ONNX", "SAVED_MODEL", "TFLITE", "TF_PB", "STABLEHLO", "MLIR"])

_IMPORT_BY_EXTENSION = {".nnp": "NNP", ".nntxt": "NNP", ".prototxt": "NNP", ".protobuf": "NNP",
                        ".h5": "NNP", ".onnx": "ONNX"}
_EXPORT_BY_EXTENSION = {".nnp": "NNP", ".nntxt": "NNP", ".prototxt": "NNP", ".protobuf": "NNP",
                        ".h5": "NNP", ".nnb": "NNB", ".onnx": "ONNX", ".stablehlo": "STABLEHLO",
                        ".mlir": "MLIR", ".tflite": "TFLITE", ".pb": "TF_PB"}
# A SavedModel is a directory: an output named ``..._saved_model`` / ``...savedmodel``
# (no extension) is one; any other name takes ``-O SAVED_MODEL``.
_SAVED_MODEL_SUFFIXES = ("saved_model", "savedmodel")


def import_format_of(path):
    """The import format a file's extension implies (None if none does)."""
    return _IMPORT_BY_EXTENSION.get(_extension(path))


def export_format_of(path):
    """The export format a file's extension implies (None if none does)."""
    if _extension(path) == "" and \
            os.path.basename(os.path.normpath(str(path))).lower().endswith(_SAVED_MODEL_SUFFIXES):
        return "SAVED_MODEL"
    return _EXPORT_BY_EXTENSION.get(_extension(path))


def _extension(path):
    return os.path.splitext(str(path))[1].lower()
