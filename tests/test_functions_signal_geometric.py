"""Signal processing (Interpolate, ONNXResize, FFT, IFFT, STFT, ISTFT) and geometric
layers (AffineGrid, WarpByGrid, WarpByFlow): numpy references and gradients."""
import itertools
import math

import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
from function_check import check_grad

f32 = np.float32


# ---------------------------------------------------------------- Interpolate reference
def _ref_axis_linear(isize, osize, align_corners, half_pixel):
    """Per output index: (i0, i1, w1) following NNabla's coordinate transform."""
    if osize <= 1:
        scale = f32(0)
    elif align_corners:
        scale = f32(isize - 1) / f32(osize - 1)
    else:
        scale = f32(isize) / f32(osize)
    out = []
    for o in range(osize):
        if half_pixel:
            f = max(f32(0), scale * (f32(o) + f32(0.5)) - f32(0.5))
        else:
            f = scale * f32(o)
        i0 = int(f)
        out.append((i0, min(i0 + 1, isize - 1), float(f - i0)))
    return out


def _ref_axis_nearest(isize, osize, align_corners, half_pixel, half_pixel_for_nn):
    out = []
    for o in range(osize):
        if half_pixel_for_nn:
            f = f32(isize) / f32(osize) * (f32(o) + f32(0.5))
        else:
            if osize <= 1:
                scale = f32(0)
            elif align_corners:
                scale = f32(isize - 1) / f32(osize - 1)
            else:
                scale = f32(isize) / f32(osize)
            f = max(f32(0), scale * (f32(o) + f32(0.5)) - f32(0.5)) if half_pixel else scale * o
        out.append(min(int(f), isize - 1))
    return out


def ref_interpolate(x, output_size, mode, align_corners, half_pixel, half_pixel_for_nn,
                    channel_last):
    x = np.asarray(x, np.float64)
    if channel_last:
        x = np.moveaxis(x, -1, 0)
    nd = len(output_size)
    lead = x.shape[:-nd]
    ins = x.shape[-nd:]
    y = np.zeros(lead + tuple(output_size))
    if mode == "linear":
        tables = [_ref_axis_linear(i, o, align_corners, half_pixel)
                  for i, o in zip(ins, output_size)]
        for out_idx in itertools.product(*[range(o) for o in output_size]):
            acc = 0.0
            for corner in itertools.product((0, 1), repeat=nd):
                src, w = [], 1.0
                for d, c in enumerate(corner):
                    i0, i1, w1 = tables[d][out_idx[d]]
                    src.append(i1 if c else i0)
                    w *= w1 if c else 1 - w1
                acc = acc + w * x[(Ellipsis,) + tuple(src)]
            y[(Ellipsis,) + out_idx] = acc
    else:
        tables = [_ref_axis_nearest(i, o, align_corners, half_pixel, half_pixel_for_nn)
                  for i, o in zip(ins, output_size)]
        for out_idx in itertools.product(*[range(o) for o in output_size]):
            src = tuple(tables[d][out_idx[d]] for d in range(nd))
            y[(Ellipsis,) + out_idx] = x[(Ellipsis,) + src]
    if channel_last:
        y = np.moveaxis(y, 0, -1)
    return y


@pytest.mark.parametrize("shape, output_size", [
    ((2, 5), (8,)), ((1, 2, 3, 4), (5, 1)), ((1, 2, 3, 3, 2), (2, 4, 3))])
@pytest.mark.parametrize("mode, align_corners, half_pixel, half_pixel_for_nn", [
    ("linear", False, False, False), ("linear", True, False, False),
    ("linear", False, True, False), ("nearest", False, False, False),
    ("nearest", True, False, False), ("nearest", False, True, False),
    ("nearest", False, False, True)])
def test_interpolate_forward(rng, shape, output_size, mode, align_corners, half_pixel,
                             half_pixel_for_nn):
    x = rng.randn(*shape).astype(f32)
    v = nn.Variable.from_numpy_array(x)
    y = F.interpolate(v, output_size=output_size, mode=mode, align_corners=align_corners,
                      half_pixel=half_pixel, half_pixel_for_nn=half_pixel_for_nn)
    y.forward()
    ref = ref_interpolate(x, output_size, mode, align_corners, half_pixel, half_pixel_for_nn,
                          False)
    np.testing.assert_allclose(y.d, ref, atol=1e-5)
    assert y.parent.info.type_name == "Interpolate"
    assert y.parent.info.args == dict(output_size=list(output_size), mode=mode,
                                      align_corners=align_corners, half_pixel=half_pixel,
                                      half_pixel_for_nn=half_pixel_for_nn, channel_last=False)


