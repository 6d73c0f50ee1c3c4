"""NNP network -> TensorFlow SavedModel, frozen graph (.pb) or TFLite, through ONNX.

NNabla takes the same road: its ONNX exporter writes the network and an
ONNX-to-TensorFlow converter builds the TensorFlow graph. Here the converter is
``onnx2tf`` (maintained; writes a SavedModel and ``.tflite``). jax2tf is not
used: it serializes the JAX function as one ``XlaCallModule`` op, which the
TFLite interpreter cannot run.

The exported model takes and returns arrays in the NNP's own layout (NCHW for
NNabla's channel-first networks): every input keeps its shape and onnx2tf
transposes back before the outputs. TensorFlow and onnx2tf are the optional
``tf`` extra (``pip install 'nnjax[tf]'``); without them export fails with one
line saying so. The outputs are written atomically: into a temporary file or
directory beside the target, then renamed.
"""
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile

import numpy as np
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

from ... import get_file_handle as fh
from ..onnx import OnnxExporter
from .signature import save_in_nnp_layout

__all__ = ["TensorflowExporter", "TFLiteExporter", "MissingExtraError", "require_tensorflow"]

EXTRA_HINT = "pip install 'nnjax[tf]'"


class MissingExtraError(ImportError, ValueError):
    """The optional ``tf`` extra (TensorFlow, onnx2tf) is not installed."""


def require_tensorflow(what):
    """Import (tensorflow, onnx2tf) or raise MissingExtraError naming the extra."""
    try:
        import tensorflow
        import onnx2tf
        import onnxruntime
    except ImportError as e:
        missing = getattr(e, "name", None) or str(e)
        raise MissingExtraError(f"{what} export needs TensorFlow, onnx2tf and onnxruntime "
                                f"({missing} is not installed): {EXTRA_HINT}") from None
    return tensorflow, onnx2tf


def _onnx_model(nnp, batch_size, ir_version, opset):
    return fold_constants(OnnxExporter(nnp, batch_size, ir_version, opset=opset)
                          .export_model_proto())


def fold_constants(model):
    """``model`` with every node whose inputs are all initializers replaced by the
    initializers it computes (onnx's reference evaluator runs it). onnx2tf builds
    a Keras layer per node and fails on a node that reads no graph input (the
    exporter's Reshape of BatchNormalization and Affine parameters)."""
    graph = model.graph
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    opset = {o.domain: o.version for o in model.opset_import}
    kept = []
    for node in graph.node:
        inputs = [i for i in node.input if i]
        if node.domain not in ("", "ai.onnx") or not inputs or "Random" in node.op_type or \
                not all(i in constants for i in inputs):
            kept.append(node)
            continue
        feeds = {i: constants[i] for i in inputs}
        values = ReferenceEvaluator(node, opsets=opset).run(None, feeds)
        for name, value in zip(node.output, values):
            constants[name] = np.asarray(value)
    read = {i for n in kept for i in n.input} | {o.name for o in graph.output}
    folded = [numpy_helper.from_array(constants[name], name) for name in constants if name in read]
    del graph.node[:]
    graph.node.extend(kept)
    del graph.initializer[:]
    graph.initializer.extend(folded)
    return model


def _convert(tf, onnx_model, folder, onnx2tf):
    """Run onnx2tf on ``onnx_model`` in ``folder``; returns the SavedModel directory
    (inputs and outputs in the NNP's layout)."""
    onnx_path = os.path.join(folder, "model.onnx")
    with open(onnx_path, "wb") as f:
        f.write(onnx_model.SerializeToString())
    out = os.path.join(folder, "tf")
    inputs = [i.name for i in onnx_model.graph.input]
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log), _offline_sample_images():
            onnx2tf.convert(
                input_onnx_file_path=onnx_path, output_folder_path=out,
                keep_shape_absolutely_input_names=inputs,
                output_signaturedefs=True, non_verbose=True,
                disable_model_save=False, output_integer_quantized_tflite=False,
                copy_onnx_input_output_names_to_tflite=True,
                not_use_onnxsim=True)
    except SystemExit:
        raise ValueError(f"onnx2tf could not convert the network: {_last_line(log)}") from None
    except Exception as e:
        raise ValueError(f"onnx2tf could not convert the network: {type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''}") from None
    if not os.path.exists(os.path.join(out, "saved_model.pb")):
        raise ValueError(f"onnx2tf wrote no SavedModel: {_last_line(log)}")
    return save_in_nnp_layout(tf, onnx_model, out, os.path.join(folder, "saved_model"))


