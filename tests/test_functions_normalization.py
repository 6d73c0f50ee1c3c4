"""Normalization functions: forward against numpy references, gradients against
central differences of the references, running statistics / in-place state updates,
custom gradient rules, type names / args, argument errors."""
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
from function_check import check_grad, check_named_cases

EPS = 1e-5


def np_tn(x, keep_axes, eps=EPS):
    """Normalize by mean / biased variance over the axes not in ``keep_axes``."""
    red = tuple(a for a in range(x.ndim) if a not in keep_axes)
    m = x.mean(axis=red, keepdims=True)
    v = ((x - m) ** 2).mean(axis=red, keepdims=True)
    return (x - m) / np.sqrt(v + eps), m, v


def np_bn(x, beta, gamma, axes, eps=EPS):
    y, m, v = np_tn(x, axes, eps)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y, m, v


def _f32(a):
    return np.asarray(a, np.float32).astype(np.float64)


# ---------------------------------------------------------------- batch normalization
def test_batch_normalization_family(rng):
    x4 = rng.randn(3, 2, 2, 3)
    st = (1, 2, 1, 1)
    beta, gamma = rng.randn(*st), rng.rand(*st) + 0.5
    rm, rv = rng.randn(*st), rng.rand(*st) + 0.5
    cases = [
        dict(name="bn axes=[1]", wrt=[0, 1, 2], inputs=[x4, beta, gamma, rm, rv],
             fn=lambda x, b, g, m, v: F.batch_normalization(x, b, g, m, v),
             ref=lambda x, b, g, m, v: np_bn(x, b, g, [1])[0], axes=[1], decay=0.9),
        dict(name="bn axes=[3] output_stat", wrt=[0, 1, 2],
             inputs=[x4, rng.randn(1, 1, 1, 3), rng.rand(1, 1, 1, 3) + 0.5,
                     np.zeros((1, 1, 1, 3)), np.ones((1, 1, 1, 3))],
             fn=lambda x, b, g, m, v: F.batch_normalization(x, b, g, m, v, axes=[3],
                                                            decay_rate=0.5, output_stat=True),
             ref=lambda x, b, g, m, v: np_bn(x, b, g, [3]), axes=[3], decay=0.5),
        dict(name="bn axes=-1 no beta/gamma", wrt=[0],
             inputs=[rng.randn(4, 3), None, None, np.zeros((1, 3)), np.ones((1, 3))],
             fn=lambda x, b, g, m, v: F.batch_normalization(x, b, g, m, v, axes=-1, eps=1e-3),
             ref=lambda x, b, g, m, v: np_bn(x, None, None, [1], 1e-3)[0], axes=[1],
             decay=0.9),
        dict(name="bn axes=[1, 2]", wrt=[0, 2],
             inputs=[x4, None, rng.rand(1, 2, 2, 1) + 0.5, np.zeros((1, 2, 2, 1)),
                     np.ones((1, 2, 2, 1))],
             fn=lambda x, b, g, m, v: F.batch_normalization(x, b, g, m, v, axes=[1, 2]),
             ref=lambda x, b, g, m, v: np_bn(x, None, g, [1, 2])[0], axes=[1, 2], decay=0.9),
        dict(name="bn batch_stat=False", wrt=[0, 1, 2], inputs=[x4, beta, gamma, rm, rv],
             fn=lambda x, b, g, m, v: F.batch_normalization(x, b, g, m, v, batch_stat=False),
             ref=lambda x, b, g, m, v: (x - m) / np.sqrt(v + EPS) * g + b),
        dict(name="fused bn z", wrt=[0, 1, 2, 5],
             inputs=[x4, beta, gamma, rm, rv, rng.randn(*x4.shape)],
             fn=lambda x, b, g, m, v, z: F.fused_batch_normalization(x, b, g, m, v, z),
             ref=lambda x, b, g, m, v, z: np.maximum(np_bn(x, b, g, [1])[0] + z, 0),
             axes=[1], decay=0.9),
        dict(name="fused bn output_stat", wrt=[0, 1, 2], inputs=[x4, beta, gamma, rm, rv],
             fn=lambda x, b, g, m, v: F.fused_batch_normalization(x, b, g, m, v,
                                                                  output_stat=True),
             ref=lambda x, b, g, m, v: (np.maximum(np_bn(x, b, g, [1])[0], 0),) +
             np_bn(x, b, g, [1])[1:], axes=[1], decay=0.9),
        dict(name="sync bn", wrt=[0, 1, 2], inputs=[x4, beta, gamma, rm, rv],
             fn=lambda x, b, g, m, v: F.sync_batch_normalization(x, b, g, m, v, None),
             ref=lambda x, b, g, m, v: np_bn(x, b, g, [1])[0], axes=[1], decay=0.9),
        dict(name="batch_stat=False fused", wrt=[0], inputs=[x4, beta, gamma, rm, rv],
             fn=lambda x, b, g, m, v: F.fused_batch_normalization(x, b, g, m, v,
                                                                  batch_stat=False),
             ref=lambda x, b, g, m, v: np.maximum((x - m) / np.sqrt(v + EPS) * g + b, 0)),
    ]
    outs = check_named_cases(cases, probes=2)
    for case, ys in zip(cases, outs):
        fn = ys[0].parent
        assert fn.info.type_name in ("BatchNormalization", "FusedBatchNormalization",
                                     "SyncBatchNormalization"), case["name"]
        if "axes" not in case:
            continue
        # running statistics updated in place from the batch statistics
        x = _f32(case["inputs"][0])
        red = tuple(a for a in range(x.ndim) if a not in case["axes"])
        n = np.prod([x.shape[a] for a in red])
        d = case["decay"]
        m0, v0 = _f32(case["inputs"][3]), _f32(case["inputs"][4])
        m = x.mean(axis=red, keepdims=True).reshape(m0.shape)
        v = x.var(axis=red, keepdims=True).reshape(v0.shape) * n / (n - 1)
        np.testing.assert_allclose(fn._inputs[3].d, d * m0 + (1 - d) * m, rtol=1e-5, atol=1e-6,
                                   err_msg=case["name"])
        np.testing.assert_allclose(fn._inputs[4].d, d * v0 + (1 - d) * v, rtol=1e-5, atol=1e-6,
                                   err_msg=case["name"])
    bn = outs[0][0].parent
    assert bn.info.args == {"axes": [1], "decay_rate": 0.9, "eps": 1e-5, "batch_stat": True,
                            "no_scale": False, "no_bias": False}
    assert len(bn.outputs) == 1
    stat = outs[1][0].parent
    assert len(stat.outputs) == 3 and stat.info.type_name == "BatchNormalization"
    assert outs[1][1].shape == (1, 1, 1, 3)
    assert outs[2][0].parent.info.args["no_scale"] is True
    assert outs[2][0].parent.info.args["axes"] == [1]
    assert outs[3][0].parent.info.args["axes"] == [1, 2]
    assert outs[5][0].parent.info.args == {"axes": [1], "decay_rate": 0.9, "eps": 1e-5,
                                           "batch_stat": True, "nonlinearity": "relu"}
    sync_args = outs[7][0].parent.info.args
    assert sync_args["group"] == "world" and sync_args["axes"] == [1]


