"""nnabla_cli end to end on small projects the tests write: train against a numpy SGD
reference, forward/infer against numpy forwards, profile, compare_with_cpu, parameter text
files, plots, datasets and the command line's errors and exit codes."""
import csv
import os
import subprocess
import sys
import tarfile
import tomllib
import zipfile

import numpy as np
import pytest
from PIL import Image

import nnabla as nn
from nnabla.utils.cli import cli
from nnabla.utils.cli.train import reserved_value

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

REGRESSION = """
global_config { default_context { backends: "cpu:float" array_class: "CpuCachedArray" } }
training_config { max_epoch: %(epochs)d iter_per_epoch: 6 save_best: true monitor_interval: 1 }
network {
  name: "Main"  batch_size: 4
  variable { name: "x" type: "Buffer" shape { dim: -1 dim: 3 } }
  variable { name: "y" type: "Buffer" shape { dim: -1 dim: 1 } }
  variable { name: "fc/W" type: "Parameter" shape { dim: 3 dim: 1 }
             initializer { type: "NormalAffineGlorot" multiplier: 1 } }
  variable { name: "fc/b" type: "Parameter" shape { dim: 1 }
             initializer { type: "Constant" multiplier: 0 } }
  variable { name: "pred" type: "Buffer" shape { dim: -1 dim: 1 } }
  variable { name: "loss" type: "Buffer" shape { dim: -1 dim: 1 } }
  function { name: "Affine" type: "Affine" input: "x" input: "fc/W" input: "fc/b"
             output: "pred" affine_param { base_axis: 1 } }
  function { name: "SquaredError" type: "SquaredError" input: "pred" input: "y" output: "loss" }
}
network {
  name: "Runtime"  batch_size: 4
  variable { name: "x" type: "Buffer" shape { dim: -1 dim: 3 } }
  variable { name: "fc/W" type: "Parameter" shape { dim: 3 dim: 1 } }
  variable { name: "fc/b" type: "Parameter" shape { dim: 1 } }
  variable { name: "pred" type: "Buffer" shape { dim: -1 dim: 1 } }
  function { name: "Affine" type: "Affine" input: "x" input: "fc/W" input: "fc/b"
             output: "pred" affine_param { base_axis: 1 } }
}
dataset { name: "Training" uri: "%(csv)s" cache_dir: "%(cache)s" overwrite_cache: true
          create_cache_explicitly: true shuffle: false batch_size: 4
          variable: "x" variable: "y" }
dataset { name: "Validation" uri: "%(csv)s" shuffle: false batch_size: 4
          variable: "x" variable: "y" }
optimizer {
  name: "Optimizer" update_interval: 1 network_name: "Main" dataset_name: "Training"
  solver { type: "Sgd" sgd_param { lr: 0.1 } lr_decay: 1 lr_decay_interval: 1 }
  data_variable { variable_name: "x" data_name: "x" }
  data_variable { variable_name: "y" data_name: "y" }
  loss_variable { variable_name: "loss" }
  parameter_variable { variable_name: "fc/W" learning_rate_multiplier: 1 }
  parameter_variable { variable_name: "fc/b" learning_rate_multiplier: 1 }
}
monitor {
  name: "valid_error" network_name: "Main" dataset_name: "Validation"
  data_variable { variable_name: "x" data_name: "x" }
  data_variable { variable_name: "y" data_name: "y" }
  monitor_variable { type: "Error" variable_name: "loss" }
}
executor {
  name: "Executor" network_name: "Runtime"
  data_variable { variable_name: "x" data_name: "x" }
  output_variable { variable_name: "pred" data_name: "y'" }
  parameter_variable { variable_name: "fc/W" }
  parameter_variable { variable_name: "fc/b" }
}
"""

W0 = np.array([[0.3], [-0.2], [0.1]], np.float32)
B0 = np.array([0.05], np.float32)


def run(*argv):
    return cli.run([str(a) for a in argv])


def read_report(path):
    report, epoch = {}, None
    for line in open(path):
        if not line.startswith(" "):
            epoch = int(line.rstrip(":\n"))
            report[epoch] = {}
        else:
            key, value = line.strip().split(": ")
            report[epoch][key] = float(value)
    return report


