"""nnabla.experimental.graph_converters: each modifier on small LeNets and ResNets,
against numpy formulas and the unconverted graph; the converted graph trains and saves."""
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.solvers as S
import nnabla.experimental.graph_converters as GC

# ---------------------------------------------------------------- numpy references


def np_conv2d(x, w, b=None, pad=1):
    """Channel-first stride-1 convolution written with a sliding window."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    kh, kw = w.shape[2:]
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    y = np.einsum("nchwij,ocij->nohw", win, w)
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def np_bn(x, beta, gamma, mean, var, eps=1e-5, axis=1):
    shape = [1] * x.ndim
    shape[axis] = -1
    r = [a.reshape(shape) for a in (beta, gamma, mean, var)]
    return (x - r[2]) / np.sqrt(r[3] + eps) * r[1] + r[0]


def types_of(y):
    names = []
    y.visit(lambda f: names.append(f.info.type_name))
    return names


def graph_input(y):
    """Input 0 of the graph's first function (a converted graph's copy of x)."""
    funcs = []
    y.visit(funcs.append)
    return funcs[0].inputs[0]


def randomize_bn_stats(rng):
    """Non-trivial BN statistics and affine parameters (fresh ones fold to identity)."""
    for k, p in nn.get_parameters(grad_only=False).items():
        if k.endswith(("/mean", "/beta")):
            p.d = rng.uniform(-0.5, 0.5, p.shape).astype(np.float32)
        elif k.endswith(("/var", "/gamma")):
            p.d = rng.uniform(0.5, 1.5, p.shape).astype(np.float32)


def forward(y):
    y.forward()
    return np.array(y.d)


def small_resnet(x, test=True, w_bias=False, channel_last=False):
    axes = [3] if channel_last else [1]
    h = PF.convolution(x, 4, (3, 3), pad=(1, 1), with_bias=w_bias, channel_last=channel_last,
                       name="conv0")
    h = F.relu(PF.batch_normalization(h, axes=axes, batch_stat=not test, name="bn0"))
    h = F.max_pooling(h, (2, 2), channel_last=channel_last)
    for i in range(2):
        with nn.parameter_scope(f"cb{i}"):
            r = PF.convolution(h, 4, (3, 3), pad=(1, 1), with_bias=w_bias,
                               channel_last=channel_last)
            r = PF.batch_normalization(r, axes=axes, batch_stat=not test)
        h = F.relu(r + h)
    h = F.average_pooling(h, (2, 2), channel_last=channel_last)
    return PF.affine(h, 5, name="fc")


def lenet(x, test=True):
    h = PF.convolution(x, 3, (3, 3), name="conv1")
    h = PF.batch_normalization(h, batch_stat=not test, name="bn1")
    h = F.max_pooling(F.relu(h), (2, 2))
    h = PF.affine(h, 6, name="fc1")
    h = F.relu(PF.batch_normalization(h, batch_stat=not test, name="bn2"))
    return PF.affine(h, 3, name="fc2")


@pytest.fixture
def resnet(rng):
    x = nn.Variable.from_numpy_array(rng.randn(2, 3, 8, 8))
    y = small_resnet(x)
    randomize_bn_stats(rng)
    return x, y


# ---------------------------------------------------------------- the converter itself


def test_exports_nnabla_names():
    names = ["GraphConverter", "FunctionModifier", "BatchNormalizationFoldingModifier",
             "AddBiasModifier", "BatchNormalizationFoldingModifierInner",
             "BatchNormalizationFoldingOppositeModifierInner",
             "BatchNormalizationSelfFoldingModifier", "FusedBatchNormalizationModifier",
             "UnfusedBatchNormalizationModifier", "ChannelLastModifier",
             "ChannelFirstModifier", "RemoveFunctionModifier", "BatchNormBatchStatModifier",
             "TestModeModifier", "IdentityModifier", "NoGradModifier", "PruningModifier",
             "QuantizeNonQNNToRecordingModifier", "QuantizeRecordingToTrainingModifier"]
    missing = [n for n in names if not hasattr(GC, n)]
    assert missing == []


def test_user_modifier_replaces_relu(rng):
    class ReLUToLeakyReLU(GC.FunctionModifier):
        def modify(self, f, inputs):
            if f.info.type_name == "ReLU":
                return F.leaky_relu(inputs[0], 0.25)

    xv = rng.randn(2, 5).astype(np.float32)
    x = nn.Variable.from_numpy_array(xv)
    w = rng.randn(5, 4).astype(np.float32)
    y = F.relu(F.affine(x, nn.Variable.from_numpy_array(w)))
    yy = GC.GraphConverter([ReLUToLeakyReLU()]).convert(y)
    assert types_of(yy) == ["Affine", "LeakyReLU"]
    z = xv @ w
    np.testing.assert_allclose(forward(yy), np.where(z > 0, z, 0.25 * z), rtol=1e-5, atol=1e-6)
    # the original graph is untouched
    assert types_of(y) == ["Affine", "ReLU"]
    np.testing.assert_allclose(forward(y), np.maximum(z, 0), rtol=1e-5, atol=1e-6)


def test_modify_must_return_variable_or_none(rng):
    class Bad(GC.FunctionModifier):
        def modify(self, f, inputs):
            return 3

    y = F.relu(nn.Variable((2, 3)))
    with pytest.raises(ValueError, match="Bad.modify\\(ReLU\\)"):
        GC.GraphConverter([Bad()]).convert(y)


def test_convert_needs_a_graph():
    with pytest.raises(ValueError, match="no parent"):
        GC.GraphConverter([GC.IdentityModifier()]).convert(nn.Variable((2,)))
    with pytest.raises(TypeError, match="FunctionModifier"):
        GC.GraphConverter(["not a modifier"])


def test_several_inputs_and_outputs(rng):
    xa = nn.Variable.from_numpy_array(rng.randn(2, 3, 6, 6))
    xb = nn.Variable.from_numpy_array(rng.randn(2, 3, 6, 6))
    ha = PF.batch_normalization(PF.convolution(xa, 3, (3, 3), pad=(1, 1), name="a"),
                                batch_stat=False, name="bna")
    hb = PF.batch_normalization(PF.convolution(xb, 3, (3, 3), pad=(1, 1), name="b"),
                                batch_stat=False, name="bnb")
    y1, y2 = F.relu(ha + hb), F.sigmoid(hb)
    randomize_bn_stats(rng)
    refs = [forward(y1), forward(y2)]
    outs = GC.GraphConverter([GC.BatchNormalizationFoldingModifier()]).convert([y1, y2])
    assert isinstance(outs, list) and len(outs) == 2
    for out, ref in zip(outs, refs):
        assert "BatchNormalization" not in types_of(out)
        np.testing.assert_allclose(forward(out), ref, rtol=1e-4, atol=1e-5)
    # the new graph reads the same input buffers
    xa.d = rng.randn(2, 3, 6, 6)
    np.testing.assert_allclose(forward(outs[0]), forward(y1), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- BN folding


def test_folded_conv_equals_numpy_conv_then_bn(rng):
    xv = rng.randn(2, 3, 6, 6).astype(np.float32)
    x = nn.Variable.from_numpy_array(xv)
    y = PF.batch_normalization(PF.convolution(x, 4, (3, 3), pad=(1, 1), name="c"),
                               batch_stat=False, name="bn")
    randomize_bn_stats(rng)
    p = {k: np.array(v.d) for k, v in nn.get_parameters(grad_only=False).items()}
    yy = GC.GraphConverter([GC.BatchNormalizationFoldingModifier()]).convert(y)
    assert types_of(yy) == ["Convolution"]
    ref = np_bn(np_conv2d(xv, p["c/conv/W"], p["c/conv/b"]), p["bn/bn/beta"],
                p["bn/bn/gamma"], p["bn/bn/mean"], p["bn/bn/var"])
    np.testing.assert_allclose(forward(yy), ref, rtol=1e-4, atol=1e-4)
    # folded weights are new parameters under NNabla's names; the originals stay
    params = nn.get_parameters(grad_only=False)
    assert "c/conv/w-folded" in params and "c/conv/b-folded" in params
    for k, v in p.items():
        np.testing.assert_array_equal(params[k].d, v)
    bn_scale = p["bn/bn/gamma"].reshape(-1) / np.sqrt(p["bn/bn/var"].reshape(-1) + 1e-5)
    np.testing.assert_allclose(params["c/conv/w-folded"].d,
                               p["c/conv/W"] * bn_scale[:, None, None, None], rtol=1e-6)


def test_add_bias_creates_b_in_weight_scope(rng):
    x = nn.Variable.from_numpy_array(rng.randn(2, 3, 6, 6))
    y = PF.batch_normalization(PF.convolution(x, 4, (3, 3), with_bias=False, name="c"),
                               batch_stat=False)
    yy = GC.GraphConverter([GC.AddBiasModifier()]).convert(y)
    assert types_of(yy) == ["Convolution", "BatchNormalization"]
    conv = yy.parent.inputs[0].parent
    assert len(conv.inputs) == 3
    np.testing.assert_array_equal(nn.get_parameters()["c/conv/b"].d, np.zeros(4))


def test_resnet_folding_keeps_outputs(resnet):
    x, y = resnet
    ref = forward(y)
    yy = GC.GraphConverter([GC.BatchNormalizationFoldingModifier()]).convert(y)
    assert "BatchNormalization" not in types_of(yy)
    assert types_of(yy).count("Convolution") == 3
    np.testing.assert_allclose(forward(yy), ref, rtol=1e-4, atol=1e-4)
    names = nn.get_parameters(grad_only=False)
    for scope in ("conv0/conv", "cb0/conv", "cb1/conv"):
        assert f"{scope}/w-folded" in names and f"{scope}/b-folded" in names


def test_lenet_affine_folding(rng):
    x = nn.Variable.from_numpy_array(rng.randn(2, 1, 8, 8))
    y = lenet(x)
    randomize_bn_stats(rng)
    ref = forward(y)
    yy = GC.GraphConverter([GC.BatchNormalizationFoldingModifier()]).convert(y)
    assert types_of(yy) == ["Convolution", "ReLU", "MaxPooling", "Affine", "ReLU", "Affine"]
    np.testing.assert_allclose(forward(yy), ref, rtol=1e-4, atol=1e-4)
    assert "fc1/affine/w-folded" in nn.get_parameters()


def test_deconvolution_folding(rng):
    x = nn.Variable.from_numpy_array(rng.randn(2, 4, 5, 5))
    y = PF.deconvolution(x, 6, (3, 3), group=2, name="d")
    y = PF.batch_normalization(y, batch_stat=False, name="bn")
    randomize_bn_stats(rng)
    ref = forward(y)
    yy = GC.GraphConverter([GC.BatchNormalizationFoldingModifier()]).convert(y)
    assert types_of(yy) == ["Deconvolution"]
    np.testing.assert_allclose(forward(yy), ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kind", ["conv", "deconv", "affine"])
def test_opposite_folding(rng, kind):
    x = nn.Variable.from_numpy_array(rng.randn(2, 4, 5, 5))
    h = PF.batch_normalization(x, batch_stat=False, name="bn")
    if kind == "conv":
        y = PF.convolution(h, 6, (3, 3), group=2, name="ip")
    elif kind == "deconv":
        y = PF.deconvolution(h, 6, (3, 3), group=2, name="ip")
    else:
        y = PF.affine(h, 7, name="ip")
    randomize_bn_stats(rng)
    ref = forward(y)
    w_before = np.array(nn.get_parameters()[f"ip/{'affine' if kind == 'affine' else kind}/W"].d)
    yy = GC.GraphConverter([GC.BatchNormalizationFoldingModifier(opposite=True)]).convert(y)
    assert "BatchNormalization" not in types_of(yy)
    got = forward(yy)
    if kind == "deconv":  # BN's shift spreads over every kernel tap only inside the border
        got, ref = got[..., 2:-2, 2:-2], ref[..., 2:-2, 2:-2]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(
        nn.get_parameters()[f"ip/{'affine' if kind == 'affine' else kind}/W"].d, w_before)


def test_opposite_folding_keeps_bn_feeding_others(rng):
    x = nn.Variable.from_numpy_array(rng.randn(2, 4, 5, 5))
    h = PF.batch_normalization(x, batch_stat=False, name="bn")
    y = F.relu(h + PF.convolution(h, 4, (1, 1), name="c"))
    randomize_bn_stats(rng)
    ref = forward(y)
    yy = GC.GraphConverter([GC.BatchNormalizationFoldingModifier(opposite=True)]).convert(y)
    assert types_of(yy) == ["BatchNormalization", "Convolution", "Add2", "ReLU"]
    np.testing.assert_allclose(forward(yy), ref, rtol=1e-4, atol=1e-4)


def test_bn_without_convolution_is_left(rng):
    x = nn.Variable.from_numpy_array(rng.randn(2, 3, 4, 4))
    y = F.relu(PF.batch_normalization(F.tanh(x), batch_stat=False))
    randomize_bn_stats(rng)
    ref = forward(y)
    for opposite in (False, True):
        yy = GC.GraphConverter([GC.BatchNormalizationFoldingModifier(opposite)]).convert(y)
        assert types_of(yy) == ["Tanh", "BatchNormalization", "ReLU"]
        np.testing.assert_allclose(forward(yy), ref, rtol=1e-6)


def test_self_folding(resnet):
    x, y = resnet
    ref = forward(y)
    yy = GC.GraphConverter([GC.BatchNormalizationSelfFoldingModifier()]).convert(y)
    kinds = types_of(yy)
    assert "BatchNormalization" not in kinds and kinds.count("Mul2") == 3
    np.testing.assert_allclose(forward(yy), ref, rtol=1e-4, atol=1e-4)
    params = nn.get_parameters(grad_only=False)
    bn = {k: np.array(v.d).reshape(-1) for k, v in params.items() if k.startswith("bn0/")}
    c0 = params["bn-self-folding/c0-bn-self-folding-0"]
    assert c0.shape == (1, 4, 1, 1)
    np.testing.assert_allclose(c0.d.reshape(-1),
                               bn["bn0/bn/gamma"] / np.sqrt(bn["bn0/bn/var"] + 1e-5), rtol=1e-6)
    assert "bn-self-folding/c1-bn-self-folding-2" in params


# ---------------------------------------------------------------- fused / unfused BN


def test_fuse_then_unfuse_round_trip(resnet):
    x, y = resnet
    ref = forward(y)
    fused = GC.GraphConverter([GC.FusedBatchNormalizationModifier()]).convert(y)
    kinds = types_of(fused)
    assert kinds.count("FusedBatchNormalization") == 2 and "Add2" not in kinds
    np.testing.assert_allclose(forward(fused), ref, rtol=1e-4, atol=1e-4)
    assert "fused-1/bn/mean" in nn.get_parameters(grad_only=False)
    unfused = GC.GraphConverter([GC.UnfusedBatchNormalizationModifier()]).convert(fused)
    kinds = types_of(unfused)
    assert "FusedBatchNormalization" not in kinds and kinds.count("BatchNormalization") == 3
    np.testing.assert_allclose(forward(unfused), ref, rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------- layouts


def test_channel_last_matches_transposed_channel_first(resnet):
    x, y = resnet
    ref = forward(y)
    first_conv_ref = np.array(y.parent.inputs[0].d)
    modifier = GC.ChannelLastModifier([x])
    yy = GC.GraphConverter([modifier]).convert(y)
    x_cl = modifier.inputs_cl[0]
    assert x_cl.shape == (2, 8, 8, 3)
    np.testing.assert_array_equal(x_cl.d, np.transpose(x.d, (0, 2, 3, 1)))
    np.testing.assert_allclose(forward(yy), ref, rtol=1e-4, atol=1e-4)
    convs = []
    yy.visit(lambda f: convs.append(f) if f.info.type_name == "Convolution" else None)
    assert all(f.info.args["channel_last"] for f in convs)
    assert convs[0].inputs[1].shape == (4, 3, 3, 3)
    # the last pooling's output, channel last, is the transposed channel-first one
    np.testing.assert_allclose(yy.parent.inputs[0].d, np.transpose(first_conv_ref, (0, 2, 3, 1)),
                               rtol=1e-4, atol=1e-4)
    params = nn.get_parameters(grad_only=False)
    assert "conv0/conv/W_cl" in params and "bn0/bn/mean_cl" in params and "fc/affine/w_cl" in params
    # back to channel first
    back = GC.GraphConverter([GC.ChannelFirstModifier([x_cl])]).convert(yy)
    np.testing.assert_allclose(forward(back), ref, rtol=1e-4, atol=1e-4)
    assert "bn0/bn/mean_cf" in nn.get_parameters(grad_only=False)


def test_channel_last_with_given_inputs(rng):
    x = nn.Variable.from_numpy_array(rng.randn(2, 3, 6, 6))
    a = F.relu(PF.convolution(x, 2, (3, 3), pad=(1, 1), name="a"))
    y = F.concatenate(a, F.max_pooling(x, (1, 1)), axis=1)
    x_cl = nn.Variable.from_numpy_array(np.transpose(x.d, (0, 2, 3, 1)))
    yy = GC.GraphConverter([GC.ChannelLastModifier([x], [x_cl])]).convert(y)
    np.testing.assert_allclose(forward(yy), np.transpose(forward(y), (0, 2, 3, 1)),
                               rtol=1e-4, atol=1e-5)


def test_folding_then_channel_last_keeps_each_graph(rng):
    x = nn.Variable.from_numpy_array(rng.randn(2, 3, 8, 8))
    h = PF.convolution(x, 4, (3, 3), pad=(1, 1), with_bias=False, name="c")
    h = F.relu(PF.batch_normalization(h, batch_stat=False, name="bn"))
    y = PF.affine(F.global_average_pooling(h), 3, name="fc")
    randomize_bn_stats(rng)
    ref = forward(y)
    last = GC.GraphConverter([GC.ChannelLastModifier([x])]).convert(y)
    folded = GC.GraphConverter([GC.BatchNormalizationFoldingModifier()]).convert(y)
    both = GC.GraphConverter([GC.ChannelLastModifier([x])]).convert(folded)
    chained = GC.GraphConverter([GC.BatchNormalizationFoldingModifier(),
                                 GC.ChannelLastModifier([x])]).convert(y)
    assert "Mean" in types_of(both) and "BatchNormalization" not in types_of(chained)
    for g in (last, folded, both, chained, y):
        np.testing.assert_allclose(forward(g), ref, rtol=1e-4, atol=1e-5)
    # the two channel-last weights came from different sources: two parameters
    params = nn.get_parameters()
    assert "c/conv/W_cl" in params and "c/conv/W_cl-1" in params
    assert params["c/conv/W_cl"].shape == (4, 3, 3, 3)


# ---------------------------------------------------------------- other modifiers


def test_remove_function_and_test_mode(rng):
    x = nn.Variable.from_numpy_array(rng.randn(4, 3, 6, 6))
    h = PF.convolution(x, 4, (3, 3), name="c")
    y = F.mul_scalar(PF.batch_normalization(h, batch_stat=True, name="bn"), 3.0)
    randomize_bn_stats(rng)
    p = {k: np.array(v.d).reshape(-1) for k, v in nn.get_parameters(grad_only=False).items()}
    removed = GC.GraphConverter([GC.RemoveFunctionModifier(["MulScalar"])]).convert(y)
    assert types_of(removed) == ["Convolution", "BatchNormalization"]
    tested = GC.GraphConverter([GC.TestModeModifier(rm_funcs=["MulScalar"])]).convert(y)
    assert types_of(tested) == ["Convolution", "BatchNormalization"]
    assert tested.parent.info.args["batch_stat"] is False
    assert y.parent.inputs[0].parent.info.args["batch_stat"] is True
    conv = forward(h)
    ref = np_bn(conv, p["bn/bn/beta"], p["bn/bn/gamma"], p["bn/bn/mean"], p["bn/bn/var"])
    np.testing.assert_allclose(forward(tested), ref, rtol=1e-4, atol=1e-4)


def test_batch_stat_modifier_keeps_running_stats(rng):
    x = nn.Variable.from_numpy_array(rng.randn(4, 3))
    y = PF.batch_normalization(x, batch_stat=True, name="bn")
    randomize_bn_stats(rng)
    mean_before = np.array(nn.get_parameters(grad_only=False)["bn/bn/mean"].d)
    yy = GC.GraphConverter([GC.BatchNormBatchStatModifier()]).convert(y)
    forward(yy)
    np.testing.assert_array_equal(nn.get_parameters(grad_only=False)["bn/bn/mean"].d, mean_before)
    forward(y)  # the original still trains its running mean
    assert not np.allclose(nn.get_parameters(grad_only=False)["bn/bn/mean"].d, mean_before)


def test_identity_with_other_input(rng):
    x = nn.Variable.from_numpy_array(rng.randn(2, 1, 8, 8))
    y = lenet(x)
    x2 = nn.Variable.from_numpy_array(rng.randn(2, 1, 8, 8))
    yy = GC.GraphConverter([GC.IdentityModifier({x: x2})]).convert(y)
    assert types_of(yy) == types_of(y)
    got = forward(yy)
    x.d = x2.d
    np.testing.assert_allclose(got, forward(y), rtol=1e-5, atol=1e-6)
    x3 = nn.Variable(x.shape)
    yc = GC.GraphConverter([GC.IdentityModifier({x: x3}, copy_value=True)]).convert(y)
    np.testing.assert_allclose(x3.d, x.d, rtol=1e-6)
    np.testing.assert_allclose(forward(yc), forward(y), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="copy_value"):
        GC.GraphConverter([GC.IdentityModifier({x: nn.Variable((1, 1, 8, 8))},
                                               copy_value=True)]).convert(y)


def test_no_grad_leaves_parameter_grads(rng):
    x = nn.Variable.from_numpy_array(rng.randn(2, 1, 8, 8), need_grad=True)
    y = F.sum(lenet(x, test=True))
    yy = GC.GraphConverter([GC.NoGradModifier()]).convert(y)
    params = nn.get_parameters()
    for p in params.values():
        p.grad.zero()
    yy.forward()
    yy.backward()
    assert all(np.all(p.g == 0) for p in params.values())
    np.testing.assert_allclose(yy.d, forward(y), rtol=1e-5)


def test_pruning(rng):
    x = nn.Variable.from_numpy_array(rng.randn(2, 3, 6, 6))
    h = PF.convolution(x, 4, (3, 3), name="c")
    y = PF.affine(h, 5, name="fc")
    params = nn.get_parameters()
    w = np.array(params["c/conv/W"].d)
    w[1] *= 0.01
    params["c/conv/W"].d = w
    threshold = 0.05
    yy = GC.GraphConverter([GC.PruningModifier(threshold, ["Convolution"])]).convert(y)
    pruned = nn.get_parameters()["c/conv/w-pruned"].d
    keep = (w ** 2).sum(axis=(1, 2, 3)) > threshold
    assert keep.tolist() == [True, False, True, True]
    np.testing.assert_allclose(pruned, w * keep[:, None, None, None])
    np.testing.assert_array_equal(nn.get_parameters()["c/conv/W"].d, w)
    assert "fc/affine/w-pruned" not in nn.get_parameters()
    conv = yy.parent.inputs[0]
    forward(yy)
    np.testing.assert_allclose(conv.d[:, 1], np.broadcast_to(
        nn.get_parameters()["c/conv/b-pruned"].d[1], conv.d[:, 1].shape), atol=1e-6)


# ---------------------------------------------------------------- an ordinary graph


def test_folded_graph_trains_and_saves(rng, tmp_path):
    from nnabla.utils.save import save
    from nnabla.utils.nnp_graph import NnpLoader
    x = nn.Variable.from_numpy_array(rng.randn(2, 1, 8, 8))
    y = lenet(x)
    randomize_bn_stats(rng)
    yy = GC.GraphConverter([GC.BatchNormalizationFoldingModifier()]).convert(y)
    loss = F.mean(yy ** 2)
    w = nn.get_parameters()["fc1/affine/w-folded"]
    loss.forward()
    loss.backward(clear_buffer=False)
    # gradient of the folded weight against a central finite difference
    for idx in [(0, 0), (5, 3)]:
        saved = float(w.d[idx])
        vals = []
        for e in (1e-2, -1e-2):
            w.d[idx] = saved + e
            vals.append(float(forward(loss)))
        w.d[idx] = saved
        np.testing.assert_allclose(w.g[idx], (vals[0] - vals[1]) / 2e-2, rtol=2e-2, atol=1e-4)
    before = np.array(w.d)
    for p in nn.get_parameters().values():
        p.grad.zero()
    loss.forward()
    loss.backward()
    g = np.array(w.g)
    solver = S.Sgd(0.1)
    solver.set_parameters({"w": w})
    solver.update()
    np.testing.assert_allclose(w.d, before - 0.1 * g, rtol=1e-6, atol=1e-7)
    ref = forward(yy)
    path = str(tmp_path / "folded.nnp")
    save(path, {"networks": [{"name": "net", "batch_size": 2, "outputs": {"y": yy},
                              "names": {"x": graph_input(yy)}}],
                "executors": [{"name": "runtime", "network": "net", "data": ["x"],
                               "output": ["y"]}]})
    nn.clear_parameters()
    net = NnpLoader(path).get_network("net", batch_size=2)
    net.inputs["x"].d = x.d
    kinds = types_of(net.outputs["y"])
    assert "BatchNormalization" not in kinds
    np.testing.assert_allclose(forward(net.outputs["y"]), ref, rtol=1e-5, atol=1e-6)


def test_converted_training_step_is_one_program(rng):
    x = nn.Variable.from_numpy_array(rng.randn(4, 1, 8, 8))
    t = nn.Variable.from_numpy_array(rng.randint(0, 3, (4, 1)))
    y = lenet(x)
    yy = GC.GraphConverter([GC.BatchNormalizationFoldingModifier()]).convert(y)
    loss = F.mean(F.softmax_cross_entropy(yy, t))
    solver = S.Adam(0.01)
    solver.set_parameters({k: v for k, v in nn.get_parameters().items() if "folded" in k})
    losses, counts = [], []
    for _ in range(4):
        solver.zero_grad()
        loss.forward()
        loss.backward()
        solver.update()
        losses.append(float(loss.d))
        assert nn.compile_stats().last_ops == ("forward", "backward", "update")
        counts.append(nn.compile_count())
    assert counts[-1] == counts[1]  # compiled once, then reused
    assert losses[-1] < losses[0]


def test_tutorial_flow_printed_graph(resnet, capsys):
    from nnabla.utils.inspection import pprint
    x, y = resnet
    modifiers = [GC.BatchNormalizationFoldingModifier()]
    yy = GC.GraphConverter(modifiers).convert(y)
    pprint(yy)
    printed = capsys.readouterr().out
    assert "BatchNormalization" not in printed and printed.count("Convolution") >= 3
    modifiers = [GC.ChannelLastModifier([x])]
    yy = GC.GraphConverter(modifiers).convert(y)
    pprint(yy)
    printed = capsys.readouterr().out
    assert "(2, 8, 8, 3)" in printed and "(2, 8, 8, 4)" in printed
    assert modifiers[0].inputs_cl[0].shape == (2, 8, 8, 3)


def test_channel_last_warns_about_axis_dependent_functions(rng, caplog):
    x = nn.Variable.from_numpy_array(rng.randn(2, 3, 4, 4))
    y = F.softmax(F.relu(PF.convolution(x, 2, (1, 1), name="c")), axis=1)
    with caplog.at_level("WARNING", logger="nnabla"):
        GC.GraphConverter([GC.ChannelLastModifier([x])]).convert(y)
    messages = [r.getMessage() for r in caplog.records]
    assert any("Softmax" in m for m in messages)
    assert not any("ReLU" in m for m in messages)


def test_self_folding_two_graphs_keep_their_own_statistics(rng):
    outs = []
    for name in ("a", "b"):
        x = nn.Variable.from_numpy_array(rng.randn(2, 3))
        outs.append(PF.batch_normalization(x, batch_stat=False, name=name))
    randomize_bn_stats(rng)
    refs = [forward(y) for y in outs]
    converted = [GC.GraphConverter([GC.BatchNormalizationSelfFoldingModifier()]).convert(y)
                 for y in outs]
    for c, ref in zip(converted, refs):
        np.testing.assert_allclose(forward(c), ref, rtol=1e-5, atol=1e-6)
    params = nn.get_parameters()
    assert "bn-self-folding/c0-bn-self-folding-0" in params
    assert "bn-self-folding/c0-bn-self-folding-0-1" in params


def test_init_map_func_inputs_replaces_a_graph_input(rng):
    class Swap(GC.FunctionModifier):
        def __init__(self, x, x_new):
            super().__init__()
            self.init_map_func_inputs(x.function_references[0], [x_new])

    x = nn.Variable.from_numpy_array(rng.randn(2, 3))
    w = rng.randn(3, 2).astype(np.float32)
    y = F.relu(F.affine(x, nn.Variable.from_numpy_array(w)))
    x_new = nn.Variable.from_numpy_array(rng.randn(2, 3).astype(np.float32))
    yy = GC.GraphConverter([Swap(x, x_new)]).convert(y)
    np.testing.assert_allclose(forward(yy), np.maximum(x_new.d @ w, 0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("modifiers", ["fold", "fold+channel_last"])
def test_converted_graph_exports_to_onnx(rng, tmp_path, modifiers):
    """A converted graph leaves through the converters like any other: .nnp, then ONNX,
    run in onnxruntime against nnjax's forward of the converted graph."""
    import argparse
    ort = pytest.importorskip("onnxruntime")
    from nnabla.utils.save import save
    from nnabla.utils.converter import convert_files
    x = nn.Variable.from_numpy_array(rng.randn(2, 3, 8, 8).astype(np.float32))
    y = small_resnet(x)
    randomize_bn_stats(rng)
    mods = [GC.BatchNormalizationFoldingModifier()]
    if modifiers == "fold+channel_last":
        mods.append(GC.ChannelLastModifier([x]))
    yy = GC.GraphConverter(mods).convert(y)
    assert "BatchNormalization" not in types_of(yy)
    xin = graph_input(yy)
    ref = forward(yy)
    nnp_path, onnx_path = str(tmp_path / "conv.nnp"), str(tmp_path / "conv.onnx")
    save(nnp_path, {"networks": [{"name": "net", "batch_size": 2, "outputs": {"y": yy},
                                  "names": {"x": xin}}],
                    "executors": [{"name": "runtime", "network": "net", "data": ["x"],
                                   "output": ["y"]}]})
    args = argparse.Namespace(export_format="ONNX")
    convert_files(args, [nnp_path], onnx_path)
    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: np.array(xin.d, np.float32)}
    np.testing.assert_allclose(session.run(None, feed)[0], ref, rtol=1e-4, atol=1e-5)
