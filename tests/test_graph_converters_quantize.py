"""nnabla.utils.qnn recorders and the quantization graph converters, against numpy."""
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.experimental.graph_converters as GC
from test_graph_converters import np_conv2d
from nnabla.utils.qnn import (QATConfig, FunctionsRankRecorder, MinMaxMinMaxRecorderCallback,
                              MaxMvaRecorderCallback, AbsMaxRecorderCallback,
                              MaxMaxRecorderCallback,
                              minmax_mva_recorder)


def types_of(y):
    names = []
    y.visit(lambda f: names.append(f.info.type_name))
    return names


def test_minmax_recorder_tracks_range_and_passes_gradient(rng):
    x = nn.Variable((3, 4), need_grad=True)
    y = MinMaxMinMaxRecorderCallback()(x, name="r")
    loss = F.sum(y * y)
    params = nn.get_parameters()
    m, M = params["m-r"], params["M-r"]
    lo, hi = 0.0, 0.0  # the statistics start at 0
    for _ in range(3):
        xv = rng.randn(3, 4) * 2
        x.d = xv
        x.grad.zero()
        loss.forward()
        loss.backward()
        lo, hi = min(lo, xv.min()), max(hi, xv.max())
        np.testing.assert_allclose(y.d, xv, rtol=1e-6)
        np.testing.assert_allclose(x.g, 2 * xv, rtol=1e-5)
    np.testing.assert_allclose([m.d.item(), M.d.item()], [lo, hi], rtol=1e-6)
    s, zp = MinMaxMinMaxRecorderCallback.get_scale_zeropoint(
        x, round_method="NOTROUND", name="r")
    np.testing.assert_allclose(s.d.item(), (hi - lo) / 255, rtol=1e-6)
    assert zp.d.item() == 0
    s2, _ = MinMaxMinMaxRecorderCallback.get_scale_zeropoint(x, name="unrecorded")
    assert s2 is None


def test_moving_average_recorders(rng):
    x = nn.Variable((5,))
    m = nn.Variable.from_numpy_array(np.zeros((1,)))
    M = nn.Variable.from_numpy_array(np.zeros((1,)))
    y = minmax_mva_recorder(x, m, M, decay=0.9)
    ref_m = ref_M = 0.0
    for _ in range(3):
        xv = rng.randn(5)
        x.d = xv
        y.forward()
        ref_m, ref_M = 0.9 * ref_m + 0.1 * xv.min(), 0.9 * ref_M + 0.1 * xv.max()
    np.testing.assert_allclose([m.d.item(), M.d.item()], [ref_m, ref_M], rtol=1e-5)
    # a recorder built with training=False leaves its statistics
    z = MaxMvaRecorderCallback()(x, training=False, name="still")
    z.forward()
    assert nn.get_parameters()["M-still"].d.item() == 0
    a = AbsMaxRecorderCallback()(x, name="abs")
    a.forward()
    np.testing.assert_allclose(nn.get_parameters()["M-abs"].d.item(), np.abs(x.d).max())
    s, _ = AbsMaxRecorderCallback.get_scale_zeropoint(x, round_method="ROUND", name="abs")
    np.testing.assert_allclose(s.d.item(), 2 ** np.round(np.log2(2 * np.abs(x.d).max() / 255)),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="one element"):
        minmax_mva_recorder(x, nn.Variable((2,)), M)


def net(x):
    h = PF.convolution(x, 4, (3, 3), pad=(1, 1), name="conv")
    h = F.relu(PF.batch_normalization(h, batch_stat=False, name="bn"))
    return PF.affine(h, 3, name="fc")


def config():
    cfg = QATConfig()
    cfg.skip_inputs_layers = []
    cfg.skip_outputs_layers = []
    cfg.recorder_activation = MaxMaxRecorderCallback  # symmetric, as the zero point is 0
    cfg.pow2 = QATConfig.RoundingMethod.NOTROUND
    cfg.skip_bias = True  # an int8 bias at scale sx*sw would saturate
    return cfg


def recording_graph(x, cfg):
    y = net(x)
    folded = GC.GraphConverter([GC.BatchNormalizationFoldingModifier()]).convert(y)
    ranks = FunctionsRankRecorder()
    folded.visit(ranks)
    rec = GC.GraphConverter([GC.QuantizeNonQNNToRecordingModifier(
        ranks.functions_ranks, config=cfg)]).convert(folded)
    return y, folded, rec


def test_recording_graph_records_every_input(rng):
    x = nn.Variable.from_numpy_array(rng.randn(2, 3, 5, 5))
    cfg = config()
    y, folded, rec = recording_graph(x, cfg)
    assert types_of(rec) == ["MaxMaxRecorder", "MinMaxMinMaxRecorder",
                             "MinMaxMinMaxRecorder", "Convolution", "MaxMaxRecorder",
                             "ReLU", "MaxMaxRecorder", "MinMaxMinMaxRecorder",
                             "MinMaxMinMaxRecorder", "Affine"]
    ref = np.array(folded.d) if folded.forward() is None else None
    np.testing.assert_allclose(ref, (rec.forward(), rec.d)[1], rtol=1e-5, atol=1e-6)
    params = nn.get_parameters()
    # the recorder before ReLU (function 1) saw the convolution's output range
    conv_out = rec.parent.inputs[0].parent.inputs[0].parent.inputs[0].parent.inputs[0]
    np.testing.assert_allclose(params["ReLU-1/M-x0"].d.item(), max(0, conv_out.d.max()),
                               rtol=1e-6)
    assert "Convolution-0/M-w0" in params and "Affine-2/m-w1" in params