def test_batch_normalization_dummy_stats_and_single_output_cache():
    x = nn.Variable.from_numpy_array(np.arange(12, dtype=np.float32).reshape(3, 4))
    y1, m, v = F.batch_normalization(x, None, None, None, None, axes=[1], output_stat=True)
    y2 = F.batch_normalization(x, None, None, None, None, axes=[1])
    # the 1-output and 3-output variants of the same type and args must not mix up
    assert len(y2.parent.outputs) == 1 and len(y1.parent.outputs) == 3
    y3, _, _ = F.batch_normalization(x, None, None, None, None, axes=[1], output_stat=True)
    assert len(y3.parent.outputs) == 3
    nn.forward_all([y1, m, v, y2])
    np.testing.assert_allclose(y1.d, y2.d)
    np.testing.assert_allclose(m.d.ravel(), [4, 5, 6, 7])
    np.testing.assert_allclose(v.d.ravel(), [32 / 3] * 4, rtol=1e-6)


def test_tensor_normalization_composite_and_lowering(rng):
    from nnjax.ops._common import call
    x = rng.randn(2, 3, 4)
    cases = [
        dict(name="tensor_normalization", inputs=[x, rng.randn(2, 1, 4)],
             fn=lambda a, b: F.tensor_normalization(a, [0, 2], beta=b),
             ref=lambda a, b: np_tn(a, [0, 2])[0] + b),
        dict(name="TensorNormalization lowering", inputs=[x, None, rng.rand(1, 3, 1) + 0.5],
             fn=lambda a, b, g: call("TensorNormalization", [a, b, g],
                                     dict(axes=[1], eps=1e-5, no_scale=False, no_bias=True)),
             ref=lambda a, b, g: np_tn(a, [1])[0] * g),
    ]
    outs = check_named_cases(cases)
    # NNabla's Python tensor_normalization is batch normalization with decay_rate 0
    assert outs[0][0].parent.info.type_name == "BatchNormalization"
    assert outs[0][0].parent.info.args["decay_rate"] == 0.0
    assert outs[1][0].parent.info.type_name == "TensorNormalization"


