"""nnabla.utils.profiler (GraphProfiler, CSV writer) and nnabla.experimental.viewers."""
import csv
import io
import os

import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.solvers as S
from nnabla.utils.profiler import GraphProfiler, GraphProfilerCsvWriter, ProfileStat

FIELDS = ["parameter_scope", "function_name", "inputs_shape", "args_info",
          "forward", "backward", "forward_n_run", "backward_n_run"]


def small_net(rng):
    x = nn.Variable.from_numpy_array(rng.randn(4, 3).astype(np.float32))
    x.name = "x"
    t = nn.Variable.from_numpy_array(rng.randint(0, 5, (4, 1)))
    with nn.parameter_scope("fc1"):
        h = PF.affine(x, 6)
    h = F.relu(h)
    with nn.parameter_scope("fc2"):
        y = PF.affine(h, 5)
    loss = F.mean(F.softmax_cross_entropy(y, t))
    return loss


def function_names(v):
    names = []
    v.visit(lambda f: names.append(f.info.type_name))
    return names


@pytest.mark.parametrize("with_solver", [True, False])
def test_graph_profiler_and_csv(rng, with_solver):
    loss = small_net(rng)
    solver = None
    if with_solver:
        solver = S.Sgd(0.01)
        solver.set_parameters(nn.get_parameters())
    w_before = nn.get_parameters()["fc1/affine/W"].d.copy()
    B = GraphProfiler(loss, device_id="0", ext_name="cpu", solver=solver, n_run=3,
                      max_measure_execution_time=1, time_scale="u")
    B.run()
    res = B.get_result()
    names = function_names(loss)
    for key in ["forward", "backward"]:
        assert [s.function_name for s in res[key]] == names
        for s in res[key]:
            assert isinstance(s, ProfileStat)
            assert float(s.mean_time) >= 0 and 1 <= s.n_run <= 3
    assert res["forward"][0].parameter_scope == "fc1/affine"
    assert res["forward"][2].parameter_scope == "fc2/affine"
    assert res["forward"][1].parameter_scope is None
    assert res["forward"][0].inputs_shape == [(4, 3), (3, 6), (6,)]
    for key in ["forward_all", "backward_all"]:
        assert float(res[key]) >= 0 and 1 <= res["n_run_" + key] <= 3
    assert ("training" in res) == with_solver
    if with_solver:
        assert float(res["training"]) >= 0
        assert not np.allclose(nn.get_parameters()["fc1/affine/W"].d, w_before)

    buf = io.StringIO()
    writer = GraphProfilerCsvWriter(B, file=buf)
    writer.write()
    rows = list(csv.reader(io.StringIO(buf.getvalue())))
    assert rows[0] == ["num. of run", "3"]
    assert rows[1] == ["device id", "0"]
    assert rows[2] == ["ext name", "cpu"]
    assert rows[3] == ["time scale", "u"]
    assert rows[4] == ["nnabla version", nn.__version__]
    assert rows[5] == []
    assert rows[6] == FIELDS
    body = rows[7:7 + len(names)]
    assert [r[1] for r in body] == names
    assert body[0][0] == "fc1/affine" and body[0][2] == "[(4, 3), (3, 6), (6,)]"
    assert body[0][3] == "base_axis: 1"
    assert body[1][0] == ""
    for r in body:
        assert len(r) == 8 and float(r[4]) >= 0 and float(r[5]) >= 0
        assert 1 <= int(r[6]) <= 3 and 1 <= int(r[7]) <= 3
    tail = rows[7 + len(names):]
    assert tail[0] == [] and tail[1][0] == "forward all" and tail[2][0] == "forward_all_n_run"
    assert tail[3] == [] and tail[4][0] == "backward all" and tail[5][0] == "backward_all_n_run"
    if with_solver:
        assert tail[6] == [] and tail[7][0] == "training(forward + backward + update)"
        assert tail[8][0] == "training_n_run" and len(tail) == 9
    else:
        assert len(tail) == 6


