"""Special-use functions: VATNoise, Unlink, Sink, NmsDetection2d, ONNXNonMaxSuppression,
MaxPoolingBackward, PatchCorrelation, Unique, EyeLike, Mod2, BitShift, Einsum."""
import itertools

import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
from function_check import check_grad

f32 = np.float32


def _var(a, need_grad=False, dtype=f32):
    return nn.Variable.from_numpy_array(np.asarray(a, dtype), need_grad=need_grad)


# ---------------------------------------------------------------- VATNoise / Unlink / Sink
def test_vat_noise(rng):
    x = rng.randn(3, 2, 4).astype(f32)
    w = rng.randn(3, 2, 4).astype(f32)
    xv, wv = _var(x, True), _var(w, True)
    y = F.vat_noise(xv, wv, base_axis=1, eps=2.0)
    y.forward()
    norm = np.sqrt((x.reshape(3, -1) ** 2).sum(1) + 1e-8).reshape(3, 1, 1)
    np.testing.assert_allclose(y.d, 2.0 * x / norm, rtol=1e-5)
    g = rng.randn(*x.shape).astype(f32)
    xv.g = 0
    wv.g = 5
    y.backward(g)
    np.testing.assert_array_equal(xv.g, 0)
    # as NNabla's kernel: backward overwrites w's data with eps * dy, w's grad stays
    np.testing.assert_allclose(wv.d, 2.0 * g, rtol=1e-6)
    np.testing.assert_array_equal(wv.g, 5)
    assert y.parent.info.type_name == "VATNoise"
    assert y.parent.info.args == dict(base_axis=1, eps=2.0)
    with pytest.raises(ValueError, match="vat_noise"):
        F.vat_noise(xv, _var(np.zeros((3, 8))))


@pytest.mark.parametrize("path", ["fused", "by_function", "function_object"])
def test_vat_noise_backward_writes_w_data(rng, path):
    x = rng.randn(2, 3, 5).astype(f32)
    g = rng.randn(2, 3, 5).astype(f32)
    xv, wv = _var(x, True), _var(np.zeros_like(x), False)  # w's need_grad does not matter
    y = F.vat_noise(xv, wv, base_axis=-2, eps=1.5)  # -2 is axis 1 of 3
    y.forward()
    norm = np.sqrt((x.reshape(2, -1) ** 2).sum(1) + 1e-8).reshape(2, 1, 1)
    np.testing.assert_allclose(y.d, 1.5 * x / norm, rtol=1e-5)
    wv.g = 7
    if path == "fused":
        y.backward(g)
    elif path == "by_function":
        y.backward(g, function_pre_hook=lambda f: None)
    else:
        y.g = g
        y.parent.backward([xv, wv], [y], accum=[False, False])
    np.testing.assert_allclose(wv.d, 1.5 * g, rtol=1e-6)
    np.testing.assert_array_equal(wv.g, 7)


def test_sink_backward_equals_separate_backwards_bitwise(rng):
    v = _var(rng.randn(2, 3, 4), True)
    h0, h1 = F.tanh(v), F.sigmoid(v)
    v.g = 0
    h0.forward()
    h1.forward()
    h0.backward()
    h1.backward()
    separate = v.g.copy()
    t, s = np.tanh(v.d.astype(np.float64)), 1 / (1 + np.exp(-v.d.astype(np.float64)))
    np.testing.assert_allclose(separate, (1 - t * t) + s * (1 - s), rtol=1e-5)
    v.g = 0
    sink = F.sink(h0, h1, one_input_grad=True)
    sink.forward()
    sink.backward()
    np.testing.assert_array_equal(v.g, separate)


