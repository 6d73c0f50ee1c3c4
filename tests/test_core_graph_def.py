"""nnabla.core.graph_def: recording on ProtoVariables, calling, saving and loading."""
import io
import os
import zipfile

import numpy as np
import pytest
from google.protobuf import text_format

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
from nnabla.utils import nnabla_pb2
from nnabla.utils.nnp_graph import NnpLoader


@pytest.fixture(autouse=True)
def fresh_graph():
    nn.graph_def.reset_default_graph()
    yield
    nn.graph_def.reset_default_graph()


class Mlp(nn.Module):
    def call(self, x):
        h = F.relu(PF.affine(x, 4, name="l1"))
        return PF.affine(h, 3, name="l2")


def _numpy_mlp(p, x, prefix=""):
    h = np.maximum(x @ p[prefix + "l1/affine/W"].d + p[prefix + "l1/affine/b"].d, 0)
    return h @ p[prefix + "l2/affine/W"].d + p[prefix + "l2/affine/b"].d


def test_module_recording_names_and_structure():
    mlp = Mlp()
    y = mlp(nn.ProtoVariable((2, 5)))
    assert isinstance(y, nn.ProtoVariable) and y.shape == (2, 3)
    g = nn.graph_def.get_default_graph()
    net = g.default_graph()
    assert list(g.networks) == ["mlp"]
    assert [f.type for f in net.forward_sequence()] == ["Affine", "ReLU", "Affine"]
    assert list(net.functions) == ["@mlp/Affine", "@mlp/ReLU", "@mlp/Affine_1"]
    assert list(net.parameters) == ["l1/affine/W", "l1/affine/b", "l2/affine/W", "l2/affine/b"]
    assert net.inputs == ["@mlp/Affine_in"] and net.outputs == ["@mlp/Affine_out_1"]
    assert net.functions["@mlp/Affine"].args["base_axis"] == 1
    assert nn.graph_def.get_default_graph_by_variable(y) is net


def test_recorded_network_called_on_variables_matches_numpy(rng):
    mlp = Mlp()
    with nn.graph_def.graph(name="net") as g:
        mlp(nn.ProtoVariable((2, 5)))
    x = nn.Variable.from_numpy_array(rng.randn(6, 5).astype(np.float32))  # another batch size
    y = g.net(x)
    y.forward()
    np.testing.assert_allclose(y.d, _numpy_mlp(mlp.get_parameters(), x.d), rtol=1e-5, atol=1e-6)
    assert g["net"] is g.networks["net"] and g.inputs == g.net.inputs


def test_flat_recording_with_operators_and_several_outputs(rng):
    with nn.graph_def.graph() as g:
        a = nn.ProtoVariable((3, 4), name="a")
        b = nn.ProtoVariable((3, 4), name="b")
        s = (a + b) * 2.0 - a / b
        t = F.tanh(-s) ** 2
    net = g.default_graph()
    assert net.inputs == ["a", "b"]
    order = list(net.forward_sequence())
    assert sorted(f.type for f in order) == \
        sorted(["Add2", "MulScalar", "Div2", "Sub2", "MulScalar", "Tanh", "PowScalar"])
    seen = set(net.inputs)
    for f in order:  # each function comes after the functions producing its inputs
        assert all(n in seen for n in f.inputs), f.name
        seen.update(f.outputs)
    av = nn.Variable.from_numpy_array(rng.rand(3, 4).astype(np.float32) + 1)
    bv = nn.Variable.from_numpy_array(rng.rand(3, 4).astype(np.float32) + 1)
    y = g(av, bv)
    y.forward()
    ref_s = (av.d + bv.d) * 2 - av.d / bv.d
    np.testing.assert_allclose(y.d, np.tanh(-ref_s) ** 2, rtol=1e-5)
    assert s.shape == t.shape == (3, 4)


@pytest.mark.parametrize("extension", [".nnp", ".nntxt", ".protobuf"])
def test_save_load_gives_same_outputs_at_another_batch_size(tmp_path, rng, extension):
    mlp = Mlp()
    with nn.graph_def.graph(name="net") as g:
        mlp(nn.ProtoVariable((2, 5)))
    path = str(tmp_path / f"m{extension}")
    g.save(path, include_parameter=extension != ".nnp")
    files = [path] if extension != ".protobuf" else [path]
    g2 = nn.graph_def.load(files, batch_size=7)
    net = g2.default_graph()
    assert net.variables[net.inputs[0]].shape == (-1, 5)
    y = g2()  # placeholders of batch 7
    x = net.variables[net.inputs[0]].variable_instance
    assert x.shape == (7, 5) and y.shape == (7, 3)
    x.d = rng.randn(7, 5)
    y.forward()
    np.testing.assert_allclose(y.d, _numpy_mlp(mlp.get_parameters(), x.d), rtol=1e-5,
                               atol=1e-6)
    if extension == ".nnp":
        with zipfile.ZipFile(path) as z:
            assert sorted(z.namelist()) == ["network.nntxt", "nnp_version.txt", "parameter.h5"]


