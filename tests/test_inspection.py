"""nnabla.utils.inspection: pprint, NanInfTracer, TimeProfiler."""
import csv

import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
from nnabla.utils.inspection import (FunctionHookCallbackBase, NanInfTracer, TimeProfiler,
                                     pprint)


def small_net(rng):
    x = nn.Variable.from_numpy_array(rng.randn(4, 3).astype(np.float32))
    t = nn.Variable.from_numpy_array(rng.randint(0, 5, (4, 1)))
    with nn.parameter_scope("fc1"):
        h = PF.affine(x, 6)
    h = F.tanh(h)
    with nn.parameter_scope("fc2"):
        y = PF.affine(h, 5)
    loss = F.mean(F.softmax_cross_entropy(y, t))
    return x, h, y, loss


def function_names(v):
    names = []
    v.visit(lambda f: names.append(f.info.type_name))
    return names


def test_pprint_names_every_function(rng, capsys):
    _, _, _, loss = small_net(rng)
    assert pprint(loss) is None
    out = capsys.readouterr().out
    for name in ["fc1/affine/Affine(Affine)", "Tanh(Tanh)", "fc2/affine/Affine(Affine)",
                 "SoftmaxCrossEntropy(SoftmaxCrossEntropy)", "Mean(Mean)"]:
        assert name in out
    assert out.count("\tDepth = ") == 5
    assert "Inputs: [(4, 3), (3, 6), (6,)]" in out
    assert "Outputs: [(4, 6)]" in out
    assert "Backward Inputs: [False, True, True]" in out
    assert "Args: ['base_axis=1']" in out
    assert "Med:" not in out


def test_pprint_forward_backward_summary(rng, capsys):
    x, h, _, loss = small_net(rng)
    printer = pprint(loss, forward=True, backward=True, summary=True, hidden=True, printer=True)
    out = capsys.readouterr().out
    for title in ["Input Data:", "Output Data:", "Input Grads:", "Output Grads:"]:
        assert out.count(title) == 5
    assert [f["name"] for f in printer.functions] == [
        "fc1/affine/Affine(Affine)", "Tanh(Tanh)", "fc2/affine/Affine(Affine)",
        "SoftmaxCrossEntropy(SoftmaxCrossEntropy)", "Mean(Mean)"]
    # the printed statistics are those of the values forward computed
    first = printer.functions[0]
    assert first["inputs"][0] is x
    max_line = [line for line in out.splitlines() if "Max:" in line][0]
    assert f"{float(x.d.max())}" in max_line
    tanh_out = printer.functions[1]["outputs"][0]
    np.testing.assert_allclose(tanh_out.d, h.d)
    assert np.all(np.abs(tanh_out.d) <= 1)
    w = nn.get_parameters()["fc1/affine/W"]
    assert np.any(w.g != 0)


def test_nan_inf_tracer_clean_graph(rng):
    _, _, _, loss = small_net(rng)
    nit = NanInfTracer(trace_nan=True, trace_inf=True, need_details=True)
    assert isinstance(nit, FunctionHookCallbackBase)
    with nit.trace():
        loss.forward(function_post_hook=nit.forward_post_hook)
        loss.backward(function_post_hook=nit.backward_post_hook)
    assert list(nit.key_to_stat_fwd) and len(nit.key_to_stat_fwd) == 5
    assert len(nit.key_to_stat_bwd) == 5
    assert nit.pre_hook is None
    with pytest.raises(AttributeError, match="forward_post_hook"):
        nit.post_hook


def test_nan_inf_tracer_finds_log_of_negative(rng, capsys):
    x = nn.Variable.from_numpy_array(-np.abs(rng.randn(3, 4)).astype(np.float32) - 0.5)
    h = F.relu(x * 2.0)            # zeros: fine
    z = F.log(x)                   # log of a negative number: nan
    y = F.sum(z + h)
    nit = NanInfTracer()
    with pytest.raises(ValueError) as e:
        with nit.trace():
            y.forward(function_post_hook=nit.forward_post_hook)
    msg = str(e.value)
    assert "'Log'" in msg and "rank: 0" in msg and "1st output" in msg
    assert "12 nan" in msg
    assert "function type: Log" in msg and "(3, 4)" in msg
    out = capsys.readouterr().out
    assert "Log (rank: 0) <-- ERROR" in out
    assert "Error during forward propagation" in out


def test_nan_inf_tracer_inf_in_backward():
    x = nn.Variable.from_numpy_array(np.array([0.0, 1.0, 4.0], np.float32), need_grad=True)
    y = F.sum(F.pow_scalar(x, 0.5))  # finite forward, d sqrt(x)/dx at 0 is inf
    nit = NanInfTracer(trace_nan=False, trace_inf=True, need_details=False)
    y.forward(function_post_hook=nit.forward_post_hook)
    y.backward(function_post_hook=nit.backward_post_hook)
    with pytest.raises(ValueError) as e:
        nit.check()
    msg = str(e.value)
    assert "'PowScalar'" in msg and "backward" in msg and "1 inf" in msg
    assert "function type" not in msg
    assert np.isinf(x.g[0])


def test_nan_inf_tracer_disabled():
    nit = NanInfTracer(trace_nan=False, trace_inf=False)
    assert nit.forward_post_hook is None and nit.backward_post_hook is None


def test_time_profiler_every_function(rng, tmp_path, capsys):
    _, _, _, loss = small_net(rng)
    names = function_names(loss)
    tp = TimeProfiler(ext_name="cpu", device_id="0")
    for _ in range(3):
        with tp.scope("forward"):
            loss.forward(function_pre_hook=tp.pre_hook, function_post_hook=tp.post_hook)
        with tp.scope("backward"):
            loss.backward(function_pre_hook=tp.pre_hook, function_post_hook=tp.post_hook)
        tp.calc_elapsed_time(["forward", "backward", "summary"])
    avg = tp.average(start_index=1)
    for scope in ["forward", "backward"]:
        assert sorted(f.info.type_name for f in avg[scope]) == sorted(names)
        for res in avg[scope].values():
            assert res["time"] >= 0 and res["num"] == 2 and res["scale"] == "ms"
    assert set(avg["summary"]) == {"forward", "backward"}
    assert all(len(v) == 3 for v in tp.get_all_results()["forward"].values())

    tp.print()
    out = capsys.readouterr().out
    assert "### forward ###" in out and "### backward ###" in out and "### summary ###" in out
    assert out.count("[ms]") == 12
    tp()
    assert capsys.readouterr().out == out

    tp.to_csv(str(tmp_path / "prof"))
    with open(tmp_path / "prof" / "profile_summary.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["scope", "time", "scale", "num"]
    assert sorted(r[0] for r in rows[1:]) == ["backward", "forward"]
    with open(tmp_path / "prof" / "profile_detail.csv") as f:
        detail = list(csv.DictReader(f))
    assert len(detail) == 5
    assert {"scope", "original_key", "time_forward", "time_backward"} <= set(detail[0])
    assert sorted(r["scope"] for r in detail if "Affine" in r["scope"]) == [
        "Affine_0", "Affine_1"]  # a function prints as its name, as in NNabla
    assert all(float(r["time_forward"]) >= 0 and float(r["time_backward"]) >= 0 for r in detail)


def test_time_profiler_errors():
    with pytest.raises(ValueError, match="tpu"):
        TimeProfiler(ext_name="tpu", device_id="0")
    tp = TimeProfiler(ext_name="cpu", device_id="0")
    with pytest.raises(RuntimeError):
        tp.pre_hook