def test_tanh_second_derivative(rng):
    x = _var(rng.randn(5), True)
    g = nn.grad([F.sum(F.tanh(x))], [x])[0]  # 1 - tanh^2
    gg = nn.grad([F.sum(g)], [x])[0]          # -2 tanh (1 - tanh^2)
    gg.forward()
    t = np.tanh(x.d.astype(np.float64))
    np.testing.assert_allclose(gg.d, -2 * t * (1 - t * t), rtol=1e-5, atol=1e-6)


def test_unlink(rng):
    x = _var(rng.randn(2, 3), True)
    y = F.unlink(x)
    loss = F.sum(y * x)
    loss.forward()
    np.testing.assert_array_equal(y.d, x.d)
    x.g = 0
    loss.backward()
    np.testing.assert_allclose(x.g, x.d)  # only the direct path contributes
    assert y.parent.info.type_name == "Unlink" and y.parent.info.args == {}


def test_sink(rng):
    a, b = _var(rng.randn(2, 3), True), _var(rng.randn(4), True)
    la, lb = F.sum(a * a), F.sum(b * 3)
    s = F.sink(la, lb)
    assert s.shape == () and s.parent.info.type_name == "Sink"
    assert s.parent.info.args == dict(one_input_grad=True)
    s.forward()
    np.testing.assert_allclose(la.d, np.sum(a.d ** 2), rtol=1e-6)
    a.g = b.g = 0
    s.backward(5.0)  # the seed is ignored: every input gets gradient 1
    np.testing.assert_allclose(a.g, 2 * a.d, rtol=1e-6)
    np.testing.assert_allclose(b.g, 3 * np.ones(4))
    s2 = F.sink(la, lb, one_input_grad=False)
    la.g, lb.g, a.g, b.g = 2.0, 0.0, 0.0, 0.0
    s2.backward()  # each input's own grad is its seed
    np.testing.assert_allclose(a.g, 2 * 2 * a.d, rtol=1e-6)
    np.testing.assert_array_equal(b.g, 0)
    with pytest.raises(ValueError, match="sink"):
        F.sink()


