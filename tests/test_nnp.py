"""NNabla's model files: the protobuf schema, .nnp/.nntxt/.protobuf/.h5 round trips,
NnpLoader / load / save, the converter, and errors that name the file."""
import io
import os
import struct
import zipfile

import h5py
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
from nnabla.utils import nnabla_pb2
from nnabla.utils.load import load
from nnabla.utils.nnp_graph import NnpLoader, NnpNetworkPass
from nnabla.utils.save import save


# ---------------------------------------------------------------- helpers
def mlp_cnn(x):
    h = F.relu(PF.convolution(x, 4, (3, 3), pad=(1, 1), name="conv1"))
    h = PF.batch_normalization(h, batch_stat=False, name="bn1")
    h = F.max_pooling(h, (2, 2))
    h = F.leaky_relu(PF.convolution(h, 4, (3, 3), stride=(2, 2), name="conv2"), 0.1)
    h = F.average_pooling(h, (2, 2), ignore_border=False)
    h = F.reshape(h, (h.shape[0], -1))
    h = F.tanh(PF.affine(h, 16, name="fc1"))
    return PF.affine(h, 5, name="fc2")


def contents_of(x, y, batch):
    return {
        "networks": [{"name": "net", "batch_size": batch, "outputs": {"y": y},
                      "names": {"x": x}}],
        "executors": [{"name": "runtime", "network": "net", "data": ["x"], "output": ["y"]}],
    }


def forward(v):
    v.forward()
    return np.array(v.d)


@pytest.fixture
def model(tmp_path, rng):
    """An MLP+CNN saved to model.nnp; its input and reference output."""
    x = nn.Variable((3, 2, 8, 8))
    y = mlp_cnn(x)
    for k, p in nn.get_parameters(grad_only=False).items():  # non-trivial BN statistics
        if k.endswith(("mean", "var")):
            p.d = rng.uniform(0.5, 1.5, p.shape)
    x.d = rng.randn(*x.shape).astype(np.float32)
    ref = forward(y)
    path = str(tmp_path / "model.nnp")
    save(path, contents_of(x, y, 3))
    params = {k: np.array(v.d) for k, v in nn.get_parameters(grad_only=False).items()}
    return path, np.array(x.d), ref, params, (x, y)


# ---------------------------------------------------------------- schema
# Field numbers of NNabla's nnabla.proto, written out here as an independent reference.
NNABLA_FIELDS = {
    "NNablaProtoBuf": {"version": 1, "global_config": 2, "training_config": 10, "network": 100,
                       "parameter": 200, "dataset": 300, "optimizer": 400, "monitor": 500,
                       "executor": 600},
    "Network": {"name": 1, "batch_size": 10, "repeat_info": 11, "variable": 100, "function": 200},
    "Variable": {"name": 1, "type": 2, "repeat_id": 3, "shape": 20, "initializer": 100},
    "Parameter": {"variable_name": 1, "shape": 20, "data": 100, "need_grad": 101},
    "Shape": {"dim": 1},
    "Function": {"name": 1, "type": 2, "repeat_id": 3, "context": 10, "input": 20, "output": 30,
                 "repeat_param": 100, "recurrent_param": 101, "affine_param": 1001,
                 "convolution_param": 1005, "max_pooling_param": 1012,
                 "average_pooling_param": 1013, "relu_param": 1022, "leaky_relu_param": 1023,
                 "softmax_param": 1024, "batch_normalization_param": 1042, "sum_param": 1055,
                 "add_scalar_param": 1073, "mul_scalar_param": 1074, "concatenate_param": 1133,
                 "slice_param": 1136, "transpose_param": 1138, "reshape_param": 1146,
                 "dropout_param": 1173, "einsum_param": 1228},
    "Executor": {"name": 1, "network_name": 10, "num_evaluations": 20, "need_back_propagation": 30,
                 "data_variable": 50, "generator_variable": 60, "loss_variable": 70,
                 "output_variable": 80, "parameter_variable": 90, "no_image_normalization": 101},
    "ConvolutionParameter": {"base_axis": 1, "pad": 2, "stride": 3, "dilation": 4, "group": 5,
                             "channel_last": 6},
    "BatchNormalizationParameter": {"axes": 1, "decay_rate": 2, "eps": 3, "batch_stat": 4,
                                    "no_scale": 5, "no_bias": 6},
    "Solver": {"type": 2, "context": 10, "weight_decay": 20, "sgd_param": 100, "adam_param": 110},
}