def test_recording_to_training_simulates_int8(rng):
    x = nn.Variable.from_numpy_array(rng.randn(2, 3, 5, 5))
    cfg = config()
    y, folded, rec = recording_graph(x, cfg)
    rec.forward()  # record the ranges
    ref = np.array(folded.d) if folded.forward() is None else None
    removed = GC.GraphConverter([GC.RemoveFunctionModifier(
        rm_funcs=[cfg.recorder_activation().name(), cfg.recorder_weight().name()])]).convert(rec)
    ranks = FunctionsRankRecorder()
    removed.visit(ranks)
    q = GC.GraphConverter([GC.QuantizeRecordingToTrainingModifier(
        ranks.functions_ranks, config=cfg)]).convert(removed)
    kinds = types_of(q)
    assert kinds.count("QuantizeLinear") == 5 and kinds.count("DequantizeLinear") == 5
    q.forward()
    # numpy simulation: each tensor rounded to int8 steps of its recorded scale
    params = nn.get_parameters(grad_only=False)

    def qdq(v, scale_name):
        s = params[scale_name].d.item()
        return np.clip(np.round(v / s), -128, 127) * s

    h = np_conv2d(qdq(x.d, "Convolution-0/scale-x0"),
                  qdq(params["conv/conv/w-folded"].d, "Convolution-0/scale-w0"),
                  params["conv/conv/b-folded"].d)
    h = np.maximum(qdq(h, "ReLU-1/scale-x0"), 0)
    h = qdq(h, "Affine-2/scale-x0").reshape(2, -1)
    sim = h @ qdq(params["fc/affine/W"].d, "Affine-2/scale-w0") + params["fc/affine/b"].d
    np.testing.assert_allclose(q.d, sim, rtol=1e-4, atol=1e-4)
    assert np.abs(q.d - ref).max() > 1e-3  # not the float graph
    # the input is quantized with the recorded range of the graph input
    first = []
    q.visit(lambda f: first.append(f) if not first else None)
    assert first[0].info.type_name == "QuantizeLinear"
    np.testing.assert_allclose(first[0].inputs[1].d.item(), 2 * x.d.max() / 255, rtol=1e-5)


def test_quantize_modifiers_need_a_config():
    with pytest.raises(ValueError, match="config"):
        GC.QuantizeNonQNNToRecordingModifier({})
    cfg = QATConfig()
    cfg.precision_mode = type(cfg.precision_mode).QNN
    with pytest.raises(ValueError, match="SIM_QNN"):
        GC.QuantizeRecordingToTrainingModifier({}, config=cfg)


def test_qat_scheduler_walks_the_states(rng, tmp_path):
    from nnabla.utils.qnn import QATScheduler, QNNState
    import nnabla.solvers as S
    from nnabla.utils.nnp_graph import NnpLoader
    cfg = config()
    cfg.bn_folding = True
    cfg.niter_to_recording = 1
    cfg.niter_to_training = 3
    x = nn.Variable((2, 3, 5, 5))
    t = nn.Variable((2, 1))
    pred = net(x)
    loss = F.mean(F.softmax_cross_entropy(pred, t))
    vx = nn.Variable((2, 3, 5, 5))
    vpred = net(vx)
    solver = S.Sgd(0.1)
    solver.set_parameters(nn.get_parameters())
    sched = QATScheduler(config=cfg, solver=solver)
    sched(pred)
    sched(vpred, training=False)
    states = []
    for i in range(5):
        sched.step()
        states.append(sched.state)
        x.d, t.d = rng.randn(2, 3, 5, 5), rng.randint(0, 3, (2, 1))
        solver.zero_grad()
        loss.forward()
        loss.backward()
        solver.update()
        assert np.isfinite(loss.d).all()
        if i == 1:
            assert "MaxMaxRecorder" in types_of(pred) and "BatchNormalization" not in types_of(pred)
    assert states == [QNNState.NON_QNN, QNNState.RECORDING, QNNState.RECORDING,
                      QNNState.TRAINING, QNNState.TRAINING]
    assert "QuantizeLinear" in types_of(pred) and "MaxMaxRecorder" not in types_of(pred)
    np.testing.assert_allclose(solver.learning_rate(), 0.1 * cfg.learning_rate_scale)
    vx.d = rng.randn(2, 3, 5, 5)
    ref = np.array((vpred.forward(), vpred.d)[1])
    path = str(tmp_path / "qat.nnp")
    sched.save(path, vx, batch_size=2)
    loaded = NnpLoader(path).get_network("net", batch_size=2)
    loaded.inputs["x0"].d = vx.d
    y = loaded.outputs["y0"]
    y.forward()
    assert "QuantizeLinear" in types_of(y)
    np.testing.assert_allclose(y.d, ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="niter_to_training"):
        bad = QATConfig()
        QATScheduler(config=bad)