def test_saved_file_is_readable_by_nnp_loader(tmp_path, rng):
    mlp = Mlp()
    with nn.graph_def.graph(name="net") as g:
        mlp(nn.ProtoVariable((2, 5), name="x"))
    path = str(tmp_path / "m.nnp")
    g.save(path)
    loaded = NnpLoader(path).get_network("net", batch_size=3)
    x = loaded.inputs["x"]
    y = list(loaded.outputs.values())[0]
    x.d = rng.randn(3, 5)
    y.forward()
    np.testing.assert_allclose(y.d, _numpy_mlp(mlp.get_parameters(), x.d), rtol=1e-5,
                               atol=1e-6)


def test_as_proto_batch_axis_and_reshape():
    with nn.graph_def.graph(name="r") as g:
        x = nn.ProtoVariable((4, 2, 3), name="x")
        F.reshape(PF.affine(x, 6), (-1, 3, 2))
    proto = g.as_proto()
    n = proto.network[0]
    assert n.batch_size == 4
    shapes = {v.name: list(v.shape.dim) for v in n.variable}
    assert shapes["x"] == [-1, 2, 3] and shapes["affine/W"] == [6, 6]
    reshape = [f for f in n.function if f.type == "Reshape"][0]
    assert list(reshape.reshape_param.shape.dim) == [-1, 3, 2]
    fixed = nn.graph_def.get_default_graph()  # the global graph is untouched
    assert not fixed.networks
    g2 = nn.graph_def.ProtoGraph.from_proto(proto, batch_size=5,
                                            param_scope=g.parameter_scope)
    y = g2()
    assert y.shape == (5, 3, 2)


def test_create_graph_from_variable_names_and_executor(tmp_path, rng):
    x = nn.Variable((2, 3))
    y = F.sigmoid(PF.affine(x, 2, name="fc"))
    g = nn.graph_def.create_graph_from_variable("m", y, names={"x": x, "y": y})
    net = g.networks["m"]
    assert net.inputs == ["x"] and net.outputs == ["y"]
    assert set(net.parameters) == {"fc/affine/W", "fc/affine/b"}
    path = str(tmp_path / "m.nnp")
    g.save(path, executors=[{"name": "runtime", "network": "m", "data": ["x"],
                             "output": ["y"]}])
    with zipfile.ZipFile(path) as z:
        proto = text_format.Parse(z.read("network.nntxt").decode(), nnabla_pb2.NNablaProtoBuf())
    assert proto.executor[0].name == "runtime"
    assert [v.variable_name for v in proto.executor[0].output_variable] == ["y"]
    loaded = nn.graph_def.load(path)
    x.d = rng.randn(2, 3)
    y2 = loaded(x)
    F.sink(y, y2).forward()
    p = nn.get_parameters()
    ref = 1 / (1 + np.exp(-(x.d @ p["fc/affine/W"].d + p["fc/affine/b"].d)))
    np.testing.assert_allclose(y2.d, ref, rtol=1e-5)


def test_graph_name_and_get_default_graph_by_name():
    with nn.graph_def.graph_name("first"):
        F.relu(nn.ProtoVariable((1, 2)))
    with nn.graph_def.graph_name("second"):
        F.sigmoid(nn.ProtoVariable((1, 2)))
    assert [f.type for f in nn.graph_def.get_default_graph("first").functions.values()] == \
        ["ReLU"]
    assert [f.type for f in nn.graph_def.get_default_graph(name="second").functions.values()] \
        == ["Sigmoid"]
    assert nn.graph_def.get_default_graph("third") is None


def test_clear_errors():
    with nn.graph_def.graph(name="n") as g:
        F.relu(nn.ProtoVariable((1, 2)))
    with pytest.raises(ValueError, match="1 inputs"):
        g(nn.Variable((1, 2)), nn.Variable((1, 2)))
    with pytest.raises(AttributeError, match="no_net"):
        g.no_net
    with pytest.raises(TypeError, match="nn.Variable"):
        g(np.zeros((1, 2)))
    with pytest.raises(TypeError, match="NonZero"):
        F.nonzero(nn.ProtoVariable((3,)))
    with pytest.raises(ValueError, match="not the output"):
        nn.graph_def.get_default_graph_by_variable(nn.ProtoVariable((1,), name="nowhere"))