def nnp_parameters(path):
    with nn.parameter_scope("", {}):
        nn.load_parameters(path)
        return {k: v.d.copy() for k, v in nn.get_parameters(grad_only=False).items()}


def numpy_sgd(x, y, epochs, lr=0.1, batch=4):
    """NNabla's train on the regression project: (per-epoch cost, per-epoch valid error, W, b)."""
    w, b = W0.astype(np.float64), B0.astype(np.float64)
    costs, errors = [], []
    for _ in range(epochs):
        losses = []
        for i in range(0, len(x), batch):
            xb, yb = x[i:i + batch], y[i:i + batch]
            r = xb @ w + b - yb
            losses.append(np.mean(r ** 2))
            g = 2 * r / r.size  # the loss gradient is seeded with 1/size
            w, b = w - lr * xb.T @ g, b - lr * g.sum(0)
        costs.append(np.mean(losses))
        errors.append(np.mean([np.mean((x[i:i + batch] @ w + b - y[i:i + batch]) ** 2)
                               for i in range(0, len(x), batch)]))
    return costs, errors, w, b


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    d = tmp_path_factory.mktemp("regression")
    rng = np.random.RandomState(0)
    x = rng.uniform(-1, 1, (24, 3)).round(3)
    y = (x @ [[0.5], [-1.0], [0.25]] + 0.1).round(4)
    with open(d / "train.csv", "w") as f:
        f.write("x__0,x__1,x__2,y\n")
        f.writelines(",".join(map(str, list(a) + list(b))) + "\n" for a, b in zip(x, y))
    for epochs in (1, 2):
        (d / f"net{epochs}.nntxt").write_text(REGRESSION % dict(
            epochs=epochs, csv=d / "train.csv", cache=d / "train.cache"))
    with nn.parameter_scope("", {}):
        nn.parameter.get_parameter_or_create("fc/W", W0.shape).d = W0
        nn.parameter.get_parameter_or_create("fc/b", B0.shape).d = B0
        nn.save_parameters(str(d / "init.h5"))
    assert run("train", "-c", d / "net2.nntxt", "-p", d / "init.h5", "-o", d / "out") == 0
    return d, x.astype(np.float32), y.astype(np.float32)


