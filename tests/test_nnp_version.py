"""``convert --nnp-version``: an NNP rewritten against an older NNabla function table."""
import os
import types
import zipfile

import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.utils.converter as cvt
import nnabla.utils.save as save
from nnabla.utils import nnabla_pb2
from nnabla.utils.converter import nnp_version
from google.protobuf import text_format

OLD_TABLE = """\
Neural Network Layer:
  Affine:
    inputs:
      x: {}
      weight: {}
      bias: {optional: true}
    arguments:
      base_axis: {type: int64, default: 1}
    outputs:
      y: {}
Neural Network Activation Functions:
  LeakyReLU:
    inputs:
      x: {}
    arguments:
      alpha: {type: float, default: 0.1}
    outputs:
      y: {}
"""


def _nnp(tmp_path, alpha=0.1, with_tanh=False):
    nn.clear_parameters()
    x = nn.Variable((2, 3))
    y = F.leaky_relu(PF.affine(x, 4, name="fc"), alpha=alpha)
    if with_tanh:
        y = F.tanh(y)
    path = str(tmp_path / "net.nnp")
    save.save(path, {"networks": [{"name": "net", "batch_size": 2, "outputs": {"y": y},
                                   "names": {"x": x}}],
                     "executors": [{"name": "runtime", "network": "net",
                                    "data": ["x"], "output": ["y"]}]})
    return path


def _args(version):
    return types.SimpleNamespace(nnp_version=version, export_format="NNP", import_format="NNP",
                                 batch_size=-1, nnp_parameter_h5=False,
                                 nnp_parameter_nntxt=False, nnp_exclude_parameter=False,
                                 nnp_import_executor_index=None, nnp_no_expand_network=False,
                                 split=None, config=None)


def _old_table(home, version="0.9.9"):
    os.makedirs(home / ".nnabla")
    (home / ".nnabla" / f"function_info_{version}.yaml").write_text(OLD_TABLE)


def _read_network(path):
    with zipfile.ZipFile(path) as z:
        name = [n for n in z.namelist() if n.endswith((".nntxt", ".prototxt"))][0]
        proto = nnabla_pb2.NNablaProtoBuf()
        text_format.Merge(z.read(name).decode(), proto)
        for name in z.namelist():
            if name.endswith(".protobuf"):
                params = nnabla_pb2.NNablaProtoBuf()
                params.ParseFromString(z.read(name))
                proto.parameter.extend(params.parameter)
    return proto


def test_arguments_the_old_version_lacks_are_dropped(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    _old_table(tmp_path)
    src = _nnp(tmp_path)
    out = str(tmp_path / "old.nnp")
    cvt.convert_files(_args("0.9.9"), [src], out)
    proto = _read_network(out)
    assert [n.name for n in proto.network] == ["net"] and len(proto.executor) == 1
    funcs = {f.type: f for f in proto.network[0].function}
    assert set(funcs) == {"Affine", "LeakyReLU"}
    relu = funcs["LeakyReLU"].leaky_relu_param
    assert not relu.inplace and abs(relu.alpha - 0.1) < 1e-7
    assert not relu.HasField("inplace") if relu.DESCRIPTOR.fields_by_name["inplace"].has_presence \
        else relu.ListFields() == [(relu.DESCRIPTOR.fields_by_name["alpha"], relu.alpha)]
    assert {p.variable_name for p in proto.parameter} == {"fc/affine/W", "fc/affine/b"}


def test_functions_or_values_the_old_version_cannot_hold_are_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    _old_table(tmp_path)
    with pytest.raises(ValueError, match="has no Tanh"):
        cvt.convert_files(_args("0.9.9"), [_nnp(tmp_path, with_tanh=True)],
                          str(tmp_path / "o1.nnp"))
    info = nnp_version.load_function_info(str(tmp_path / ".nnabla/function_info_0.9.9.yaml"))
    del info["LeakyReLU"]["arguments"]
    nnp = cvt.commands._import_file(_args("0.9.9"), [_nnp(tmp_path, alpha=0.3)])
    with pytest.raises(ValueError, match="default of argument 'alpha'"):
        nnp_version.downgrade(nnp, "0.9.9", old_info=info)


def test_missing_table_fails_fast_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(nnp_version, "URL", "http://127.0.0.1:9/{version}.yaml")
    with pytest.raises(ValueError, match=r"function table of v0\.1\.2 is not in"):
        cvt.convert_files(_args("0.1.2"), [_nnp(tmp_path)], str(tmp_path / "o.nnp"))
    assert not os.path.exists(tmp_path / ".nnabla" / "function_info_0.1.2.yaml")