def test_schema_field_numbers_are_nnablas():
    for message, fields in NNABLA_FIELDS.items():
        desc = getattr(nnabla_pb2, message).DESCRIPTOR
        got = {f.name: f.number for f in desc.fields}
        for name, number in fields.items():
            assert got.get(name) == number, (message, name)
    assert nnabla_pb2.Shape.DESCRIPTOR.fields_by_name["dim"].is_packed
    assert nnabla_pb2.FUNCTION_PARAMS["Convolution"] == "convolution_param"
    assert nnabla_pb2.Function.DESCRIPTOR.fields_by_name["affine_param"].containing_oneof.name \
        == "parameter"


def test_every_lowering_takes_its_nnabla_arguments():
    """Each registered function accepts the fields of its *Parameter message (so files load)."""
    import inspect
    from nnjax._registry import REGISTRY
    for type_name, field in nnabla_pb2.FUNCTION_PARAMS.items():
        spec = REGISTRY.get(type_name)
        if spec is None:
            continue
        params = inspect.signature(spec.lower).parameters
        if any(p.kind == p.VAR_KEYWORD for p in params.values()):
            continue
        msg = getattr(nnabla_pb2.Function(), field)
        for f in msg.DESCRIPTOR.fields:
            assert f.name in params or f.name in spec.implied_args(), \
                (type_name, f.name)


# ---------------------------------------------------------------- nnp round trips
def test_nnp_round_trip_same_outputs(model):
    path, x_value, ref, params, _ = model
    nn.clear_parameters()
    nnp = NnpLoader(path)
    assert nnp.get_network_names() == ["net"]
    net = nnp.get_network("net", batch_size=3)
    assert list(net.inputs) == ["x"] and list(net.outputs) == ["y"]
    net.inputs["x"].d = x_value
    np.testing.assert_array_equal(forward(net.outputs["y"]), ref)
    # the network's parameters are published to the current scope, same values
    loaded = nn.get_parameters(grad_only=False)
    assert set(loaded) == set(params)
    for k, v in params.items():
        np.testing.assert_array_equal(loaded[k].d, v)


def test_nnp_layout_and_variable_batch_size(model, tmp_path):
    path, x_value, ref, _, _ = model
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["network.nntxt", "nnp_version.txt", "parameter.h5"]
        assert z.read("nnp_version.txt").decode().strip() == "0.1"
        text = z.read("network.nntxt").decode()
    from google.protobuf import text_format
    proto = text_format.Parse(text, nnabla_pb2.NNablaProtoBuf())
    net = proto.network[0]
    assert net.batch_size == 3
    shapes = {v.name: list(v.shape.dim) for v in net.variable}
    assert shapes["x"] == [-1, 2, 8, 8] and shapes["y"] == [-1, 5]
    assert shapes["conv1/conv/W"] == [4, 2, 3, 3]
    kinds = {v.name: v.type for v in net.variable}
    assert kinds["x"] == "Buffer" and kinds["fc2/affine/b"] == "Parameter"
    types = [f.type for f in net.function]
    assert types[:4] == ["Convolution", "ReLU", "BatchNormalization", "MaxPooling"]
    conv = net.function[0]
    assert conv.name == "Convolution" and net.function[4].name == "Convolution_1"
    assert list(conv.convolution_param.pad.dim) == [1, 1]
    reshape = [f for f in net.function if f.type == "Reshape"][0]
    assert list(reshape.reshape_param.shape.dim) == [-1, 4]
    lrelu = [f for f in net.function if f.type == "LeakyReLU"][0]
    assert abs(lrelu.leaky_relu_param.alpha - 0.1) < 1e-7
    assert proto.executor[0].data_variable[0].variable_name == "x"
    # a different batch size: the -1 axes (and the Reshape) follow
    nn.clear_parameters()
    net2 = NnpLoader(path).get_network("net", batch_size=2)
    assert net2.inputs["x"].shape == (2, 2, 8, 8)
    net2.inputs["x"].d = x_value[:2]
    np.testing.assert_allclose(forward(net2.outputs["y"]), ref[:2], rtol=1e-6, atol=1e-6)


