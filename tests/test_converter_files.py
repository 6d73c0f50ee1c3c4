"""Model files out and in through nnabla.utils.converter, ``python -m converters`` and
``nnabla_cli convert``: whole networks checked against nnjax's own forward."""
import argparse
import struct

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
from nnabla.utils.converter import convert_files, ConvertError
from nnabla.utils.converter.nnabla import NnpImporter
from nnabla.utils.converter.nnablart import NnbExporter, read_nnb, ApiLevel
from nnabla.utils.converter.onnx import OnnxExporter, OnnxImporter, OnnxImportError
from nnabla.utils.converter.stablehlo import export_graph, load_stablehlo, network_function
from nnabla.utils.cli.convert import add_convert_command
from nnabla.utils.save import save
from nnabla.utils.nnp_graph import NnpLoader
import converters.__main__ as converters_main

from onnx_check import run_onnx

pytest.importorskip("onnxruntime")


def _lenet(x):
    with nn.parameter_scope("lenet"):
        h = PF.convolution(x, 4, (3, 3), pad=(1, 1), name="c1")
        h = PF.batch_normalization(h, batch_stat=False, name="bn1")
        h = F.max_pooling(F.relu(h), (2, 2))
        h = PF.convolution(h, 6, (3, 3), name="c2")
        h = F.average_pooling(F.elu(h), (2, 2))
        return PF.affine(F.tanh(PF.affine(h, 10, name="f1")), 3, name="f2")


def _save_network(path, build, shape, seed=0, variable_batch_size=True):
    nn.clear_parameters()
    rng = np.random.RandomState(seed)
    x = nn.Variable(shape)
    y = build(x)
    for p in nn.get_parameters(grad_only=False).values():
        p.d = rng.randn(*p.shape).astype(np.float32) * 0.5
    for k, p in nn.get_parameters(grad_only=False).items():
        if k.endswith("/var"):
            p.d = np.abs(p.d) + 0.5
    x.d = rng.randn(*shape).astype(np.float32)
    y.forward()
    save(str(path), {"networks": [{"name": "net", "batch_size": shape[0], "outputs": {"y": y},
                                   "names": {"x": x}}],
                     "executors": [{"name": "runtime", "network": "net", "data": ["x"],
                                    "output": ["y"]}]},
         variable_batch_size=variable_batch_size)
    expected = np.array(y.d)
    data = np.array(x.d)
    nn.clear_parameters()
    return data, expected


def _resnet_block(x):
    with nn.parameter_scope("res"):
        h = F.relu(PF.batch_normalization(PF.convolution(x, 3, (3, 3), pad=(1, 1), name="c1"),
                                          batch_stat=False, name="b1"))
        h = PF.batch_normalization(PF.convolution(h, 3, (3, 3), pad=(1, 1), name="c2"),
                                   batch_stat=False, name="b2")
        return F.global_average_pooling(F.relu(h + x))


def _lstm_net(x):
    with nn.parameter_scope("seq"):
        h0 = F.constant(0.0, (1, 1, 2, 4))
        y, h, c = PF.lstm(x, h0, h0, training=False, name="lstm")
        return PF.affine(F.transpose(y, (1, 0, 2)), 2, name="head")


@pytest.mark.parametrize("build,shape", [(_resnet_block, (2, 3, 6, 6)),
                                         (_lstm_net, (5, 2, 3))], ids=["resnet", "lstm"])
def test_networks_export_to_onnx_and_stablehlo(build, shape, tmp_path):
    # the LSTM's first axis is time: the file's -1 there is read through nnjax's shapes
    x, y = _save_network(tmp_path / "net.nnp", build, shape)
    for opset in ("opset_11", "opset_13"):
        out = tmp_path / f"net_{opset}.onnx"
        convert_files(_args(export_format="ONNX", define_version=opset), [str(tmp_path / "net.nnp")],
                      str(out))
        model = onnx.load(str(out))
        onnx.checker.check_model(model, full_check=True)
        np.testing.assert_allclose(run_onnx(model, {"x": x})[0], y, rtol=1e-4, atol=1e-5)
    out = tmp_path / "net.stablehlo"
    convert_files(_args(export_format="STABLEHLO"), [str(tmp_path / "net.nnp")], str(out))
    np.testing.assert_allclose(np.asarray(load_stablehlo(str(out))(x)[0]), y, rtol=1e-4,
                               atol=1e-5)


