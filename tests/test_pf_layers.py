"""Parametric functions: parameter names (scopes, ``name=``), shapes, creation order,
need_grad flags, and the initial values NNabla's documented initializers draw from
``nnabla.random.prng`` after ``nn.seed(313)`` (conftest), plus the computed outputs."""
import numpy as np
import pytest

import nnabla as nn
import nnabla.parametric_functions as PF
from nnabla.initializer import ConstantInitializer, NormalInitializer


def glorot(inmaps, outmaps, kernel=(1,)):
    return np.sqrt(6.0 / (np.prod(kernel) * (inmaps + outmaps)))


def params():
    return nn.get_parameters(grad_only=False)


def _var(a):
    return nn.Variable.from_numpy_array(np.asarray(a, np.float32))


# ---------------------------------------------------------------- core layers
def test_core_layers_scopes_values_and_name_nesting(rng):
    x = _var(rng.randn(2, 3, 5, 5))
    prng = np.random.RandomState(313)
    y1 = PF.affine(x, (2, 3), name="fc")
    y2 = PF.convolution(x, 4, (3, 3), pad=(1, 1))
    y3 = PF.deconvolution(x, 2, (2, 2), group=1, name="up")
    y4 = PF.batch_normalization(x, name="norm")
    y5 = PF.embed(_var([[0, 2]]), 3, 4)
    p = params()
    assert list(p.keys()) == ["fc/affine/W", "fc/affine/b", "conv/W", "conv/b",
                              "up/deconv/W", "up/deconv/b", "norm/bn/beta", "norm/bn/gamma",
                              "norm/bn/mean", "norm/bn/var", "embed/W"]
    d = glorot(75, 6)
    np.testing.assert_allclose(p["fc/affine/W"].d, prng.uniform(-d, d, (75, 2, 3)), rtol=1e-6)
    d = glorot(3, 4, (3, 3))
    np.testing.assert_allclose(p["conv/W"].d, prng.uniform(-d, d, (4, 3, 3, 3)), rtol=1e-6)
    d = glorot(2, 3, (2, 2))
    np.testing.assert_allclose(p["up/deconv/W"].d, prng.uniform(-d, d, (3, 2, 2, 2)), rtol=1e-6)
    np.testing.assert_allclose(p["embed/W"].d, prng.uniform(-np.sqrt(3), np.sqrt(3), (3, 4)),
                               rtol=1e-6)
    assert p["norm/bn/mean"].need_grad is False and p["norm/bn/gamma"].need_grad is True
    assert [y.shape for y in (y1, y2, y3, y4, y5)] == [
        (2, 2, 3), (2, 4, 5, 5), (2, 2, 6, 6), (2, 3, 5, 5), (1, 2, 4)]
    # reusing the scope shares the parameters
    PF.affine(x, (2, 3), name="fc")
    assert len(params()) == 11


# ---------------------------------------------------------------- convolution variants
def test_depthwise_and_deformable_convolution(rng):
    x = _var(rng.randn(2, 3, 5, 5))
    prng = np.random.RandomState(313)
    y1 = PF.depthwise_convolution(x, (3, 3), multiplier=2, pad=(1, 1))
    y2 = PF.depthwise_deconvolution(x, (2, 2), divisor=3, name="dd")
    offset = _var(rng.randn(2, 18, 5, 5) * 0.5)
    y3 = PF.deformable_convolution(x, 4, (3, 3), offset, pad=(1, 1), with_bias=False,
                                   fix_parameters=True)
    p = params()
    assert list(p.keys()) == ["depthwise_conv/W", "depthwise_conv/b", "dd/depthwise_deconv/W",
                              "dd/depthwise_deconv/b", "deformable_conv/W"]
    d = glorot(6, 3, (3, 3))
    np.testing.assert_allclose(p["depthwise_conv/W"].d, prng.uniform(-d, d, (6, 3, 3)),
                               rtol=1e-6)
    assert p["depthwise_conv/b"].shape == (6,)
    d = glorot(3, 3, (2, 2))
    np.testing.assert_allclose(p["dd/depthwise_deconv/W"].d, prng.uniform(-d, d, (3, 2, 2)),
                               rtol=1e-6)
    assert p["dd/depthwise_deconv/b"].shape == (1,)
    d = glorot(3, 4, (3, 3))
    np.testing.assert_allclose(p["deformable_conv/W"].d, prng.uniform(-d, d, (4, 3, 3, 3)),
                               rtol=1e-6)
    assert y3.parent.inputs[1].need_grad is False  # fix_parameters
    assert [y.shape for y in (y1, y2, y3)] == [(2, 6, 5, 5), (2, 1, 6, 6), (2, 4, 5, 5)]
    assert y1.parent.info.type_name == "DepthwiseConvolution"
    assert y3.parent.info.type_name == "DeformableConvolution"