def test_nnp_to_file_object_round_trip(rng):
    mlp = Mlp()
    with nn.graph_def.graph(name="net") as g:
        mlp(nn.ProtoVariable((2, 5)))
    buf = io.BytesIO()
    nn.graph_def.save(buf, [g], extension=".nnp")
    g2 = nn.graph_def.load(buf, extension=".nnp")
    x = nn.Variable.from_numpy_array(rng.randn(2, 5).astype(np.float32))
    y = g2(x)
    y.forward()
    np.testing.assert_allclose(y.d, _numpy_mlp(mlp.get_parameters(), x.d), rtol=1e-5,
                               atol=1e-6)


def test_create_initializer_reads_nnabla_names():
    class Init:
        type, multiplier = "UniformAffineGlorot", 2.0

    class Var:
        initializer, name = Init(), "w"

    init = nn.graph_def._create_initializer(Var(), np.random.RandomState(0))
    values = init((4, 6))
    lim = np.sqrt(6.0 / (4 + 6))
    ref = np.random.RandomState(0).uniform(-lim, lim, (4, 6)) * 2
    np.testing.assert_allclose(values, ref, rtol=1e-6)


def test_get_file_handle_save_is_atomic(tmp_path):
    from nnabla.utils.get_file_handle import get_file_handle_load, get_file_handle_save
    path = str(tmp_path / "a.nntxt")
    with get_file_handle_save(path, ".nntxt") as f:
        f.write("first")
    with pytest.raises(ZeroDivisionError):
        with get_file_handle_save(path, ".nntxt") as f:
            f.write("second")
            1 / 0
    with get_file_handle_load(None, path, ".nntxt") as f:
        assert f.read() == "first"
    assert os.listdir(tmp_path) == ["a.nntxt"]
    with pytest.raises(ValueError, match=".bad"):
        with get_file_handle_save(path, ".bad"):
            pass


def test_indexing_and_computed_variable_inputs(rng):
    with nn.graph_def.graph(name="n") as g:
        x = nn.ProtoVariable((2, 3))
        label = F.constant(1, (2, 1))  # computed: enters the network holding its value
        loss = F.softmax_cross_entropy(x[:, 1:] * 3.0, label)
    xv = nn.Variable.from_numpy_array(rng.randn(2, 3).astype(np.float32))
    y = g(xv)
    y.forward()
    z = xv.d[:, 1:].astype(np.float64) * 3
    log_softmax = z - np.log(np.exp(z).sum(1, keepdims=True))
    np.testing.assert_allclose(y.d, -log_softmax[:, 1:2], rtol=1e-4, atol=1e-6)
    assert loss.shape == (2, 1)


def test_promote_applies_a_network_pass(rng):
    from nnabla.utils.nnp_graph import NnpNetworkPass
    with nn.graph_def.graph(name="n") as g:
        h = F.tanh(PF.affine(nn.ProtoVariable((2, 3), name="x"), 4, name="a"))
        PF.affine(h, 2, name="b")
    net = g.default_graph()
    cut = NnpNetworkPass()
    cut.use_up_to("@n/Tanh_out")
    cut.fix_parameters()
    p = net.promote(cut)
    assert list(p.functions) == ["@n/Affine", "@n/Tanh"] and p.outputs == ["@n/Tanh_out"]
    assert not any(v.need_grad for v in p.parameters.values())
    xv = nn.Variable.from_numpy_array(rng.randn(2, 3).astype(np.float32))
    y = p(xv)
    y.forward()
    P = g.get_parameters()
    np.testing.assert_allclose(y.d, np.tanh(xv.d @ P["a/affine/W"].d + P["a/affine/b"].d),
                               rtol=1e-5)
    skip = NnpNetworkPass()
    skip.remove_and_rewire("@n/Tanh")
    skip.set_variable("x", xv)
    q = net.promote(skip)
    assert [f.type for f in q.functions.values()] == ["Affine", "Affine"]
    y = q()  # the input is the Variable set by the pass
    y.forward()
    h = xv.d @ P["a/affine/W"].d + P["a/affine/b"].d
    np.testing.assert_allclose(y.d, h @ P["b/affine/W"].d + P["b/affine/b"].d, rtol=1e-5,
                               atol=1e-6)
    with pytest.raises(TypeError, match="NnpNetworkPass"):
        net.promote(object())