# ---------------------------------------------------------------- NMS
def test_nms_detection2d_per_class():
    boxes = np.array([[[0.5, 0.5, 0.4, 0.4, 0.9, 0.9, 0.2],
                       [0.52, 0.5, 0.4, 0.4, 0.8, 0.8, 0.9],
                       [0.1, 0.1, 0.1, 0.1, 0.3, 0.9, 0.9]]], f32)
    y = F.nms_detection2d(_var(boxes), thresh=0.5, nms=0.45)
    y.forward()
    np.testing.assert_array_equal(y.d[..., :4], boxes[..., :4])
    # objectness below thresh -> 0, class probabilities = objectness * p (0 below thresh)
    np.testing.assert_allclose(y.d[0, :, 4], [0.9, 0.8, 0.0])
    # class 0: box 1 (0.64) overlaps box 0 (0.81) -> suppressed;
    # class 1: box 1 (0.72) suppresses box 0 (0.18 < thresh anyway)
    np.testing.assert_allclose(y.d[0, :, 5], [0.81, 0.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(y.d[0, :, 6], [0.0, 0.72, 0.0], rtol=1e-6)
    assert y.parent.info.type_name == "NmsDetection2d"
    assert y.parent.info.args == dict(thresh=0.5, nms=0.45, nms_per_class=True)


def test_nms_detection2d_by_objectness():
    boxes = np.array([[[0.5, 0.5, 0.4, 0.4, 0.9, 0.9, 0.6],
                       [0.52, 0.5, 0.4, 0.4, 0.8, 0.8, 0.9],
                       [0.1, 0.1, 0.1, 0.1, 0.7, 0.9, 0.9]]], f32)
    y = F.nms_detection2d(_var(boxes), nms_per_class=False)
    y.forward()
    np.testing.assert_allclose(y.d[0, :, 4], [0.9, 0.0, 0.7])
    np.testing.assert_array_equal(y.d[0, 1, 5:], 0)
    np.testing.assert_allclose(y.d[0, 2, 5:], [0.63, 0.63], rtol=1e-6)
    with pytest.raises(ValueError, match="nms_detection2d"):
        F.nms_detection2d(nn.Variable((2, 5)))


def test_onnx_non_max_suppression():
    # the ONNX operator's examples
    boxes = np.array([[[0.5, 0.5, 1.0, 1.0], [0.5, 0.6, 1.0, 1.0], [0.5, 0.4, 1.0, 1.0],
                       [0.5, 10.5, 1.0, 1.0], [0.5, 10.6, 1.0, 1.0],
                       [0.5, 100.5, 1.0, 1.0]]], f32)
    scores = np.array([[[0.9, 0.75, 0.6, 0.95, 0.5, 0.3]]], f32)
    y = F.onnx_non_max_suppression(_var(boxes), _var(scores), center_point_box=1,
                                   max_output_boxes_per_class=3, iou_threshold=0.5)
    y.forward()
    np.testing.assert_array_equal(y.d, [[0, 0, 3], [0, 0, 0], [0, 0, 5]])
    assert y.parent.info.type_name == "ONNXNonMaxSuppression"
    assert y.parent.info.args == dict(center_point_box=1, max_output_boxes_per_class=3,
                                      iou_threshold=0.5, score_threshold=0.0)
    corners = np.array([[[0.0, 0.0, 1.0, 1.0], [0.0, 0.1, 1.0, 1.1], [0.0, -0.1, 1.0, 0.9],
                         [0.0, 10.0, 1.0, 11.0], [0.0, 10.1, 1.0, 11.1],
                         [0.0, 100.0, 1.0, 101.0]]], f32)
    z = F.onnx_non_max_suppression(_var(corners), _var(scores), 0, 3, 0.5, 0.4)
    z.forward()
    np.testing.assert_array_equal(z.d, [[0, 0, 3], [0, 0, 0]])  # score threshold 0.4
    none = F.onnx_non_max_suppression(_var(corners), _var(scores))
    assert none.shape == (0, 3)
    with pytest.raises(ValueError, match="onnx_non_max_suppression"):
        F.onnx_non_max_suppression(_var(corners), _var(scores[:, :, :4]))


# ---------------------------------------------------------------- MaxPoolingBackward
@pytest.mark.parametrize("kernel, stride, pad, channel_last", [
    ((2, 2), None, None, False), ((3, 2), (2, 1), (1, 0), False), ((2, 2), (1, 1), None, True)])
def test_max_pooling_backward(rng, kernel, stride, pad, channel_last):
    x = rng.randn(2, 3, 5, 4).astype(f32)
    xv = _var(x, True)
    y = F.max_pooling(xv, kernel, stride, True, pad, channel_last)
    y.forward()
    dy = rng.randn(*y.shape).astype(f32)
    xv.g = 0
    y.backward(dy)
    dx = F.max_pooling_backward(_var(dy), _var(x), kernel, stride, True, pad, channel_last)
    dx.forward()
    np.testing.assert_allclose(dx.d, xv.g, rtol=1e-6)
    assert dx.parent.info.type_name == "MaxPoolingBackward"
    assert dx.parent.info.args["kernel"] == list(kernel)
    # it is linear in dy: its own gradient w.r.t. dy is max pooling's forward routing
    check_grad(lambda d: F.max_pooling_backward(d, _var(x), kernel, stride, True, pad,
                                                channel_last), [dy], wrt=[0])


def test_max_pooling_backward_ties_go_to_first():
    x = np.ones((1, 1, 2, 2), f32)
    dx = F.max_pooling_backward(_var(np.full((1, 1, 1, 1), 3.0)), _var(x), (2, 2))
    dx.forward()
    np.testing.assert_array_equal(dx.d[0, 0], [[3, 0], [0, 0]])


# ---------------------------------------------------------------- PatchCorrelation
def ref_patch_correlation(x1, x2, patch, shift, patch_step, shift_step, padding):
    """NHWC reference: O[n, i, j, sy, sx]."""
    n, h, w, c = x1.shape
    top, bottom, left, right = padding
    p1 = np.pad(x1, ((0, 0), (top, bottom), (left, right), (0, 0)))
    p2 = np.pad(x2, ((0, 0), (top, bottom), (left, right), (0, 0)))
    hp, wp = p1.shape[1:3]
    ho = (hp - patch[0]) // patch_step[0] + 1
    wo = (wp - patch[1]) // patch_step[1] + 1
    sys_ = list(range(-shift[0], shift[0] + 1, shift_step[0]))
    sxs = list(range(-shift[1], shift[1] + 1, shift_step[1]))
    out = np.zeros((n, ho, wo, len(sys_), len(sxs)))
    for b, i, j in itertools.product(range(n), range(ho), range(wo)):
        for a, sy in enumerate(sys_):
            for d, sx in enumerate(sxs):
                acc = 0.0
                for ki, kj in itertools.product(range(patch[0]), range(patch[1])):
                    y1, x1_ = i * patch_step[0] + ki, j * patch_step[1] + kj
                    y2, x2_ = y1 + sy, x1_ + sx
                    if 0 <= y2 < hp and 0 <= x2_ < wp:
                        acc += np.dot(p1[b, y1, x1_], p2[b, y2, x2_])
                out[b, i, j, a, d] = acc
    return out


def test_patch_correlation_doc_examples():
    x = _var(np.ones((1, 2, 3, 4)))
    y = F.patch_correlation(x, x, patch=(3, 4))
    y.forward()
    np.testing.assert_allclose(y.d, [[[[[24.0]]]]])
    y = F.patch_correlation(x, x, patch=(2, 3), patch_step=(2, 1))
    y.forward()
    np.testing.assert_allclose(y.d, [[[[[12.0, 12.0]]]]])
    y = F.patch_correlation(x, x, (3, 1), shift=(0, 1), shift_step=(1, 2))
    y.forward()
    np.testing.assert_allclose(y.d, [[[[[0, 6, 6, 6]], [[6, 6, 6, 0]]]]])
    big = F.patch_correlation(nn.Variable((1, 8, 11, 15)), nn.Variable((1, 8, 11, 15)),
                              shift=4, shift_step=2)
    assert big.shape == (1, 5, 5, 11, 15)
    assert big.parent.info.type_name == "Transpose"  # the composite returns NCHW order


@pytest.mark.parametrize("patch, shift, patch_step, shift_step, padding", [
    ((2, 2), (1, 1), (1, 1), (1, 1), (0, 0, 0, 0)),
    ((1, 3), (2, 1), (2, 1), (2, 1), (1, 0, 2, 1)),
    ((3, 2), (0, 2), (1, 2), (1, 1), (1,))])
def test_patch_correlation_channel_last(rng, patch, shift, patch_step, shift_step, padding):
    x1 = rng.randn(2, 4, 5, 3).astype(f32)
    x2 = rng.randn(2, 4, 5, 3).astype(f32)
    pad4 = padding * 4 if len(padding) == 1 else padding
    y = F.patch_correlation(_var(x1), _var(x2), patch, shift, patch_step, shift_step,
                            padding[0] if len(padding) == 1 else padding, channel_last=True)
    y.forward()
    ref = ref_patch_correlation(x1, x2, patch, shift, patch_step, shift_step, pad4)
    np.testing.assert_allclose(y.d, ref, rtol=1e-5, atol=1e-5)
    assert y.parent.info.type_name == "PatchCorrelation"
    assert y.parent.info.args == dict(patch=list(patch), shift=list(shift),
                                      patch_step=list(patch_step), shift_step=list(shift_step),
                                      padding=list(pad4))


def test_patch_correlation_nchw_and_grad(rng):
    x1 = rng.randn(1, 2, 3, 4)
    x2 = rng.randn(1, 2, 3, 4)
    y = F.patch_correlation(_var(x1), _var(x2), (2, 2), shift=(1, 0))
    y.forward()
    ref = ref_patch_correlation(x1.transpose(0, 2, 3, 1), x2.transpose(0, 2, 3, 1), (2, 2),
                                (1, 0), (1, 1), (1, 1), (0, 0, 0, 0))
    np.testing.assert_allclose(y.d, ref.transpose(0, 3, 4, 1, 2), rtol=1e-5, atol=1e-5)
    check_grad(lambda a, b: F.patch_correlation(a, b, (2, 2), shift=(1, 0)), [x1, x2])
    with pytest.raises(ValueError, match="patch_correlation"):
        F.patch_correlation(_var(x1), _var(x2[:, :, :2]))


# ---------------------------------------------------------------- Unique
def ref_unique(x, flatten, axis, sorted_, with_index, with_inverse, with_counts):
    if flatten:
        axis = None
    y, idx, inv, cnt = np.unique(x, True, True, True, axis)
    inv = inv.reshape(-1)
    if not sorted_:
        order = np.argsort(idx, kind="stable")
        rank = np.argsort(order)
        idx, cnt, inv = idx[order], cnt[order], rank[inv]
        y = np.take(x.reshape(-1) if axis is None else x, idx, axis=0 if axis is None else axis)
    out = [y]
    out += [idx] if with_index else []
    out += [inv] if with_inverse else []
    out += [cnt] if with_counts else []
    return out


@pytest.mark.parametrize("shape, axis", [((5,), 0), ((2, 3, 4), 1), ((2, 3, 4), 2)])
@pytest.mark.parametrize("flatten", [True, False])
@pytest.mark.parametrize("sorted_", [True, False])
@pytest.mark.parametrize("flags", [(True, True, True), (False, True, False)])
def test_unique(rng, shape, axis, flatten, sorted_, flags):
    x = rng.randint(-2, 2, shape).astype(f32)
    if not flatten and len(shape) > 1:
        x = np.concatenate([x, np.take(x, [0], axis=axis)], axis=axis)  # a repeated slice
    out = F.unique(_var(x), flatten, axis, sorted_, *flags)
    out = out if isinstance(out, tuple) else (out,)
    ref = ref_unique(x, flatten, axis, sorted_, *flags)
    assert len(out) == len(ref)
    nn.forward_all(list(out))
    for o, r in zip(out, ref):
        np.testing.assert_array_equal(o.d, r)
    assert out[0].parent.info.type_name == "Unique"
    assert out[0].parent.info.args == dict(flatten=flatten, axis=axis, sorted=sorted_,
                                           with_index=flags[0], with_inverse=flags[1],
                                           with_counts=flags[2])


def test_unique_static_graph_and_errors(rng):
    x = _var([3, 1, 3, 2])
    y, counts = F.unique(x, with_counts=True)
    assert y.shape == (3,)  # fixed from the values when the node is created
    x.d = [2, 2, 1, 1]
    nn.forward_all([y, counts])
    np.testing.assert_array_equal(y.d, [1, 2, 0])  # one unique value fewer: padded
    np.testing.assert_array_equal(counts.d, [2, 2, -1])
    with nn.auto_forward():
        z = F.unique(_var([[1, 2], [1, 2]]), flatten=False, axis=0)
    np.testing.assert_array_equal(z.d, [[1, 2]])
    with pytest.raises(ValueError, match="unique"):
        F.unique(x, flatten=False)


# ---------------------------------------------------------------- EyeLike / Mod2 / BitShift
@pytest.mark.parametrize("shape, k", [((3, 3), 0), ((3, 5), 2), ((5, 3), -1), ((3, 4), 10)])
def test_eye_like(shape, k):
    y = F.eye_like(nn.Variable(shape), k)
    y.forward()
    np.testing.assert_array_equal(y.d, np.eye(shape[0], shape[1], k))
    assert y.parent.info.type_name == "EyeLike" and y.parent.info.args == dict(k=k)
    with pytest.raises(ValueError, match="eye_like"):
        F.eye_like(nn.Variable((2, 3, 4)))


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
@pytest.mark.parametrize("fmod", [False, True])
@pytest.mark.parametrize("shapes", [((2, 3), (2, 3)), ((1, 3), (2, 1))])
def test_mod2(rng, dtype, fmod, shapes):
    if dtype == np.float32:
        a, b = rng.randn(*shapes[0]) * 5, rng.randn(*shapes[1]) + 3 * np.sign(rng.randn(*shapes[1]))
    else:
        a, b = rng.randint(-20, 20, shapes[0]), rng.choice([-7, -3, 2, 5], shapes[1])
    y = F.mod2(_var(a, dtype=dtype), _var(b, dtype=dtype), fmod)
    y.forward()
    a, b = a.astype(dtype), b.astype(dtype)
    ref = np.fmod(a, b) if (fmod or dtype == np.float32) else np.mod(a, b)
    np.testing.assert_allclose(y.d, ref, rtol=1e-6)
    assert y.d.dtype == dtype and y.parent.info.type_name == "Mod2"
    assert y.parent.info.args == dict(fmod=fmod)


@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint32, np.int32])
def test_bit_shift(rng, direction, dtype):
    x = rng.randint(0, 100, (2, 3)).astype(dtype)
    s = rng.randint(0, 4, (1, 3)).astype(dtype)
    y = F.bit_shift(_var(x, dtype=dtype), _var(s, dtype=dtype), direction)
    y.forward()
    ref = (x << s) if direction == "LEFT" else (x >> s)
    np.testing.assert_array_equal(y.d, ref)
    assert y.d.dtype == dtype and y.parent.info.args == dict(direction=direction)
    with pytest.raises(ValueError, match="bit_shift"):
        F.bit_shift(_var(x, dtype=dtype), _var(s, dtype=dtype), "UP")
    with pytest.raises(TypeError, match="bit_shift"):
        F.bit_shift(_var(x), _var(s))