def test_low_rank_convolutions(rng):
    x = _var(rng.randn(2, 4, 5, 5))
    prng = np.random.RandomState(313)
    y = PF.svd_affine(x, 6, 3)
    d = glorot(100, 6)
    w = prng.uniform(-d, d, (100, 6))
    u, s, vt = np.linalg.svd(w, full_matrices=False)
    p = params()
    assert list(p.keys()) == ["svd_affine/U", "svd_affine/V", "svd_affine/b"]
    np.testing.assert_allclose(p["svd_affine/U"].d @ p["svd_affine/V"].d,
                               (u[:, :3] * s[:3]) @ vt[:3], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(p["svd_affine/U"].d, (u @ np.diag(s))[:, :3], rtol=1e-4,
                               atol=1e-6)
    assert y.shape == (2, 6)

    nn.clear_parameters()
    prng = np.random.RandomState(313)
    nn.seed(313)
    y = PF.svd_convolution(x, 3, (3, 3), 2, pad=(1, 1))
    p = params()
    assert list(p.keys()) == ["svd_conv/U", "svd_conv/V", "svd_conv/b"]
    assert p["svd_conv/U"].shape == (8, 3, 3) and p["svd_conv/V"].shape == (3, 8, 1, 1)
    d = glorot(4, 3, (3, 3))
    w = prng.uniform(-d, d, (3, 4, 3, 3)).reshape(3, 4, 9)
    # full-rank factors reproduce every input map's (outmaps x kernel) block
    nn.clear_parameters()
    nn.seed(313)
    PF.svd_convolution(x, 3, (3, 3), 3, name="full")
    p = params()
    U = p["full/svd_conv/U"].d.reshape(4, 3, 9)           # (in, r, K)
    V = p["full/svd_conv/V"].d.reshape(3, 4, 3)           # (out, in, r)
    np.testing.assert_allclose(np.einsum("irk,oir->oik", U, V), w, rtol=1e-4, atol=1e-5)
    assert y.parent.info.type_name == "Convolution"
    assert y.parent.inputs[0].parent.info.type_name == "DepthwiseConvolution"

    nn.clear_parameters()
    nn.seed(313)
    prng = np.random.RandomState(313)
    y = PF.cpd3_convolution(x, 2, (2, 2), 8, max_iter=200)
    p = params()
    assert list(p.keys()) == ["cpd3_conv/I", "cpd3_conv/O", "cpd3_conv/K", "cpd3_conv/b"]
    assert [p[k].shape for k in p] == [(8, 4, 1, 1), (2, 8, 1, 1), (8, 2, 2), (2,)]
    d = glorot(4, 2, (2, 2))
    w = prng.uniform(-d, d, (2, 4, 2, 2)).reshape(2, 4, 4)
    approx = np.einsum("or,ir,kr->oik", p["cpd3_conv/O"].d.reshape(2, 8),
                       p["cpd3_conv/I"].d.reshape(8, 4).T, p["cpd3_conv/K"].d.reshape(8, 4).T)
    assert np.linalg.norm(approx - w) < 0.05 * np.linalg.norm(w)
    assert y.shape == (2, 2, 4, 4)


# ---------------------------------------------------------------- recurrent
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_recurrent_parameters(kind, rng):
    T, B, I, H, L = 3, 2, 3, 4, 2
    x = _var(rng.randn(T, B, I))
    h = _var(np.zeros((L, 2, B, H)))
    prng = np.random.RandomState(313)
    g = {"rnn": (), "lstm": (4,), "gru": (3,)}[kind]
    if kind == "lstm":
        out = PF.lstm(x, h, h, num_layers=L, bidirectional=True)
    else:
        out = getattr(PF, kind)(x, h, num_layers=L, bidirectional=True)
    p = params()
    assert list(p.keys()) == [f"{kind}/weight_l0", f"{kind}/weight", f"{kind}/bias"]
    ih = prng.uniform(-glorot(I, H), glorot(I, H), (2,) + g + (H, I))
    hh = prng.uniform(-glorot(H, H), glorot(H, H), (2,) + g + (H, H))
    np.testing.assert_allclose(p[f"{kind}/weight_l0"].d, np.concatenate([ih, hh], -1), rtol=1e-6)
    ih = prng.uniform(-glorot(2 * H, H), glorot(2 * H, H), (L - 1, 2) + g + (H, 2 * H))
    hh = prng.uniform(-glorot(H, H), glorot(H, H), (L - 1, 2) + g + (H, H))
    np.testing.assert_allclose(p[f"{kind}/weight"].d, np.concatenate([ih, hh], -1), rtol=1e-6)
    gb = {"rnn": (), "lstm": (4,), "gru": (4,)}[kind]
    assert p[f"{kind}/bias"].shape == (L, 2) + gb + (H,)
    np.testing.assert_allclose(p[f"{kind}/bias"].d, 0)
    assert out[0].shape == (T, B, 2 * H)
    assert out[0].parent.info.type_name == kind.upper()


def test_recurrent_single_layer_and_options(rng):
    x = _var(rng.randn(3, 2, 3))
    h = _var(np.zeros((1, 1, 2, 5)))
    y, hn = PF.rnn(x, h, with_bias=False, fix_parameters=True, nonlinearity="relu")
    assert list(params().keys()) == ["rnn/weight_l0"]
    assert y.parent.inputs[2].need_grad is False
    assert y.parent.info.args["nonlinearity"] == "relu"
    y, hn = PF.gru(x, h, name="g1")
    assert list(params().keys())[-2:] == ["g1/gru/weight_l0", "g1/gru/bias"]
    with pytest.raises(ValueError, match="lstm_cell"):
        PF.lstm(x, h, h, 5)


def test_lstm_cell_and_class(rng):
    xb = rng.randn(2, 3).astype(np.float32)
    x = _var(xb)
    h = _var(np.zeros((2, 4)))
    c = _var(np.zeros((2, 4)))
    prng = np.random.RandomState(313)
    h1, c1 = PF.lstm_cell(x, h, c, 4)
    p = params()
    assert list(p.keys()) == ["lstm/affine/W", "lstm/affine/b"]
    d = glorot(7, 16)
    W = prng.uniform(-d, d, (7, 4, 4))
    np.testing.assert_allclose(p["lstm/affine/W"].d, W, rtol=1e-6)
    assert p["lstm/affine/b"].shape == (4, 4)
    cell = PF.LSTMCell(2, 4, name="cell")
    h2 = cell(x)
    h3 = cell(x)
    assert "cell/lstm/affine/W" in params()
    nn.forward_all([h1, c1, h3])
    gates = np.concatenate([xb, np.zeros((2, 4))], 1) @ W.reshape(7, 16)
    i, o, f, g = [gates.reshape(2, 4, 4)[:, k] for k in range(4)]

    def sig(v):
        return 1 / (1 + np.exp(-v))
    c_ref = sig(i) * np.tanh(g)
    np.testing.assert_allclose(c1.d, c_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h1.d, sig(o) * np.tanh(c_ref), rtol=1e-5, atol=1e-6)
    assert h2.shape == (2, 4) and cell.h is h3
    cell.reset_state()
    np.testing.assert_allclose(cell.c.d, 0)


# ---------------------------------------------------------------- normalization layers
def test_normalization_layers(rng):
    x = _var(rng.randn(2, 4, 3))
    outs = [PF.fused_batch_normalization(x, name="f"),
            PF.sync_batch_normalization(x, None, axes=[2], name="s", no_scale=True),
            PF.mean_subtraction(x),
            PF.layer_normalization(x),
            PF.instance_normalization(x, param_init={"gamma": ConstantInitializer(2)}),
            PF.group_normalization(x, 2, no_bias=True),
            PF.prelu(x),
            PF.prelu(x, shared=False, name="p2")]
    shapes = {k: v.shape for k, v in params().items()}
    assert shapes == {
        "f/bn/beta": (1, 4, 1), "f/bn/gamma": (1, 4, 1), "f/bn/mean": (1, 4, 1),
        "f/bn/var": (1, 4, 1), "s/bn/beta": (1, 1, 3), "s/bn/mean": (1, 1, 3),
        "s/bn/var": (1, 1, 3), "mean_subtraction/mean": (4, 3), "mean_subtraction/t": (1,),
        "layer_normalization/beta": (1, 4, 3), "layer_normalization/gamma": (1, 4, 3),
        "instance_normalization/beta": (1, 4, 1), "instance_normalization/gamma": (1, 4, 1),
        "group_normalization/gamma": (1, 4, 1), "prelu/slope": (), "p2/prelu/slope": (4,)}
    p = params()
    np.testing.assert_allclose(p["f/bn/var"].d, 1)
    np.testing.assert_allclose(p["instance_normalization/gamma"].d, 2)
    np.testing.assert_allclose(p["p2/prelu/slope"].d, 0.25)
    assert p["mean_subtraction/t"].need_grad is False
    assert [o.parent.info.type_name for o in outs] == [
        "FusedBatchNormalization", "SyncBatchNormalization", "MeanSubtraction",
        "LayerNormalization", "InstanceNormalization", "GroupNormalization", "PReLU", "PReLU"]


def test_spectral_and_weight_normalization(rng):
    w = _var(rng.randn(3, 2, 2))
    prng = np.random.RandomState(313)
    y1 = PF.spectral_norm(w, dim=1)
    y2 = PF.weight_normalization(w, dim=2)
    y3 = PF.convolution(_var(rng.randn(1, 2, 4, 4)), 3, (2, 2),
                        w_init=NormalInitializer(0.05),
                        apply_w=lambda v: PF.weight_normalization(v, fix_parameters=True))
    p = params()
    assert list(p.keys()) == ["spectral-norm/u", "wn/g", "conv/W", "conv/wn/g", "conv/b"]
    np.testing.assert_allclose(p["spectral-norm/u"].d, prng.randn(2), rtol=1e-6)
    assert p["spectral-norm/u"].need_grad is False
    np.testing.assert_allclose(p["wn/g"].d, np.sqrt((w.d ** 2).sum(axis=(0, 1)) + 1e-12),
                               rtol=1e-6)
    cw = p["conv/W"].d
    np.testing.assert_allclose(p["conv/wn/g"].d, np.sqrt((cw ** 2).sum(axis=(1, 2, 3)) + 1e-12),
                               rtol=1e-6)
    assert y1.parent.info.type_name == "SpectralNorm"
    assert y2.parent.info.type_name == "WeightNormalization"
    assert y3.parent.inputs[1].parent.info.type_name == "WeightNormalization"
    assert y3.parent.inputs[1].parent.inputs[1].need_grad is False
    y1.forward()
    assert not np.allclose(p["spectral-norm/u"].d, np.random.RandomState(313).randn(2))


# ---------------------------------------------------------------- attention
def test_multi_head_attention_parameters(rng):
    q = _var(rng.randn(3, 2, 4))
    kv = _var(rng.randn(5, 2, 6))
    prng = np.random.RandomState(313)
    out, w = PF.multi_head_attention(q, kv, kv, num_heads=2, add_attn_bias=True, out_dim=3)
    p = params()
    assert list(p.keys()) == [f"multi_head_attention/{n}" for n in (
        "q_weight", "k_weight", "v_weight", "out_weight", "q_bias", "k_bias", "v_bias",
        "out_bias", "attn_bias_k", "attn_bias_v")]
    expected = {}
    for name, shape, (fi, fo) in (("q_weight", (4, 4), (4, 4)), ("k_weight", (6, 4), (6, 4)),
                                  ("v_weight", (6, 6), (6, 6)), ("out_weight", (6, 3), (6, 3))):
        expected[name] = prng.uniform(-glorot(fi, fo), glorot(fi, fo), shape)
    expected["attn_bias_k"] = prng.uniform(-glorot(4, 1), glorot(4, 1), (1, 1, 4))
    expected["attn_bias_v"] = prng.uniform(-glorot(6, 1), glorot(6, 1), (1, 1, 6))
    for name, value in expected.items():
        np.testing.assert_allclose(p[f"multi_head_attention/{name}"].d, value, rtol=1e-6,
                                   err_msg=name)
    assert p["multi_head_attention/out_bias"].shape == (3,)
    assert out.shape == (3, 2, 3) and w.shape == (4, 3, 6)


def test_transformer_parameter_tree(rng):
    src = _var(rng.randn(4, 2, 4))
    tgt = _var(rng.randn(3, 2, 4))
    y = PF.transformer(src, tgt, embed_dim=4, num_heads=2, num_encoder_layers=2,
                       num_decoder_layers=1, dim_feedforward=5, dropout=0.0)
    keys = list(params().keys())
    mha = ["q_weight", "k_weight", "v_weight", "out_weight", "q_bias", "k_bias", "v_bias",
           "out_bias"]
    enc = [f"src_self_attn/multi_head_attention/{n}" for n in mha] + [
        "enc_layer_norm1/layer_normalization/beta", "enc_layer_norm1/layer_normalization/gamma",
        "enc_affine1/affine/W", "enc_affine1/affine/b", "enc_affine2/affine/W",
        "enc_affine2/affine/b", "enc_layer_norm2/layer_normalization/beta",
        "enc_layer_norm2/layer_normalization/gamma"]
    dec = [f"tgt_self_attn/multi_head_attention/{n}" for n in mha] + [
        "dec_layer_norm1/layer_normalization/beta", "dec_layer_norm1/layer_normalization/gamma"
    ] + [f"tgt_memory_attn/multi_head_attention/{n}" for n in mha] + [
        "dec_layer_norm2/layer_normalization/beta", "dec_layer_norm2/layer_normalization/gamma",
        "dec_affine1/affine/W", "dec_affine1/affine/b", "dec_affine2/affine/W",
        "dec_affine2/affine/b", "dec_layer_norm3/layer_normalization/beta",
        "dec_layer_norm3/layer_normalization/gamma"]
    assert keys == ([f"transformer/encoder00/transformer_encode/{k}" for k in enc]
                    + [f"transformer/encoder01/transformer_encode/{k}" for k in enc]
                    + [f"transformer/decoder00/transformer_decode/{k}" for k in dec])
    assert params()["transformer/encoder00/transformer_encode/enc_affine1/affine/W"].shape == \
        (4, 5)
    assert params()["transformer/encoder00/transformer_encode/enc_layer_norm1/"
                    "layer_normalization/gamma"].shape == (1, 1, 4)
    y.forward()
    assert y.shape == (3, 2, 4) and np.isfinite(y.d).all()
    with pytest.raises(ValueError, match="transformer"):
        PF.transformer(src, _var(rng.randn(3, 1, 4)), embed_dim=4, num_heads=2)
