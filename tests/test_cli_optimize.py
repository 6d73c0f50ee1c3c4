"""nnabla_cli optimize (affine folding) and function_info -c / --api, against numpy."""
import zipfile

import numpy as np
import pytest

import nnabla as nn
from nnabla.core import graph_def
from nnabla.utils.cli import cli

NET = """
network {
  name: "Runtime" batch_size: 2
  variable { name: "x" type: "Buffer" shape { dim: -1 dim: 4 } }
  variable { name: "x3" type: "Buffer" shape { dim: -1 dim: 1 dim: 4 } }
  variable { name: "mm/W" type: "Parameter" shape { dim: 4 dim: 3 } }
  variable { name: "w3" type: "Buffer" shape { dim: 1 dim: 4 dim: 3 } }
  variable { name: "mm/b" type: "Parameter" shape { dim: 1 dim: 1 dim: 3 } }
  variable { name: "h0" type: "Buffer" shape { dim: -1 dim: 1 dim: 3 } }
  variable { name: "h1" type: "Buffer" shape { dim: -1 dim: 1 dim: 3 } }
  variable { name: "h2" type: "Buffer" shape { dim: -1 dim: 1 dim: 3 } }
  variable { name: "h3" type: "Buffer" shape { dim: -1 dim: 1 dim: 3 } }
  variable { name: "h4" type: "Buffer" shape { dim: -1 dim: 1 dim: 3 } }
  variable { name: "h5" type: "Buffer" shape { dim: -1 dim: 3 } }
  variable { name: "fc/W" type: "Parameter" shape { dim: 3 dim: 2 } }
  variable { name: "fc/b" type: "Parameter" shape { dim: 2 } }
  variable { name: "s" type: "Parameter" shape { dim: 1 dim: 2 } }
  variable { name: "t" type: "Parameter" shape { dim: 2 } }
  variable { name: "z0" type: "Buffer" shape { dim: -1 dim: 2 } }
  variable { name: "z1" type: "Buffer" shape { dim: -1 dim: 2 } }
  variable { name: "y" type: "Buffer" shape { dim: -1 dim: 2 } }
  function { name: "rx" type: "Reshape" input: "x" output: "x3"
             reshape_param { shape { dim: -1 dim: 1 dim: 4 } } }
  function { name: "rw" type: "Reshape" input: "mm/W" output: "w3"
             reshape_param { shape { dim: 1 dim: 4 dim: 3 } } }
  function { name: "mm" type: "BatchMatmul" input: "x3" input: "w3" output: "h0"
             batch_matmul_param { transpose_a: false transpose_b: false } }
  function { name: "bias" type: "Add2" input: "h0" input: "mm/b" output: "h1" }
  function { name: "scale" type: "MulScalar" input: "h1" output: "h2"
             mul_scalar_param { val: 2.0 } }
  function { name: "shift" type: "AddScalar" input: "h2" output: "h3"
             add_scalar_param { val: 0.5 } }
  function { name: "act" type: "ReLU" input: "h3" output: "h4" }
  function { name: "flat" type: "Reshape" input: "h4" output: "h5"
             reshape_param { shape { dim: -1 dim: 3 } } }
  function { name: "fc" type: "Affine" input: "h5" input: "fc/W" input: "fc/b" output: "z0"
             affine_param { base_axis: 1 } }
  function { name: "mul" type: "Mul2" input: "s" input: "z0" output: "z1" }
  function { name: "sub" type: "Sub2" input: "z1" input: "t" output: "y" }
}
executor {
  name: "Runtime" network_name: "Runtime"
  data_variable { variable_name: "x" data_name: "x" }
  output_variable { variable_name: "y" data_name: "y" }
}
"""


def _params():
    rng = np.random.RandomState(1)
    return {"mm/W": rng.randn(4, 3), "mm/b": rng.randn(1, 1, 3), "fc/W": rng.randn(3, 2),
            "fc/b": rng.randn(2), "s": rng.randn(1, 2), "t": rng.randn(2)}


def _numpy_forward(p, x):
    h = np.maximum((x[:, None, :] @ p["mm/W"][None] + p["mm/b"]) * 2.0 + 0.5, 0)
    return p["s"] * (h.reshape(-1, 3) @ p["fc/W"] + p["fc/b"]) - p["t"]


def _run_executor(path, x):
    with nn.parameter_scope("", {}):
        info = nn.utils.load.load([str(path)], batch_size=len(x))
        ex = info.executors["Runtime"]
        next(iter(ex.dataset_assign)).variable.d = x
        ex.forward_target.forward()
        return next(iter(ex.output_assign)).variable.d.copy()


@pytest.fixture
def model(tmp_path):
    params = _params()
    with nn.parameter_scope("", {}):
        for k, v in params.items():
            nn.parameter.get_parameter_or_create(k, v.shape).d = v
        nn.save_parameters(str(tmp_path / "parameter.h5"))
    path = tmp_path / "model.nnp"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("nnp_version.txt", "0.1\n")
        z.writestr("network.nntxt", NET)
        z.write(tmp_path / "parameter.h5", "parameter.h5")
    return path, params