@contextlib.contextmanager
def _offline_sample_images():
    """onnx2tf downloads sample images (from GitHub) to test a model whose inputs look
    like NHWC RGB batches; nnjax works offline, so it gets fixed random images instead."""
    module = sys.modules.get("onnx2tf.onnx2tf")
    original = getattr(module, "download_test_image_data", None)
    if original is None:
        yield
        return
    module.download_test_image_data = lambda: np.random.RandomState(0).rand(
        20, 128, 128, 3).astype(np.float32)
    try:
        yield
    finally:
        module.download_test_image_data = original


def _last_line(log):
    lines = [l for l in log.getvalue().splitlines() if l.strip()]
    return lines[-1] if lines else "(no message)"


def _replace_directory(source, target):
    """Move directory ``source`` to ``target``, replacing what is there."""
    target = os.path.abspath(target)
    staged = tempfile.mkdtemp(prefix=".tmp-", dir=os.path.dirname(target))
    staged_model = os.path.join(staged, "model")
    shutil.move(source, staged_model)
    old = None
    if os.path.lexists(target):
        old = staged + "-old"
        os.replace(target, old)
    os.replace(staged_model, target)
    shutil.rmtree(staged, ignore_errors=True)
    if old:
        if os.path.isdir(old) and not os.path.islink(old):
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.remove(old)


class TensorflowExporter:
    """``execute(output)`` writes the executor's network as a SavedModel directory
    (``model_format='SAVED_MODEL'``) or a frozen GraphDef file (``'TF_PB'``)."""

    def __init__(self, nnp, batch_size, ir_version=-1, model_format="TF_PB", opset=11):
        if model_format not in ("TF_PB", "SAVED_MODEL"):
            raise ValueError(f"TensorflowExporter: model_format is 'TF_PB' or 'SAVED_MODEL', "
                             f"got {model_format!r}")
        self._nnp, self._batch_size, self._ir_version = nnp, batch_size, ir_version
        self._model_format, self._opset = model_format, opset

    def execute(self, output):
        tf, onnx2tf = require_tensorflow(self._model_format)
        model = _onnx_model(self._nnp, self._batch_size, self._ir_version, self._opset)
        with tempfile.TemporaryDirectory(prefix="nnjax-tf-") as work:
            saved = _convert(tf, model, work, onnx2tf)
            if self._model_format == "SAVED_MODEL":
                _replace_directory(saved, output)
            else:
                _write_frozen_graph(tf, saved, output)
        return [output]


def _write_frozen_graph(tf, saved_model_dir, output):
    from tensorflow.python.framework.convert_to_constants import \
        convert_variables_to_constants_v2
    loaded = tf.saved_model.load(saved_model_dir)
    fn = loaded.signatures["serving_default"]
    frozen = convert_variables_to_constants_v2(fn, lower_control_flow=False)
    fh.atomic_write(output, frozen.graph.as_graph_def().SerializeToString())


class TFLiteExporter:
    """``execute(output)`` writes the executor's network as a float32 ``.tflite``
    (runs in the TFLite interpreter with the builtin op set) and, as NNabla does,
    ``<output>.json`` saying per input and output whether the caller must transpose
    it (never, here: the model keeps the NNP's layout)."""

    def __init__(self, nnp, batch_size, channel_last=False, data_type="float32",
                 quantization=None, dataset=None, opset=11):
        if quantization or dataset:
            raise ValueError("TFLite export: --quantization/--dataset (INT8 TFLite) is not "
                             "supported; nnjax writes float32 .tflite")
        if data_type != "float32":
            raise ValueError(f"TFLite export: data_type {data_type!r} is not supported "
                             "(float32 only)")
        self._nnp, self._batch_size, self._opset = nnp, batch_size, opset

    def execute(self, output):
        tf, onnx2tf = require_tensorflow("TFLite")
        model = _onnx_model(self._nnp, self._batch_size, -1, self._opset)
        with tempfile.TemporaryDirectory(prefix="nnjax-tf-") as work:
            saved = _convert(tf, model, work, onnx2tf)
            converter = tf.lite.TFLiteConverter.from_saved_model(saved)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
            data = converter.convert()
        fh.atomic_write(output, data)
        info = {"inputs": {i.name: {"transpose": False} for i in model.graph.input},
                "outputs": {o.name: {"transpose": False} for o in model.graph.output}}
        info_path = _json_path(output)
        fh.atomic_write(info_path, json.dumps(info).encode())
        return [output, info_path]


def _json_path(output):
    stem, ext = os.path.splitext(output)
    return (stem if ext.lower() == ".tflite" else output) + ".json"