def test_nntxt_with_h5_and_protobuf_formats(model, tmp_path):
    _, x_value, ref, _, (x, y) = model
    contents = contents_of(x, y, 3)
    nntxt = str(tmp_path / "net.nntxt")
    save(nntxt, contents)
    h5 = str(tmp_path / "params.h5")
    nn.save_parameters(h5)
    full = str(tmp_path / "full.protobuf")
    save(full, contents, include_params=True)
    pnnp = str(tmp_path / "pb.nnp")
    save(pnnp, contents, parameter_format=".protobuf")
    with zipfile.ZipFile(pnnp) as z:
        assert "parameter.protobuf" in z.namelist()
    for files in ([nntxt, h5], full, pnnp):
        nn.clear_parameters()
        net = NnpLoader(files).get_network("net", batch_size=3)
        net.inputs["x"].d = x_value
        np.testing.assert_array_equal(forward(net.outputs["y"]), ref)


def test_file_objects(model):
    _, x_value, ref, _, (x, y) = model
    buf = io.BytesIO()
    save(buf, contents_of(x, y, 3), extension=".nnp")
    nn.clear_parameters()
    net = NnpLoader(io.BytesIO(buf.getvalue()), extension=".nnp").get_network("net")
    net.inputs["x"].d = x_value
    np.testing.assert_array_equal(forward(net.outputs["y"]), ref)


def test_load_info_executor(model):
    path, x_value, ref, params, _ = model
    nn.clear_parameters()
    info = load([path], batch_size=3)
    assert list(info.networks) == ["net"] and list(info.executors) == ["runtime"]
    ex = info.executors["runtime"]
    assert ex.network is info.networks["net"]
    (xv, data_name), = ex.dataset_assign.items()
    assert data_name == "x"
    xv.variable_instance.d = x_value
    ex.forward_target.forward()
    (yv, (_, out_name)), = ex.output_assign.items()
    assert out_name == "y"
    np.testing.assert_array_equal(yv.variable_instance.d, ref)
    assert {p.name for p in ex.parameters} == set(params)
    # load() puts the parameters into the current scope
    assert set(nn.get_parameters(grad_only=False)) == set(params)


def test_many_function_types_round_trip(tmp_path, rng):
    x = nn.Variable((2, 3, 6, 6))
    a = F.transpose(x, (0, 2, 3, 1))
    b = F.slice(a, (0, 1, 0, 0), (2, 5, 6, 3), (1, 2, 1, 1))
    c = F.concatenate(F.sum(b, axis=2, keepdims=True), F.mean(b, axis=2, keepdims=True), axis=2)
    d = F.pad(c, (1, 1), mode="constant", constant_value=0.5)
    e = PF.deconvolution(x, 2, (2, 2), stride=(2, 2), name="deconv")
    f = F.softmax(F.max(e, axis=(2, 3)), axis=1)
    g = PF.layer_normalization(F.reshape(x, (2, 3, 36)), batch_axis=0, no_bias=True,
                               name="ln")
    h = F.batch_matmul(g, g, transpose_b=True)
    i = F.sigmoid(2.0 * x + 1.0) - F.exp(-x) / 3.0
    j = F.stack(*F.split(i, axis=1), axis=3)
    outputs = {"d": d, "f": f, "h": h, "j": j, "k": F.flip(F.tile(x, (1, 1, 1, 2)), axes=[3])}
    x.d = rng.randn(*x.shape)
    refs = {}
    for k, v in outputs.items():
        refs[k] = forward(v)
    path = str(tmp_path / "many.nnp")
    save(path, {"networks": [{"name": "many", "batch_size": 2, "outputs": outputs,
                              "names": {"x": x}}]})
    nn.clear_parameters()
    net = NnpLoader(path).get_network("many")
    assert set(net.outputs) == set(outputs)
    net.inputs["x"].d = x.d
    for k, ref in refs.items():
        np.testing.assert_allclose(forward(net.outputs[k]), ref, rtol=1e-6, atol=1e-6,
                                   err_msg=k)


