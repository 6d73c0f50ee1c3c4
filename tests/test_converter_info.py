"""nnabla.utils.converter: function information in NNabla's layout.

The expected facts are NNabla's (its function definitions: names, flags,
argument types, which arguments have defaults, and the unique names its
function-id table is keyed by)."""
import nnabla.utils.converter as converter
from nnabla.utils import nnabla_pb2


def test_layout_and_categories():
    info = converter.get_category_info()
    assert list(info)[:3] == ["Neural Network Layer", "Neural Network Activation Functions",
                              "Normalization"]
    functions = converter.get_function_info()
    assert len(functions) == sum(len(c) for c in info.values()) == 228
    assert list(functions)[:2] == ["Affine", "RNN"]
    assert "Affine" in info["Neural Network Layer"] and "ReLU" in info[
        "Neural Network Activation Functions"]


def test_affine_entry():
    affine = converter.get_function_info()["Affine"]
    assert affine["snake_name"] == "affine"
    assert list(affine["inputs"]) == ["x", "weight", "bias"]
    assert dict(affine["inputs"]["x"]) == {}
    assert dict(affine["inputs"]["weight"]) == {"parameter": True}
    assert dict(affine["inputs"]["bias"]) == {"optional": True, "parameter": True}
    assert dict(affine["arguments"]["base_axis"]) == {"type": "int64", "default": "1"}
    assert list(affine["outputs"]) == ["y"]
    assert affine["uniq_name"] == "Affine_i"


def test_flags_defaults_and_unique_names():
    f = converter.get_function_info()
    assert dict(f["Concatenate"]["inputs"]["x"]) == {"variadic": True}
    assert f["Concatenate"]["arguments"]["axis"]["default"] == "len(x[0].shape) - 1"
    assert dict(f["Split"]["outputs"]["y"]) == {"variadic": True}
    assert "default" not in f["MaxPooling"]["arguments"]["kernel"]       # required
    assert f["MaxPooling"]["arguments"]["kernel"]["type"] == "Shape"
    assert f["RNN"]["arguments"]["nonlinearity"]["default"] == "'tanh'"
    assert f["Convolution"]["arguments"]["channel_last"]["default"] == "False"
    assert "arguments" not in f["Sigmoid"]
    assert f["Sigmoid"]["uniq_name"] == "Sigmoid"
    assert f["Convolution"]["uniq_name"] == "Convolution_iiIiIiIiB"
    assert f["RandomErase"]["uniq_name"] == "RandomErase_ffFfFfFiBBiiBB"


def test_structure_is_a_fresh_copy():
    a = converter.get_function_info()
    a["Affine"]["snake_name"] = "changed"
    assert converter.get_function_info()["Affine"]["snake_name"] == "affine"


def test_arguments_match_the_nnp_parameter_messages():
    """As NNabla's test utilities do: each function's arguments are fields of
    ``Function.<snake_name>_param``."""
    for name, info in converter.get_function_info().items():
        if "arguments" not in info:
            continue
        func = nnabla_pb2.Function(type=name)
        param = getattr(func, info["snake_name"] + "_param")
        fields = param.DESCRIPTOR.fields_by_name
        assert list(info["arguments"]) == [f.name for f in param.DESCRIPTOR.fields], name
        for arg in info["arguments"]:
            assert arg in fields


def test_pack_formats_and_nnp_helpers():
    assert [converter.type_to_pack_format(t) for t in
            ("bool", "float", "double", "int64", "repeated int64", "Shape", "string",
             "repeated float", "Communicator", "nothing")] == [
        "B", "f", "f", "i", "iI", "iI", "i", "fF", "C", None]

    class Nnp:
        protobuf = nnabla_pb2.NNablaProtoBuf()
    net = Nnp.protobuf.network.add(name="net", batch_size=1)
    net.function.add(name="f1", type="Affine")
    net.function.add(name="f2", type="ReLU")
    net.function.add(name="f3", type="Affine")
    Nnp.protobuf.executor.add(name="runtime", network_name="net")
    assert converter.select_executor(Nnp).name == "runtime"
    assert converter.search_network(Nnp, "net") is net
    assert converter.search_network(Nnp, "other") is None
    assert converter.func_set_import_nnp(Nnp) == {"Affine", "ReLU"}
    shape = nnabla_pb2.Shape(dim=[-1, 3, 4])
    assert converter.calc_shape_size(shape, 5) == 60