def _args(**kw):
    return argparse.Namespace(**kw)


@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    d = tmp_path_factory.mktemp("lenet")
    x, y = _save_network(d / "lenet.nnp", _lenet, (2, 1, 8, 8))
    return d, x, y


@pytest.mark.parametrize("opset", ["opset_11", "opset_13"])
def test_cli_writes_onnx_that_onnxruntime_runs(lenet, opset):
    d, x, y = lenet
    out = d / f"lenet_{opset}.onnx"
    assert converters_main.main([str(d / "lenet.nnp"), "-o", str(out), "-d", opset, "-f"]) == 0
    model = onnx.load(str(out))
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == int(opset[-2:])
    np.testing.assert_allclose(run_onnx(model, {"x": x})[0], y, rtol=1e-4, atol=1e-5)


def test_onnx_import_round_trip_runs_in_nnjax(lenet, tmp_path):
    d, x, y = lenet
    onnx_path = tmp_path / "lenet.onnx"
    convert_files(_args(export_format="ONNX"), [str(d / "lenet.nnp")], str(onnx_path))
    nnp_path = tmp_path / "back.nnp"
    convert_files(_args(import_format="ONNX", export_format="NNP", nnp_parameter_h5=True),
                  [str(onnx_path)], str(nnp_path))
    nn.clear_parameters()
    net = NnpLoader(str(nnp_path)).get_network("network", batch_size=2)
    (xin,) = net.inputs.values()
    (yout,) = net.outputs.values()
    xin.d = x
    yout.forward()
    np.testing.assert_allclose(yout.d, y, rtol=1e-4, atol=1e-5)
    nn.clear_parameters()