def test_network_pass_callbacks(model):
    path, x_value, ref, _, _ = model
    nn.clear_parameters()
    nnp = NnpLoader(path)
    # stop at the first tanh's input: its producer becomes an output
    cb = NnpNetworkPass()
    cb.use_up_to("Affine_out")
    cb.fix_parameters()
    net = nnp.get_network("net", batch_size=3, callback=cb)
    assert list(net.outputs) == ["Affine_out"]
    assert "y" not in net.variables
    assert not net.variables["fc1/affine/W"].need_grad
    # feed our own input variable
    x = nn.Variable((3, 2, 8, 8))
    x.d = x_value
    cb2 = NnpNetworkPass()
    cb2.set_variable("x", x)
    net2 = nnp.get_network("net", callback=cb2)
    np.testing.assert_array_equal(forward(net2.outputs["y"]), ref)
    # drop the final Affine by rewiring its output onto its input
    cb3 = NnpNetworkPass()
    cb3.remove_and_rewire("Affine_1")
    net3 = nnp.get_network("net", batch_size=3, callback=cb3)
    assert list(net3.outputs) == ["Tanh_out"]


# ---------------------------------------------------------------- hand-written references
def _reference_classes():
    """Message classes written here from NNabla's field numbers (independent of nnabla_pb2)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    T = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="reference.proto", package="ref",
                                             syntax="proto3")

    def message(name, *fields):
        m = fdp.message_type.add(name=name)
        for fname, number, ftype, repeated in fields:
            f = m.field.add(name=fname, number=number,
                            label=T.LABEL_REPEATED if repeated else T.LABEL_OPTIONAL)
            if isinstance(ftype, str):
                f.type, f.type_name = T.TYPE_MESSAGE, ".ref." + ftype
            else:
                f.type = ftype
    message("Shape", ("dim", 1, T.TYPE_INT64, True))
    message("Parameter", ("variable_name", 1, T.TYPE_STRING, False), ("shape", 20, "Shape", False),
            ("data", 100, T.TYPE_FLOAT, True), ("need_grad", 101, T.TYPE_BOOL, False))
    message("Variable", ("name", 1, T.TYPE_STRING, False), ("type", 2, T.TYPE_STRING, False),
            ("shape", 20, "Shape", False))
    message("AffineParameter", ("base_axis", 1, T.TYPE_INT64, False))
    message("LeakyReLUParameter", ("alpha", 1, T.TYPE_FLOAT, False),
            ("inplace", 2, T.TYPE_BOOL, False))
    message("Function", ("name", 1, T.TYPE_STRING, False), ("type", 2, T.TYPE_STRING, False),
            ("input", 20, T.TYPE_STRING, True), ("output", 30, T.TYPE_STRING, True),
            ("affine_param", 1001, "AffineParameter", False),
            ("leaky_relu_param", 1023, "LeakyReLUParameter", False))
    message("Network", ("name", 1, T.TYPE_STRING, False), ("batch_size", 10, T.TYPE_INT64, False),
            ("variable", 100, "Variable", True), ("function", 200, "Function", True))
    message("NNablaProtoBuf", ("network", 100, "Network", True),
            ("parameter", 200, "Parameter", True))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return {m.name: message_factory.GetMessageClass(pool.FindMessageTypeByName("ref." + m.name))
            for m in fdp.message_type}


def test_hand_written_protobuf_parameters_load(tmp_path, rng):
    R = _reference_classes()
    w = rng.randn(3, 4).astype(np.float32)
    b = rng.randn(4).astype(np.float32)
    proto = R["NNablaProtoBuf"]()
    for name, value, need_grad in (("fc/affine/W", w, True), ("fc/affine/b", b, False)):
        p = proto.parameter.add()
        p.variable_name = name
        p.shape.dim.extend(value.shape)
        p.data.extend(value.ravel().tolist())
        p.need_grad = need_grad
    path = str(tmp_path / "ref.protobuf")
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())
    nn.load_parameters(path)
    params = nn.get_parameters(grad_only=False)
    assert list(params) == ["fc/affine/W", "fc/affine/b"]
    np.testing.assert_array_equal(params["fc/affine/W"].d, w)
    np.testing.assert_array_equal(params["fc/affine/b"].d, b)
    assert params["fc/affine/W"].need_grad and not params["fc/affine/b"].need_grad
    # and what nnjax writes parses with the reference classes
    out = str(tmp_path / "out.protobuf")
    nn.save_parameters(out)
    back = R["NNablaProtoBuf"].FromString(open(out, "rb").read())
    assert [p.variable_name for p in back.parameter] == ["fc/affine/W", "fc/affine/b"]
    assert list(back.parameter[0].shape.dim) == [3, 4]
    np.testing.assert_array_equal(np.array(back.parameter[0].data, np.float32), w.ravel())


def _varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number, payload):
    return _varint((number << 3) | 2) + _varint(len(payload)) + payload


def test_raw_wire_bytes_parameter_loads(tmp_path):
    """A parameter encoded byte by byte with NNabla's field numbers."""
    values = [1.5, -2.0, 0.25, 4.0, 5.5, -6.0]
    shape = _field(1, b"".join(_varint(d) for d in (2, 3)))          # Shape.dim, packed
    param = (_field(1, b"layer/W")                                     # variable_name
             + _field(20, shape)                                       # shape
             + _field(100, struct.pack("<6f", *values))                # data, packed floats
             + _varint((101 << 3) | 0) + _varint(1))                   # need_grad = true
    path = str(tmp_path / "raw.protobuf")
    with open(path, "wb") as f:
        f.write(_field(200, param))                                    # NNablaProtoBuf.parameter
    nn.load_parameters(path)
    p = nn.get_parameters(grad_only=False)["layer/W"]
    assert p.shape == (2, 3) and p.need_grad
    np.testing.assert_array_equal(p.d, np.array(values, np.float32).reshape(2, 3))