# ---------------------------------------------------------------- layer / instance / group
def test_layer_instance_group_normalization(rng):
    x = rng.randn(2, 4, 3)

    def gn_ref(a, b, g, groups, ca, ba):
        shape = a.shape[:ca] + (groups, a.shape[ca] // groups) + a.shape[ca + 1:]
        y, m, v = np_tn(a.reshape(shape), ba + [ca])
        y = y.reshape(a.shape)
        if g is not None:
            y = y * g
        if b is not None:
            y = y + b
        return y, m, v

    cases = [
        dict(name="ln", inputs=[x, rng.randn(1, 4, 3), rng.rand(1, 4, 3) + 0.5],
             fn=lambda a, b, g: F.layer_normalization(a, b, g),
             ref=lambda a, b, g: np_tn(a, [0])[0] * g + b, type_name="LayerNormalization",
             args={"batch_axis": [0], "eps": 1e-5, "no_scale": False, "no_bias": False}),
        dict(name="ln stat batch_axis=(0, -1)", inputs=[x, None, rng.rand(1, 4, 1) + 0.5],
             fn=lambda a, b, g: F.layer_normalization(a, b, g, batch_axis=(0, -1), eps=1e-3,
                                                      output_stat=True),
             ref=lambda a, b, g: (np_tn(a, [0, 2], 1e-3)[0] * g,) + np_tn(a, [0, 2], 1e-3)[1:],
             type_name="LayerNormalization",
             args={"batch_axis": [0, 2], "eps": 1e-3, "no_scale": False, "no_bias": True}),
        dict(name="in", inputs=[x, rng.randn(1, 4, 1), rng.rand(1, 4, 1) + 0.5],
             fn=lambda a, b, g: F.instance_normalization(a, b, g),
             ref=lambda a, b, g: np_tn(a, [0, 1])[0] * g + b,
             type_name="InstanceNormalization",
             args={"channel_axis": 1, "batch_axis": [0], "eps": 1e-5, "no_scale": False,
                   "no_bias": False}),
        dict(name="in channel_axis=-1 stat", inputs=[x, rng.randn(2, 1, 3), None],
             fn=lambda a, b, g: F.instance_normalization(a, b, g, channel_axis=-1,
                                                         output_stat=True),
             ref=lambda a, b, g: (np_tn(a, [0, 2])[0] + b,) + np_tn(a, [0, 2])[1:],
             type_name="InstanceNormalization",
             args={"channel_axis": 2, "batch_axis": [0], "eps": 1e-5, "no_scale": True,
                   "no_bias": False}),
        dict(name="gn", inputs=[x, rng.randn(1, 4, 1), rng.rand(1, 4, 1) + 0.5],
             fn=lambda a, b, g: F.group_normalization(a, b, g, 2),
             ref=lambda a, b, g: gn_ref(a, b, g, 2, 1, [0])[0],
             type_name="GroupNormalization",
             args={"num_groups": 2, "channel_axis": 1, "batch_axis": [0], "eps": 1e-5,
                   "no_scale": False, "no_bias": False}),
        dict(name="gn channel last stat", inputs=[rng.randn(2, 3, 4), None, None],
             fn=lambda a, b, g: F.group_normalization(a, b, g, 4, channel_axis=2,
                                                      output_stat=True),
             ref=lambda a, b, g: gn_ref(a, None, None, 4, 2, [0]),
             type_name="GroupNormalization",
             args={"num_groups": 4, "channel_axis": 2, "batch_axis": [0], "eps": 1e-5,
                   "no_scale": True, "no_bias": True}),
        dict(name="ws", inputs=[rng.randn(3, 2, 2)], fn=lambda w: F.weight_standardization(w),
             ref=lambda w: np_tn(w, [0])[0], type_name="WeightStandardization",
             args={"channel_axis": 0, "eps": 1e-5}),
        dict(name="ws channel_axis=1 stat", inputs=[rng.randn(4, 3)],
             fn=lambda w: F.weight_standardization(w, channel_axis=1, output_stat=True),
             ref=lambda w: np_tn(w, [1]), type_name="WeightStandardization",
             args={"channel_axis": 1, "eps": 1e-5}),
    ]
    outs = check_named_cases(cases, probes=2)
    for case, ys in zip(cases, outs):
        assert ys[0].parent.info.type_name == case["type_name"], case["name"]
        assert ys[0].parent.info.args == case["args"], case["name"]
    assert outs[5][1].shape == (2, 1, 4, 1)  # group stats live in the grouped shape


# ---------------------------------------------------------------- norm / weight / spectral
def np_spectral(w, u, dim, itr, eps=1e-12):
    wm = np.moveaxis(w, dim, 0).reshape(w.shape[dim], -1)
    v = None
    for _ in range(itr):
        v = u @ wm
        v = v / np.sqrt(np.sum(v ** 2) + eps)
        u = wm @ v
        u = u / np.sqrt(np.sum(u ** 2) + eps)
    return u, v


def test_norm_weight_spectral_normalization(rng):
    w4 = rng.randn(3, 2, 2, 2)

    def wn_ref(w, g, dim, eps=1e-12):
        red = tuple(a for a in range(w.ndim) if a != dim)
        shape = [1] * w.ndim
        shape[dim] = -1
        return w / np.sqrt(np.sum(w ** 2, axis=red, keepdims=True) + eps) * g.reshape(shape)

    def sn_ref_fixed(w0, u0, dim, itr):
        # NNabla differentiates W / (u W v) with u and v held fixed
        u, v = np_spectral(_f32(w0), _f32(u0), dim, itr)

        def ref(w, _u):
            wm = np.moveaxis(w, dim, 0)
            sigma = u @ wm.reshape(wm.shape[0], -1) @ v
            return w / sigma
        return ref

    u_a = rng.randn(2)
    u_b = rng.randn(2)
    cases = [
        dict(name="norm p=2", inputs=[rng.randn(2, 3)], fn=lambda x: F.norm_normalization(x),
             ref=lambda x: x / np.sqrt(np.sum(x ** 2) + 1e-12)),
        dict(name="norm p=1 axes=1", inputs=[rng.randn(2, 3)],
             fn=lambda x: F.norm_normalization(x, p=1, axes=1),
             ref=lambda x: x / (np.sum(np.abs(x), axis=1, keepdims=True) + 1e-12)),
        dict(name="norm p=3 axes=(0, 2)", inputs=[rng.randn(2, 2, 3)],
             fn=lambda x: F.norm_normalization(x, p=3, axes=(0, -1), eps=1e-3),
             ref=lambda x: x / (np.sum(np.abs(x) ** 3, axis=(0, 2), keepdims=True) + 1e-3)
             ** (1 / 3)),
        dict(name="wn dim=0", inputs=[w4, rng.rand(3) + 0.5],
             fn=lambda w, g: F.weight_normalization(w, g),
             ref=lambda w, g: wn_ref(w, g, 0)),
        dict(name="wn dim=-1", inputs=[rng.randn(3, 4), rng.rand(4) + 0.5],
             fn=lambda w, g: F.weight_normalization(w, g, dim=-1, eps=1e-3),
             ref=lambda w, g: wn_ref(w, g, 1, 1e-3)),
        dict(name="spectral test dim=1", inputs=[rng.randn(3, 2), u_a], wrt=[0],
             fn=lambda w, u: F.spectral_norm(w, u, dim=1, itr=2, test=True), ref=None),
        dict(name="spectral dim=0 output_u", inputs=[rng.randn(2, 3, 2), u_b], wrt=[],
             fn=lambda w, u: F.spectral_norm(w, u, itr=3, output_u=True), ref=None),
    ]
    # the spectral references hold u and v computed from the initial data
    for case, dim, itr in ((cases[5], 1, 2), (cases[6], 0, 3)):
        w0, u0 = case["inputs"]
        fixed = sn_ref_fixed(w0, u0, dim, itr)
        if case["name"].endswith("output_u"):
            # NNabla outputs u as the iteration found it (before its in-place update)
            case["ref"] = lambda w, u, fixed=fixed, u0=u0: (fixed(w, u), u0)
        else:
            case["ref"] = fixed
    outs = check_named_cases(cases)
    assert outs[0][0].parent.info.type_name == "NormNormalization"
    assert outs[0][0].parent.info.args == {"p": 2.0, "axes": [0, 1], "eps": 1e-12}
    assert outs[2][0].parent.info.args == {"p": 3.0, "axes": [0, 2], "eps": 1e-3}
    assert outs[4][0].parent.info.type_name == "WeightNormalization"
    assert outs[4][0].parent.info.args == {"dim": 1, "eps": 1e-3}
    sn_test, sn_train = outs[5][0].parent, outs[6][0].parent
    assert sn_test.info.type_name == "SpectralNorm"
    assert sn_test.info.args == {"dim": 1, "itr": 2, "eps": 1e-12, "test": True,
                                 "output_u": False}
    # u is updated in place only when test=False
    np.testing.assert_allclose(sn_test.inputs[1].d, _f32(u_a))
    u_end = np_spectral(_f32(cases[6]["inputs"][0]), _f32(u_b), 0, 3)[0]
    np.testing.assert_allclose(sn_train.inputs[1].d, u_end, rtol=1e-5)


def test_spectral_norm_gradient_by_finite_differences(rng):
    # With a converged power iteration, holding u and v fixed (NNabla's rule) gives the
    # true derivative of W / sigma_max(W), which finite differences of nnjax measure.
    w = np.array([[3.0, 0.5], [0.2, 1.0], [0.4, -0.3]])
    check_grad(lambda a, uu: F.spectral_norm(a, uu, itr=8, test=True),
               [w, rng.randn(3)], wrt=[0])


def test_mean_subtraction(rng):
    x = rng.randn(3, 2, 2)
    cases = [
        dict(name="ms fixed", inputs=[x, rng.randn(2, 2), np.array([4.0])], wrt=[0],
             fn=lambda a, m, t: F.mean_subtraction(a, m, t, update_running_mean=False),
             ref=lambda a, m, t: a - m),
        dict(name="ms update base_axis=2", inputs=[x, rng.randn(2), np.array([3.0])], wrt=[],
             fn=lambda a, m, t: F.mean_subtraction(a, m, t, base_axis=2),
             ref=lambda a, m, t: a - (m + (a.mean(axis=(0, 1)) - m) / 4)),
    ]
    outs = check_named_cases(cases)
    fn = outs[1][0].parent
    assert fn.info.type_name == "MeanSubtraction"
    assert fn.info.args == {"base_axis": 2, "update_running_mean": True}
    m0 = _f32(cases[1]["inputs"][1])
    np.testing.assert_allclose(fn.inputs[1].d, m0 + (_f32(x).mean(axis=(0, 1)) - m0) / 4,
                               rtol=1e-6)
    assert fn.inputs[2].d[0] == 4.0
    np.testing.assert_allclose(outs[0][0].parent.inputs[1].d, _f32(cases[0]["inputs"][1]))
    # NNabla's approximate backward: dx = dy * (1 - 1 / (t * N)), t after the update
    xv = nn.Variable.from_numpy_array(x.astype(np.float32), need_grad=True)
    mean = nn.Variable.from_numpy_array(np.zeros((2, 2), np.float32))
    t = nn.Variable.from_numpy_array(np.zeros(1, np.float32))
    y = F.mean_subtraction(xv, mean, t)
    dy = rng.randn(3, 2, 2).astype(np.float32)
    for step in (1, 2):
        xv.g = 0
        y.forward()
        y.backward(dy)
        np.testing.assert_allclose(xv.g, dy * (1 - 1 / (step * 3)), rtol=1e-6)
        assert t.d[0] == step


# ---------------------------------------------------------------- gradient clipping
def test_clip_grad_by_value_and_norm(rng):
    x = nn.Variable.from_numpy_array(rng.randn(2, 3).astype(np.float32), need_grad=True)
    lo = nn.Variable.from_numpy_array(np.full((2, 3), -0.5, np.float32), need_grad=True)
    hi = nn.Variable.from_numpy_array(rng.uniform(0.1, 1, (2, 3)).astype(np.float32),
                                      need_grad=True)
    dy = (rng.randn(2, 3) * 2).astype(np.float32)
    y = F.clip_grad_by_value(x, lo, hi)
    assert y.parent.info.type_name == "ClipGradByValue" and y.parent.info.args == {}
    z = F.clip_grad_by_norm(x, 2.0, axes=[1])
    assert z.parent.info.type_name == "ClipGradByNorm"
    assert z.parent.info.args == {"clip_norm": 2.0, "axes": [1]}
    w = F.clip_grad_by_norm(x)
    assert w.parent.info.args == {"clip_norm": 1.0, "axes": [0, 1]}
    loss = F.sum(y * nn.Variable.from_numpy_array(dy)) + \
        F.sum(z * nn.Variable.from_numpy_array(dy)) + F.sum(w * nn.Variable.from_numpy_array(dy))
    for v in (x, lo, hi):
        v.g = 0
    loss.forward()
    loss.backward()
    np.testing.assert_allclose(y.d, x.d)
    np.testing.assert_allclose(z.d, x.d)
    expected = np.clip(dy, lo.d, hi.d) + 2.0 * dy / np.sqrt((dy ** 2).sum(axis=1, keepdims=True)) \
        + dy / np.sqrt((dy ** 2).sum())
    np.testing.assert_allclose(x.g, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lo.g, 0)
    np.testing.assert_allclose(hi.g, 0)


def test_clip_by_value_and_norm(rng):
    x = rng.randn(3, 4) * 2
    cases = [
        dict(name="clip_by_value scalars", inputs=[x],
             fn=lambda a: F.clip_by_value(a, -0.7, 1.3), ref=lambda a: np.clip(a, -0.7, 1.3)),
        dict(name="clip_by_value variables", inputs=[x, np.full((3, 4), -1.0), np.full((3, 4), 0.5)],
             wrt=[0], fn=F.clip_by_value, ref=lambda a, lo, hi: np.minimum(np.maximum(a, lo), hi)),
        dict(name="clip_by_norm", inputs=[x], fn=lambda a: F.clip_by_norm(a, 1.5),
             ref=lambda a: a * 1.5 / max(np.sqrt((a ** 2).sum()), 1.5)),
        dict(name="clip_by_norm axis", inputs=[x * 0.3], fn=lambda a: F.clip_by_norm(a, 1.0, axis=1),
             ref=lambda a: a / np.maximum(np.sqrt((a ** 2).sum(axis=1, keepdims=True)), 1.0)),
    ]
    check_named_cases(cases)


# ---------------------------------------------------------------- errors
def test_argument_errors():
    x = nn.Variable((2, 3, 4))
    with pytest.raises(ValueError, match="batch_normalization"):
        F.batch_normalization(x, nn.Variable((1, 4, 1)), None, None, None)
    with pytest.raises(ValueError, match="batch_normalization"):
        F.batch_normalization(x, None, None, None, None, batch_stat=False)
    with pytest.raises(ValueError, match="batch_normalization"):
        F.batch_normalization(x, None, None, nn.Variable((1, 3, 1)), nn.Variable((1, 3, 1)),
                              batch_stat=False, output_stat=True)
    with pytest.raises(ValueError, match="batch_normalization"):
        F.batch_normalization(x, None, None, None, None, axes=[3])
    with pytest.raises(ValueError, match="batch_normalization"):
        F.batch_normalization(x, None, None, F.relu(nn.Variable((1, 3, 1))),
                              nn.Variable((1, 3, 1)))
    with pytest.raises(ValueError, match="fused_batch_normalization"):
        F.fused_batch_normalization(x, None, None, None, None, nonlinearity="tanh")
    with pytest.raises(ValueError, match="layer_normalization"):
        F.layer_normalization(x, nn.Variable((1, 3, 1)), None)
    with pytest.raises(ValueError, match="instance_normalization"):
        F.instance_normalization(x, None, nn.Variable((1, 2, 1)))
    with pytest.raises(ValueError, match="instance_normalization"):
        F.instance_normalization(x, None, None, channel_axis=0, batch_axis=0)
    with pytest.raises(ValueError, match="group_normalization"):
        F.group_normalization(x, None, None, num_groups=2)
    with pytest.raises(ValueError, match="weight_standardization"):
        F.weight_standardization(x, channel_axis=3)
    with pytest.raises(ValueError, match="norm_normalization"):
        F.norm_normalization(x, p=0)
    with pytest.raises(ValueError, match="weight_normalization"):
        F.weight_normalization(x, nn.Variable((3,)), dim=0)
    with pytest.raises(ValueError, match="spectral_norm"):
        F.spectral_norm(x, nn.Variable((3,)))
    with pytest.raises(ValueError, match="spectral_norm"):
        F.spectral_norm(x, nn.Variable((2,)), itr=0)
    with pytest.raises(ValueError, match="mean_subtraction"):
        F.mean_subtraction(x, nn.Variable((3,)), nn.Variable((1,)))
    with pytest.raises(ValueError, match="clip_grad_by_value"):
        F.clip_grad_by_value(x, nn.Variable((2, 3, 4)), nn.Variable((2, 3)))
    with pytest.raises(ValueError, match="clip_grad_by_norm"):
        F.clip_grad_by_norm(x, axes=[5])
    with pytest.raises(ValueError, match="clip_by_norm"):
        F.clip_by_norm(x, -1.0)
    with pytest.raises(TypeError, match="clip_by_value"):
        F.clip_by_value(x, [0.5], 1.0)


def test_group_normalization_negative_batch_axis_counts_on_x(rng):
    # (B, T, C) with batch_axis=[0, -2]: -2 is x's axis 1 (T), not an axis of the
    # grouped (B, T, G, C/G) shape
    x = rng.randn(4, 3, 6).astype(np.float32)
    y = F.group_normalization(nn.Variable.from_numpy_array(x), None, None, num_groups=2,
                              channel_axis=-1, batch_axis=[0, -2])
    y.forward()
    g = x.reshape(4, 3, 2, 3)
    ref = (g - g.mean(3, keepdims=True)) / np.sqrt(g.var(3, keepdims=True) + 1e-5)
    np.testing.assert_allclose(y.d, ref.reshape(x.shape), rtol=1e-4, atol=1e-5)