def test_variable_batch_size_flattens_base_axis(tmp_path, rng):
    with nn.graph_def.graph(name="b2") as g:
        x = nn.ProtoVariable((1, 2, 3, 4, 4), name="x")
        h = PF.convolution(x, 2, (1, 1), base_axis=2, with_bias=False)
        F.reshape(h, (2, 2, 16))
    path = str(tmp_path / "b2.nnp")
    g.save(path)
    g2 = nn.graph_def.load(path, batch_size=4)
    net = g2.default_graph()
    assert net.variables["x"].shape == (-1, 3, 4, 4)  # two batch axes became one
    conv = [f for f in net.functions.values() if f.type == "Convolution"][0]
    assert conv.args["base_axis"] == 1
    y = g2()
    xv = net.variables["x"].variable_instance
    assert xv.shape == (4, 3, 4, 4) and y.shape == (4, 2, 16)
    xv.d = rng.randn(4, 3, 4, 4)
    y.forward()
    w = g2.get_parameters()["conv/W"].d.reshape(2, 3)
    ref = np.einsum("oc,nchw->nohw", w, xv.d).reshape(4, 2, 16)
    np.testing.assert_allclose(y.d, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("identity_at_end", [False, True])
def test_identity_remover_keeps_values_and_names(rng, identity_at_end):
    from nnabla.core.graph_optimizer import IdentityRemover
    with nn.graph_def.graph(name="n") as g:
        x = nn.ProtoVariable((2, 3), name="x")
        h = F.tanh(x)
        if identity_at_end:
            F.identity(F.sigmoid(h))
        else:
            F.sigmoid(F.identity(h))
    net = g.default_graph()
    out_before = net.outputs
    renamed = {}
    net.execute_on_proto(IdentityRemover(renamed))
    assert [f.type for f in net.forward_sequence()] == ["Tanh", "Sigmoid"]
    assert len(renamed) == 1
    if identity_at_end:
        assert net.outputs == out_before  # a final output keeps its name
    xv = nn.Variable.from_numpy_array(rng.randn(2, 3).astype(np.float32))
    y = net(xv)
    y.forward()
    np.testing.assert_allclose(y.d, 1 / (1 + np.exp(-np.tanh(xv.d))), rtol=1e-5)


def test_rewrite_records_applies_nnabla_batch_rule():
    from nnabla.core.variable_batch_size import rewrite_records
    conv_args = {"base_axis": 2, "pad": [0, 0]}
    reshape_args = {"shape": [2, 18, 6]}
    functions = [("Conv", "Convolution", conv_args, ["x", "W"], ["h"]),
                 ("R", "Reshape", reshape_args, ["h"], ["y"])]
    shapes = {"x": [1, 2, 3, 8, 8], "W": [3, 3, 3, 3], "h": [1, 2, 3, 6, 6], "y": [2, 18, 6]}
    assert rewrite_records(functions, shapes, ["x", "h", "y"]) == 2
    assert shapes == {"x": [-1, 3, 8, 8], "W": [3, 3, 3, 3], "h": [-1, 3, 6, 6],
                      "y": [-1, 18, 6]}
    assert conv_args["base_axis"] == 1 and reshape_args["shape"] == [-1, 18, 6]
    untouched = {"x": [3, 8]}
    assert rewrite_records([("S", "Sigmoid", {}, ["x"], ["x2"])], untouched, ["x"]) is None
    assert untouched == {"x": [3, 8]}


def test_utils_save_with_base_axis_and_load_proto_graph(tmp_path, rng):
    """utils.save folds the axes before base_axis=2 into one batch axis (NNabla's rule),
    and utils.load's info.proto_graph computes the saved network at a new batch size."""
    from nnabla.utils.load import load
    from nnabla.utils.save import save
    x = nn.Variable((1, 2, 3, 4, 4))
    y = PF.convolution(x, 2, (1, 1), base_axis=2, with_bias=False, name="conv")
    path = str(tmp_path / "b2.nnp")
    save(path, {"networks": [{"name": "net", "batch_size": 2, "outputs": {"y": y},
                              "names": {"x": x}}],
                "executors": [{"name": "runtime", "network": "net", "data": ["x"],
                               "output": ["y"]}]})
    info = load([path], batch_size=5)
    net = info.proto_graph.default_graph()
    assert net.variables["x"].shape == (-1, 3, 4, 4)
    xv = net.variables["x"].variable_instance
    yv = net.variables["y"].variable_instance
    assert xv.shape == (5, 3, 4, 4) and yv.shape == (5, 2, 4, 4)
    xv.d = rng.randn(5, 3, 4, 4)
    yv.forward()
    w = nn.get_parameters()["conv/conv/W"].d.reshape(2, 3)
    np.testing.assert_allclose(yv.d, np.einsum("oc,nchw->nohw", w, xv.d), rtol=1e-5,
                               atol=1e-6)