def test_hand_written_network_rebuilds(tmp_path, rng):
    """A network and its parameters written with the reference classes, read by NnpLoader."""
    R = _reference_classes()
    w = rng.randn(6, 3).astype(np.float32)
    b = rng.randn(3).astype(np.float32)
    proto = R["NNablaProtoBuf"]()
    net = proto.network.add()
    net.name = "ref"
    net.batch_size = 2
    for name, kind, shape in (("in", "Buffer", [-1, 6]), ("h", "Buffer", [-1, 3]),
                              ("out", "Buffer", [-1, 3]), ("W", "Parameter", [6, 3]),
                              ("b", "Parameter", [3])):
        v = net.variable.add()
        v.name, v.type = name, kind
        v.shape.dim.extend(shape)
    f = net.function.add()
    f.name, f.type = "fc", "Affine"
    f.input.extend(["in", "W", "b"])
    f.output.append("h")
    f.affine_param.base_axis = 1
    g = net.function.add()
    g.name, g.type = "act", "LeakyReLU"
    g.input.append("h")
    g.output.append("out")
    g.leaky_relu_param.alpha = 0.2
    for name, value in (("W", w), ("b", b)):
        p = proto.parameter.add()
        p.variable_name = name
        p.shape.dim.extend(value.shape)
        p.data.extend(value.ravel().tolist())
        p.need_grad = True
    path = str(tmp_path / "ref_net.protobuf")
    with open(path, "wb") as fobj:
        fobj.write(proto.SerializeToString())
    x = rng.randn(4, 6).astype(np.float32)
    expected = x @ w + b
    expected = np.where(expected > 0, expected, np.float32(0.2) * expected)
    built = NnpLoader(path).get_network("ref", batch_size=4)
    built.inputs["in"].d = x
    np.testing.assert_allclose(forward(built.outputs["out"]), expected, rtol=1e-5, atol=1e-5)