# ---------------------------------------------------------------- Einsum
@pytest.mark.parametrize("shapes, equation", [
    ([(4, 4)], "ii->i"), ([(2, 3, 4, 4)], "...ii->...i"), ([(4, 4)], "ii"),
    ([(5,), (5,)], "i,i"), ([(2, 3, 4)], "bij->bji"), ([(2, 3, 4, 5)], "i...j->ji..."),
    ([(2, 3, 4), (2, 4, 5)], "bij,bjk->bik"), ([(1, 3, 4, 5), (2, 1, 5, 6)], "...ij,...jk->...ik"),
    ([(2, 3, 4, 2, 5), (2, 4, 3, 2)], "bjibw,zkjb->ikb")])
def test_einsum(rng, shapes, equation):
    xs = [rng.randn(*s).astype(f32) for s in shapes]
    y = F.einsum(*[_var(x) for x in xs], equation=equation)
    y.forward()
    np.testing.assert_allclose(y.d, np.einsum(equation, *xs), rtol=1e-4, atol=1e-5)
    assert y.parent.info.type_name == "Einsum"
    assert y.parent.info.args == dict(equation=equation)


def test_einsum_grad_and_errors(rng):
    check_grad(lambda a, b: F.einsum(a, b, equation="ij,jk->ik"),
               [rng.randn(2, 3), rng.randn(3, 2)])
    with pytest.raises(ValueError, match="einsum"):
        F.einsum(nn.Variable((2, 3)), equation="ij,jk->ik")
    with pytest.raises(ValueError, match="Einsum"):
        F.einsum(nn.Variable((2, 3)), nn.Variable((4, 2)), equation="ij,jk->ik")