def test_graph_profiler_arguments():
    x = nn.Variable((2, 2))
    y = F.relu(x)
    with pytest.raises(AssertionError):
        GraphProfiler(y, device_id=0, ext_name="cpu", n_run=0)
    with pytest.raises(ValueError, match="time_scale"):
        GraphProfiler(y, device_id=0, ext_name="cpu", time_scale="s")


# ---------------------------------------------------------------- viewer
def viewer_graph(rng):
    x = nn.Variable((2, 3))
    x.name = "x"
    with nn.parameter_scope("conv"):
        h = PF.affine(x, 4)
    h = F.relu(h)
    out = F.add2(h, F.mul_scalar(h, 2.0))
    out.name = "out"
    return out


def count_variables(v):
    seen = set()

    def collect(f):
        for u in list(f.inputs) + list(f.outputs):
            seen.add(id(u))
    v.visit(collect)
    return len(seen)


def test_simple_graph_digraph_source(rng):
    import nnabla.experimental.viewers as V
    out = viewer_graph(rng)
    g = V.SimpleGraph(verbose=True).create_graphviz_digraph(out)
    src = g.source
    for fname in ["Affine-1", "ReLU-1", "MulScalar-1", "Add2-1"]:
        assert f'"{fname}"' in src or f"{fname} [" in src
    assert src.count("var-") >= count_variables(out)
    n_var_nodes = len({tok.split('"')[0] for tok in src.split("var-")[1:]})
    assert n_var_nodes == count_variables(out) == 7
    assert "fc" not in src and "conv/affine" in src  # the Affine's scope
    assert "label=\"W" in src or "label=W" in src
    assert "x\n((2, 3), need_grad=False)" in src
    assert "base_axis" in src  # verbose: args
    assert src.count("->") == 11  # 4 + 2 + 2 + 3 edges


def test_simple_graph_save_renders(rng, tmp_path):
    import shutil
    import nnabla.experimental.viewers as V
    out = viewer_graph(rng)
    fpath = str(tmp_path / "graph")
    if shutil.which("dot") is None:
        with pytest.warns(RuntimeWarning):
            path = V.SimpleGraph(format="svg").save(out, fpath)
        assert path.endswith(".dot")
    else:
        path = V.SimpleGraph(format="svg").save(out, fpath)
        assert path == fpath + ".svg"
        text = open(path).read()
        for name in ["Affine", "ReLU", "MulScalar", "Add2"]:
            assert name in text
        assert os.path.exists(fpath)  # the DOT source is kept (cleanup=False)
        path = V.SimpleGraph().save(out, str(tmp_path / "g2"), cleanup=True)
        assert path.endswith(".png") and not os.path.exists(tmp_path / "g2")
        assert open(path, "rb").read(4) == b"\x89PNG"


def test_simple_graph_without_dot_writes_source(rng, tmp_path, monkeypatch):
    import nnabla.experimental.viewers as V
    out = viewer_graph(rng)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.warns(RuntimeWarning, match="DOT source"):
        path = V.SimpleGraph().save(out, str(tmp_path / "g"))
    assert path == str(tmp_path / "g.dot")
    text = open(path).read()
    assert text.startswith("digraph")
    for name in ["Affine-1", "ReLU-1", "MulScalar-1", "Add2-1"]:
        assert name in text
    # view() headless: renders (or falls back to the source) into a file
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.warns(RuntimeWarning):
        path = V.SimpleGraph().view(out, fpath=str(tmp_path / "v"))
    assert path == str(tmp_path / "v.dot") and os.path.exists(path)


def test_simple_graph_without_graphviz_package(rng, tmp_path, monkeypatch):
    import sys
    import nnabla.experimental.viewers as V
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz fails
    out = viewer_graph(rng)
    g = V.SimpleGraph(fname_color_map={"ReLU": "yellow"},
                      vname_color_map={"out": "blue"}).create_graphviz_digraph(out)
    assert 'color="yellow"' in g.source and 'fillcolor="blue"' in g.source
    with pytest.warns(RuntimeWarning):
        path = V.SimpleGraph().save(out, str(tmp_path / "g.gv"))
    assert path == str(tmp_path / "g.gv")
    assert "Add2-1" in open(path).read()