NNTXT = """
network {
  name: "txt"
  batch_size: 1
  variable { name: "x" type: "Buffer" shape { dim: -1 dim: 2 dim: 4 dim: 4 } }
  variable { name: "p" type: "Buffer" shape { dim: -1 dim: 2 dim: 2 dim: 2 } }
  variable { name: "y" type: "Buffer" shape { dim: -1 dim: 8 } }
  function {
    name: "pool" type: "MaxPooling" input: "x" output: "p"
    max_pooling_param { kernel { dim: 2 dim: 2 } stride { dim: 2 dim: 2 } ignore_border: true
                        pad { dim: 0 dim: 0 } }
  }
  function {
    name: "flat" type: "Reshape" input: "p" output: "y"
    reshape_param { shape { dim: -1 dim: 8 } }
  }
}
"""


def test_hand_written_nntxt(tmp_path, rng):
    path = str(tmp_path / "ref.nntxt")
    with open(path, "w") as f:
        f.write(NNTXT)
    net = NnpLoader(path).get_network("txt", batch_size=3)
    x = rng.randn(3, 2, 4, 4).astype(np.float32)
    net.inputs["x"].d = x
    expected = x.reshape(3, 2, 2, 2, 2, 2).max(axis=(3, 5)).reshape(3, 8)
    np.testing.assert_array_equal(forward(net.outputs["y"]), expected)


# ---------------------------------------------------------------- parameter files
def test_parameter_files_protobuf_h5_round_trip(tmp_path, rng):
    x = nn.Variable((2, 2, 5, 5))
    mlp_cnn_small = PF.affine(PF.convolution(x, 3, (3, 3), name="c"), 4, name="a")
    del mlp_cnn_small
    nn.get_parameters(grad_only=False)["c/conv/b"].need_grad = False
    ref = {k: (np.array(v.d), v.need_grad) for k, v in nn.get_parameters(grad_only=False).items()}
    pb = str(tmp_path / "p.protobuf")
    h5 = str(tmp_path / "p.h5")
    nn.save_parameters(pb)
    nn.clear_parameters()
    nn.load_parameters(pb)
    nn.save_parameters(h5)
    nn.clear_parameters()
    nn.load_parameters(h5)
    got = nn.get_parameters(grad_only=False)
    assert list(got) == list(ref)
    for k, (value, need_grad) in ref.items():
        np.testing.assert_array_equal(got[k].d, value)
        assert got[k].need_grad == need_grad
    with h5py.File(h5, "r") as hd:
        assert [int(hd[k].attrs["index"]) for k in ref] == list(range(len(ref)))
    nn.clear_parameters()
    nn.load_parameters(str(tmp_path / "p.protobuf"))
    assert list(nn.get_parameters(grad_only=False)) == list(ref)


def test_load_parameters_from_nnp(model):
    path, _, _, params, _ = model
    nn.clear_parameters()
    nn.load_parameters(path)
    got = nn.get_parameters(grad_only=False)
    assert list(got) == list(params)
    for k, v in params.items():
        np.testing.assert_array_equal(got[k].d, v)


