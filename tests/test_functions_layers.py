"""Neural Network Layer functions: forward against numpy references written from
NNabla's definitions (loops over kernel offsets / output positions), backward
against central differences of the references, type names / args, errors."""
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
from function_check import check_grad, check_named_cases


# ---------------------------------------------------------------- numpy references
def _lists(n, pad, stride, dilation):
    return (list(pad) if pad else [0] * n, list(stride) if stride else [1] * n,
            list(dilation) if dilation else [1] * n)


def np_conv(x, w, b=None, base_axis=1, pad=None, stride=None, dilation=None, group=1,
            channel_last=False):
    n = w.ndim - 2
    if channel_last:
        x = np.moveaxis(x, -1, base_axis)
        w = np.moveaxis(w, -1, 1)
    batch = x.shape[:base_axis]
    x = x.reshape((-1,) + x.shape[base_axis:])
    pad, stride, dilation = _lists(n, pad, stride, dilation)
    N, C = x.shape[:2]
    O, k = w.shape[0], w.shape[2:]
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in pad])
    out = [(x.shape[2 + i] + 2 * pad[i] - dilation[i] * (k[i] - 1) - 1) // stride[i] + 1
           for i in range(n)]
    y = np.zeros((N, O) + tuple(out))
    cg, og = C // group, O // group
    for kk in np.ndindex(*k):
        sl = tuple(slice(kk[i] * dilation[i], kk[i] * dilation[i] + stride[i] * (out[i] - 1) + 1,
                         stride[i]) for i in range(n))
        patch = xp[(slice(None), slice(None)) + sl]
        for g in range(group):
            wk = w[(slice(g * og, (g + 1) * og), slice(None)) + kk]
            y[:, g * og:(g + 1) * og] += np.einsum("nc...,oc->no...",
                                                   patch[:, g * cg:(g + 1) * cg], wk)
    if b is not None:
        y += b.reshape((1, -1) + (1,) * n)
    y = y.reshape(batch + y.shape[1:])
    return np.moveaxis(y, base_axis, -1) if channel_last else y


def np_deconv(x, w, b=None, base_axis=1, pad=None, stride=None, dilation=None, group=1,
              channel_last=False, output_padding=None):
    n = w.ndim - 2
    if channel_last:
        x = np.moveaxis(x, -1, base_axis)
        w = np.moveaxis(w, -1, 1)
    batch = x.shape[:base_axis]
    x = x.reshape((-1,) + x.shape[base_axis:])
    pad, stride, dilation = _lists(n, pad, stride, dilation)
    op = list(output_padding) if output_padding else [0] * n
    N, C = x.shape[:2]
    og, k = w.shape[1], w.shape[2:]
    L = x.shape[2:]
    full = [stride[i] * (L[i] - 1) + dilation[i] * (k[i] - 1) + 1 for i in range(n)]
    buf = np.zeros((N, og * group) + tuple(f + o for f, o in zip(full, op)))
    cg = C // group
    for kk in np.ndindex(*k):
        sl = tuple(slice(kk[i] * dilation[i], kk[i] * dilation[i] + stride[i] * (L[i] - 1) + 1,
                         stride[i]) for i in range(n))
        for g in range(group):
            contrib = np.einsum("nc...,co->no...", x[:, g * cg:(g + 1) * cg],
                                w[(slice(g * cg, (g + 1) * cg), slice(None)) + kk])
            buf[(slice(None), slice(g * og, (g + 1) * og)) + sl] += contrib
    crop = tuple(slice(pad[i], pad[i] + full[i] - 2 * pad[i] + op[i]) for i in range(n))
    y = buf[(slice(None), slice(None)) + crop]
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * n)
    y = y.reshape(batch + y.shape[1:])
    return np.moveaxis(y, base_axis, -1) if channel_last else y


def np_pool(x, kernel, stride=None, ignore_border=True, pad=None, channel_last=False,
            mode="max", including_pad=True):
    """NNabla's window rule: start = o*s - p, end = min(start + k, L + p), then the
    window is clipped to the input; the average divides by (end - start) when
    including_pad, else by the clipped size."""
    n = len(kernel)
    stride = stride or kernel
    pad = pad or (0,) * n
    if channel_last:
        x = np.moveaxis(x, -1, -n - 1)
    sp = x.shape[-n:]
    outs = [(i + 2 * p - k) // s + 1 if ignore_border else (i + p - 1) // s + 1
            for i, k, s, p in zip(sp, kernel, stride, pad)]
    y = np.zeros(x.shape[:-n] + tuple(outs))
    for o in np.ndindex(*outs):
        sl, incl, excl = [], 1, 1
        for d in range(n):
            start = o[d] * stride[d] - pad[d]
            end = min(start + kernel[d], sp[d] + pad[d])
            incl *= end - start
            s0, e0 = max(start, 0), min(end, sp[d])
            excl *= e0 - s0
            sl.append(slice(s0, e0))
        win = x[(Ellipsis,) + tuple(sl)]
        win = win.reshape(win.shape[:-n] + (-1,))
        if mode == "max":
            v = win.max(-1)
        elif mode == "sum":
            v = win.sum(-1)
        else:
            v = win.sum(-1) / (incl if including_pad else excl)
        y[(Ellipsis,) + o] = v
    return np.moveaxis(y, -n - 1, -1) if channel_last else y


