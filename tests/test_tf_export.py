"""TensorFlow SavedModel, frozen .pb and TFLite export (the ``tf`` extra), checked in
TensorFlow and the TFLite interpreter against nnjax's own forward.

The TensorFlow tests skip where TensorFlow/onnx2tf are absent (the normal test
environment); they run in a separate environment, see the README's converters
section. Without the extra, export must fail with one line naming it.
"""
import argparse
import importlib.util
import json

import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
from nnabla.utils.converter import convert_files
from nnabla.utils.converter.tflite import TFLiteExporter
from nnabla.utils.cli.convert import add_convert_command
import converters.__main__ as converters_main

from onnx_check import build_case
from test_converter_files import _lenet, _lstm_net, _resnet_block, _save_network

# what the exported model may differ from nnjax by, per dtype of the outputs
TOLERANCE = {np.dtype(np.float32): dict(rtol=1e-4, atol=1e-5)}

HAVE_EXTRA = all(importlib.util.find_spec(m) is not None for m in ("tensorflow", "onnx2tf"))


def _mlp(x):
    with nn.parameter_scope("mlp"):
        h = F.relu(PF.affine(x, 16, name="l1"))
        h = F.sigmoid(PF.affine(h, 8, name="l2"))
        return F.softmax(PF.affine(h, 4, name="l3"))


def _feature_map(x):
    # output NCHW (2, 3, 3, 3): its NHWC shape is the same, only the values tell them apart
    with nn.parameter_scope("fmap"):
        return F.relu(PF.convolution(x, 3, (3, 3), pad=(1, 1), name="c"))


NETWORKS = {"lenet_bn": (_lenet, (2, 1, 8, 8)), "mlp": (_mlp, (3, 5)),
            "resnet_block": (_resnet_block, (2, 3, 6, 6)),
            "feature_map": (_feature_map, (2, 3, 3, 3)), "lstm": (_lstm_net, (5, 2, 3))}


@pytest.fixture(scope="module")
def tf():
    tf = pytest.importorskip("tensorflow", reason="the tf extra is not installed "
                                                  "(pip install 'nnjax[tf]')")
    pytest.importorskip("onnx2tf", reason="the tf extra is not installed "
                                          "(pip install 'nnjax[tf]')")
    return tf


@pytest.fixture(scope="module", params=sorted(NETWORKS))
def network(request, tmp_path_factory):
    build, shape = NETWORKS[request.param]
    d = tmp_path_factory.mktemp(request.param)
    x, y = _save_network(d / "net.nnp", build, shape)
    return d, x, y


def _assert_close(actual, expected):
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    np.testing.assert_allclose(actual, expected, **TOLERANCE[expected.dtype])


def _run_tflite(path, x):
    interpreter = _interpreter(path)
    (inp,) = interpreter.get_input_details()
    (out,) = interpreter.get_output_details()
    assert tuple(inp["shape"]) == x.shape            # the NNP's layout, not NHWC
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(out["index"])


def _only_output(result):
    assert len(result) == 1
    return np.asarray(next(iter(result.values())))


def test_tflite_from_python_m_converters_matches_nnjax(tf, network):
    d, x, y = network
    out = d / "net.tflite"
    assert converters_main.main([str(d / "net.nnp"), "-o", str(out), "-f"]) == 0
    info = json.loads((d / "net.json").read_text())       # NNabla's side file
    assert info == {"inputs": {"x": {"transpose": False}}, "outputs": {"y": {"transpose": False}}}
    ops = {op["op_name"] for op in _interpreter(out)._get_ops_details()}
    assert ops and not any("Flex" in op or "XlaCallModule" in op for op in ops)   # builtins
    _assert_close(_run_tflite(out, x), y)


def _interpreter(path):
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    interpreter = litert.Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    return interpreter