# ---------------------------------------------------------------- converter
def test_converter_cli(model, tmp_path, capsys):
    from converters.__main__ import main
    path, x_value, ref, params, _ = model
    d = tmp_path / "conv"
    d.mkdir()
    nntxt, h5, pb, h5b, nnp = (str(d / n) for n in ("net.nntxt", "p.h5", "p.protobuf",
                                                     "p2.h5", "again.nnp"))
    assert main([path, "-o", nntxt, "-o", h5]) == 0
    assert main([h5, "-o", pb]) == 0
    assert main([pb, "-o", h5b]) == 0
    assert main([nntxt, h5b, "-o", nnp, "-p", "protobuf", "--check", "-b", "2"]) == 0
    with h5py.File(h5b, "r") as hd:
        for k, v in params.items():
            np.testing.assert_array_equal(hd[k][...], v)
    nn.clear_parameters()
    loader = NnpLoader(nnp)
    assert loader.proto.network[0].batch_size == 2
    net = loader.get_network("net", batch_size=3)
    net.inputs["x"].d = x_value
    np.testing.assert_array_equal(forward(net.outputs["y"]), ref)
    assert main([nnp, "--info"]) == 0
    assert "Convolution" in capsys.readouterr().out
    # refuses to overwrite, reports missing inputs, both with status 1
    assert main([h5, "-o", pb]) == 1
    assert main([str(d / "missing.nnp"), "-o", str(d / "x.nnp")]) == 1
    err = capsys.readouterr().err
    assert "exists" in err and "missing.nnp" in err