def _third_party_model():
    rng = np.random.RandomState(3)
    w = numpy_helper.from_array(rng.randn(4, 2, 3, 3).astype(np.float32), "w")
    fc = numpy_helper.from_array(rng.randn(3, 4 * 3 * 3).astype(np.float32), "fc")
    fb = numpy_helper.from_array(rng.randn(3).astype(np.float32), "fb")
    scale = numpy_helper.from_array(np.full((1, 4, 1, 1), 0.5, np.float32), "scale")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 0, 1, 0], strides=[1, 1]),
        helper.make_node("Mul", ["c", "scale"], ["cs"]),
        helper.make_node("Relu", ["cs"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Shape", ["p"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
        helper.make_node("Reshape", ["p", "target"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc", "fb"], ["g"], transB=1, alpha=0.5),
        helper.make_node("Softmax", ["g"], ["y"], axis=1),
    ]
    consts = [numpy_helper.from_array(np.array(0, np.int64), "zero"),
              numpy_helper.from_array(np.array([0], np.int64), "axes0"),
              numpy_helper.from_array(np.array([-1], np.int64), "minus1")]
    graph = helper.make_graph(nodes, "third_party",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2, 6, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
                              [w, fc, fb, scale] + consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def test_third_party_onnx_imports_and_matches_onnxruntime():
    model = _third_party_model()
    x = np.random.RandomState(0).randn(2, 2, 6, 8).astype(np.float32)
    (want,) = run_onnx(model, {"x": x})
    nnp = OnnxImporter(model).execute()
    fn, shapes, ins, outs = network_function(nnp)
    assert shapes == [(2, 2, 6, 8)] and ins == ["x"] and outs == ["y"]
    np.testing.assert_allclose(np.asarray(fn(x)[0]), want, rtol=1e-4, atol=1e-5)


def test_malformed_onnx_names_the_file(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(_third_party_model().SerializeToString()[:57])
    with pytest.raises(OnnxImportError, match="broken.onnx"):
        OnnxImporter(str(bad)).execute()


def test_unmapped_onnx_operator_names_node_and_opset():
    node = helper.make_node("Det", ["x"], ["y"], name="det0")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", 1, [2, 2])],
                              [helper.make_tensor_value_info("y", 1, [])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises(OnnxImportError, match=r"'det0' \(Det\) at opset 13"):
        OnnxImporter(model).execute()


def test_stablehlo_round_trip_with_symbolic_batch(lenet, tmp_path):
    d, x, y = lenet
    out = tmp_path / "lenet.stablehlo"
    convert_files(_args(export_format="STABLEHLO"), [str(d / "lenet.nnp")], str(out))
    run = load_stablehlo(str(out))
    np.testing.assert_allclose(np.asarray(run(x)[0]), y, rtol=1e-4, atol=1e-5)
    bigger = np.concatenate([x, x, x])          # another batch size, same artifact
    np.testing.assert_allclose(np.asarray(run(bigger)[0]), np.concatenate([y, y, y]),
                               rtol=1e-4, atol=1e-5)
    text = tmp_path / "lenet.mlir"
    convert_files(_args(export_format="MLIR"), [str(d / "lenet.nnp")], str(text))
    assert "stablehlo.convolution" in text.read_text()


def test_live_graph_exports_with_symbolic_batch():
    nn.clear_parameters()
    x = nn.Variable((2, 4))
    y = F.softmax(PF.affine(F.relu(PF.affine(x, 5, name="l1")), 3, name="l2"))
    x.d = np.random.RandomState(1).randn(2, 4)
    y.forward()
    exported = export_graph([x], [y])
    assert "batch" in str(exported.in_avals[0].shape)
    np.testing.assert_allclose(np.asarray(exported.call(x.d)[0]), y.d, rtol=1e-5, atol=1e-6)
    four = np.concatenate([x.d, x.d])
    np.testing.assert_allclose(np.asarray(exported.call(four)[0]),
                               np.concatenate([y.d, y.d]), rtol=1e-5, atol=1e-6)
    nn.clear_parameters()


def _affine_net(x):
    h = F.relu(PF.affine(x, 3, name="a1"))
    return F.sigmoid(PF.affine(h, 2, name="a2"))


def test_nnb_layout_reads_back(tmp_path):
    x, y = _save_network(tmp_path / "mlp.nnp", _affine_net, (1, 4))
    out = tmp_path / "mlp.nnb"
    convert_files(_args(export_format="NNB"), [str(tmp_path / "mlp.nnp")], str(out))
    data = out.read_bytes()
    nnb = read_nnb(data, str(out))
    assert nnb["version"] == 2 and nnb["api_level"] == ApiLevel().level == 45
    names = [f["uniq_name"] for f in nnb["functions"]]
    assert names == ["Affine_i", "ReLU_B" if "ReLU_B" in names else "ReLU_Empty",
                     "Affine_i", "Sigmoid_Empty"]
    assert [f["id"] for f in nnb["functions"]][0] == 0                 # Affine is function 0
    # base_axis=1 is the only argument of Affine: one packed int after the 20-byte head
    assert struct.unpack("i", nnb["functions"][0]["arguments"]) == (1,)
    nnp = NnpImporter(str(tmp_path / "mlp.nnp")).execute()
    params = {p.variable_name: np.asarray(p.data).reshape(tuple(p.shape.dim))
              for p in nnp.protobuf.parameter}
    net = nnp.protobuf.network[0]
    stored = {net.variable[v["id"]].name: v for v in nnb["variables"] if "data" in v}
    np.testing.assert_array_equal(stored["a1/affine/W"]["data"], params["a1/affine/W"].T.ravel())
    np.testing.assert_array_equal(stored["a2/affine/b"]["data"], params["a2/affine/b"].ravel())
    # x (4 values), h1, h2 (3), h3, y (2): two alive at a time, so two shared buffers
    # sized [3, 4]; first fit in function order puts x, h2, y in one and h1, h3 in the other
    assert nnb["buffers"] == [3, 4]
    order = [v.name for v in net.variable if v.type == "Buffer"]
    index = {net.variable[v["id"]].name: v["data_index"] for v in nnb["variables"]}
    assert [index[n] for n in order] == [-2, -1, -2, -1, -2]
    assert nnb["inputs"] == [[v.name for v in net.variable].index("x")]


def test_api_level_info_as_nnabla_queries_it():
    from nnabla.utils.converter import get_api_level_info
    info = get_api_level_info()
    info.set_api_level(-1)
    assert info.get_current_level() == 45
    assert info.get_func_id("Affine") == 0 and info.get_argument_code("Affine") == "i"
    assert info.get_func_uniq_name("ReLU") in ("ReLU_Empty", "ReLU_B")
    info.set_api_level(1)
    assert info.get_argument_code("Convolution") == "iiIiIiIi"      # before channel_last
    assert "Sigmoid" in info.get_function_list()


def test_runtime_support_sets():
    from nnabla.utils.converter import func_set_nnb_support, func_set_nncr_support
    assert {"Affine", "Convolution", "ReLU"} <= func_set_nncr_support()
    assert "CumProd" not in func_set_nnb_support() and "Affine" in func_set_nnb_support(1)
    assert "Sigmoid" in func_set_nnb_support(1) and len(func_set_nnb_support(1)) < len(
        func_set_nnb_support())


def test_nnb_refuses_functions_the_runtime_lacks(tmp_path):
    _save_network(tmp_path / "s.nnp", lambda x: F.cumprod(x, axis=1), (2, 3))
    with pytest.raises(ValueError, match=r"CumProd\(\) is not supported in API level"):
        NnbExporter(NnpImporter(str(tmp_path / "s.nnp")).execute()).execute(
            str(tmp_path / "s.nnb"))


def test_split_writes_one_file_per_range(lenet, tmp_path):
    d, x, y = lenet
    out = tmp_path / "part.onnx"
    written = convert_files(_args(export_format="ONNX", split="0-2,3-",
                                  nnp_import_executor_index=0), [str(d / "lenet.nnp")], str(out))
    assert [p.rsplit("/", 1)[1] for p in written] == ["part_0_2.onnx", f"part_3_{_n_functions(d) - 1}.onnx"]
    first, second = (onnx.load(p) for p in written)
    (mid,) = run_onnx(first, {"x": x})
    feed = {second.graph.input[0].name: mid}
    np.testing.assert_allclose(run_onnx(second, feed)[0], y, rtol=1e-4, atol=1e-5)


def _n_functions(d):
    return len(NnpImporter(str(d / "lenet.nnp")).execute().protobuf.network[0].function)


def test_config_splits_around_unsupported_functions(lenet, tmp_path):
    d, x, y = lenet
    config = tmp_path / "funcs.txt"
    config.write_text("; supported\nConvolution\nBatchNormalization\nReLU\nMaxPooling\n"
                      "AveragePooling\nELU\nAffine\n")
    written = convert_files(_args(export_format="ONNX", config=str(config)),
                            [str(d / "lenet.nnp")], str(tmp_path / "c.onnx"))
    tanh_at = [f.type for f in NnpImporter(str(d / "lenet.nnp")).execute()
               .protobuf.network[0].function].index("Tanh")
    assert [w.rsplit("_", 2)[-2:] for w in written] == [
        ["0", f"{tanh_at - 1}.onnx"], [str(tanh_at + 1), f"{tanh_at + 1}.onnx"]]


def test_nnabla_cli_convert_command(lenet, tmp_path, capsys):
    d, x, y = lenet
    parser = argparse.ArgumentParser()
    add_convert_command(parser.add_subparsers())
    out = tmp_path / "cli.onnx"
    args = parser.parse_args(["convert", str(d / "lenet.nnp"), str(out), "-d", "opset_12"])
    assert args.func(args) is True
    assert onnx.load(str(out)).opset_import[0].version == 12
    args = parser.parse_args(["convert", str(d / "lenet.nnp"), str(out)])
    assert args.func(args) is True                 # NNabla's convert overwrites
    assert onnx.load(str(out)).opset_import[0].version == 11
    assert converters_main.main([str(d / "lenet.nnp"), "-o", str(out)]) == 1   # no -f
    assert "exists" in capsys.readouterr().err
    args = parser.parse_args(["convert", str(d / "lenet.nnp"), str(tmp_path / "x.onnx"),
                              "-d", "opset_7"])
    assert args.func(args) is False
    assert "opset 'opset_7' is not supported" in capsys.readouterr().err
    args = parser.parse_args(["convert", str(d / "lenet.nnp"), str(tmp_path / "c"), "-O", "CSRC"])
    assert args.func(args) is False
    assert "CSRC" in capsys.readouterr().err
    template = tmp_path / "settings.yaml"
    args = parser.parse_args(["nnb_template", str(d / "lenet.nnp"), str(template)])
    assert args.func(args) is True
    assert "implement: 0" in template.read_text()
    with pytest.raises(ConvertError, match="does not exist"):
        convert_files(_args(), [str(tmp_path / "missing.nnp")], str(tmp_path / "m.nnp"))


_REPEAT_NET = """
network {
  name: "net"
  batch_size: 1
  repeat_info { id: "r" times: 3 }
  variable { name: "x" type: "Buffer" shape { dim: 1 dim: 4 } }
  variable { name: "rs" type: "Buffer" repeat_id: "r" shape { dim: 1 dim: 4 } }
  variable { name: "W" type: "Parameter" shape { dim: 4 dim: 4 } }
  variable { name: "a" type: "Buffer" repeat_id: "r" shape { dim: 1 dim: 4 } }
  variable { name: "t" type: "Buffer" repeat_id: "r" shape { dim: 1 dim: 4 } }
  variable { name: "y" type: "Buffer" shape { dim: 1 dim: 4 } }
  function { name: "RepeatStart" type: "RepeatStart" input: "x" input: "t" output: "rs"
             repeat_param { repeat_id: "r" times: 3 } }
  function { name: "Affine" type: "Affine" repeat_id: "r" input: "rs" input: "W" output: "a"
             affine_param { base_axis: 1 } }
  function { name: "Tanh" type: "Tanh" repeat_id: "r" input: "a" output: "t" }
  function { name: "RepeatEnd" type: "RepeatEnd" input: "t" output: "y"
             repeat_param { repeat_id: "r" times: 3 } }
}
executor { name: "runtime" network_name: "net" data_variable { variable_name: "x" }
           output_variable { variable_name: "y" } parameter_variable { variable_name: "W" } }
"""


def test_repeat_blocks_are_unrolled(tmp_path):
    from nnabla.utils import get_file_handle as fh
    (tmp_path / "net.nntxt").write_text(_REPEAT_NET)
    w = np.random.RandomState(2).randn(4, 4).astype(np.float32) * 0.7
    fh.write_parameters_h5(str(tmp_path / "p.h5"), {"W": (w, True)})
    nnp = NnpImporter(str(tmp_path / "net.nntxt"), str(tmp_path / "p.h5")).execute()
    net = nnp.protobuf.network[0]
    assert [f.type for f in net.function] == ["Affine", "Tanh"] * 3 + ["Identity"]
    assert [f.input[0] for f in net.function[:-1:2]] == ["x", "t_r_0", "t_r_1"]
    assert list(net.function[-1].input) == ["t_r_2"] and not net.repeat_info
    x = np.random.RandomState(3).randn(1, 4).astype(np.float32)
    want = x
    for _ in range(3):
        want = np.tanh(want @ w)
    fn, _, _, outs = network_function(nnp)
    assert outs == ["y"]
    np.testing.assert_allclose(np.asarray(fn(x)[0]), want, rtol=1e-5, atol=1e-6)


_RECURRENT_NET = """
network {
  name: "rnn"
  batch_size: 1
  repeat_info { id: "t" times: 3 }
  variable { name: "x" type: "Buffer" shape { dim: 3 dim: 1 dim: 4 } }
  variable { name: "h0" type: "Buffer" shape { dim: 1 dim: 4 } }
  variable { name: "xt" type: "Buffer" repeat_id: "t" shape { dim: 1 dim: 4 } }
  variable { name: "hp" type: "Buffer" repeat_id: "t" shape { dim: 1 dim: 4 } }
  variable { name: "s" type: "Buffer" repeat_id: "t" shape { dim: 1 dim: 4 } }
  variable { name: "h" type: "Buffer" repeat_id: "t" shape { dim: 1 dim: 4 } }
  variable { name: "y" type: "Buffer" shape { dim: 3 dim: 1 dim: 4 } }
  function { name: "In" type: "RecurrentInput" repeat_id: "t" input: "x" output: "xt"
             recurrent_param { repeat_id: "t" length: 3 axis: 0 } }
  function { name: "Delay" type: "Delay" repeat_id: "t" input: "h" input: "h0" output: "hp"
             recurrent_param { repeat_id: "t" length: 3 axis: 0 } }
  function { name: "Add" type: "Add2" repeat_id: "t" input: "xt" input: "hp" output: "s" }
  function { name: "Tanh" type: "Tanh" repeat_id: "t" input: "s" output: "h" }
  function { name: "Out" type: "RecurrentOutput" input: "h" output: "y"
             recurrent_param { repeat_id: "t" length: 3 axis: 0 } }
}
executor { name: "runtime" network_name: "rnn" data_variable { variable_name: "x" }
           data_variable { variable_name: "h0" } output_variable { variable_name: "y" } }
"""


def test_recurrent_input_delay_and_output_are_unrolled(tmp_path):
    (tmp_path / "rnn.nntxt").write_text(_RECURRENT_NET)
    nnp = NnpImporter(str(tmp_path / "rnn.nntxt")).execute()
    types = [f.type for f in nnp.protobuf.network[0].function]
    assert types == ["Split"] + ["Add2", "Tanh"] * 3 + ["Stack"]
    rng = np.random.RandomState(4)
    x, h0 = rng.randn(3, 1, 4).astype(np.float32), rng.randn(1, 4).astype(np.float32)
    want, h = [], h0
    for t in range(3):
        h = np.tanh(x[t] + h)
        want.append(h)
    model = OnnxExporter(nnp).export_model_proto()
    got = run_onnx(model, {"x": x, "h0": h0})[0]
    np.testing.assert_allclose(got, np.stack(want), rtol=1e-5, atol=1e-6)


def test_cli_error_is_one_line(tmp_path, capsys):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07garbage-not-a-model")
    assert converters_main.main([str(bad), "-o", str(tmp_path / "out.nnp")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "broken.onnx" in err
    assert not (tmp_path / "out.nnp").exists()


def test_batch_size_option_sets_the_onnx_batch(lenet, tmp_path):
    d, x, y = lenet
    out = tmp_path / "b3.onnx"
    convert_files(_args(export_format="ONNX", batch_size=3), [str(d / "lenet.nnp")], str(out))
    model = onnx.load(str(out))
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 3
    x3 = np.concatenate([x, x[:1]])
    np.testing.assert_allclose(run_onnx(model, {"x": x3})[0], np.concatenate([y, y[:1]]),
                               rtol=1e-4, atol=1e-5)


def test_nnb_fixed_point_parameters(tmp_path):
    _save_network(tmp_path / "mlp.nnp", _affine_net, (1, 4))
    settings = tmp_path / "s.yaml"
    settings.write_text("variables:\n  a2/affine/b: FIXED8_5\n  a1/affine/W: FIXED16\n")
    out = tmp_path / "q.nnb"
    with pytest.raises(ValueError, match="buffer variable 'x' of type FIXED16 needs its fp_pos"):
        convert_files(_args(export_format="NNB", default_variable_type=["FIXED16"]),
                      [str(tmp_path / "mlp.nnp")], str(out))
    convert_files(_args(export_format="NNB", settings=[str(settings)]),
                  [str(tmp_path / "mlp.nnp")], str(out))
    data = out.read_bytes()
    nnb = read_nnb(data)
    nnp = NnpImporter(str(tmp_path / "mlp.nnp")).execute()
    net = nnp.protobuf.network[0]
    params = {p.variable_name: np.asarray(p.data, np.float32) for p in nnp.protobuf.parameter}
    by_name = {net.variable[v["id"]].name: v for v in nnb["variables"]}
    b2 = by_name["a2/affine/b"]
    assert (b2["type"], b2["fp_pos"]) == ("FIXED8", 5)
    # FIXED8 with 5 fractional bits: round(value * 32) clipped to int8, as packed bytes
    offsets = struct.unpack(f"{nnb['blocks']}I", data[56:56 + 4 * nnb["blocks"]])
    start = 56 + 4 * nnb["blocks"] + offsets[b2["data_index"]]
    raw = np.frombuffer(data[start:start + 2], np.int8)
    np.testing.assert_array_equal(raw, np.clip(np.round(params["a2/affine/b"] * 32), -128, 127))
    w1 = by_name["a1/affine/W"]
    top = np.abs(params["a1/affine/W"]).max()
    bits = int(np.ceil(np.log2(top))) + 1 if top >= 1 else 1
    assert w1["type"] == "FIXED16" and w1["fp_pos"] == 16 - bits
    assert by_name["a2/affine/W"]["type"] == "FLOAT32"


def test_dump_lists_executor_io_and_functions(lenet, capsys):
    d, x, y = lenet
    parser = argparse.ArgumentParser()
    add_convert_command(parser.add_subparsers())
    args = parser.parse_args(["dump", "-F", "-V", str(d / "lenet.nnp")])
    assert args.func(args) is True
    out = capsys.readouterr().out
    assert "Executor [0]: runtime" in out
    assert "(In) Data      variable[0]: Name:x" in out and "Shape:[-1, 1, 8, 8]" in out
    n = _n_functions(d)
    assert out.count("Function[") == n and "Type: Convolution" in out
    assert "Input0: Name: x" in out