def test_two_inputs_two_outputs_keep_their_names_and_layouts(tf, tmp_path):
    nnp, feeds, expected = build_case(lambda a, b: (F.relu(a) * b, F.sum(a, axis=1)),
                                      [(2, 4, 5, 5), (2, 4, 5, 5)])
    out = tmp_path / "two.tflite"
    TFLiteExporter(nnp, 2).execute(str(out))
    result = _interpreter(out).get_signature_runner()(**feeds)
    assert sorted(result) == ["y0", "y1"]
    for i, y in enumerate(expected):
        _assert_close(result[f"y{i}"], y)


def test_saved_model_from_nnabla_cli_matches_nnjax(tf, network):
    d, x, y = network
    parser = argparse.ArgumentParser()
    add_convert_command(parser.add_subparsers())
    out = d / "net_saved_model"
    args = parser.parse_args(["convert", str(d / "net.nnp"), str(out)])
    assert args.func(args) is True
    model = tf.saved_model.load(str(out))
    fn = model.signatures["serving_default"]
    (name,) = fn.structured_input_signature[1]
    _assert_close(_only_output(fn(**{name: tf.constant(x)})), y)
    # a directory not named *saved_model takes -O SAVED_MODEL, as in NNabla
    other = d / "exported"
    args = parser.parse_args(["convert", "-O", "SAVED_MODEL", str(d / "net.nnp"), str(other)])
    assert args.func(args) is True
    assert (other / "saved_model.pb").is_file()


def test_frozen_graph_pb_matches_nnjax(tf, tmp_path):
    x, y = _save_network(tmp_path / "net.nnp", _lenet, (2, 1, 8, 8))
    out = tmp_path / "net.pb"
    convert_files(argparse.Namespace(export_format="TF_PB", define_version="opset_13"),
                  [str(tmp_path / "net.nnp")], str(out))
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(out.read_bytes())
    placeholders = [n.name for n in graph_def.node if n.op == "Placeholder"]
    assert len(placeholders) == 1
    outputs = _graph_outputs(graph_def)
    fn = tf.compat.v1.wrap_function(lambda: tf.compat.v1.import_graph_def(graph_def, name=""), [])
    run = fn.prune(fn.graph.get_tensor_by_name(placeholders[0] + ":0"),
                   [fn.graph.get_tensor_by_name(o + ":0") for o in outputs])
    (result,) = run(tf.constant(x))
    _assert_close(np.asarray(result), y)


def _graph_outputs(graph_def):
    read = {i.split(":")[0].lstrip("^") for n in graph_def.node for i in n.input}
    return [n.name for n in graph_def.node if n.name not in read and n.op != "NoOp"]


def test_int8_quantization_is_refused_in_one_line(tmp_path, capsys):
    _save_network(tmp_path / "net.nnp", _mlp, (3, 5))
    parser = argparse.ArgumentParser()
    add_convert_command(parser.add_subparsers())
    args = parser.parse_args(["convert", "--quantization", "--dataset", "d.npy",
                              str(tmp_path / "net.nnp"), str(tmp_path / "q.tflite")])
    assert args.func(args) is False
    assert not (tmp_path / "q.tflite").exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--quantization" in err and "float32" in err


@pytest.mark.skipif(HAVE_EXTRA, reason="TensorFlow is installed: the extra is not missing")
def test_without_the_extra_every_entry_point_names_it(tmp_path, capsys):
    _save_network(tmp_path / "net.nnp", _mlp, (3, 5))
    nnp = str(tmp_path / "net.nnp")
    for fmt, out in (("TFLITE", "m.tflite"), ("SAVED_MODEL", "m_saved_model"),
                     ("TF_PB", "m.pb")):
        with pytest.raises(ImportError, match=r"pip install 'nnjax\[tf\]'"):
            convert_files(argparse.Namespace(export_format=fmt), [nnp], str(tmp_path / out))
        assert not (tmp_path / out).exists()
    assert converters_main.main([nnp, "-o", str(tmp_path / "m.tflite")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nnjax[tf]" in err and "TFLite" in err
    parser = argparse.ArgumentParser()
    add_convert_command(parser.add_subparsers())
    args = parser.parse_args(["convert", nnp, str(tmp_path / "m_saved_model")])
    assert args.export_format == "NNP"
    assert args.func(args) is False
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nnjax[tf]" in err and "SAVED_MODEL" in err