def np_deformable_conv(x, w, offset, mask=None, b=None, pad=(0, 0), stride=(1, 1),
                       dilation=(1, 1), group=1, dg=1):
    """Deformable convolution from its definition: every kernel tap (i, j) of output
    (oh, ow) samples x at (oh*s + i*d + dy - p, ow*s + j*d + dx - p) by bilinear
    interpolation (zero outside -1 < h < H, -1 < w < W, zero for corners outside the
    image); (dy, dx) and the mask are read at the input position (oh*s, ow*s)."""
    B, C, H, W = x.shape
    O, _, kh, kw = w.shape
    K = kh * kw
    OH = (H + 2 * pad[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    OW = (W + 2 * pad[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    hin = np.arange(OH) * stride[0]
    win = np.arange(OW) * stride[1]
    off = offset[:, :, hin][:, :, :, win].reshape(B, dg, K, 2, OH, OW)
    ii, jj = np.divmod(np.arange(K), kw)
    hs = hin[None, None, None, :, None] + (ii * dilation[0])[None, None, :, None, None] \
        + off[:, :, :, 0] - pad[0]
    ws = win[None, None, None, None, :] + (jj * dilation[1])[None, None, :, None, None] \
        + off[:, :, :, 1] - pad[1]
    inside = (hs > -1) & (ws > -1) & (hs < H) & (ws < W)
    h0, w0 = np.floor(hs).astype(int), np.floor(ws).astype(int)
    lh, lw = hs - h0, ws - w0
    img = x.reshape(B, dg, C // dg, H, W)
    col = np.zeros((B, dg, C // dg, K, OH, OW))
    bi, gi = np.arange(B)[:, None, None, None, None], np.arange(dg)[None, :, None, None, None]
    for hh, ww, wt in ((h0, w0, (1 - lh) * (1 - lw)), (h0, w0 + 1, (1 - lh) * lw),
                       (h0 + 1, w0, lh * (1 - lw)), (h0 + 1, w0 + 1, lh * lw)):
        ok = inside & (hh >= 0) & (hh < H) & (ww >= 0) & (ww < W)
        vals = img[bi, gi, :, np.clip(hh, 0, H - 1), np.clip(ww, 0, W - 1)]  # (..., C/dg)
        col += np.moveaxis(vals * np.where(ok, wt, 0.0)[..., None], -1, 2)
    if mask is not None:
        col = col * mask[:, :, hin][:, :, :, win].reshape(B, dg, 1, K, OH, OW)
    col = col.reshape(B, C, K, OH, OW)
    og, cg = O // group, C // group
    y = np.zeros((B, O, OH, OW))
    for g in range(group):
        y[:, g * og:(g + 1) * og] = np.einsum(
            "bckhw,ock->bohw", col[:, g * cg:(g + 1) * cg],
            w[g * og:(g + 1) * og].reshape(og, cg, K))
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def np_roi_align(x, boxes, out_size, scale=(1.0, 1.0), sampling_ratio=-1):
    N, C, H, W = x.shape
    OH, OW = out_size
    y = np.zeros((len(boxes), C, OH, OW))
    for n, (bi, x1, y1, x2, y2) in enumerate(boxes):
        bi = max(int(bi), 0)
        x1, x2 = x1 * scale[1] - 0.5, x2 * scale[1] - 0.5
        y1, y2 = y1 * scale[0] - 0.5, y2 * scale[0] - 0.5
        sx = (x2 - x1) / OW
        sy = (y2 - y1) / OH
        gx = sampling_ratio if sampling_ratio > 0 else max(int(np.ceil(sx)), 1)
        gy = sampling_ratio if sampling_ratio > 0 else max(int(np.ceil(sy)), 1)
        for oy in range(OH):
            for ox in range(OW):
                acc = np.zeros(C)
                for yy in range(gy):
                    py = y1 + oy * sy + (yy + 0.5) * sy / gy
                    if py < -1 or py > H:
                        continue
                    py = max(py, 0.0)
                    for xx in range(gx):
                        px = x1 + ox * sx + (xx + 0.5) * sx / gx
                        if px < -1 or px > W:
                            continue
                        px = max(px, 0.0)
                        yl, xl = int(py), int(px)
                        yh, xh = yl + 1, xl + 1
                        qy, qx = py, px
                        if yl >= H - 1:
                            yh = yl = H - 1
                            qy = float(yl)
                        if xl >= W - 1:
                            xh = xl = W - 1
                            qx = float(xl)
                        ly, lx = qy - np.floor(qy), qx - np.floor(qx)
                        acc += ((1 - ly) * (1 - lx) * x[bi, :, yl, xl]
                                + (1 - ly) * lx * x[bi, :, yl, xh]
                                + ly * (1 - lx) * x[bi, :, yh, xl] + ly * lx * x[bi, :, yh, xh])
                y[n, :, oy, ox] = acc / (gx * gy)
    return y


def _sig(v):
    return 1 / (1 + np.exp(-v))


def np_recurrent(kind, x, states, w0, w, b, num_layers, bidirectional, nonlinearity="tanh"):
    """Layer-by-layer loops of NNabla's RNN / LSTM / GRU definitions."""
    T = x.shape[0]

    def cell(xt, st, wd, bd):
        xh = np.concatenate([xt, st[0]], axis=1)
        if kind == "rnn":
            a = xh @ wd.T + (0 if bd is None else bd)
            return (np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0),)
        if kind == "lstm":
            i, f, g, o = [xh @ wd[q].T + (0 if bd is None else bd[q]) for q in range(4)]
            c = _sig(f) * st[1] + _sig(i) * np.tanh(g)
            return _sig(o) * np.tanh(c), c
        n_in = xt.shape[1]
        r = _sig(xh @ wd[0].T + (0 if bd is None else bd[0]))
        z = _sig(xh @ wd[1].T + (0 if bd is None else bd[1]))
        n = np.tanh(xt @ wd[2][:, :n_in].T + (0 if bd is None else bd[2])
                    + r * (st[0] @ wd[2][:, n_in:].T + (0 if bd is None else bd[3])))
        return ((1 - z) * n + z * st[0],)

    xs = [x[t] for t in range(T)]
    finals = []
    for layer in range(num_layers):
        wl = w0 if layer == 0 else w[layer - 1]
        dirs = []
        for d in range(2 if bidirectional else 1):
            st = tuple(s[layer, d] for s in states)
            outs = [None] * T
            for t in (range(T) if d == 0 else reversed(range(T))):
                st = cell(xs[t], st, wl[d], None if b is None else b[layer, d])
                outs[t] = st[0]
            finals.append(st)
            dirs.append(outs)
        xs = [np.concatenate([dd[t] for dd in dirs], axis=1) for t in range(T)]
    D = 2 if bidirectional else 1
    result = [np.stack(xs)]
    for k in range(len(states)):
        result.append(np.stack([f[k] for f in finals]).reshape(
            (num_layers, D) + finals[0][k].shape))
    return tuple(result)


# ---------------------------------------------------------------- affine
def test_affine(rng):
    cases = []
    for x_shape, w_shape, base_axis, bias in [
            ((2, 3), (3, 4), 1, True), ((2, 3, 2), (6, 4), 1, False),
            ((2, 3, 2), (2, 2, 3), 2, True), ((4,), (4, 5), 0, True),
            ((2, 3, 2), (2, 5), -1, True), ((1, 1), (1, 1), 1, True)]:
        ba = base_axis % len(x_shape)

        def ref(x, w, b=None, ba=ba):
            y = x.reshape(int(np.prod(x.shape[:ba])), -1) @ w.reshape(w.shape[0], -1)
            if b is not None:
                y = y + b.reshape(1, -1)
            return y.reshape(x.shape[:ba] + w.shape[1:])

        inputs = [rng.randn(*x_shape), rng.randn(*w_shape)]
        if bias:
            inputs.append(rng.randn(*w_shape[1:]))
        cases.append(dict(name=f"affine {x_shape} {w_shape} {base_axis}", ba=ba, ref=ref,
                          fn=lambda *v, base_axis=base_axis: F.affine(*v, base_axis=base_axis),
                          inputs=inputs))
    for case, (y,) in zip(cases, check_named_cases(cases)):
        assert y.parent.info.type_name == "Affine"
        assert y.parent.info.args == {"base_axis": case["ba"]}


# ---------------------------------------------------------------- convolution
CONV_CASES = [
    # x shape, w shape, kwargs
    ((2, 2, 5), (3, 2, 3), dict()),
    ((1, 2, 5, 5), (3, 2, 3, 3), dict(pad=(1, 1))),
    ((1, 4, 6, 5), (4, 2, 3, 2), dict(pad=(1, 0), stride=(2, 1), group=2)),
    ((1, 2, 7, 7), (2, 2, 2, 2), dict(dilation=(2, 3), stride=(2, 2))),
    ((2, 1, 2, 4, 4), (2, 2, 3, 3), dict(base_axis=2, pad=(1, 1))),
    ((1, 4, 4, 2), (3, 2, 2, 2), dict(channel_last=True, pad=(1, 0))),
    ((1, 2, 3, 4, 4), (2, 2, 2, 2, 2), dict(stride=(1, 2, 2))),
]


def test_convolution(rng):
    cases = []
    for n, (x_shape, w_shape, kw) in enumerate(CONV_CASES):
        cases.append(dict(name=f"conv {x_shape} {w_shape} {kw}", kw=kw,
                          wrt=None if n in (1, 2, 5) else [],
                          fn=lambda x, w, b, kw=kw: F.convolution(x, w, b, **kw),
                          ref=lambda x, w, b, kw=kw: np_conv(x, w, b, **kw),
                          inputs=[rng.randn(*x_shape), rng.randn(*w_shape),
                                  rng.randn(w_shape[0])], rtol=1e-4, atol=1e-4))
    for case, (y,) in zip(cases, check_named_cases(cases)):
        args = y.parent.info.args
        assert y.parent.info.type_name == "Convolution"
        n = len(case["inputs"][1].shape) - 2
        assert args["pad"] == list(case["kw"].get("pad", [0] * n))
        assert args["stride"] == list(case["kw"].get("stride", [1] * n))
        assert args["dilation"] == list(case["kw"].get("dilation", [1] * n))
        assert args["group"] == case["kw"].get("group", 1)
        assert args["base_axis"] == case["kw"].get("base_axis", 1)
        assert args["channel_last"] == case["kw"].get("channel_last", False)


def test_convolution_gradient_by_finite_differences(rng):
    check_grad(lambda x, w, b: F.convolution(x, w, b, pad=(1,), stride=(2,)),
               [rng.randn(1, 2, 5), rng.randn(2, 2, 3), rng.randn(2)])


DECONV_CASES = [
    ((2, 2, 4), (2, 3, 3), dict()),
    ((1, 2, 3, 3), (2, 3, 3, 3), dict(pad=(1, 1), stride=(2, 2))),
    ((1, 4, 3, 2), (4, 1, 2, 3), dict(group=2, dilation=(2, 1))),
    ((1, 2, 3, 3), (2, 2, 3, 3), dict(stride=(2, 2), pad=(1, 1), output_padding=(1, 1))),
    ((1, 3, 3, 2), (2, 2, 2, 2), dict(channel_last=True, stride=(2, 1))),
    ((2, 1, 2, 3, 3), (2, 1, 2, 2), dict(base_axis=2)),
]


def test_deconvolution(rng):
    cases = []
    for n, (x_shape, w_shape, kw) in enumerate(DECONV_CASES):
        group = kw.get("group", 1)
        c_out = (w_shape[-1] if kw.get("channel_last") else w_shape[1]) * group
        cases.append(dict(name=f"deconv {x_shape} {w_shape} {kw}", kw=kw,
                          wrt=None if n in (1, 4) else [],
                          fn=lambda x, w, b, kw=kw: F.deconvolution(x, w, b, **kw),
                          ref=lambda x, w, b, kw=kw: np_deconv(x, w, b, **kw),
                          inputs=[rng.randn(*x_shape), rng.randn(*w_shape), rng.randn(c_out)],
                          rtol=1e-4, atol=1e-4))
    for case, (y,) in zip(cases, check_named_cases(cases)):
        assert y.parent.info.type_name == "Deconvolution"
        n = len(case["inputs"][1].shape) - 2
        assert y.parent.info.args["output_padding"] == list(
            case["kw"].get("output_padding", [0] * n))


# 3-D convolutions run on CPU as 2-D ones over stacked depth taps (ops/convolution.py)
CONV3D_CASES = [
    ((2, 2, 7, 8, 5), (4, 2, 2, 3, 2), dict(pad=(3, 0, 0), stride=(1, 2, 1), dilation=(2, 1, 1))),
    ((1, 4, 5, 4, 4), (4, 2, 3, 2, 2), dict(pad=(1, 1, 0), stride=(2, 1, 1), group=2)),
    ((1, 5, 4, 4, 2), (3, 3, 2, 2, 2), dict(channel_last=True, pad=(1, 0, 1), dilation=(1, 2, 1))),
]
DECONV3D_CASES = [
    ((1, 2, 3, 3, 2), (2, 2, 2, 3, 2), dict(stride=(2, 1, 2), pad=(1, 1, 0), output_padding=(1, 0, 1))),
    ((1, 4, 2, 3, 3), (4, 1, 3, 2, 2), dict(group=2, dilation=(2, 1, 1), stride=(3, 1, 1))),
    ((1, 3, 3, 2, 2), (2, 2, 2, 2, 2), dict(channel_last=True, stride=(2, 2, 1), pad=(1, 0, 0))),
]


def test_3d_convolution_and_deconvolution(rng):
    cases = []
    for x_shape, w_shape, kw in CONV3D_CASES:
        cases.append(dict(name=f"conv {x_shape} {w_shape} {kw}",
                          fn=lambda x, w, b, kw=kw: F.convolution(x, w, b, **kw),
                          ref=lambda x, w, b, kw=kw: np_conv(x, w, b, **kw),
                          inputs=[rng.randn(*x_shape), rng.randn(*w_shape), rng.randn(w_shape[0])],
                          rtol=1e-4, atol=1e-4))
    for x_shape, w_shape, kw in DECONV3D_CASES:
        c_out = (w_shape[-1] if kw.get("channel_last") else w_shape[1]) * kw.get("group", 1)
        cases.append(dict(name=f"deconv {x_shape} {w_shape} {kw}",
                          fn=lambda x, w, b, kw=kw: F.deconvolution(x, w, b, **kw),
                          ref=lambda x, w, b, kw=kw: np_deconv(x, w, b, **kw),
                          inputs=[rng.randn(*x_shape), rng.randn(*w_shape), rng.randn(c_out)],
                          rtol=1e-4, atol=1e-4))
    check_named_cases(cases)


def test_3d_convolution_second_order_gradient_matches_jax(rng):
    """d/dw of <dL/dx, v> through nn.grad, against jax.grad of jax's own 3-D convolution."""
    import jax
    import jax.numpy as jnp
    from jax import lax
    x0, w0 = rng.randn(2, 2, 5, 6, 4), rng.randn(4, 1, 2, 3, 2)
    gy0 = rng.randn(2, 4, 5, 2, 3)
    v0 = rng.randn(*x0.shape)

    def reference(w):
        def conv(x):
            return lax.conv_general_dilated(x, w, (1, 2, 1), [(1, 1), (0, 0), (0, 0)],
                                            rhs_dilation=(2, 1, 1), feature_group_count=2)
        dx = jax.vjp(conv, jnp.asarray(x0))[1](jnp.asarray(gy0))[0]
        return jnp.sum(dx * v0)

    x, w = nn.Variable.from_numpy_array(x0), nn.Variable.from_numpy_array(w0)
    x.need_grad = w.need_grad = True
    y = F.convolution(x, w, None, pad=(1, 0, 0), stride=(1, 2, 1), dilation=(2, 1, 1), group=2)
    assert y.shape == gy0.shape
    dx = nn.grad([y], [x], grad_outputs=[gy0])[0]
    z = F.sum(dx * nn.Variable.from_numpy_array(v0))
    z.forward()
    w.grad.zero()
    z.backward()
    expected = np.asarray(jax.grad(reference)(jnp.asarray(w0, jnp.float32)))
    np.testing.assert_allclose(z.d, float(reference(jnp.asarray(w0, jnp.float32))), rtol=1e-4)
    np.testing.assert_allclose(w.g, expected, rtol=1e-4, atol=1e-4)
    if jax.default_backend() == "cpu":  # computed by 2-D convolutions there
        from nnjax.ops.convolution import _convolution
        jaxpr = jax.make_jaxpr(lambda a, b: _convolution(a, b, None, 1, [1, 0, 0], [1, 2, 1],
                                                         [2, 1, 1], 2))(x0, w0)
        convs = [e for e in jaxpr.eqns if e.primitive.name == "conv_general_dilated"]
        assert convs and all(e.invars[0].aval.ndim == 4 for e in convs)


def test_depthwise_convolution_and_deconvolution(rng):
    cases = []
    for x_shape, k, kw in [((2, 3, 5), (3,), dict(multiplier=2, pad=(1,))),
                           ((1, 2, 5, 5), (3, 3), dict(stride=(2, 2), dilation=(1, 2))),
                           ((2, 1, 2, 4, 4), (2, 2), dict(base_axis=2, multiplier=3))]:
        c = x_shape[kw.get("base_axis", 1)]
        m = kw.get("multiplier", 1)
        ckw = {k2: v for k2, v in kw.items() if k2 != "multiplier"}
        cases.append(dict(
            name=f"depthwise_conv {x_shape} {kw}", type_name="DepthwiseConvolution",
            wrt=None if len(x_shape) == 4 else [],
            fn=lambda x, w, b, kw=kw: F.depthwise_convolution(x, w, b, **kw),
            ref=lambda x, w, b, ckw=ckw, c=c: np_conv(
                x, w.reshape((w.shape[0], 1) + w.shape[1:]), b, group=c, **ckw),
            inputs=[rng.randn(*x_shape), rng.randn(c * m, *k), rng.randn(c * m)],
            rtol=1e-4, atol=1e-4))
    for x_shape, k, kw in [((2, 4, 4), (3,), dict(divisor=2, stride=(2,))),
                           ((1, 3, 3, 3), (2, 2), dict(pad=(1, 0))),
                           ((1, 4, 3, 3), (3, 2), dict(divisor=4, dilation=(1, 2)))]:
        c = x_shape[1]
        d = kw.get("divisor", 1)
        ckw = {k2: v for k2, v in kw.items() if k2 != "divisor"}
        cases.append(dict(
            name=f"depthwise_deconv {x_shape} {kw}", type_name="DepthwiseDeconvolution",
            wrt=None if x_shape == (2, 4, 4) else [],
            fn=lambda x, w, b, kw=kw: F.depthwise_deconvolution(x, w, b, **kw),
            ref=lambda x, w, b, ckw=ckw, c=c, d=d: np_deconv(
                x, w.reshape((w.shape[0], 1) + w.shape[1:]), b, group=c // d, **ckw),
            inputs=[rng.randn(*x_shape), rng.randn(c, *k), rng.randn(c // d)],
            rtol=1e-4, atol=1e-4))
    for case, (y,) in zip(cases, check_named_cases(cases)):
        assert y.parent.info.type_name == case["type_name"]
    y = F.depthwise_convolution(nn.Variable((2, 3, 5)), nn.Variable((6, 3)), multiplier=2)
    assert y.parent.info.args == {"base_axis": 1, "pad": [0], "stride": [1], "dilation": [1],
                                  "multiplier": 2}
    y = F.depthwise_deconvolution(nn.Variable((2, 4, 5)), nn.Variable((4, 3)), divisor=2)
    assert y.shape == (2, 2, 7)
    assert y.parent.info.args == {"base_axis": 1, "pad": [0], "stride": [1], "dilation": [1],
                                  "divisor": 2}


def test_fused_convolution(rng):
    x = rng.randn(2, 2, 4, 4)
    w = rng.randn(3, 2, 3, 3)
    b = rng.randn(3)
    beta, gamma = rng.randn(1, 3, 1, 1), rng.rand(1, 3, 1, 1) + 0.5
    z = rng.randn(2, 3, 4, 4)

    def ref_bn(x, w, b, beta, gamma, z):
        h = np_conv(x, w, b, pad=(1, 1))
        m = h.mean(axis=(0, 2, 3), keepdims=True)
        v = h.var(axis=(0, 2, 3), keepdims=True)
        return np.maximum((h - m) / np.sqrt(v + 1e-5) * gamma + beta + z, 0)

    mean = nn.Variable.from_numpy_array(np.zeros((1, 3, 1, 1), np.float32))
    var = nn.Variable.from_numpy_array(np.ones((1, 3, 1, 1), np.float32))
    cases = [
        dict(name="fused conv bn z relu", ref=ref_bn, inputs=[x, w, b, beta, gamma, z],
             fn=lambda x, w, b, be, ga, z: F.fused_convolution(
                 x, w, b, be, ga, mean, var, z, pad=(1, 1)), rtol=1e-4, atol=1e-4,
             grad_rtol=3e-3, grad_atol=3e-4),
        dict(name="fused conv leaky", inputs=[x, w],
             ref=lambda x, w: np.where(np_conv(x, w, stride=(2, 2)) > 0,
                                       np_conv(x, w, stride=(2, 2)),
                                       0.2 * np_conv(x, w, stride=(2, 2))),
             fn=lambda x, w: F.fused_convolution(x, w, stride=(2, 2), nonlinearity="leaky_relu",
                                                 nonlinearity_args=[0.2]), rtol=1e-4, atol=1e-4),
    ]
    (y, ), (y2, ) = check_named_cases(cases)
    assert y.parent.info.type_name == "FusedConvolution"
    args = y.parent.info.args
    assert args["nonlinearity"] == "relu" and args["decay_rate"] == 0.9
    assert args["eps"] == 1e-5 and args["batch_stat"] is True
    assert y2.parent.info.args["nonlinearity_args"] == [0.2]
    # running statistics were updated in place
    h = np_conv(x.astype(np.float32).astype(np.float64), w.astype(np.float32), b.astype(np.float32),
                pad=(1, 1))
    np.testing.assert_allclose(mean.d.ravel(), 0.1 * h.mean(axis=(0, 2, 3)), rtol=1e-4,
                               atol=1e-5)


def test_deformable_convolution(rng):
    def offsets(shape):
        o = rng.uniform(-1.5, 1.5, size=shape)
        frac = o - np.floor(o)
        return o + np.where(np.abs(frac - 0.5) > 0.45, 0.1, 0.0)  # keep away from integers

    x = rng.randn(1, 2, 4, 4)
    cases = []
    for kw, w_shape, dg, with_mask in [
            (dict(pad=(1, 1)), (2, 2, 3, 3), 1, False),
            (dict(stride=(2, 2), group=2, deformable_group=2), (2, 1, 2, 2), 2, True)]:
        kh, kw_ = w_shape[2:]
        inputs = [x, rng.randn(*w_shape), offsets((1, 2 * dg * kh * kw_, 4, 4))]
        inputs.append(rng.uniform(0.2, 1, size=(1, dg * kh * kw_, 4, 4)) if with_mask else None)
        inputs.append(rng.randn(w_shape[0]))
        ref_kw = dict(pad=kw.get("pad", (0, 0)), stride=kw.get("stride", (1, 1)),
                      group=kw.get("group", 1), dg=dg)
        cases.append(dict(name=f"deformable {kw} mask={with_mask}", kw=kw,
                          wrt=None if with_mask else [],
                          fn=lambda x, w, o, m, b, kw=kw: F.deformable_convolution(
                              x, w, o, m, b, **kw),
                          ref=lambda x, w, o, m, b, rk=ref_kw: np_deformable_conv(
                              x, w, o, m, b, **rk),
                          inputs=inputs, rtol=1e-4, atol=1e-4, grad_rtol=2e-3, grad_atol=2e-4))
    first = cases[0]["inputs"]
    cases.append(dict(
        name="deformable channel_last",
        inputs=[first[0].transpose(0, 2, 3, 1), first[1].transpose(0, 2, 3, 1),
                first[2].transpose(0, 2, 3, 1), None, first[4]], wrt=[],
        fn=lambda x, w, o, m, b: F.deformable_convolution(x, w, o, m, b, pad=(1, 1),
                                                          channel_last=True),
        ref=lambda x, w, o, m, b: np_deformable_conv(
            x.transpose(0, 3, 1, 2), w.transpose(0, 3, 1, 2), o.transpose(0, 3, 1, 2), None, b,
            pad=(1, 1)).transpose(0, 2, 3, 1), rtol=1e-4, atol=1e-4, grad_rtol=2e-3,
        grad_atol=2e-4))
    outs = check_named_cases(cases)
    y = outs[1][0]
    assert y.parent.info.type_name == "DeformableConvolution"
    assert y.parent.info.args == {"base_axis": 1, "pad": [0, 0], "stride": [2, 2],
                                  "dilation": [1, 1], "group": 2, "deformable_group": 2,
                                  "channel_last": False}
    assert outs[2][0].parent.info.args["channel_last"] is True


def test_adaptive_separable_convolution(rng):
    def ref(x, kv, kh):
        B, C, H, W = x.shape
        nv, nh = kv.shape[1], kh.shape[1]
        oh, ow = H - nv + 1, W - nh + 1
        y = np.zeros((B, C, oh, ow))
        for j in range(nv):
            for i in range(nh):
                y += (kv[:, j, :oh, :ow] * kh[:, i, :oh, :ow])[:, None] * x[:, :, j:j + oh, i:i + ow]
        return y

    cases = [dict(name="asc", fn=F.adaptive_separable_convolution, ref=ref,
                  inputs=[rng.randn(2, 2, 5, 6), rng.randn(2, 3, 4, 6), rng.randn(2, 2, 3, 5)],
                  rtol=1e-4, atol=1e-4)]
    (y,), = check_named_cases(cases)
    assert y.shape == (2, 2, 3, 5)
    assert y.parent.info.type_name == "AdaptiveSeparableConvolution"
    assert y.parent.info.args == {}


# ---------------------------------------------------------------- pooling
POOL_CASES = [
    # x shape, kernel, kwargs
    ((2, 2, 5, 5), (2, 2), dict()),
    ((1, 2, 5, 5), (3, 3), dict(stride=(1, 1), ignore_border=False)),
    ((1, 1, 5, 6), (3, 2), dict(stride=(2, 3), pad=(1, 1))),
    ((1, 1, 5, 5), (3, 3), dict(stride=(2, 2), pad=(1, 1), ignore_border=False)),
    ((1, 4, 5, 2), (2, 2), dict(channel_last=True, pad=(1, 0))),
    ((1, 1, 3, 4, 4), (2, 2, 3), dict(stride=(1, 2, 1))),
    ((5, 4, 3), (2, 2), dict(ignore_border=False)),
    ((1, 1, 2, 2), (3, 3), dict(ignore_border=False)),
]


@pytest.mark.parametrize("mode", ["max", "sum", "average", "average_excl"])
def test_pooling(mode, rng):
    cases = []
    for n, (x_shape, kernel, kw) in enumerate(POOL_CASES):
        if mode == "max":
            fn = lambda x, k=kernel, kw=kw: F.max_pooling(x, k, **kw)
            ref = lambda x, k=kernel, kw=kw: np_pool(x, k, mode="max", **kw)
        elif mode == "sum":
            fn = lambda x, k=kernel, kw=kw: F.sum_pooling(x, k, **kw)
            ref = lambda x, k=kernel, kw=kw: np_pool(x, k, mode="sum", **kw)
        else:
            incl = mode == "average"
            fn = lambda x, k=kernel, kw=kw, i=incl: F.average_pooling(x, k, including_pad=i, **kw)
            ref = lambda x, k=kernel, kw=kw, i=incl: np_pool(x, k, mode="avg", including_pad=i,
                                                              **kw)
        cases.append(dict(name=f"{mode} {x_shape} {kernel} {kw}", fn=fn, ref=ref, kw=kw,
                          wrt=None if n in (3, 4) else [],
                          kernel=kernel, inputs=[rng.permutation(np.prod(x_shape)).reshape(
                              x_shape) * 0.1 + rng.uniform(0, 0.01, size=x_shape)]))
    outs = check_named_cases(cases)
    type_name = {"max": "MaxPooling", "sum": "SumPooling"}.get(mode, "AveragePooling")
    for case, (y,) in zip(cases, outs):
        args = y.parent.info.args
        assert y.parent.info.type_name == type_name
        assert args["kernel"] == list(case["kernel"])
        assert args["stride"] == list(case["kw"].get("stride", case["kernel"]))
        assert args["pad"] == list(case["kw"].get("pad", (0,) * len(case["kernel"])))
        assert args["ignore_border"] == case["kw"].get("ignore_border", True)
        assert args["channel_last"] == case["kw"].get("channel_last", False)
        if mode.startswith("average"):
            assert args["including_pad"] == (mode == "average")


def test_pooling_output_size_without_ignore_border():
    # NNabla: (L + p - 1) // s + 1 regardless of the kernel when ignore_border=False
    x = nn.Variable((1, 1, 5, 5))
    assert F.max_pooling(x, (3, 3), (1, 1), ignore_border=False).shape == (1, 1, 5, 5)
    assert F.max_pooling(x, (3, 3), (2, 2), ignore_border=False).shape == (1, 1, 3, 3)
    assert F.max_pooling(x, (3, 3), (2, 2), ignore_border=True).shape == (1, 1, 2, 2)
    assert F.average_pooling(x, (2, 2), (2, 2), pad=(1, 1), ignore_border=False).shape == \
        (1, 1, 3, 3)
    assert F.sum_pooling(x, (4, 4), ignore_border=False).shape == (1, 1, 2, 2)


def test_global_average_pooling_unpooling_embed(rng):
    idx = np.array([[0, 3, 1], [2, 2, 0]])
    cases = [
        dict(name="gap 4d", fn=F.global_average_pooling, inputs=[rng.randn(2, 3, 4, 5)],
             ref=lambda x: x.mean(axis=(2, 3), keepdims=True)),
        dict(name="gap 3d", fn=F.global_average_pooling, inputs=[rng.randn(2, 3, 4)],
             ref=lambda x: x.mean(axis=2).reshape(2, 3, 1, 1)),
        dict(name="unpool", fn=lambda x: F.unpooling(x, (2, 3)), inputs=[rng.randn(2, 1, 2, 2)],
             ref=lambda x: np.repeat(np.repeat(x, 2, axis=2), 3, axis=3)),
        dict(name="unpool cl", fn=lambda x: F.unpooling(x, (2,), channel_last=True),
             inputs=[rng.randn(2, 3, 2)], ref=lambda x: np.repeat(x, 2, axis=1)),
        dict(name="unpool 1d", fn=lambda x: F.unpooling(x, (1, 2)), inputs=[rng.randn(3, 2)],
             ref=lambda x: np.repeat(x, 2, axis=1)),
        dict(name="embed", fn=F.embed, inputs=[idx, rng.randn(4, 2, 3)],
             ref=lambda i, w: w[i.astype(int)], wrt=[1]),
    ]
    outs = check_named_cases(cases)
    assert [o[0].parent.info.type_name for o in outs] == [
        "GlobalAveragePooling", "GlobalAveragePooling", "Unpooling", "Unpooling", "Unpooling",
        "Embed"]
    assert outs[2][0].parent.info.args == {"kernel": [2, 3], "channel_last": False}
    assert outs[5][0].shape == (2, 3, 2, 3)


def test_roi_align(rng):
    x = rng.randn(2, 2, 6, 7)
    boxes = np.array([[0, 0.5, 1.0, 4.2, 5.1], [1, 2.0, 0.3, 6.5, 3.9], [1, -0.5, -0.8, 2.0, 2.5],
                      [0, 1.0, 1.0, 1.2, 1.1]])
    cases = []
    for out, scale, sr in [((2, 3), (1.0, 1.0), -1), ((3, 2), (0.5, 0.8), 2)]:
        cases.append(dict(name=f"roi {out} {scale} {sr}",
                          fn=lambda a, b, out=out, scale=scale, sr=sr: F.roi_align(
                              a, b, out, scale, sr),
                          ref=lambda a, b, out=out, scale=scale, sr=sr: np_roi_align(
                              a, b, out, scale, sr),
                          inputs=[x, boxes], wrt=[0] if sr < 0 else [], rtol=1e-4,
                          atol=1e-5))
    cases.append(dict(name="roi channel_last", inputs=[x.transpose(0, 2, 3, 1), boxes], wrt=[],
                      fn=lambda a, b: F.roi_align(a, b, (2, 2), sampling_ratio=0,
                                                  channel_last=True),
                      ref=lambda a, b: np_roi_align(a.transpose(0, 3, 1, 2), b, (2, 2),
                                                    sampling_ratio=0).transpose(0, 2, 3, 1),
                      rtol=1e-4, atol=1e-5))
    outs = check_named_cases(cases)
    y = outs[1][0]
    assert y.shape == (4, 2, 3, 2)
    assert y.parent.info.type_name == "RoiAlign"
    assert y.parent.info.args == {"output_size": [3, 2], "spatial_scale": [0.5, 0.8],
                                  "sampling_ratio": 2, "channel_last": False}
    assert outs[2][0].shape == (4, 2, 2, 2)


# ---------------------------------------------------------------- recurrent
def test_recurrent(rng):
    T, B, I, H = 3, 2, 3, 2
    cases = []
    for kind, L, bidir, with_bias, nonlin in [
            ("rnn", 1, False, True, "tanh"), ("rnn", 2, True, False, "relu"),
            ("lstm", 2, True, True, None), ("gru", 2, False, False, None),
            ("gru", 1, True, True, None)]:
        n_w = {"rnn": None, "lstm": 4, "gru": 3}[kind]
        n_b = {"rnn": None, "lstm": 4, "gru": 4}[kind]
        D = 2 if bidir else 1
        g = () if n_w is None else (n_w,)
        gb = () if n_b is None else (n_b,)
        x = rng.randn(T, B, I)
        states = [rng.randn(L, D, B, H) * 0.5 for _ in range(2 if kind == "lstm" else 1)]
        w0 = rng.randn(D, *g, H, I + H) * 0.5
        w = rng.randn(L - 1, D, *g, H, D * H + H) * 0.5 if L > 1 else None
        b = rng.randn(L, D, *gb, H) * 0.5 if with_bias else None
        ns = len(states)
        kw = dict(num_layers=L, bidirectional=bidir)
        if kind == "rnn":
            kw["nonlinearity"] = nonlin

        def fn(*v, kw=kw, ns=ns, kind=kind):
            return getattr(F, kind)(*v[:1 + ns], weight_l0=v[1 + ns], weight=v[2 + ns],
                                    bias=v[3 + ns], **kw)

        def ref(*v, ns=ns, L=L, bidir=bidir, nonlin=nonlin, kind=kind):
            return np_recurrent(kind, v[0], v[1:1 + ns], v[1 + ns], v[2 + ns], v[3 + ns], L,
                                bidir, nonlin)

        cases.append(dict(name=f"{kind} L={L} bidir={bidir} bias={with_bias}", kw=kw, fn=fn,
                          wrt=None if (kind, L) in (("lstm", 2), ("gru", 2)) else [],
                          kind=kind, ref=ref, inputs=[x] + states + [w0, w, b], rtol=1e-4,
                          atol=1e-5))
    outs = check_named_cases(cases)
    for case, ys in zip(cases, outs):
        kind = case["kind"]
        assert ys[0].parent.info.type_name == {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}[kind]
        args = ys[0].parent.info.args
        assert args["num_layers"] == case["kw"]["num_layers"]
        assert args["bidirectional"] == case["kw"]["bidirectional"]
        assert args["dropout"] == 0.0 and args["training"] is True
        if kind == "rnn":
            assert args["nonlinearity"] == case["kw"]["nonlinearity"]
        assert len(ys) == (3 if kind == "lstm" else 2)


# ---------------------------------------------------------------- attention
def np_mha(q, k, v, H, qw, kw, vw, ow, qb, kb, vb, ob, abk=None, abv=None, amask=None,
           kpm=None):
    LT, B, _ = q.shape
    E, Ev = qw.shape[1], vw.shape[1]
    hd, hv = E // H, Ev // H
    Q = (q @ qw + qb) * hd ** -0.5
    K = k @ kw + kb
    V = v @ vw + vb
    if abk is not None:
        K = np.concatenate([K, np.broadcast_to(abk.reshape(1, 1, -1), (1, B, E))], axis=0)
        V = np.concatenate([V, np.broadcast_to(abv.reshape(1, 1, -1), (1, B, Ev))], axis=0)
        if amask is not None:
            amask = np.pad(amask, [(0, 0), (0, 1)])
        if kpm is not None:
            kpm = np.pad(kpm, [(0, 0), (0, 1)])
    LS = K.shape[0]
    Qh = Q.reshape(LT, B * H, hd).transpose(1, 0, 2)
    Kh = K.reshape(LS, B * H, hd).transpose(1, 0, 2)
    Vh = V.reshape(LS, B * H, hv).transpose(1, 0, 2)
    wts = Qh @ Kh.transpose(0, 2, 1)
    if amask is not None:
        wts = wts + amask[None]
    if kpm is not None:
        wts = wts.reshape(B, H, LT, LS)
        wts = np.where(kpm.reshape(B, 1, 1, LS) > 0, -np.inf, wts).reshape(B * H, LT, LS)
    wts = np.exp(wts - wts.max(-1, keepdims=True))
    wts = wts / wts.sum(-1, keepdims=True)
    out = (wts @ Vh).transpose(1, 0, 2).reshape(LT, B, Ev)
    return out @ ow + ob, wts


def test_multi_head_attention(rng):
    LT, LS, B, D, E, H = 3, 4, 2, 3, 4, 2
    q, k, v = rng.randn(LT, B, D), rng.randn(LS, B, D), rng.randn(LS, B, D)
    ws = [rng.randn(D, E) * 0.5 for _ in range(3)] + [rng.randn(E, 5) * 0.5]
    bs = [rng.randn(E) * 0.1 for _ in range(3)] + [rng.randn(5) * 0.1]
    amask = rng.randn(LT, LS)
    kpm = np.array([[0, 0, 1, 0], [0, 0, 0, 0]], np.float32)
    abk, abv = rng.randn(E), rng.randn(E)
    cases = [
        dict(name="mha plain", inputs=[q, k, v] + ws + bs, wrt=[],
             fn=lambda *a: F.multi_head_attention(*a[:3], H, *a[3:]),
             ref=lambda *a: np_mha(*a[:3], H, *a[3:]), rtol=1e-4, atol=1e-5),
        dict(name="mha masks + attention bias", wrt=list(range(13)),
             inputs=[q, k, v] + ws + bs + [abk, abv, amask, kpm],
             fn=lambda *a: F.multi_head_attention(
                 *a[:3], H, *a[3:11], attn_bias_k=a[11], attn_bias_v=a[12],
                 additive_mask=a[13], key_padding_mask=a[14]),
             ref=lambda *a: np_mha(*a[:3], H, *a[3:11], abk=a[11], abv=a[12], amask=a[13],
                                   kpm=a[14]), rtol=1e-4, atol=1e-5),
    ]
    outs = check_named_cases(cases)
    assert outs[0][0].shape == (LT, B, 5)
    assert outs[0][1].shape == (B * H, LT, LS)
    assert outs[1][1].shape == (B * H, LT, LS + 1)


# ---------------------------------------------------------------- errors
def test_argument_errors():
    x = nn.Variable((2, 4, 5, 5))
    with pytest.raises(ValueError, match="affine"):
        F.affine(nn.Variable((2, 3)), nn.Variable((4, 2)))
    with pytest.raises(ValueError, match="affine"):
        F.affine(nn.Variable((2, 3)), nn.Variable((3, 2)), nn.Variable((3,)))
    with pytest.raises(ValueError, match="convolution"):
        F.convolution(x, nn.Variable((3, 3, 3, 3)))
    with pytest.raises(ValueError, match="convolution"):
        F.convolution(x, nn.Variable((3, 2, 3, 3)), group=2)
    with pytest.raises(ValueError, match="convolution"):
        F.convolution(x, nn.Variable((4, 4, 7, 7)))
    with pytest.raises(ValueError, match="convolution"):
        F.convolution(x, nn.Variable((4, 4, 3, 3)), pad=(1, 1, 1))
    with pytest.raises(ValueError, match="convolution"):
        F.convolution(x, nn.Variable((4, 4, 3)))
    with pytest.raises(ValueError, match="deconvolution"):
        F.deconvolution(x, nn.Variable((3, 2, 3, 3)))
    with pytest.raises(ValueError, match="depthwise_convolution"):
        F.depthwise_convolution(x, nn.Variable((5, 3, 3)))
    with pytest.raises(ValueError, match="depthwise_deconvolution"):
        F.depthwise_deconvolution(x, nn.Variable((4, 3, 3)), divisor=3)
    with pytest.raises(ValueError, match="fused_convolution"):
        F.fused_convolution(x, nn.Variable((3, 4, 3, 3)), nonlinearity="gelu")
    with pytest.raises(ValueError, match="deformable_convolution"):
        F.deformable_convolution(x, nn.Variable((2, 4, 3, 3)), nn.Variable((2, 9, 5, 5)))
    with pytest.raises(ValueError, match="adaptive_separable_convolution"):
        F.adaptive_separable_convolution(x, nn.Variable((2, 7, 5, 5)), nn.Variable((2, 2, 5, 5)))
    with pytest.raises(ValueError, match="max_pooling"):
        F.max_pooling(x, (7, 7), stride=(1, 1))  # no window fits (NNabla: size <= 0)
    with pytest.raises(ValueError, match="average_pooling"):
        F.average_pooling(x, (2, 2), stride=(1, 1, 1))
    with pytest.raises(ValueError, match="sum_pooling"):
        F.sum_pooling(nn.Variable((3,)), (2, 2))
    with pytest.raises(ValueError, match="unpooling"):
        F.unpooling(nn.Variable((3,)), (2, 2))
    with pytest.raises(ValueError, match="global_average_pooling"):
        F.global_average_pooling(nn.Variable((3,)))
    with pytest.raises(ValueError, match="roi_align"):
        F.roi_align(x, nn.Variable((3, 4)), (2, 2))
    with pytest.raises(ValueError, match="lstm"):
        F.lstm(nn.Variable((3, 2, 4)), nn.Variable((1, 1, 2, 5)), nn.Variable((1, 1, 2, 5)),
               nn.Variable((1, 4, 5, 8)))
    with pytest.raises(ValueError, match="gru"):
        F.gru(nn.Variable((3, 2, 4)), nn.Variable((2, 1, 2, 5)), nn.Variable((1, 3, 5, 9)))
    with pytest.raises(ValueError, match="rnn"):
        F.rnn(nn.Variable((3, 2, 4)), nn.Variable((1, 1, 2, 5)), nn.Variable((1, 5, 9)),
              nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="multi_head_attention"):
        F.multi_head_attention(nn.Variable((3, 2, 4)), nn.Variable((3, 2, 4)),
                               nn.Variable((3, 2, 4)), 3, nn.Variable((4, 4)),
                               nn.Variable((4, 4)), nn.Variable((4, 4)), nn.Variable((4, 4)))