def test_interpolate_scale_and_channel_last(rng):
    x = rng.randn(2, 3, 4, 3).astype(f32)  # N, H, W, C
    y = F.interpolate(nn.Variable.from_numpy_array(x), scale=(1.5, 2.4), channel_last=True)
    assert y.shape == (2, 4, 9, 3)  # floor(1.5 * 3), floor(2.4 * 4)
    y.forward()
    ref = ref_interpolate(x, (4, 9), "linear", False, False, False, True)
    np.testing.assert_allclose(y.d, ref, atol=1e-5)
    # default scale form: output_size = floor(scale * size)
    z = F.interpolate(nn.Variable((1, 1, 5, 7)), scale=(2, 0.5))
    assert z.shape == (1, 1, 10, 3)


def test_interpolate_known_values():
    x = nn.Variable.from_numpy_array(np.array([[[[0., 1.], [2., 3.]]]], f32))
    y = F.interpolate(x, output_size=(3, 3), align_corners=True)
    y.forward()
    np.testing.assert_allclose(y.d[0, 0], [[0, .5, 1], [1, 1.5, 2], [2, 2.5, 3]])
    y = F.interpolate(x, scale=(2, 2), mode="nearest")
    y.forward()
    np.testing.assert_allclose(y.d[0, 0], np.repeat(np.repeat([[0, 1], [2, 3]], 2, 0), 2, 1))


@pytest.mark.parametrize("mode, kw", [("linear", {}), ("linear", dict(align_corners=True)),
                                      ("linear", dict(half_pixel=True)), ("nearest", {})])
def test_interpolate_grad(rng, mode, kw):
    check_grad(lambda x: F.interpolate(x, output_size=(3, 5), mode=mode, **kw),
               [rng.randn(1, 2, 2, 3)])


def test_interpolate_errors():
    x = nn.Variable((1, 1, 4, 4))
    with pytest.raises(ValueError, match="interpolate"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="interpolate"):
        F.interpolate(x, output_size=(2, 2), align_corners=True, half_pixel=True)
    with pytest.raises(ValueError, match="interpolate"):
        F.interpolate(x, output_size=(2, 2), mode="area")
    with pytest.raises(ValueError, match="interpolate"):
        F.interpolate(x, output_size=(2, 2, 2, 2))


def test_interpolate_cubic_uses_onnx_resize(rng):
    x = rng.randn(1, 1, 4, 4).astype(f32)
    y = F.interpolate(nn.Variable.from_numpy_array(x), output_size=(8, 8), mode="cubic")
    assert y.parent.info.type_name == "ONNXResize"
    assert y.parent.info.args["mode"] == "cubic"
    assert y.shape == (1, 1, 8, 8)


# ---------------------------------------------------------------- ONNXResize
def _onnx(x, **kw):
    y = F.onnx_resize(nn.Variable.from_numpy_array(np.asarray(x, f32)), **kw)
    y.forward()
    return y


def test_onnx_resize_onnx_examples():
    # upsample, linear, half_pixel
    y = _onnx([[[[1, 2], [3, 4]]]], scales=(1, 1, 2, 2), mode="linear")
    np.testing.assert_allclose(y.d[0, 0], [[1, 1.25, 1.75, 2], [1.5, 1.75, 2.25, 2.5],
                                           [2.5, 2.75, 3.25, 3.5], [3, 3.25, 3.75, 4]])
    # upsample, nearest (default round_prefer_floor)
    y = _onnx([[[[1, 2], [3, 4]]]], scales=(1, 1, 2, 3))
    np.testing.assert_allclose(y.d[0, 0], [[1, 1, 1, 2, 2, 2], [1, 1, 1, 2, 2, 2],
                                           [3, 3, 3, 4, 4, 4], [3, 3, 3, 4, 4, 4]])
    # downsample, linear
    y = _onnx([[[[1, 2, 3, 4], [5, 6, 7, 8]]]], scales=(1, 1, 0.6, 0.6), mode="linear")
    np.testing.assert_allclose(y.d[0, 0], [[2.6666665, 4.3333331]], rtol=1e-5)
    # align_corners, sizes
    y = _onnx([[[[1, 2], [3, 4]]]], sizes=(1, 1, 3, 3), mode="linear",
              coordinate_transformation_mode="align_corners")
    np.testing.assert_allclose(y.d[0, 0], [[1, 1.5, 2], [2, 2.5, 3], [3, 3.5, 4]])
    assert y.parent.info.type_name == "ONNXResize"