def test_train_equals_numpy_sgd(project):
    d, x, y = project
    costs, errors, w, b = numpy_sgd(x.astype(np.float64), y.astype(np.float64), 2)
    report = read_report(d / "out" / "monitoring_report.yml")
    assert sorted(report) == [0, 1]
    np.testing.assert_allclose([report[e]["cost"] for e in (0, 1)], costs, rtol=1e-5)
    np.testing.assert_allclose([report[e]["valid_error"] for e in (0, 1)], errors, rtol=1e-5)
    assert costs[1] < costs[0]
    for name in ("results.nnp", "results_current_2.nnp"):
        params = nnp_parameters(str(d / "out" / name))
        np.testing.assert_allclose(params["fc/W"], w, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(params["fc/b"], b, rtol=1e-5, atol=1e-6)
    with zipfile.ZipFile(d / "out" / "results.nnp") as z:
        assert {"nnp_version.txt", "net2.nntxt", "parameter.h5"} <= set(z.namelist())
    assert os.path.exists(d / "train.cache" / "cache_index.csv")
    assert (d / "out" / "progress.txt").read_text() == ""  # emptied when training ends
    log = (d / "out" / "log.txt").read_text()
    assert "epoch 2 of 2 cost=%.6f" % costs[1] in log and "Training Completed." in log


def test_train_resume_continues_from_last_epoch(project, tmp_path):
    d, x, y = project
    out = tmp_path / "out"
    assert run("train", "-c", d / "net1.nntxt", "-p", d / "init.h5", "-o", out) == 0
    assert os.path.exists(out / "results_current_1.nnp")
    assert run("train", "-c", d / "net2.nntxt", "-o", out, "-r") == 0
    _, _, w, b = numpy_sgd(x.astype(np.float64), y.astype(np.float64), 2)
    params = nnp_parameters(str(out / "results_current_2.nnp"))
    np.testing.assert_allclose(params["fc/W"], w, rtol=1e-5, atol=1e-6)
    assert not os.path.exists(out / "results_current_1.nnp")
    assert sorted(read_report(out / "monitoring_report.yml")) == [0, 1]


def test_forward_csv_equals_numpy_forward(project, tmp_path):
    d, x, _ = project
    assert run("forward", "-c", d / "out" / "results.nnp", "-d", d / "train.csv",
               "-o", tmp_path) == 0
    with open(tmp_path / "output_result.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["x__0", "x__1", "x__2", "y", "y'"]
    assert len(rows) == 25
    params = nnp_parameters(str(d / "out" / "results.nnp"))
    expected = x @ params["fc/W"] + params["fc/b"]
    got = np.array([float(r[4]) for r in rows[1:]])
    np.testing.assert_allclose(got, expected[:, 0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.array([[float(c) for c in r[:3]] for r in rows[1:]]), x)


def test_infer_raw_binary_files(project, tmp_path):
    d, x, _ = project
    x[:2].tofile(tmp_path / "in.bin")
    prefix = tmp_path / "res"
    assert run("infer", "-c", d / "out" / "results.nnp", "-b", 2, "-e", "Executor",
               "-o", prefix, tmp_path / "in.bin") == 0
    params = nnp_parameters(str(d / "out" / "results.nnp"))
    expected = x[:2] @ params["fc/W"] + params["fc/b"]
    for i in range(2):  # one file per sample, NNabla's layout
        np.testing.assert_allclose(np.fromfile(f"{prefix}_{i}.bin", np.float32), expected[i],
                                   rtol=1e-6)
    assert run("infer", "-c", d / "out" / "results.nnp", "-e", "Nope", tmp_path / "in.bin") == 1


def test_profile_writes_times(project, tmp_path):
    d, _, _ = project
    assert run("profile", "-c", d / "net2.nntxt", "-o", tmp_path, "--min-time", 0,
               "--min-count", 2) == 0
    with open(tmp_path / "profile.csv") as f:
        table = {r[0]: r[1:] for r in csv.reader(f)}
    assert table["time in ms"] == ["optimizer 'Optimizer' with network 'Main'"]
    for row in ("forward_function (Affine : Affine)", "backward_function (Affine : Affine)",
                "forward_all", "backward_all", "update (Sgd)", "training_step (fused)"):
        assert float(table[row][0]) > 0


def test_compare_with_cpu_same_step(project, tmp_path):
    d, _, _ = project
    assert run("compare_with_cpu", "-c", d / "net2.nntxt", "-c2", d / "net2.nntxt",
               "-o", tmp_path) == 0
    with open(tmp_path / "compare_with_cpu.csv") as f:
        table = {r[0]: r[1:] for r in csv.reader(f)}
    assert {"forward_function (Affine, pred)", "backward_function (Affine, fc/W)",
            "update (Sgd, fc/W)"} <= set(table)
    for k, v in table.items():
        if k != "1-Correl":
            assert float(v[0]) < 1e-5, k


def test_encode_decode_param_bit_exact(tmp_path):
    rng = np.random.RandomState(3)
    values = {"a/W": rng.randn(3, 4).astype(np.float32), "a/b": rng.randn(4).astype(np.float32),
              "c d/%x": np.float32([1e-38, -3.4e38, np.pi])}
    with nn.parameter_scope("", {}):
        for k, v in values.items():
            nn.parameter.get_parameter_or_create(k, v.shape).d = v
        nn.save_parameters(str(tmp_path / "p.h5"))
    assert run("decode_param", "-p", tmp_path / "p.h5", "-o", tmp_path / "txt") == 0
    assert sorted(os.listdir(tmp_path / "txt")) == ["a~W.txt", "a~b.txt", "c d~%25x.txt"]
    assert (tmp_path / "txt" / "a~W.txt").read_text().splitlines()[0] == "(3, 4)"
    assert run("encode_param", "-i", tmp_path / "txt", "-p", tmp_path / "q.h5") == 0
    back = nnp_parameters(str(tmp_path / "q.h5"))
    assert set(back) == set(values)
    for k, v in values.items():
        assert back[k].tobytes() == v.tobytes(), k


def test_plot_series_and_timer_write_png(tmp_path):
    m = nn.monitor.Monitor(str(tmp_path))
    s = nn.monitor.MonitorSeries("loss", m, interval=1)
    t = nn.monitor.MonitorTimeElapsed("time", m, interval=1)
    for i in range(5):
        s.add(i, 1.0 / (i + 1))
        t.add(i)
    assert run("plot_series", tmp_path / "loss.series.txt", "-o", tmp_path / "s.png",
               "-l", "train", "-x", "iter", "-T", 2) == 0
    assert run("plot_timer", tmp_path / "time.timer.txt", "-o", tmp_path / "t.png", "-e") == 0
    for name in ("s.png", "t.png"):
        with Image.open(tmp_path / name) as im:
            assert im.format == "PNG" and im.size[0] > 100


def test_function_info_lists_functions(project, tmp_path, capsys):
    from nnabla._registry import REGISTRY
    from nnabla._specs import DECLARED
    d, _, _ = project
    assert run("function_info", "-o", tmp_path / "all.txt") == 0
    listed = (tmp_path / "all.txt").read_text().split()
    assert set(listed) == {n for n in DECLARED if n in REGISTRY} and len(listed) > 200
    capsys.readouterr()
    assert run("function_info", d / "out" / "results.nnp") == 0
    assert capsys.readouterr().out.splitlines()[1:] == ["Affine", "SquaredError"]


def test_version(capsys):
    assert run("version") == 0
    out = capsys.readouterr().out
    assert f"Version:{nn.__version__}" in out and "NNabla API 1.36.0" in out


def test_errors_are_one_line_with_exit_status(project, tmp_path, capsys):
    d, _, _ = project
    with pytest.raises(SystemExit) as e:
        run("no_such_command")
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        run("train", "-c", d / "net2.nntxt")  # -o missing
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("nnabla_cli") for line in err)
    missing = tmp_path / "missing.nntxt"
    assert run("train", "-c", missing, "-o", tmp_path / "o") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(missing) in err[0]
    bad = tmp_path / "bad.nntxt"
    bad.write_text("network { name: \"n\" ")
    assert run("forward", "-c", bad, "-d", d / "train.csv", "-o", tmp_path / "f") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.nntxt" in err[0]
    assert not os.path.exists(tmp_path / "f" / "output_result.csv")
    assert run("upload", "-e", "http://127.0.0.1:9", "token", d / "train.csv") == 1
    assert "cannot reach" in capsys.readouterr().err


def test_console_script_and_module_entry(tmp_path):
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    assert scripts["nnabla_cli"] == "nnjax.utils.cli.cli:main"
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-m", "nnabla.utils.cli.cli", "version"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0 and f"Version:{nn.__version__}" in r.stdout
    r = subprocess.run([sys.executable, "-m", "nnabla.utils.cli.cli", "forward", "-c",
                        tmp_path / "none.nnp", "-o", tmp_path], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0 and "none.nnp" in r.stderr


def test_reserved_values():
    assert reserved_value("%iter", 13, 6, 3) == 13
    assert reserved_value("%max_iter", 13, 6, 3) == 18
    assert reserved_value("%epoch", 13, 6, 3) == 2
    assert reserved_value("%epochf", 13, 6, 3) == pytest.approx(13 / 6)
    assert reserved_value("%max_epoch", 13, 6, 3) == 3
    assert reserved_value("%progress", 13, 6, 3) == pytest.approx(13 / 18)
    with pytest.raises(ValueError, match="%nope"):
        reserved_value("%nope", 1, 1, 1)


def test_conv_dataset_and_create_tar(project, tmp_path):
    d, x, y = project
    dest = tmp_path / "t.cache"
    assert run("conv_dataset", d / "train.csv", dest) == 0
    assert run("conv_dataset", d / "train.csv", dest) == 1  # exists, no -F
    assert run("conv_dataset", "-F", d / "train.csv", dest) == 0
    from nnabla.utils.data_iterator import data_iterator_cache
    with data_iterator_cache(str(dest), 24, shuffle=False, normalize=False) as di:
        batch = dict(zip(di.variables, di.next()))
    np.testing.assert_allclose(batch["x"], x)
    np.testing.assert_allclose(batch["y"], y)
    img = tmp_path / "img"
    img.mkdir()
    Image.fromarray(np.full((4, 4), 7, np.uint8)).save(img / "a.png")
    (img / "list.csv").write_text("x:image,y\n./a.png,1\n")
    assert run("create_tar", img / "list.csv", tmp_path / "ds.tar") == 0
    with tarfile.open(tmp_path / "ds.tar") as t:
        names = t.getnames()
        index = t.extractfile("index.csv").read().decode().splitlines()
    assert names == ["index.csv", "data/000000000000_a.png"]
    assert index == ["x:image,y", "data/000000000000_a.png,1"]


CNN = """
training_config { max_epoch: 4 iter_per_epoch: 3 save_best: false monitor_interval: 1 }
network {
  name: "Main" batch_size: 4
  variable { name: "x" type: "Buffer" shape { dim: -1 dim: 1 dim: 6 dim: 6 } }
  variable { name: "y" type: "Buffer" shape { dim: -1 dim: 1 } }
  variable { name: "conv/W" type: "Parameter" shape { dim: 2 dim: 1 dim: 3 dim: 3 }
             initializer { type: "NormalConvolutionHeForward" multiplier: 1 } }
  variable { name: "conv/b" type: "Parameter" shape { dim: 2 }
             initializer { type: "Constant" multiplier: 0 } }
  variable { name: "fc/W" type: "Parameter" shape { dim: 32 dim: 2 }
             initializer { type: "NormalAffineHeForward" multiplier: 1 } }
  variable { name: "fc/b" type: "Parameter" shape { dim: 2 }
             initializer { type: "Constant" multiplier: 0 } }
  variable { name: "h" type: "Buffer" shape { dim: -1 dim: 2 dim: 4 dim: 4 } }
  variable { name: "r" type: "Buffer" shape { dim: -1 dim: 2 dim: 4 dim: 4 } }
  variable { name: "z" type: "Buffer" shape { dim: -1 dim: 2 } }
  variable { name: "p" type: "Buffer" shape { dim: -1 dim: 2 } }
  variable { name: "loss" type: "Buffer" shape { dim: -1 dim: 1 } }
  function { name: "Conv" type: "Convolution" input: "x" input: "conv/W" input: "conv/b"
             output: "h" convolution_param { base_axis: 1 pad { dim: 0 dim: 0 }
             stride { dim: 1 dim: 1 } dilation { dim: 1 dim: 1 } group: 1 } }
  function { name: "ReLU" type: "ReLU" input: "h" output: "r" }
  function { name: "Affine" type: "Affine" input: "r" input: "fc/W" input: "fc/b" output: "z"
             affine_param { base_axis: 1 } }
  function { name: "Softmax" type: "Softmax" input: "z" output: "p" softmax_param { axis: 1 } }
  function { name: "Loss" type: "SoftmaxCrossEntropy" input: "z" input: "y" output: "loss"
             softmax_cross_entropy_param { axis: 1 } }
}
dataset { name: "Training" uri: "%(train)s" shuffle: true batch_size: 4
          variable: "x" variable: "y" }
optimizer {
  name: "Optimizer" network_name: "Main" dataset_name: "Training" update_interval: 1
  solver { type: "Adam" adam_param { alpha: 0.05 beta1: 0.9 beta2: 0.999 eps: 1e-08 } }
  data_variable { variable_name: "x" data_name: "x" }
  data_variable { variable_name: "y" data_name: "y" }
  loss_variable { variable_name: "loss" }
  parameter_variable { variable_name: "conv/W" learning_rate_multiplier: 1 }
  parameter_variable { variable_name: "conv/b" learning_rate_multiplier: 1 }
  parameter_variable { variable_name: "fc/W" learning_rate_multiplier: 1 }
  parameter_variable { variable_name: "fc/b" learning_rate_multiplier: 1 }
}
executor {
  name: "Executor" network_name: "Main"
  data_variable { variable_name: "x" data_name: "x" }
  output_variable { variable_name: "p" data_name: "y'" }
}
"""


def test_images_to_dataset_train_forward_infer(tmp_path):
    src = tmp_path / "src"
    rng = np.random.RandomState(0)
    for label, (lo, hi) in enumerate([(0, 60), (190, 255)]):
        (src / f"class{label}").mkdir(parents=True)
        for i in range(8):  # 12x9 RGB images: trimmed to square, resized to 6x6, made gray
            im = rng.randint(lo, hi, (9, 12, 3)).astype(np.uint8)
            Image.fromarray(im).save(src / f"class{label}" / f"{i}.png")
    Image.fromarray(np.full((9, 12), 100, np.uint8)).save(src / "class0" / "flat.png")
    ds = tmp_path / "ds"
    assert run("create_image_classification_dataset", "-i", src, "-o", ds, "-c", 1, "-w", 6,
               "-g", 6, "-m", "trimming", "-s", "false", "-f1", "train.csv", "-r1", 75,
               "-f2", "test.csv", "-r2", 25) == 0
    rows = [r for r in csv.reader(open(ds / "train.csv"))]
    test_rows = [r for r in csv.reader(open(ds / "test.csv"))]
    assert rows[0] == ["x:image", "y:label"] and len(rows) - 1 == 12 and len(test_rows) - 1 == 5
    flat = np.asarray(Image.open(ds / "class0" / "flat.png"))
    assert flat.shape == (6, 6) and (flat == 100).all()
    (tmp_path / "cnn.nntxt").write_text(CNN % dict(train=ds / "train.csv"))
    out = tmp_path / "out"
    assert run("train", "-c", tmp_path / "cnn.nntxt", "-o", out) == 0
    report = read_report(out / "monitoring_report.yml")
    assert report[3]["cost"] < report[0]["cost"]
    assert run("forward", "-c", out / "results.nnp", "-d", ds / "train.csv", "-o", out) == 0
    result = list(csv.reader(open(out / "output_result.csv")))
    assert result[0] == ["x:image", "y:label", "y'__0", "y'__1"]
    # the same forward in process: load results.nnp, feed the PNGs scaled to [0, 1]
    images = np.stack([np.asarray(Image.open(os.path.join(ds, r[0])), np.float32)[None] / 255
                       for r in rows[1:]])
    with nn.parameter_scope("", {}):
        info = nn.utils.load.load([str(out / "results.nnp")], batch_size=12)
        ex = info.executors["Executor"]
        xv = next(iter(ex.dataset_assign)).variable
        xv.d = images
        ex.forward_target.forward()
        probs = next(iter(ex.output_assign)).variable.d.copy()
    got = np.array([[float(c) for c in r[2:]] for r in result[1:]])
    np.testing.assert_allclose(got, probs, rtol=1e-5, atol=1e-6)
    images[:1].tofile(tmp_path / "one.bin")
    assert run("infer", "-c", out / "results.nnp", "-o", tmp_path / "one",
               tmp_path / "one.bin") == 0
    np.testing.assert_allclose(np.fromfile(tmp_path / "one_0.bin", np.float32), probs[0],
                               rtol=1e-5, atol=1e-6)


def test_create_object_detection_dataset(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    rng = np.random.RandomState(0)
    im = rng.randint(0, 255, (8, 16)).astype(np.uint8)  # h=8, w=16: trimmed to columns 4..11
    Image.fromarray(im).save(src / "sub" / "a.png")
    (src / "sub" / "a.txt").write_text("2 0.4 0.5 0.25 0.25\n")
    Image.fromarray(im[:, :8]).save(src / "b.png")  # already 8x8
    (src / "b.txt").write_text("1 0.8 0.2 0.5 0.25\n")
    out = tmp_path / "ds"
    assert run("create_object_detection_dataset", "-i", src, "-o", out, "-n", 3, "-c", 1,
               "-w", 8, "-g", 8, "-a", 1, "-d", 4, "-m", "trimming", "-s", "false",
               "-f1", "train.csv") == 0
    rows = list(csv.reader(open(out / "train.csv")))
    assert rows == [["x:image", "y:label", "r:region"],
                    ["./data/b.png", "./data/b_label.csv", "./data/b_region.csv"],
                    ["./data/sub/a.png", "./data/sub/a_label.csv", "./data/sub/a_region.csv"]]
    np.testing.assert_array_equal(np.asarray(Image.open(out / "data" / "sub" / "a.png")),
                                  im[:, 4:12])
    # a: cx 0.4 of 16 px -> (6.4 - 4) / 8 = 0.3 of the cut, w 0.25 -> 0.5; cell (gy 1, gx 0)
    label = np.loadtxt(out / "data" / "sub" / "a_label.csv", delimiter=",")
    np.testing.assert_array_equal(label, [[-1, -1], [2, -1]])
    region = np.loadtxt(out / "data" / "sub" / "a_region.csv", delimiter=",").reshape(2, 2, 4)
    np.testing.assert_allclose(region[1, 0], [(0.3 - 0.25) * 2 + 0.5, (0.5 - 0.75) * 2 + 0.5,
                                              np.log(0.5 * 2), np.log(0.25 * 2)], atol=1e-6)
    assert not region[0].any() and not region[1, 1].any()
    label_b = np.loadtxt(out / "data" / "b_label.csv", delimiter=",")
    np.testing.assert_array_equal(label_b, [[-1, 1], [-1, -1]])
    from nnabla.utils.cli.create_object_detection_dataset import anchors_of
    wh = [[0.1, 0.1], [0.12, 0.1], [0.5, 0.6], [0.6, 0.5]]
    np.testing.assert_allclose(anchors_of(wh, 2), [[0.11, 0.1], [0.55, 0.55]])


def test_train_feeds_reserved_variables(project, tmp_path):
    d, x, y = project
    text = (d / "net2.nntxt").read_text()
    text = text.replace(
        'variable { name: "loss" type: "Buffer" shape { dim: -1 dim: 1 } }',
        'variable { name: "loss" type: "Buffer" shape { dim: -1 dim: 1 } }\n'
        '  variable { name: "e" type: "Buffer" shape { dim: 1 dim: 1 } }\n'
        '  variable { name: "wl" type: "Buffer" shape { dim: -1 dim: 1 } }', 1)
    text = text.replace(
        'output: "loss" }\n}',
        'output: "loss" }\n  function { name: "Mul" type: "Mul2" input: "loss" input: "e" '
        'output: "wl" }\n}', 1)
    text = text.replace('loss_variable { variable_name: "loss" }',
                        'data_variable { variable_name: "e" data_name: "%epoch" }\n'
                        '  loss_variable { variable_name: "wl" }')
    text = text.replace('monitor_variable { type: "Error" variable_name: "loss" }',
                        'data_variable { variable_name: "e" data_name: "%epoch" }\n'
                        '  monitor_variable { type: "Error" variable_name: "loss" }')
    (tmp_path / "r.nntxt").write_text(text.replace(str(d / "train.cache"),
                                                   str(tmp_path / "c.cache")))
    assert run("train", "-c", tmp_path / "r.nntxt", "-p", d / "init.h5", "-o", tmp_path) == 0
    # epoch 0 feeds e = 0: nothing is learned; epoch 1 feeds e = 1: one epoch of plain SGD
    costs, _, w, b = numpy_sgd(x.astype(np.float64), y.astype(np.float64), 1)
    report = read_report(tmp_path / "monitoring_report.yml")
    assert report[0]["cost"] == 0.0
    np.testing.assert_allclose(report[1]["cost"], costs[0], rtol=1e-5)
    params = nnp_parameters(str(tmp_path / "results_current_2.nnp"))
    np.testing.assert_allclose(params["fc/W"], w, rtol=1e-5, atol=1e-6)
