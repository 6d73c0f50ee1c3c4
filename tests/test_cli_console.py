"""nnabla_cli through its console script in subprocesses (images -> dataset -> train ->
forward -> infer), the progress display, and what a failing forward leaves behind."""
import csv
import io
import os
import shutil
import subprocess
import sys

import numpy as np
from PIL import Image

import nnabla as nn
from nnabla.utils.cli import cli
from nnabla.utils.cli.utility import TerminalProgress
from test_cli import CNN, read_report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli_command():
    """The installed console script; ``python -m`` of its module when it is not installed
    (a checkout used without ``pip install -e``)."""
    script = shutil.which("nnabla_cli")
    return [script] if script else [sys.executable, "-m", "nnabla.utils.cli.cli"]


def nnabla_cli(*argv):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    r = subprocess.run(cli_command() + [str(a) for a in argv], capture_output=True, text=True,
                       env=env, timeout=300)
    assert "\r" not in r.stderr and "\x1b[" not in r.stderr  # no progress line into a pipe
    return r


def _in_process_probabilities(nnp, images):
    with nn.parameter_scope("", {}):
        info = nn.utils.load.load([str(nnp)], batch_size=len(images))
        ex = info.executors["Executor"]
        next(iter(ex.dataset_assign)).variable.d = images
        ex.forward_target.forward()
        return next(iter(ex.output_assign)).variable.d.copy()


def test_console_script_images_train_forward_infer(tmp_path):
    src = tmp_path / "src"
    rng = np.random.RandomState(5)
    for label, (lo, hi) in enumerate([(0, 70), (180, 255)]):
        (src / f"dark{label}" if label == 0 else src / f"light{label}").mkdir(parents=True)
    for label, folder in enumerate(sorted(os.listdir(src))):
        lo, hi = [(0, 70), (180, 255)][label]
        for i in range(6):  # 10x8 RGB, padded to square and resized to 6x6 gray
            im = rng.randint(lo, hi, (8, 10, 3)).astype(np.uint8)
            Image.fromarray(im).save(src / folder / f"{i}.png")
    ds = tmp_path / "ds"
    r = nnabla_cli("create_image_classification_dataset", "-i", src, "-o", ds, "-c", 1,
                   "-w", 6, "-g", 6, "-m", "padding", "-s", "false", "-f1", "train.csv",
                   "-r1", 100)
    assert r.returncode == 0, r.stderr
    rows = list(csv.reader(open(ds / "train.csv")))
    assert rows[0] == ["x:image", "y:label"] and len(rows) == 13
    assert sorted({r[1] for r in rows[1:]}) == ["0", "1"]
    (tmp_path / "cnn.nntxt").write_text(CNN % dict(train=ds / "train.csv"))
    out = tmp_path / "out"
    r = nnabla_cli("train", "-c", tmp_path / "cnn.nntxt", "-o", out)
    assert r.returncode == 0, r.stderr
    report = read_report(out / "monitoring_report.yml")
    assert sorted(report) == [0, 1, 2, 3] and report[3]["cost"] < report[0]["cost"]
    r = nnabla_cli("forward", "-c", out / "results.nnp", "-d", ds / "train.csv", "-o", out)
    assert r.returncode == 0, r.stderr
    result = list(csv.reader(open(out / "output_result.csv")))
    assert result[0] == ["x:image", "y:label", "y'__0", "y'__1"]
    assert [row[:2] for row in result[1:]] == rows[1:]
    images = np.stack([np.asarray(Image.open(ds / row[0]), np.float32)[None] / 255
                       for row in rows[1:]])
    probs = _in_process_probabilities(out / "results.nnp", images)
    got = np.array([[float(c) for c in row[2:]] for row in result[1:]])
    np.testing.assert_allclose(got, probs, rtol=1e-5, atol=1e-6)
    images[-1:].tofile(tmp_path / "last.bin")
    r = nnabla_cli("infer", "-c", out / "results.nnp", "-o", tmp_path / "last",
                   tmp_path / "last.bin")
    assert r.returncode == 0, r.stderr
    np.testing.assert_allclose(np.fromfile(tmp_path / "last_0.bin", np.float32), probs[-1],
                               rtol=1e-5, atol=1e-6)


class _Stream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


def test_progress_shows_on_a_terminal_only(monkeypatch):
    for tty in (True, False):
        stream = _Stream(tty)
        monkeypatch.setattr(sys, "stderr", stream)
        display = TerminalProgress(4)
        for done in range(1, 5):
            display.show(done, "images")
        display.close()
        text = stream.getvalue()
        if tty:
            assert text.startswith("\r[1/4] images") and "\r[4/4] images" in text
            assert text.endswith("\n")
        else:
            assert text == ""


IMAGE_NET = """
network { name: "R" batch_size: 2
  variable { name: "x" type: "Buffer" shape { dim: -1 dim: 3 } }
  variable { name: "img" type: "Buffer" shape { dim: -1 dim: 1 dim: 1 dim: 3 } }
  function { name: "r" type: "Reshape" input: "x" output: "img"
             reshape_param { shape { dim: -1 dim: 1 dim: 1 dim: 3 } } }
}
executor { name: "E" network_name: "R" data_variable { variable_name: "x" data_name: "x" }
  output_variable { variable_name: "img" data_name: "y'" } }
"""


def test_failing_forward_leaves_no_output(tmp_path, capsys):
    (tmp_path / "img.nntxt").write_text(IMAGE_NET)
    good = ["x__0,x__1,x__2\n"] + ["0.25,0.5,1.0\n"] * 4
    (tmp_path / "good.csv").write_text("".join(good))
    (tmp_path / "bad.csv").write_text("".join(good) + "0.1,oops,0.3\n")  # fails in batch 3
    out = tmp_path / "out"
    assert cli.run(["forward", "-c", str(tmp_path / "img.nntxt"), "-d",
                    str(tmp_path / "bad.csv"), "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "bad.csv" in err and "oops" in err
    assert sorted(os.listdir(out)) == ["progress.txt"]  # no result CSV, no sample images
    assert cli.run(["forward", "-c", str(tmp_path / "img.nntxt"), "-d",
                    str(tmp_path / "good.csv"), "-o", str(out)]) == 0
    result = list(csv.reader(open(out / "output_result.csv")))
    assert [row[3] for row in result[1:]] == [f"./0_0000/{i}.png" for i in range(4)]
    pixels = np.asarray(Image.open(out / "0_0000" / "2.png"))
    np.testing.assert_array_equal(pixels, [[63, 127, 255]])  # (1, 1, 3) -> a 1x3 gray image