def _cubic_w(t, a):
    t = abs(t)
    if t <= 1:
        return (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1
    if t < 2:
        return a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a
    return 0.0


def ref_onnx_resize_1d(x, osize, mode, coord, a=-0.75, exclude_outside=0, nearest="floor"):
    """1-D reference (last axis) of ONNX Resize."""
    x = np.asarray(x, np.float64)
    isize = x.shape[-1]
    scale = osize / isize
    y = np.zeros(x.shape[:-1] + (osize,))
    for o in range(osize):
        if coord == "half_pixel":
            f = (o + 0.5) / scale - 0.5
        elif coord == "asymmetric":
            f = o / scale
        elif coord == "align_corners":
            f = o * (isize - 1) / (osize - 1)
        else:
            f = (o + 0.5) / scale - 0.5 if osize > 1 else 0.0
        if mode == "nearest":
            i = {"floor": math.floor, "ceil": math.ceil}[nearest](f)
            y[..., o] = x[..., min(max(i, 0), isize - 1)]
        elif mode == "linear":
            i0 = min(max(math.floor(f), 0), isize - 1)
            i1 = min(max(math.floor(f) + 1, 0), isize - 1)
            w1 = f - i0
            y[..., o] = (1 - w1) * x[..., i0] + w1 * x[..., i1]
        else:
            base = math.floor(f)
            taps = [(base + k, _cubic_w(f - (base + k), a)) for k in (-1, 0, 1, 2)]
            if exclude_outside:
                taps = [(i, w if 0 <= i < isize else 0.0) for i, w in taps]
                total = sum(w for _, w in taps)
                taps = [(i, w / total) for i, w in taps]
            y[..., o] = sum(w * x[..., min(max(i, 0), isize - 1)] for i, w in taps)
    return y


@pytest.mark.parametrize("mode, coord, kw, osize", [
    ("linear", "half_pixel", {}, 9), ("linear", "asymmetric", {}, 3),
    ("linear", "align_corners", {}, 9), ("cubic", "half_pixel", {}, 3),
    ("cubic", "asymmetric", dict(cubic_coeff_a=-0.5), 9),
    ("cubic", "half_pixel", dict(exclude_outside=1), 9),
    ("nearest", "asymmetric", dict(nearest_mode="floor"), 3),
    ("nearest", "half_pixel", dict(nearest_mode="ceil"), 9),
    ("linear", "pytorch_half_pixel", {}, 3)])
def test_onnx_resize_1d(rng, mode, coord, kw, osize):
    x = rng.randn(2, 5).astype(f32)
    y = _onnx(x, sizes=(2, osize), mode=mode, coordinate_transformation_mode=coord, **kw)
    ref = ref_onnx_resize_1d(x, osize, mode, coord, kw.get("cubic_coeff_a", -0.75),
                             kw.get("exclude_outside", 0), kw.get("nearest_mode", "floor"))
    np.testing.assert_allclose(y.d, ref, atol=1e-5)


def test_onnx_resize_tf_crop_and_resize():
    x = np.arange(1, 17, dtype=f32).reshape(1, 1, 4, 4)
    y = _onnx(x, roi=(0, 0, 0.4, 0.6, 1, 1, 1.2, 1.7), sizes=(1, 1, 3, 3), mode="linear",
              coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=10.0)
    # ONNX's resize_tf_crop_and_resize_extrapolation_value example
    np.testing.assert_allclose(y.d[0, 0], [[7.6, 10, 10], [12.4, 10, 10], [10, 10, 10]],
                               rtol=1e-5)


def test_onnx_resize_errors():
    x = nn.Variable((1, 1, 4, 4))
    with pytest.raises(ValueError, match="onnx_resize"):
        F.onnx_resize(x)
    with pytest.raises(ValueError, match="onnx_resize"):
        F.onnx_resize(x, scales=(1, 1, 2, 2), sizes=(1, 1, 8, 8))
    with pytest.raises(ValueError, match="onnx_resize"):
        F.onnx_resize(x, scales=(2, 2))
    with pytest.raises(ValueError, match="onnx_resize"):
        F.onnx_resize(x, scales=(1, 1, 2, 2), mode="area")
    with pytest.raises(ValueError, match="onnx_resize"):
        F.onnx_resize(nn.Variable((2, 2, 2, 2)), scales=(2, 2, 2, 2))


# ---------------------------------------------------------------- FFT / IFFT
@pytest.mark.parametrize("shape, nd", [((6, 2), 1), ((3, 4, 5, 2), 2), ((2, 3, 2, 4, 2), 3)])
@pytest.mark.parametrize("normalized", [False, True])
def test_fft_ifft(rng, shape, nd, normalized):
    x = rng.randn(*shape).astype(f32)
    z = x[..., 0] + 1j * x[..., 1]
    axes = tuple(range(z.ndim - nd, z.ndim))
    n = np.prod([z.shape[a] for a in axes])
    v = nn.Variable.from_numpy_array(x)
    y = F.fft(v, nd, normalized)
    w = F.ifft(v, nd, normalized)
    nn.forward_all([y, w])
    ref = np.fft.fftn(z, axes=axes) / (np.sqrt(n) if normalized else 1)
    np.testing.assert_allclose(y.d[..., 0] + 1j * y.d[..., 1], ref, atol=1e-4)
    iref = np.fft.ifftn(z, axes=axes) * (np.sqrt(n) if normalized else 1)
    np.testing.assert_allclose(w.d[..., 0] + 1j * w.d[..., 1], iref, atol=1e-5)
    assert y.parent.info.type_name == "FFT" and w.parent.info.type_name == "IFFT"
    assert y.parent.info.args == dict(signal_ndim=nd, normalized=normalized)


def test_fft_roundtrip_and_grad(rng):
    x = rng.randn(2, 4, 3, 2).astype(f32)
    y = F.ifft(F.fft(nn.Variable.from_numpy_array(x), 2, True), 2, True)
    y.forward()
    np.testing.assert_allclose(y.d, x, atol=1e-5)
    check_grad(lambda v: F.fft(v, 1), [rng.randn(2, 3, 2)])
    check_grad(lambda v: F.ifft(v, 2, True), [rng.randn(2, 3, 2)])


def test_fft_errors():
    with pytest.raises(ValueError, match="fft"):
        F.fft(nn.Variable((4, 3)), 1)
    with pytest.raises(ValueError, match="ifft"):
        F.ifft(nn.Variable((4, 2)), 4)


# ---------------------------------------------------------------- STFT / ISTFT
def _np_window(kind, ws, n):
    i = np.arange(ws)
    w = {"hanning": 0.5 - 0.5 * np.cos(2 * np.pi * i / ws),
         "hamming": 0.54 - 0.46 * np.cos(2 * np.pi * i / ws),
         "rectangular": np.ones(ws)}[kind]
    return np.pad(w, ((n - ws) // 2, n - ws - (n - ws) // 2))


def ref_stft(x, ws, stride, n, kind, center, pad_mode):
    if center:
        x = np.pad(x, ((0, 0), (n // 2, n // 2)), mode=pad_mode)
    win = _np_window(kind, ws, n)
    frames = (x.shape[1] - n) // stride + 1
    yr = np.zeros((x.shape[0], n // 2 + 1, frames))
    yi = np.zeros_like(yr)
    for f in range(frames):
        seg = x[:, f * stride:f * stride + n] * win
        spec = np.fft.rfft(seg, axis=1)
        yr[:, :, f] = spec.real
        yi[:, :, f] = spec.imag
    return yr, yi


@pytest.mark.parametrize("ws, stride, n, kind, center, pad_mode", [
    (8, 2, 8, "hanning", True, "reflect"), (6, 3, 8, "hamming", False, "reflect"),
    (8, 4, 8, "rectangular", True, "constant")])
def test_stft_forward(rng, ws, stride, n, kind, center, pad_mode):
    x = rng.randn(2, 24).astype(f32)
    yr, yi = F.stft(nn.Variable.from_numpy_array(x), ws, stride, n, kind, center, pad_mode)
    nn.forward_all([yr, yi])
    rr, ri = ref_stft(x, ws, stride, n, kind, center, pad_mode)
    np.testing.assert_allclose(yr.d, rr, atol=1e-4)
    np.testing.assert_allclose(yi.d, ri, atol=1e-4)
    assert yr.parent.info.type_name == "STFT"
    assert yr.parent.info.args == dict(window_size=ws, stride=stride, fft_size=n,
                                       window_type=kind, center=center, pad_mode=pad_mode,
                                       as_istft_backward=False)


@pytest.mark.parametrize("ws, stride, n, kind, center", [
    (16, 4, 16, "hanning", True), (8, 2, 8, "rectangular", False),
    (8, 2, 16, "hamming", True), (16, 8, 16, "hamming", False)])
def test_istft_reconstructs_every_sample(rng, ws, stride, n, kind, center):
    """ISTFT divides by the overlap-add of the squared window at each sample (edges
    included), so ISTFT(STFT(x)) is x."""
    x = rng.randn(2, 64).astype(f32)
    v = nn.Variable.from_numpy_array(x)
    z = F.istft(*F.stft(v, ws, stride, n, kind, center, "constant"), ws, stride, n, kind,
                center, "constant")
    z.forward()
    assert z.parent.info.type_name == "ISTFT"
    np.testing.assert_allclose(z.d, x[:, :z.shape[1]], atol=1e-4)


def test_istft_refuses_a_window_that_does_not_overlap():
    y = nn.Variable((1, 9, 5))
    with pytest.raises(RuntimeError, match="NOLA"):  # hanning's zero at both frame ends
        F.istft(y, y, 16, 16, 16, "hanning", False, "constant")


def test_stft_istft_adjoint_modes(rng):
    """as_istft_backward / as_stft_backward compute the adjoint linear maps."""
    x = rng.randn(1, 32).astype(f32)
    yr, yi = F.stft(nn.Variable.from_numpy_array(x), 8, 2, 8)
    nn.forward_all([yr, yi])
    a = rng.randn(*yr.shape).astype(f32)
    b = rng.randn(*yr.shape).astype(f32)
    back = F.istft(nn.Variable.from_numpy_array(a), nn.Variable.from_numpy_array(b), 8, 2, 8,
                   as_stft_backward=True)
    back.forward()
    lhs = np.sum(yr.d * a) + np.sum(yi.d * b)
    np.testing.assert_allclose(np.sum(x * back.d), lhs, rtol=1e-4)
    z = F.istft(nn.Variable.from_numpy_array(a), nn.Variable.from_numpy_array(b), 8, 2, 8)
    ar, ai = F.stft(nn.Variable.from_numpy_array(x), 8, 2, 8, as_istft_backward=True)
    nn.forward_all([z, ar, ai])
    np.testing.assert_allclose(np.sum(z.d * x), np.sum(ar.d * a) + np.sum(ai.d * b), rtol=1e-4)


def test_stft_istft_grad(rng):
    check_grad(lambda v: F.stft(v, 4, 2, 4), [rng.randn(1, 10)])
    check_grad(lambda a, b: F.istft(a, b, 4, 2, 4, "hamming", center=False),
               [rng.randn(1, 3, 3), rng.randn(1, 3, 3)])


def test_stft_errors():
    with pytest.raises(ValueError, match="stft"):
        F.stft(nn.Variable((2, 32)), 16, 4, 8)
    with pytest.raises(ValueError, match="stft"):
        F.stft(nn.Variable((2, 32)), 8, 4, 8, window_type="blackman")
    with pytest.raises(ValueError, match="istft"):
        F.istft(nn.Variable((2, 5, 9)), nn.Variable((2, 5, 9)), 8, 3, 8)


# ---------------------------------------------------------------- AffineGrid
def ref_affine_grid(theta, size, align_corners):
    axes = []
    for s in size:
        v = 2.0 * np.arange(s) / (s - 1) - 1
        axes.append(v if align_corners else v * (s - 1) / s)
    mesh = np.meshgrid(*axes, indexing="ij")
    coords = np.stack([m for m in reversed(mesh)] + [np.ones_like(mesh[0])], axis=-1)
    return np.einsum("...k,bjk->b...j", coords, theta)


@pytest.mark.parametrize("size", [(3, 4), (2, 3, 4)])
@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid(rng, size, align_corners):
    nd = len(size)
    theta = rng.randn(2, nd, nd + 1).astype(f32)
    g = F.affine_grid(nn.Variable.from_numpy_array(theta), size, align_corners)
    g.forward()
    assert g.shape == (2,) + size + (nd,)
    np.testing.assert_allclose(g.d, ref_affine_grid(theta, size, align_corners), atol=1e-5)
    assert g.parent.info.type_name == "AffineGrid"
    assert g.parent.info.args == dict(size=list(size), align_corners=align_corners)
    check_grad(lambda t: F.affine_grid(t, size, align_corners), [theta])


def test_affine_grid_errors():
    with pytest.raises(ValueError, match="affine_grid"):
        F.affine_grid(nn.Variable((2, 2, 3)), (3, 4, 5))
    with pytest.raises(ValueError, match="affine_grid"):
        F.affine_grid(nn.Variable((2, 2, 3)), (3,))


# ---------------------------------------------------------------- WarpByGrid
def _ref_src(g, size, align_corners, padding_mode):
    s = (g + 1) * (size - 1) / 2 if align_corners else ((g + 1) * size - 1) / 2
    if padding_mode == "repeat":
        s = min(max(s, 0), size - 1)
    elif padding_mode == "reflect":
        lo, hi = (0.0, size - 1.0) if align_corners else (-0.5, size - 0.5)
        span = hi - lo
        while s < lo or s > hi:  # mirror at the borders
            s = 2 * lo - s if s < lo else 2 * hi - s
        if span and not align_corners:
            s = min(max(s, 0), size - 1)
    return s


def ref_warp_by_grid(x, grid, mode, padding_mode, align_corners):
    b, c, h, w = x.shape
    ho, wo = grid.shape[1:3]
    y = np.zeros((b, c, ho, wo))

    def px(n, yy, xx):
        return x[n, :, yy, xx] if 0 <= yy < h and 0 <= xx < w else np.zeros(c)

    for n in range(b):
        for i in range(ho):
            for j in range(wo):
                sx = _ref_src(grid[n, i, j, 0], w, align_corners, padding_mode)
                sy = _ref_src(grid[n, i, j, 1], h, align_corners, padding_mode)
                if mode == "nearest":
                    rx = int(math.floor(abs(sx) + 0.5)) * (1 if sx >= 0 else -1)
                    ry = int(math.floor(abs(sy) + 0.5)) * (1 if sy >= 0 else -1)
                    y[n, :, i, j] = px(n, ry, rx)
                else:
                    x0, y0 = math.floor(sx), math.floor(sy)
                    fx, fy = sx - x0, sy - y0
                    y[n, :, i, j] = (px(n, y0, x0) * (1 - fx) * (1 - fy)
                                     + px(n, y0, x0 + 1) * fx * (1 - fy)
                                     + px(n, y0 + 1, x0) * (1 - fx) * fy
                                     + px(n, y0 + 1, x0 + 1) * fx * fy)
    return y


@pytest.mark.parametrize("mode", ["linear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zero", "repeat", "reflect"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_warp_by_grid_forward(rng, mode, padding_mode, align_corners):
    x = rng.randn(2, 2, 4, 5).astype(f32)
    grid = rng.uniform(-1.6, 1.6, (2, 3, 4, 2)).astype(f32)
    y = F.warp_by_grid(nn.Variable.from_numpy_array(x), nn.Variable.from_numpy_array(grid),
                       mode, padding_mode, align_corners)
    y.forward()
    np.testing.assert_allclose(y.d, ref_warp_by_grid(x, grid, mode, padding_mode,
                                                     align_corners), atol=1e-5)
    assert y.parent.info.type_name == "WarpByGrid"
    assert y.parent.info.args == dict(mode=mode, padding_mode=padding_mode,
                                      align_corners=align_corners, channel_last=False)


def test_warp_by_grid_channel_last_3d_and_grad(rng):
    x = rng.randn(1, 4, 5, 2).astype(f32)
    grid = rng.uniform(-1, 1, (1, 3, 3, 2)).astype(f32)
    y = F.warp_by_grid(nn.Variable.from_numpy_array(x), nn.Variable.from_numpy_array(grid),
                       channel_last=True)
    y.forward()
    ref = ref_warp_by_grid(np.moveaxis(x, -1, 1), grid, "linear", "zero", False)
    np.testing.assert_allclose(y.d, np.moveaxis(ref, 1, -1), atol=1e-5)
    # 3-D: identity grid reproduces the input
    x3 = rng.randn(1, 2, 3, 4, 5).astype(f32)
    eye = np.array([[[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]], f32)
    g3 = F.affine_grid(nn.Variable.from_numpy_array(eye), (3, 4, 5))
    y3 = F.warp_by_grid(nn.Variable.from_numpy_array(x3), g3)
    y3.forward()
    np.testing.assert_allclose(y3.d, x3, atol=1e-5)
    # source coordinates away from integers (where bilinear sampling has kinks)
    src = np.array([0.3, 0.7, 1.2, 1.6, 0.4, 1.3, 0.8, 1.7]).reshape(1, 2, 2, 2)
    g = (2 * src + 1) / 3 - 1
    check_grad(lambda a, b: F.warp_by_grid(a, b, padding_mode="reflect"),
               [rng.randn(1, 2, 3, 3), g])


def test_warp_by_grid_errors():
    with pytest.raises(ValueError, match="warp_by_grid"):
        F.warp_by_grid(nn.Variable((1, 2, 3, 3)), nn.Variable((1, 3, 3, 3)))
    with pytest.raises(ValueError, match="warp_by_grid"):
        F.warp_by_grid(nn.Variable((1, 2, 3, 3)), nn.Variable((1, 3, 3, 2)), mode="cubic")


# ---------------------------------------------------------------- WarpByFlow
def ref_warp_by_flow(data, flow):
    n, c, h, w = data.shape
    y = np.zeros_like(data, dtype=np.float64)
    for b in range(n):
        for i in range(h):
            for j in range(w):
                xf, yf = j + flow[b, 0, i, j], i + flow[b, 1, i, j]
                xl = min(max(math.floor(xf), 0), w - 1)
                yt = min(max(math.floor(yf), 0), h - 1)
                xr = min(max(math.floor(xf) + 1, 0), w - 1)
                yb = min(max(math.floor(yf) + 1, 0), h - 1)
                a, bb = xf - xl, yf - yt
                up = a * (data[b, :, yt, xr] - data[b, :, yt, xl]) + data[b, :, yt, xl]
                lo = a * (data[b, :, yb, xr] - data[b, :, yb, xl]) + data[b, :, yb, xl]
                y[b, :, i, j] = bb * (lo - up) + up
    return y


def test_warp_by_flow(rng):
    data = rng.randn(2, 3, 4, 5).astype(f32)
    flow = rng.uniform(-2, 2, (2, 2, 4, 5)).astype(f32)
    y = F.warp_by_flow(nn.Variable.from_numpy_array(data), nn.Variable.from_numpy_array(flow))
    y.forward()
    np.testing.assert_allclose(y.d, ref_warp_by_flow(data, flow), atol=1e-5)
    assert y.parent.info.type_name == "WarpByFlow" and y.parent.info.args == {}
    inner = rng.uniform(0.1, 0.9, (1, 2, 3, 3)) * np.array([1, -1]).reshape(1, 2, 1, 1)
    check_grad(F.warp_by_flow, [rng.randn(1, 2, 3, 3), inner])
    with pytest.raises(ValueError, match="warp_by_flow"):
        F.warp_by_flow(nn.Variable((1, 2, 3, 3)), nn.Variable((1, 3, 3, 3)))


def test_imperative_interpolate():
    x = nn.NdArray.from_numpy_array(np.arange(4, dtype=f32).reshape(1, 1, 2, 2))
    y = F.interpolate(x, output_size=(3, 3), align_corners=True)
    assert isinstance(y, nn.NdArray)
    np.testing.assert_allclose(y.data[0, 0, 1], [1, 1.5, 2])