# ---------------------------------------------------------------- errors
def test_missing_and_corrupt_files_name_the_file(tmp_path, model):
    missing = str(tmp_path / "nothere.nnp")
    with pytest.raises(FileNotFoundError, match="nothere.nnp"):
        NnpLoader(missing)
    with pytest.raises(FileNotFoundError, match="nothere.nnp"):
        nn.load_parameters(missing)
    junk = str(tmp_path / "junk.nnp")
    with open(junk, "wb") as f:
        f.write(b"not a zip at all")
    with pytest.raises(ValueError, match="junk.nnp"):
        NnpLoader(junk)
    with pytest.raises(ValueError, match="junk.nnp"):
        nn.load_parameters(junk)
    bad_pb = str(tmp_path / "bad.protobuf")
    with open(bad_pb, "wb") as f:
        f.write(b"\xff\xff\xff\xff\x0f")
    with pytest.raises(ValueError, match="bad.protobuf"):
        nn.load_parameters(bad_pb)
    with pytest.raises(ValueError, match="bad.protobuf"):
        NnpLoader(bad_pb)
    bad_txt = str(tmp_path / "bad.nntxt")
    with open(bad_txt, "w") as f:
        f.write("network { name: 'x' no_such_field: 3 }")
    with pytest.raises(ValueError, match="bad.nntxt"):
        NnpLoader(bad_txt)
    # a zip whose parameter member is corrupt: the member and the archive are named
    path = model[0]
    broken = str(tmp_path / "broken.nnp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(broken, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, b"garbage" if name.endswith(".h5") else src.read(name))
    with pytest.raises(ValueError, match=r"parameter\.h5.*broken\.nnp"):
        NnpLoader(broken)
    with pytest.raises(ValueError, match=r"parameter\.h5.*broken\.nnp"):
        nn.load_parameters(broken)
    other = tmp_path / "x.txt"
    other.write_text("hello")
    with pytest.raises(ValueError, match="unsupported"):
        NnpLoader(str(other))


def test_unknown_network_and_function_type(tmp_path, model):
    nnp = NnpLoader(model[0])
    with pytest.raises(KeyError, match="nope"):
        nnp.get_network("nope")
    text = NNTXT.replace('type: "Reshape"', 'type: "NoSuchFunction"')
    path = str(tmp_path / "unknown.nntxt")
    with open(path, "w") as f:
        f.write(text)
    with pytest.raises(NotImplementedError, match="NoSuchFunction"):
        NnpLoader(path).get_network("txt")
    with pytest.raises(ValueError, match="has type 'NoSuchFunction', which nnjax has no"):
        NnpLoader(path).get_network("txt")


def test_save_errors(tmp_path):
    x = nn.Variable((2, 3))
    y = F.relu(x)
    with pytest.raises(ValueError, match="unsupported extension"):
        save(str(tmp_path / "a.zip"), contents_of(x, y, 2))
    with pytest.raises(ValueError, match="executor 'runtime'"):
        save(str(tmp_path / "a.nnp"), {
            "networks": [{"name": "net", "batch_size": 2, "outputs": {"y": y},
                          "names": {"x": x}}],
            "executors": [{"name": "runtime", "network": "net", "data": ["nope"],
                           "output": ["y"]}]})
    assert not os.path.exists(str(tmp_path / "a.nnp"))


def test_training_contents_round_trip(tmp_path):
    import nnabla.solvers as S
    from nnabla.context import Context
    x = nn.Variable((4, 3))
    t = nn.Variable((4, 1))
    loss = F.mean(F.squared_error(PF.affine(x, 1, name="fc"), t))
    solver = S.Adam(0.01)
    solver.set_parameters(nn.get_parameters())
    contents = {
        "global_config": {"default_context": Context(["cpu:float"], "CpuCachedArray", "0")},
        "training_config": {"max_epoch": 2, "iter_per_epoch": 5, "save_best": True},
        "networks": [{"name": "training", "batch_size": 4, "outputs": {"loss": loss},
                      "names": {"x": x, "t": t}}],
        "datasets": [{"name": "d", "uri": "DATA", "variables": ["x", "t"], "shuffle": True,
                      "batch_size": 4, "no_image_normalization": True}],
        "optimizers": [{"name": "opt", "solver": solver, "network": "training", "dataset": "d",
                        "weight_decay": 0, "lr_decay": 1, "lr_decay_interval": 1,
                        "update_interval": 1, "data_variables": {"x": "x", "t": "t"}}],
        "monitors": [{"name": "mon", "network": "training", "dataset": "d"}],
        "executors": [{"name": "ex", "network": "training", "data": ["x", "t"],
                       "output": ["loss"]}],
    }
    path = str(tmp_path / "train.nnp")
    save(path, contents)
    nn.clear_parameters()
    info = load(path)
    assert info.training_config.max_epoch == 2 and info.training_config.save_best
    assert info.global_config.default_context.backend == ["cpu:float"]
    assert list(info.datasets) == ["d"] and info.datasets["d"].uri == "DATA"
    opt = info.optimizers["opt"]
    assert opt.proto.solver.type == "Adam"
    assert abs(opt.proto.solver.adam_param.alpha - 0.01) < 1e-8
    assert type(opt.solver).__name__ == "Adam"
    assert list(opt.parameters) == ["fc/affine/W", "fc/affine/b"]
    assert [v.name for v in opt.loss_variables] == ["loss"]
    assert [(v.name, d) for v, d in opt.dataset_assign.items()] == [("x", "x"), ("t", "t")]
    # one training step through the loaded optimizer
    for v in opt.dataset_assign:
        v.variable_instance.d = np.ones(v.variable_instance.shape)
    before = np.array(opt.parameters["fc/affine/b"].d)
    opt.target.forward()
    opt.solver.zero_grad()
    opt.target.backward()
    opt.solver.update()
    assert not np.array_equal(opt.parameters["fc/affine/b"].d, before)
    assert [v.name for v in info.monitors["mon"].monitor_variables] == ["loss"]


def test_save_refuses_inputs_it_cannot_place(tmp_path):
    """An absent optional input before a present one that no NNabla argument explains."""
    x = nn.Variable((1, 2, 5, 5))
    w = nn.Variable((3, 2, 3, 3))
    offset = nn.Variable((1, 18, 5, 5))
    y = F.deformable_convolution(x, w, offset, None, nn.Variable((3,)), pad=(1, 1))  # no mask
    with pytest.raises(ValueError, match="DeformableConvolution.*no input 3"):
        save(str(tmp_path / "d.nntxt"), {"networks": [
            {"name": "n", "batch_size": 1, "outputs": {"y": y}, "names": {"x": x}}]})