def test_optimize_folds_into_affine_same_outputs(model, tmp_path, capsys):
    path, params = model
    out = tmp_path / "opt.nnp"
    assert cli.run(["optimize", str(path), str(out)]) == 0
    assert "11 functions" in capsys.readouterr().out
    net = graph_def.load(str(out)).default_graph()
    types = [f.type for f in net.forward_sequence()]
    assert types == ["Reshape", "Affine", "ReLU", "Reshape", "Affine"]
    assert net.inputs == ["x"] and net.outputs == ["y"]
    x = np.random.RandomState(2).randn(5, 4).astype(np.float32)
    want = _numpy_forward(params, x.astype(np.float64))
    np.testing.assert_allclose(_run_executor(path, x), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_run_executor(out, x), want, rtol=1e-5, atol=1e-5)
    with nn.parameter_scope("", {}):  # the folded-away parameters are not kept
        nn.load_parameters(str(out))
        kept = nn.get_parameters(grad_only=False)
    assert len(kept) == 4 and not {"s", "t", "mm/b"} & set(kept)


def test_optimize_errors(model, tmp_path, capsys):
    path, _ = model
    assert cli.run(["optimize", str(tmp_path / "in.pb"), str(tmp_path / "out.pb")]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "TensorFlow" in err and "in.pb" in err
    assert cli.run(["optimize", str(tmp_path / "none.nnp"), str(tmp_path / "o.nnp")]) == 1
    assert "none.nnp" in capsys.readouterr().err
    assert cli.run(["optimize", str(path), str(tmp_path / "o.onnx")]) == 1
    assert not (tmp_path / "o.onnx").exists() and not (tmp_path / "o.nnp").exists()


def test_optimize_keeps_non_affine_operations(model, tmp_path):
    path, params = model
    with zipfile.ZipFile(path) as z:
        h5 = z.read("parameter.h5")
    squared = tmp_path / "squared.nnp"
    with zipfile.ZipFile(squared, "w") as z:  # z1 = z0 * z0: not foldable into weights
        z.writestr("nnp_version.txt", "0.1\n")
        z.writestr("network.nntxt",
                   NET.replace('input: "s" input: "z0"', 'input: "z0" input: "z0"'))
        z.writestr("parameter.h5", h5)
    out = tmp_path / "opt.nnp"
    assert cli.run(["optimize", str(squared), str(out)]) == 0
    types = [f.type for f in graph_def.load(str(out)).default_graph().forward_sequence()]
    assert types == ["Reshape", "Affine", "ReLU", "Reshape", "Affine", "Mul2", "Sub2"]
    x = np.random.RandomState(3).randn(2, 4).astype(np.float32)
    h = np.maximum((x[:, None, :] @ params["mm/W"][None] + params["mm/b"]) * 2.0 + 0.5, 0)
    z0 = h.reshape(-1, 3) @ params["fc/W"] + params["fc/b"]
    np.testing.assert_allclose(_run_executor(out, x), z0 * z0 - params["t"], rtol=1e-5, atol=1e-5)


def _listing(capsys, *argv):
    assert cli.run([str(a) for a in argv]) == 0
    captured = capsys.readouterr()
    return captured.out.splitlines()[1:], captured.err  # [0]: the CLI's banner


def test_function_info_config_selects_functions(tmp_path, capsys):
    config = tmp_path / "device.txt"
    config.write_text("; functions of my device\nAffine, FLOAT32\nReLU\nConvolution,FIXED16\n"
                      "Sinc\n")
    out, _ = _listing(capsys, "function_info", "-c", config)
    assert sorted(out) == ["Affine", "Convolution", "ReLU", "Sinc"]
    out, _ = _listing(capsys, "function_info", "-c", config, "-x", "ReLU")
    assert sorted(out) == ["Affine", "Convolution", "Sinc"]
    out, err = _listing(capsys, "function_info", "-f", "NNB", "-c", config)
    assert sorted(out) == ["Affine", "Convolution", "ReLU"]  # nnabla-c-runtime has no Sinc
    assert err.splitlines()[1:] == ["Sinc"]
    opset11, _ = _listing(capsys, "function_info", "-f", "ONNX", "-c", "opset_11")
    opset12, _ = _listing(capsys, "function_info", "-f", "ONNX", "-c", "opset_12")
    assert "Affine" in opset11 and "Einsum" not in opset11 and "Einsum" in opset12
    assert cli.run(["function_info", "-f", "ONNX", "-c", str(config)]) == 1
    assert "opset_N" in capsys.readouterr().err
    config.write_text("Affine\nNoSuchFunction\n")
    assert cli.run(["function_info", "-c", str(config)]) == 1
    assert "NoSuchFunction" in capsys.readouterr().err
    assert cli.run(["function_info", "-c", str(tmp_path / "none.txt")]) == 1
    assert "none.txt" in capsys.readouterr().err


def test_function_info_api_levels(tmp_path, capsys):
    level1, _ = _listing(capsys, "function_info", "--api", "1")
    assert level1[0] == "API_LEVEL: 1"
    assert {"Affine_i", "AddScalar_f", "Convolution_iiIiIiIi"} <= set(level1[1:])
    assert "Sinc_Empty" not in level1 and "AddScalar_fB" not in level1
    newest, _ = _listing(capsys, "function_info", "--api", "-1")
    assert len(newest) == 1 and newest[0].startswith("API_LEVEL: ")
    top = int(newest[0].split()[1])
    assert top > 1
    latest, _ = _listing(capsys, "function_info", "--api", top)
    assert {"Sinc_Empty", "AddScalar_fB", "Affine_i"} <= set(latest[1:])
    assert len(latest) > len(level1)
