"""Neural Network Layer: affine, convolutions, pooling, unpooling, embed, RoI align,
and the multi-head attention composite of ``nnabla.functions``.

Shapes follow NNabla: ``base_axis`` splits sample axes from the feature axes,
``channel_last`` moves the channel axis behind the spatial axes. Pooling windows
act on the last ``len(kernel)`` axes (the axes before the last one when
``channel_last``).
"""
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._common import as_list, call, lowering
from .normalization import _bn_core



def _shape(v):
    return tuple(int(s) for s in v.shape)


def _prod(shape):
    return int(np.prod(shape, dtype=np.int64))


def _base_axis(fname, x, base_axis, spare=0):
    """base_axis as a non-negative int that leaves ``spare`` axes after it."""
    ndim = len(x.shape)
    if isinstance(base_axis, bool) or not isinstance(base_axis, (int, np.integer)):
        raise TypeError(f"{fname}: base_axis must be an int, got {type(base_axis).__name__}")
    b = int(base_axis) + ndim if base_axis < 0 else int(base_axis)
    if not 0 <= b <= ndim - spare:
        raise ValueError(f"{fname}: base_axis={base_axis} is out of range for an input of "
                         f"shape {_shape(x)}")
    return b


# ---------------------------------------------------------------- affine
@lowering("Affine")
def _affine(x, weight, bias=None, base_axis=1):
    batch = x.shape[:base_axis]
    flat = x.reshape((_prod(batch), -1))
    w = weight.reshape((weight.shape[0], -1))
    y = flat @ w
    if bias is not None:
        y = y + bias.reshape((1, -1))
    return y.reshape(batch + weight.shape[1:])


def affine(x, weight, bias=None, base_axis=1, n_outputs=-1, outputs=None):
    """``x`` flattened from ``base_axis`` times ``weight`` (inmaps, *outmaps), plus ``bias``."""
    base_axis = _base_axis("affine", x, base_axis, spare=0)
    in_features = _prod(x.shape[base_axis:])
    if len(weight.shape) < 1 or weight.shape[0] != in_features:
        raise ValueError(f"affine: x of shape {_shape(x)} has {in_features} features from "
                         f"base_axis={base_axis}, but weight has shape {_shape(weight)}")
    if bias is not None and _shape(bias) != _shape(weight)[1:]:
        raise ValueError(f"affine: bias shape {_shape(bias)} must be weight.shape[1:] = "
                         f"{_shape(weight)[1:]}")
    return call("Affine", [x, weight, bias], dict(base_axis=base_axis), outputs)


# ---------------------------------------------------------------- convolution helpers
def _dim_numbers(n_spatial, channel_last):
    if not 1 <= n_spatial <= 3:
        raise ValueError("convolutions support 1 to 3 spatial dimensions")
    sp = "DHW"[-n_spatial:]
    if channel_last:
        return ("N" + sp + "C", "O" + sp + "I", "N" + sp + "C")
    return ("NC" + sp, "OI" + sp, "NC" + sp)


def _fold_batch(x, base_axis):
    """Merge the axes before base_axis into one batch axis."""
    batch = x.shape[:base_axis]
    return x.reshape((_prod(batch),) + x.shape[base_axis:]), batch


def _add_channel_bias(y, bias, n, channel_last):
    if bias is None:
        return y
    shape = (1,) * (n + 1) + (-1,) if channel_last else (1, -1) + (1,) * n
    return y + bias.reshape(shape)


def _conv_core(x, weight, bias, base_axis, pad, stride, dilation, group, channel_last):
    n = weight.ndim - 2
    xb, batch = _fold_batch(x, base_axis)
    y = lax.conv_general_dilated(
        xb, weight, window_strides=stride, padding=[(p, p) for p in pad],
        rhs_dilation=dilation, feature_group_count=group,
        dimension_numbers=_dim_numbers(n, channel_last))
    y = _add_channel_bias(y, bias, n, channel_last)
    return y.reshape(batch + y.shape[1:])


def _deconv_core(x, weight, bias, base_axis, pad, stride, dilation, group, channel_last,
                 output_padding):
    n = weight.ndim - 2
    xb, batch = _fold_batch(x, base_axis)
    # weight (in, out/g, *k) [(in, *k, out/g) with channel_last] -> forward-conv
    # weight (out, in/g, *k), spatially flipped
    if channel_last:
        weight = jnp.moveaxis(weight, -1, 1)
    c_in, c_out_g = weight.shape[0], weight.shape[1]
    k = weight.shape[2:]
    w = weight.reshape((group, c_in // group, c_out_g) + k)
    w = jnp.swapaxes(w, 1, 2).reshape((group * c_out_g, c_in // group) + k)
    w = jnp.flip(w, axis=tuple(range(2, 2 + n)))
    padding = [(d * (kk - 1) - p, d * (kk - 1) - p + op)
               for kk, p, d, op in zip(k, pad, dilation, output_padding)]
    sp = "DHW"[-n:]
    dn = ("N" + sp + "C", "OI" + sp, "N" + sp + "C") if channel_last else \
        ("NC" + sp, "OI" + sp, "NC" + sp)
    y = lax.conv_general_dilated(xb, w, window_strides=[1] * n, padding=padding,
                                 lhs_dilation=stride, rhs_dilation=dilation,
                                 feature_group_count=group, dimension_numbers=dn)
    y = _add_channel_bias(y, bias, n, channel_last)
    return y.reshape(batch + y.shape[1:])


def _spatial_args(fname, n, pad, stride, dilation):
    pad = as_list(pad, n, "pad", fname) or [0] * n
    stride = as_list(stride, n, "stride", fname) or [1] * n
    dilation = as_list(dilation, n, "dilation", fname) or [1] * n
    if any(p < 0 for p in pad):
        raise ValueError(f"{fname}: pad must be non-negative, got {pad}")
    if any(s < 1 for s in stride) or any(d < 1 for d in dilation):
        raise ValueError(f"{fname}: stride {stride} and dilation {dilation} must be >= 1")
    return pad, stride, dilation


def _conv_out(fname, spatial, kernel, pad, stride, dilation):
    out = []
    for i, (L, k, p, s, d) in enumerate(zip(spatial, kernel, pad, stride, dilation)):
        o = (L + 2 * p - d * (k - 1) - 1) // s + 1 if L + 2 * p >= d * (k - 1) + 1 else 0
        if o <= 0:
            raise ValueError(f"{fname}: invalid configuration at spatial dimension {i}: "
                             f"input {L}, kernel {k}, pad {p}, stride {s}, dilation {d}")
        out.append(o)
    return out


def _conv_geometry(fname, x, weight, base_axis, channel_last, n_kernel_dims):
    """(base_axis, n, input channels, spatial shape) with the rank checks of NNabla."""
    n = n_kernel_dims
    if n < 1:
        raise ValueError(f"{fname}: weight of shape {_shape(weight)} has no kernel dimensions")
    base_axis = _base_axis(fname, x, base_axis, spare=1)
    if len(x.shape) != base_axis + n + 1:
        raise ValueError(f"{fname}: x of shape {_shape(x)} must have base_axis + 1 + {n} "
                         f"= {base_axis + n + 1} dimensions for weight {_shape(weight)}")
    if channel_last:
        c_in = x.shape[-1]
        spatial = x.shape[base_axis:-1]
    else:
        c_in = x.shape[base_axis]
        spatial = x.shape[base_axis + 1:]
    return base_axis, n, int(c_in), [int(s) for s in spatial]


# ---------------------------------------------------------------- convolution
@lowering("Convolution")
def _convolution(x, weight, bias=None, base_axis=1, pad=None, stride=None, dilation=None,
                 group=1, channel_last=False):
    return _conv_core(x, weight, bias, base_axis, pad, stride, dilation, group, channel_last)


def _conv_args(fname, x, weight, base_axis, pad, stride, dilation, group, channel_last):
    """Rank checks and default pad / stride / dilation of a convolution-like function
    (used by the quantized convolutions too)."""
    base_axis, n, _, _ = _conv_geometry(fname, x, weight, base_axis, channel_last,
                                        len(weight.shape) - 2)
    pad, stride, dilation = _spatial_args(fname, n, pad, stride, dilation)
    return dict(base_axis=base_axis, pad=pad, stride=stride, dilation=dilation,
                group=int(group), channel_last=bool(channel_last))


def _conv_full_args(fname, x, weight, bias, base_axis, pad, stride, dilation, group,
                    channel_last):
    """_conv_args plus the channel, group, bias and output size checks."""
    base_axis, n, c_in, spatial = _conv_geometry(fname, x, weight, base_axis, channel_last,
                                                 len(weight.shape) - 2)
    pad, stride, dilation = _spatial_args(fname, n, pad, stride, dilation)
    group = int(group)
    if group < 1:
        raise ValueError(f"{fname}: group must be >= 1, got {group}")
    kernel = list(weight.shape[1:-1]) if channel_last else list(weight.shape[2:])
    w_in = weight.shape[-1] if channel_last else weight.shape[1]
    if c_in != w_in * group:
        raise ValueError(f"{fname}: x of shape {_shape(x)} has {c_in} channels but weight "
                         f"{_shape(weight)} expects {w_in} x group {group}")
    if weight.shape[0] % group:
        raise ValueError(f"{fname}: {weight.shape[0]} output maps are not divisible by "
                         f"group={group}")
    if bias is not None and _shape(bias) != (weight.shape[0],):
        raise ValueError(f"{fname}: bias shape {_shape(bias)} must be ({weight.shape[0]},)")
    _conv_out(fname, spatial, kernel, pad, stride, dilation)
    return dict(base_axis=base_axis, pad=pad, stride=stride, dilation=dilation, group=group,
                channel_last=bool(channel_last))


def convolution(x, weight, bias=None, base_axis=1, pad=None, stride=None, dilation=None,
                group=1, channel_last=False, n_outputs=-1, outputs=None):
    """N-D convolution. weight is (outmaps, inmaps // group, *kernel), or
    (outmaps, *kernel, inmaps // group) with ``channel_last``; output spatial size
    ``(L + 2p - d(k - 1) - 1) // s + 1``."""
    args = _conv_full_args("convolution", x, weight, bias, base_axis, pad, stride, dilation,
                           group, channel_last)
    return call("Convolution", [x, weight, bias], args, outputs)


# ---------------------------------------------------------------- fused convolution
_NONLIN = ("identity", "relu", "sigmoid", "tanh", "leaky_relu", "elu", "relu6")


def _apply_nonlinearity(y, nonlinearity, args):
    if nonlinearity == "identity":
        return y
    if nonlinearity == "relu":
        return jnp.where(y > 0, y, jnp.zeros_like(y))
    if nonlinearity == "sigmoid":
        return jax.nn.sigmoid(y)
    if nonlinearity == "tanh":
        return jnp.tanh(y)
    if nonlinearity == "leaky_relu":
        alpha = args[0] if args else 0.1
        return jnp.where(y > 0, y, alpha * y)
    if nonlinearity == "elu":
        alpha = args[0] if args else 1.0
        return jnp.where(y > 0, y, alpha * jnp.expm1(jnp.where(y > 0, jnp.zeros_like(y), y)))
    if nonlinearity == "relu6":
        return jnp.clip(y, 0, 6)
    raise ValueError(f"unknown nonlinearity {nonlinearity!r}")


@lowering("FusedConvolution", state_inputs=(5, 6))
def _fused_convolution(x, weight, bias=None, beta=None, gamma=None, mean=None, variance=None,
                       z=None, base_axis=1, pad=None, stride=None, dilation=None, group=1,
                       channel_last=False, decay_rate=0.9, eps=1e-5, batch_stat=True,
                       nonlinearity="relu", nonlinearity_args=()):
    h = _conv_core(x, weight, bias, base_axis, pad, stride, dilation, group, channel_last)
    new_mean, new_var = mean, variance
    if mean is not None and variance is not None:
        axis = h.ndim - 1 if channel_last else base_axis
        h, _, _, new_mean, new_var = _bn_core(h, beta, gamma, mean, variance, [axis],
                                              decay_rate, eps, batch_stat)
    if z is not None:
        h = h + z
    return _apply_nonlinearity(h, nonlinearity, list(nonlinearity_args)), new_mean, new_var


def fused_convolution(x, weight, bias=None, beta=None, gamma=None, mean=None, variance=None,
                      z=None, base_axis=1, pad=None, stride=None, dilation=None, group=1,
                      channel_last=False, decay_rate=0.9, eps=1e-05, batch_stat=True,
                      nonlinearity="relu", nonlinearity_args=list(), n_outputs=-1,
                      outputs=None):
    """Convolution, then batch normalization over the channel axis (when ``mean`` and
    ``variance`` are given; running statistics are updated in place), then ``+ z``
    (when given), then ``nonlinearity`` (identity, relu, sigmoid, tanh, leaky_relu [alpha],
    elu [alpha], relu6)."""
    fname = "fused_convolution"
    args = _conv_full_args(fname, x, weight, bias, base_axis, pad, stride, dilation, group,
                           channel_last)
    if nonlinearity not in _NONLIN:
        raise ValueError(f"{fname}: nonlinearity must be one of {_NONLIN}, got {nonlinearity!r}")
    nonlinearity_args = [float(a) for a in (nonlinearity_args or [])]
    # output shape of the convolution, for the BN parameter and residual checks
    _, n, _, spatial = _conv_geometry(fname, x, weight, args["base_axis"], channel_last,
                                      len(weight.shape) - 2)
    kernel = list(weight.shape[1:-1]) if channel_last else list(weight.shape[2:])
    osp = _conv_out(fname, spatial, kernel, args["pad"], args["stride"], args["dilation"])
    b = args["base_axis"]
    oshape = tuple(x.shape[:b]) + ((tuple(osp) + (weight.shape[0],)) if channel_last
                                   else ((weight.shape[0],) + tuple(osp)))
    caxis = len(oshape) - 1 if channel_last else b
    stat = tuple(oshape[a] if a == caxis else 1 for a in range(len(oshape)))
    if (mean is None) != (variance is None):
        raise ValueError(f"{fname}: give both mean and variance, or neither")
    for name, v in (("beta", beta), ("gamma", gamma), ("mean", mean), ("variance", variance)):
        if v is not None and _shape(v) != stat:
            raise ValueError(f"{fname}: {name} shape {_shape(v)} must be {stat} for the "
                             f"convolution output of shape {oshape}")
    if z is not None and _shape(z) != oshape:
        raise ValueError(f"{fname}: z shape {_shape(z)} must be the output shape {oshape}")
    args.update(decay_rate=float(decay_rate), eps=float(eps), batch_stat=bool(batch_stat),
                nonlinearity=str(nonlinearity), nonlinearity_args=nonlinearity_args)
    return call("FusedConvolution", [x, weight, bias, beta, gamma, mean, variance, z], args,
                outputs)


# ---------------------------------------------------------------- depthwise
@lowering("DepthwiseConvolution")
def _depthwise_convolution(x, weight, bias=None, base_axis=1, pad=None, stride=None,
                           dilation=None, multiplier=1):
    c = x.shape[base_axis]
    w = weight.reshape((weight.shape[0], 1) + weight.shape[1:])
    return _conv_core(x, w, bias, base_axis, pad, stride, dilation, c, False)


def depthwise_convolution(x, weight, bias=None, base_axis=1, pad=None, stride=None,
                          dilation=None, multiplier=1, n_outputs=-1, outputs=None):
    """Each input channel convolved with ``multiplier`` own kernels: weight is
    (C * multiplier, *kernel), output channel ``c * multiplier + m``."""
    fname = "depthwise_convolution"
    base_axis, n, c_in, spatial = _conv_geometry(fname, x, weight, base_axis, False,
                                                 len(weight.shape) - 1)
    pad, stride, dilation = _spatial_args(fname, n, pad, stride, dilation)
    multiplier = int(multiplier)
    if multiplier < 1:
        raise ValueError(f"{fname}: multiplier must be >= 1, got {multiplier}")
    if weight.shape[0] != c_in * multiplier:
        raise ValueError(f"{fname}: weight shape {_shape(weight)} must start with input "
                         f"channels {c_in} x multiplier {multiplier} = {c_in * multiplier}")
    if bias is not None and _shape(bias) != (c_in * multiplier,):
        raise ValueError(f"{fname}: bias shape {_shape(bias)} must be ({c_in * multiplier},)")
    _conv_out(fname, spatial, list(weight.shape[1:]), pad, stride, dilation)
    return call("DepthwiseConvolution", [x, weight, bias],
                dict(base_axis=base_axis, pad=pad, stride=stride, dilation=dilation,
                     multiplier=multiplier), outputs)


# ---------------------------------------------------------------- deconvolution
@lowering("Deconvolution")
def _deconvolution(x, weight, bias=None, base_axis=1, pad=None, stride=None, dilation=None,
                   group=1, channel_last=False, output_padding=None):
    n = weight.ndim - 2
    return _deconv_core(x, weight, bias, base_axis, pad, stride, dilation, group,
                        channel_last, output_padding or [0] * n)


def deconvolution(x, weight, bias=None, base_axis=1, pad=None, stride=None, dilation=None,
                  group=1, channel_last=False, output_padding=None, n_outputs=-1,
                  outputs=None):
    """Transposed convolution; weight is (inmaps, outmaps // group, *kernel) (or
    (inmaps, *kernel, outmaps // group) with ``channel_last``); output spatial size
    ``s (L - 1) - 2p + d (k - 1) + 1 + output_padding``."""
    fname = "deconvolution"
    base_axis, n, c_in, spatial = _conv_geometry(fname, x, weight, base_axis, channel_last,
                                                 len(weight.shape) - 2)
    pad, stride, dilation = _spatial_args(fname, n, pad, stride, dilation)
    output_padding = as_list(output_padding, n, "output_padding", fname) or [0] * n
    group = int(group)
    if group < 1 or c_in % group:
        raise ValueError(f"{fname}: {c_in} input channels are not divisible by group={group}")
    if c_in != weight.shape[0]:
        raise ValueError(f"{fname}: x of shape {_shape(x)} has {c_in} channels but weight "
                         f"{_shape(weight)} expects {weight.shape[0]}")
    c_out = (weight.shape[-1] if channel_last else weight.shape[1]) * group
    if bias is not None and _shape(bias) != (c_out,):
        raise ValueError(f"{fname}: bias shape {_shape(bias)} must be ({c_out},)")
    kernel = list(weight.shape[1:-1]) if channel_last else list(weight.shape[2:])
    for i, (L, k, p, s, d, op) in enumerate(zip(spatial, kernel, pad, stride, dilation,
                                                output_padding)):
        if s * (L - 1) - 2 * p + d * (k - 1) + 1 + op <= 0:
            raise ValueError(f"{fname}: invalid configuration at spatial dimension {i}: input "
                             f"{L}, kernel {k}, pad {p}, stride {s}, dilation {d}")
    return call("Deconvolution", [x, weight, bias],
                dict(base_axis=base_axis, pad=pad, stride=stride, dilation=dilation,
                     group=group, channel_last=bool(channel_last),
                     output_padding=output_padding), outputs)


@lowering("DepthwiseDeconvolution")
def _depthwise_deconvolution(x, weight, bias=None, base_axis=1, pad=None, stride=None,
                             dilation=None, divisor=1):
    c = x.shape[base_axis]
    n = weight.ndim - 1
    w = weight.reshape((weight.shape[0], 1) + weight.shape[1:])
    return _deconv_core(x, w, bias, base_axis, pad, stride, dilation, c // divisor, False,
                        [0] * n)


def depthwise_deconvolution(x, weight, bias=None, base_axis=1, pad=None, stride=None,
                            dilation=None, divisor=1, n_outputs=-1, outputs=None):
    """Transposed depthwise convolution: weight is (C, *kernel); each output channel
    ``o`` sums the transposed convolutions of input channels ``o * divisor + i``."""
    fname = "depthwise_deconvolution"
    base_axis, n, c_in, spatial = _conv_geometry(fname, x, weight, base_axis, False,
                                                 len(weight.shape) - 1)
    pad, stride, dilation = _spatial_args(fname, n, pad, stride, dilation)
    divisor = int(divisor)
    if divisor < 1 or c_in % divisor:
        raise ValueError(f"{fname}: {c_in} input channels are not divisible by "
                         f"divisor={divisor}")
    if weight.shape[0] != c_in:
        raise ValueError(f"{fname}: weight shape {_shape(weight)} must start with the "
                         f"{c_in} input channels")
    if bias is not None and _shape(bias) != (c_in // divisor,):
        raise ValueError(f"{fname}: bias shape {_shape(bias)} must be ({c_in // divisor},)")
    for i, (L, k, p, s, d) in enumerate(zip(spatial, weight.shape[1:], pad, stride, dilation)):
        if s * (L - 1) - 2 * p + d * (k - 1) + 1 <= 0:
            raise ValueError(f"{fname}: invalid configuration at spatial dimension {i}")
    return call("DepthwiseDeconvolution", [x, weight, bias],
                dict(base_axis=base_axis, pad=pad, stride=stride, dilation=dilation,
                     divisor=divisor), outputs)


# ---------------------------------------------------------------- deformable convolution
def _bilinear_gather(img, hs, ws):
    """img (B, G, Cg, H, W); hs, ws (B, G, P) float sample positions.

    Returns (B, G, Cg, P): bilinear interpolation with zeros outside the image; a
    position contributes only when -1 < h < H and -1 < w < W."""
    H, W = img.shape[-2], img.shape[-1]
    flat = img.reshape(img.shape[:3] + (H * W,))
    inside = (hs > -1) & (ws > -1) & (hs < H) & (ws < W)
    h0 = jnp.floor(hs)
    w0 = jnp.floor(ws)
    lh = hs - h0
    lw = ws - w0
    h0 = h0.astype(jnp.int32)
    w0 = w0.astype(jnp.int32)
    total = 0.0
    for dh, dw, wt in ((0, 0, (1 - lh) * (1 - lw)), (0, 1, (1 - lh) * lw),
                       (1, 0, lh * (1 - lw)), (1, 1, lh * lw)):
        hh = h0 + dh
        ww = w0 + dw
        ok = inside & (hh >= 0) & (hh <= H - 1) & (ww >= 0) & (ww <= W - 1)
        idx = jnp.clip(hh, 0, H - 1) * W + jnp.clip(ww, 0, W - 1)
        vals = jnp.take_along_axis(flat, idx[:, :, None, :], axis=3)
        total = total + vals * jnp.where(ok, wt, 0.0)[:, :, None, :]
    return total


@lowering("DeformableConvolution")
def _deformable_convolution(x, weight, offset, mask=None, bias=None, base_axis=1, pad=None,
                            stride=None, dilation=None, group=1, deformable_group=1,
                            channel_last=False):
    if channel_last:
        x = jnp.moveaxis(x, -1, base_axis)
        offset = jnp.moveaxis(offset, -1, base_axis)
        if mask is not None:
            mask = jnp.moveaxis(mask, -1, base_axis)
        weight = jnp.moveaxis(weight, -1, 1)
    xb, batch = _fold_batch(x, base_axis)
    off, _ = _fold_batch(offset, base_axis)
    B, C, H, W = xb.shape
    O = weight.shape[0]
    kh, kw = weight.shape[2], weight.shape[3]
    K = kh * kw
    dg = deformable_group
    OH = (H + 2 * pad[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    OW = (W + 2 * pad[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    # offsets are read at the input position of each output location
    hin = np.minimum(np.arange(OH) * stride[0], H - 1)
    win = np.minimum(np.arange(OW) * stride[1], W - 1)
    off = off[:, :, hin][:, :, :, win].reshape(B, dg, K, 2, OH, OW)
    ki, kj = np.divmod(np.arange(K), kw)
    base_h = (np.arange(OH)[None, :, None] * stride[0] + ki[:, None, None] * dilation[0]
              - pad[0]).astype(np.float32)          # (K, OH, 1)
    base_w = (np.arange(OW)[None, None, :] * stride[1] + kj[:, None, None] * dilation[1]
              - pad[1]).astype(np.float32)          # (K, 1, OW)
    hs = base_h[None, None] + off[:, :, :, 0]       # (B, dg, K, OH, OW)
    ws = base_w[None, None] + off[:, :, :, 1]
    img = xb.reshape(B, dg, C // dg, H, W)
    col = _bilinear_gather(img, hs.reshape(B, dg, -1), ws.reshape(B, dg, -1))
    col = col.reshape(B, dg, C // dg, K, OH, OW)
    if mask is not None:
        m, _ = _fold_batch(mask, base_axis)
        m = m[:, :, hin][:, :, :, win].reshape(B, dg, 1, K, OH, OW)
        col = col * m
    col = col.reshape(B, group, C // group, K, OH * OW)
    w = weight.reshape(group, O // group, C // group, K)
    y = jnp.einsum("bgckp,gock->bgop", col, w).reshape(B, O, OH, OW)
    if bias is not None:
        y = y + bias.reshape(1, -1, 1, 1)
    if channel_last:
        y = jnp.moveaxis(y, 1, -1)
    return y.reshape(batch + y.shape[1:])


def deformable_convolution(x, weight, offset, mask=None, bias=None, base_axis=1, pad=None,
                           stride=None, dilation=None, group=1, deformable_group=1,
                           channel_last=False, n_outputs=-1, outputs=None):
    """2-D deformable convolution (v2 with ``mask``). ``offset`` has
    ``deformable_group * 2 * kh * kw`` channels ((dy, dx) per kernel position) and
    ``mask`` ``deformable_group * kh * kw``; both share the input's spatial shape and are
    read at each output location's input position."""
    fname = "deformable_convolution"
    args = _conv_full_args(fname, x, weight, bias, base_axis, pad, stride, dilation, group,
                           channel_last)
    b = args["base_axis"]
    if len(weight.shape) != 4:
        raise ValueError(f"{fname}: only 2-D kernels are supported, weight shape "
                         f"{_shape(weight)}")
    deformable_group = int(deformable_group)
    c_in = x.shape[-1] if channel_last else x.shape[b]
    if deformable_group < 1 or c_in % deformable_group or weight.shape[0] % deformable_group:
        raise ValueError(f"{fname}: channels {c_in} -> {weight.shape[0]} are not divisible by "
                         f"deformable_group={deformable_group}")
    K = _prod(weight.shape[1:3] if channel_last else weight.shape[2:])
    spatial = tuple(x.shape[b:-1]) if channel_last else tuple(x.shape[b + 1:])
    batch = tuple(x.shape[:b])

    def expect(ch):
        return batch + (spatial + (ch,) if channel_last else (ch,) + spatial)

    if _shape(offset) != expect(2 * K * deformable_group):
        raise ValueError(f"{fname}: offset shape {_shape(offset)} must be "
                         f"{expect(2 * K * deformable_group)}")
    if mask is not None and _shape(mask) != expect(K * deformable_group):
        raise ValueError(f"{fname}: mask shape {_shape(mask)} must be "
                         f"{expect(K * deformable_group)}")
    args = dict(base_axis=args["base_axis"], pad=args["pad"], stride=args["stride"],
                dilation=args["dilation"], group=args["group"],
                deformable_group=deformable_group, channel_last=args["channel_last"])
    return call("DeformableConvolution", [x, weight, offset, mask, bias], args, outputs)


# ---------------------------------------------------------------- adaptive separable
@lowering("AdaptiveSeparableConvolution")
def _adaptive_separable_convolution(x, vertical_kernel, horizontal_kernel):
    B, C, H, W = x.shape
    kv_n = vertical_kernel.shape[1]
    kh_n = horizontal_kernel.shape[1]
    oh, ow = H - kv_n + 1, W - kh_n + 1
    kv = vertical_kernel[:, :, :oh, :ow]
    kh = horizontal_kernel[:, :, :oh, :ow]
    # horizontal patches for every input row: (B, C, H, ow, kh_n)
    patches = jnp.stack([x[:, :, :, i:i + ow] for i in range(kh_n)], axis=-1)
    y = 0.0
    for j in range(kv_n):
        rows = patches[:, :, j:j + oh]                       # (B, C, oh, ow, kh_n)
        y = y + jnp.einsum("bchwi,bihw->bchw", rows, kh) * kv[:, None, j]
    return y


def adaptive_separable_convolution(x, vertical_kernel, horizontal_kernel, n_outputs=-1,
                                   outputs=None):
    """``y(c, h, w) = sum_{j, i} Kv(j, h, w) Kh(i, h, w) x(c, h + j, w + i)`` on NCHW input;
    output (B, C, H - Kv + 1, W - Kh + 1)."""
    fname = "adaptive_separable_convolution"
    if len(x.shape) != 4 or len(vertical_kernel.shape) != 4 or len(horizontal_kernel.shape) != 4:
        raise ValueError(f"{fname}: x {_shape(x)}, vertical_kernel {_shape(vertical_kernel)} and "
                         f"horizontal_kernel {_shape(horizontal_kernel)} must all be 4-D")
    B, C, H, W = _shape(x)
    if vertical_kernel.shape[0] != B or horizontal_kernel.shape[0] != B:
        raise ValueError(f"{fname}: batch sizes differ: x {B}, vertical_kernel "
                         f"{vertical_kernel.shape[0]}, horizontal_kernel "
                         f"{horizontal_kernel.shape[0]}")
    oh = H - vertical_kernel.shape[1] + 1
    ow = W - horizontal_kernel.shape[1] + 1
    if oh <= 0 or ow <= 0:
        raise ValueError(f"{fname}: kernels ({vertical_kernel.shape[1]}, "
                         f"{horizontal_kernel.shape[1]}) are larger than the input ({H}, {W})")
    if not (oh <= vertical_kernel.shape[2] <= H and ow <= vertical_kernel.shape[3]
            and oh <= horizontal_kernel.shape[2] and ow <= horizontal_kernel.shape[3] <= W):
        raise ValueError(f"{fname}: the kernels' spatial shapes must cover the output "
                         f"({oh}, {ow}) within the input ({H}, {W}): vertical "
                         f"{_shape(vertical_kernel)}, horizontal {_shape(horizontal_kernel)}")
    return call("AdaptiveSeparableConvolution", [x, vertical_kernel, horizontal_kernel], {},
                outputs)


# ---------------------------------------------------------------- pooling
def _pool_out_size(i, k, s, p, ignore_border):
    """NNabla's pooling output length."""
    if ignore_border:
        return (i + 2 * p - k) // s + 1
    return (i + p - 1) // s + 1


def _spatial_axes(ndim, n, channel_last):
    return list(range(ndim - n - 1, ndim - 1)) if channel_last else list(range(ndim - n, ndim))


def _pool_pad(x, kernel, stride, pad, ignore_border, channel_last, value):
    """Pad (or crop) the spatial axes so that plain VALID windows give NNabla's windows."""
    n = len(kernel)
    axes = _spatial_axes(x.ndim, n, channel_last)
    config = [(0, 0, 0)] * x.ndim
    for a, k, s, p in zip(axes, kernel, stride, pad):
        i = x.shape[a]
        o = _pool_out_size(i, k, s, p, ignore_border)
        config[a] = (p, (o - 1) * s + k - p - i, 0)
    return lax.pad(x, np.array(value, x.dtype), config), axes


def _window(x, axes, kernel, stride):
    window = [1] * x.ndim
    strides = [1] * x.ndim
    for a, k, s in zip(axes, kernel, stride):
        window[a] = k
        strides[a] = s
    return tuple(window), tuple(strides)


@lowering("MaxPooling")
def _max_pooling(x, kernel, stride, ignore_border=True, pad=None, channel_last=False):
    xp, axes = _pool_pad(x, kernel, stride, pad, ignore_border, channel_last, -np.inf)
    window, strides = _window(xp, axes, kernel, stride)
    return lax.reduce_window(xp, -np.inf, lax.max, window, strides, "VALID")


def _window_sum(x, kernel, stride, pad, ignore_border, channel_last):
    xp, axes = _pool_pad(x, kernel, stride, pad, ignore_border, channel_last, 0)
    window, strides = _window(xp, axes, kernel, stride)
    return lax.reduce_window(xp, 0.0, lax.add, window, strides, "VALID"), axes


@lowering("SumPooling")
def _sum_pooling(x, kernel, stride, ignore_border=True, pad=None, channel_last=False):
    return _window_sum(x, kernel, stride, pad, ignore_border, channel_last)[0]


def _pool_counts(i, k, s, p, ignore_border, including_pad):
    """Divisor of each output position along one axis (NNabla's rule)."""
    o = _pool_out_size(i, k, s, p, ignore_border)
    start = np.arange(o) * s - p
    end = np.minimum(start + k, i + p)
    if including_pad:
        return (end - start).astype(np.float32)
    return (np.minimum(end, i) - np.maximum(start, 0)).astype(np.float32)


@lowering("AveragePooling")
def _average_pooling(x, kernel, stride, ignore_border=True, pad=None, channel_last=False,
                     including_pad=True):
    total, axes = _window_sum(x, kernel, stride, pad, ignore_border, channel_last)
    count = np.ones([1] * x.ndim, np.float32)
    for a, k, s, p in zip(axes, kernel, stride, pad):
        c = _pool_counts(x.shape[a], k, s, p, ignore_border, including_pad)
        shape = [1] * x.ndim
        shape[a] = c.size
        count = count * c.reshape(shape)
    return total / jnp.asarray(count, x.dtype)


def _pool_args(fname, x, kernel, stride, ignore_border, pad, channel_last):
    if isinstance(kernel, (int, np.integer)):
        kernel = [kernel]
    n = len(kernel)
    if n < 1:
        raise ValueError(f"{fname}: kernel must have at least one element")
    if len(x.shape) < n + (1 if channel_last else 0):
        raise ValueError(f"{fname}: input of shape {_shape(x)} has fewer dimensions "
                         f"than kernel {tuple(kernel)}")
    kernel = as_list(kernel, n, "kernel", fname)
    stride = as_list(stride, n, "stride", fname) or list(kernel)
    pad = as_list(pad, n, "pad", fname) or [0] * n
    if any(k < 1 for k in kernel) or any(s < 1 for s in stride) or any(p < 0 for p in pad):
        raise ValueError(f"{fname}: kernel {kernel} and stride {stride} must be >= 1 and pad "
                         f"{pad} >= 0")
    axes = _spatial_axes(len(x.shape), n, channel_last)
    spatial = [x.shape[a] for a in axes]
    for i, k, p in zip(spatial, kernel, pad):
        if ignore_border and i + 2 * p < k:
            raise ValueError(f"{fname}: kernel {tuple(kernel)} is larger than the padded input "
                             f"{tuple(spatial)} (pad {tuple(pad)})")
    return dict(kernel=kernel, stride=stride, ignore_border=bool(ignore_border), pad=pad,
                channel_last=bool(channel_last))


def max_pooling(x, kernel, stride=None, ignore_border=True, pad=None, channel_last=False,
                n_outputs=-1, outputs=None):
    """Max over windows of size ``kernel`` (stride defaults to kernel). Padded positions
    never win. Output length ``(L + 2p - k) // s + 1``, or ``(L + p - 1) // s + 1`` when
    ``ignore_border=False`` (windows are then cut at the padded border)."""
    args = _pool_args("max_pooling", x, kernel, stride, ignore_border, pad, channel_last)
    return call("MaxPooling", [x], args, outputs)


def average_pooling(x, kernel, stride=None, ignore_border=True, pad=None, channel_last=False,
                    including_pad=True, n_outputs=-1, outputs=None):
    """Mean over windows; the divisor counts padded positions when ``including_pad``
    (but never positions beyond the padding)."""
    args = _pool_args("average_pooling", x, kernel, stride, ignore_border, pad, channel_last)
    args["including_pad"] = bool(including_pad)
    return call("AveragePooling", [x], args, outputs)


def sum_pooling(x, kernel, stride=None, ignore_border=True, pad=None, channel_last=False,
                n_outputs=-1, outputs=None):
    """Sum over windows (padding contributes zeros)."""
    args = _pool_args("sum_pooling", x, kernel, stride, ignore_border, pad, channel_last)
    return call("SumPooling", [x], args, outputs)


@lowering("GlobalAveragePooling")
def _global_average_pooling(x):
    return jnp.mean(x.reshape(x.shape[:2] + (-1,)), axis=-1).reshape(x.shape[:2] + (1, 1))


def global_average_pooling(x, n_outputs=-1, outputs=None):
    """Mean over all axes after the first two: (N, C, ...) -> (N, C, 1, 1)."""
    if len(x.shape) < 2:
        raise ValueError(f"global_average_pooling: input needs at least 2 dimensions, "
                         f"got {_shape(x)}")
    return call("GlobalAveragePooling", [x], {}, outputs)


@lowering("Unpooling")
def _unpooling(x, kernel, channel_last=False):
    axes = _spatial_axes(x.ndim, len(kernel), channel_last)
    for a, k in zip(axes, kernel):
        if k != 1:
            x = jnp.repeat(x, k, axis=a)
    return x


def unpooling(x, kernel, channel_last=False, n_outputs=-1, outputs=None):
    """Repeat every element ``kernel[i]`` times along the matching spatial axis."""
    fname = "unpooling"
    if isinstance(kernel, (int, np.integer)):
        kernel = [kernel]
    n = len(kernel)
    kernel = as_list(kernel, n, "kernel", fname)
    if n < 1 or len(x.shape) < n + (1 if channel_last else 0):
        raise ValueError(f"{fname}: kernel {tuple(kernel)} does not fit an input of shape "
                         f"{_shape(x)}")
    if any(k < 1 for k in kernel):
        raise ValueError(f"{fname}: kernel must be >= 1, got {kernel}")
    return call("Unpooling", [x], dict(kernel=kernel, channel_last=bool(channel_last)), outputs)


# ---------------------------------------------------------------- embed
@lowering("Embed")
def _embed(x0, w):
    index = lax.stop_gradient(x0).astype(jnp.int32)
    return jnp.take(w, index, axis=0)


def embed(x0, w, n_outputs=-1, outputs=None):
    """Rows of ``w`` selected by the integer indices in ``x0``: output
    ``x0.shape + w.shape[1:]``."""
    if len(w.shape) < 1:
        raise ValueError(f"embed: w must have at least one dimension, got {_shape(w)}")
    return call("Embed", [x0, w], {}, outputs)


# ---------------------------------------------------------------- RoI align
def _roi_plan(boxes, out_h, out_w, spatial_scale, sampling_ratio, n_images):
    """Per-RoI sampling geometry (all (K,) arrays)."""
    b = lax.stop_gradient(boxes)
    index = jnp.clip(jnp.maximum(jnp.trunc(b[:, 0]), 0).astype(jnp.int32), 0, n_images - 1)
    x1 = b[:, 1] * spatial_scale[1]
    y1 = b[:, 2] * spatial_scale[0]
    x2 = b[:, 3] * spatial_scale[1]
    y2 = b[:, 4] * spatial_scale[0]
    step_x = jnp.maximum(x2 - x1, 1.0) / out_w
    step_y = jnp.maximum(y2 - y1, 1.0) / out_h
    if sampling_ratio > 0:
        gx = jnp.full(step_x.shape, sampling_ratio, jnp.int32)
        gy = jnp.full(step_y.shape, sampling_ratio, jnp.int32)
    else:
        gx = jnp.maximum(jnp.ceil(step_x).astype(jnp.int32), 1)
        gy = jnp.maximum(jnp.ceil(step_y).astype(jnp.int32), 1)
    return index, x1, y1, step_x, step_y, gx, gy


def _roi_sample(t, plan, H, W, out_h, out_w):
    """Corner indices (into an (N*H*W,) table) and weights of sample number ``t`` of
    every output cell: 4 x (K, OH, OW) indices and weights."""
    index, x1, y1, step_x, step_y, gx, gy = plan
    yy = t // gx
    xx = t % gx
    valid_t = t < gx * gy
    ssx = step_x / gx
    ssy = step_y / gy
    ys = (y1[:, None] + jnp.arange(out_h)[None, :] * step_y[:, None]
          + (yy * ssy + 0.5 * ssy)[:, None])              # (K, OH)
    xs = (x1[:, None] + jnp.arange(out_w)[None, :] * step_x[:, None]
          + (xx * ssx + 0.5 * ssx)[:, None])              # (K, OW)
    ok_y = (ys >= -1) & (ys <= H)
    ok_x = (xs >= -1) & (xs <= W)
    ys = jnp.maximum(ys, 0.0)
    xs = jnp.maximum(xs, 0.0)
    y_lo = jnp.floor(ys).astype(jnp.int32)
    x_lo = jnp.floor(xs).astype(jnp.int32)
    y_edge = y_lo >= H - 1
    x_edge = x_lo >= W - 1
    y_lo = jnp.where(y_edge, H - 1, y_lo)
    x_lo = jnp.where(x_edge, W - 1, x_lo)
    y_hi = jnp.where(y_edge, y_lo, y_lo + 1)
    x_hi = jnp.where(x_edge, x_lo, x_lo + 1)
    ys = jnp.where(y_edge, y_lo.astype(ys.dtype), ys)
    xs = jnp.where(x_edge, x_lo.astype(xs.dtype), xs)
    ly = ys - jnp.floor(ys)
    lx = xs - jnp.floor(xs)
    hy = 1 - ly
    hx = 1 - lx
    keep = (ok_y[:, :, None] & ok_x[:, None, :] & valid_t[:, None, None]).astype(ly.dtype)
    base = index[:, None, None] * (H * W)
    corners = []
    for yi, wy in ((y_lo, hy), (y_hi, ly)):
        for xi, wx in ((x_lo, hx), (x_hi, lx)):
            idx = base + yi[:, :, None] * W + xi[:, None, :]
            corners.append((idx, wy[:, :, None] * wx[:, None, :] * keep))
    return corners


def _roi_align_impl(x, boxes, out_h, out_w, spatial_scale, sampling_ratio):
    """x (N, H, W, C) channel-last. Returns (K, OH, OW, C); linear in x."""
    N, H, W, C = x.shape
    table = x.reshape(N * H * W, C)
    plan = _roi_plan(boxes, out_h, out_w, spatial_scale, sampling_ratio, N)
    count = (plan[5] * plan[6]).astype(x.dtype)
    n_iter = jnp.max(plan[5] * plan[6]) if boxes.shape[0] else jnp.int32(0)
    K = boxes.shape[0]

    def body(state):
        t, acc = state
        for idx, wt in _roi_sample(t, plan, H, W, out_h, out_w):
            acc = acc + jnp.take(table, idx, axis=0) * wt[..., None]
        return t + 1, acc

    acc0 = jnp.zeros((K, out_h, out_w, C), x.dtype)
    _, acc = lax.while_loop(lambda s: s[0] < n_iter, body, (jnp.int32(0), acc0))
    return acc / count[:, None, None, None]


def _roi_align_transpose(g, x_shape, boxes, out_h, out_w, spatial_scale, sampling_ratio):
    N, H, W, C = x_shape
    plan = _roi_plan(boxes, out_h, out_w, spatial_scale, sampling_ratio, N)
    count = (plan[5] * plan[6]).astype(g.dtype)
    g = g / count[:, None, None, None]
    n_iter = jnp.max(plan[5] * plan[6]) if boxes.shape[0] else jnp.int32(0)

    def body(state):
        t, acc = state
        for idx, wt in _roi_sample(t, plan, H, W, out_h, out_w):
            acc = acc.at[idx.reshape(-1)].add((g * wt[..., None]).reshape(-1, C))
        return t + 1, acc

    acc0 = jnp.zeros((N * H * W, C), g.dtype)
    _, acc = lax.while_loop(lambda s: s[0] < n_iter, body, (jnp.int32(0), acc0))
    return acc.reshape(N, H, W, C)


def _make_roi_align(out_h, out_w, spatial_scale, sampling_ratio):
    @jax.custom_vjp
    def f(x, boxes):
        return _roi_align_impl(x, boxes, out_h, out_w, spatial_scale, sampling_ratio)

    def fwd(x, boxes):
        return f(x, boxes), (boxes, x.shape)

    def bwd(res, g):
        boxes, shape = res
        dx = _roi_align_transpose(g, shape, boxes, out_h, out_w, spatial_scale,
                                  sampling_ratio)
        return dx, jnp.zeros_like(boxes)

    f.defvjp(fwd, bwd)
    return f


@lowering("RoiAlign")
def _roi_align(input, boxes, output_size, spatial_scale=(1.0, 1.0), sampling_ratio=-1,
               channel_last=False):
    x = input if channel_last else jnp.transpose(input, (0, 2, 3, 1))
    f = _make_roi_align(int(output_size[0]), int(output_size[1]),
                        tuple(float(s) for s in spatial_scale), int(sampling_ratio))
    y = f(x, boxes.astype(x.dtype))
    return y if channel_last else jnp.transpose(y, (0, 3, 1, 2))


def roi_align(input, boxes, output_size, spatial_scale=(1.0, 1.0), sampling_ratio=-1,
              channel_last=False, n_outputs=-1, outputs=None):
    """Bilinearly sampled averages of the regions ``boxes`` (K, 5) = (batch index, x1, y1,
    x2, y2) of ``input`` (N, C, H, W) (or NHWC); output (K, C, *output_size). Box
    coordinates are scaled by ``spatial_scale`` = (y, x); each output cell averages
    ``sampling_ratio``^2 samples, or ceil(cell size) per axis when ``sampling_ratio <= 0``."""
    fname = "roi_align"
    if len(input.shape) != 4:
        raise ValueError(f"{fname}: input must be 4-D, got {_shape(input)}")
    if len(boxes.shape) != 2 or boxes.shape[1] != 5:
        raise ValueError(f"{fname}: boxes must have shape (K, 5), got {_shape(boxes)}")
    output_size = as_list(output_size, 2, "output_size", fname)
    if any(o < 1 for o in output_size):
        raise ValueError(f"{fname}: output_size must be positive, got {output_size}")
    if isinstance(spatial_scale, (int, float, np.number)):
        spatial_scale = [spatial_scale] * 2
    spatial_scale = [float(s) for s in spatial_scale]
    if len(spatial_scale) != 2:
        raise ValueError(f"{fname}: spatial_scale must be a (y, x) pair, got {spatial_scale}")
    return call("RoiAlign", [input, boxes],
                dict(output_size=output_size, spatial_scale=spatial_scale,
                     sampling_ratio=int(sampling_ratio), channel_last=bool(channel_last)),
                outputs)


# ---------------------------------------------------------------- multi-head attention
def _F():
    from .. import functions as F
    return F


def _zeros_variable(shape):
    from .._variable import Variable
    return Variable.from_numpy_array(np.zeros(shape, np.float32))


def _pad_last(v, F):
    """Append one zero column along the last axis (NNabla: F.pad(v, (0, 1)))."""
    if hasattr(F, "pad"):
        return F.pad(v, (0, 1))
    return F.concatenate(v, _zeros_variable(tuple(v.shape[:-1]) + (1,)),
                         axis=len(v.shape) - 1)


def _mask_fill(cond, values, F):
    """``values`` with -inf where ``cond`` is set (NNabla: F.where with F.constant)."""
    if hasattr(F, "where") and hasattr(F, "constant"):
        return F.where(cond, F.constant(val=float("-inf"), shape=values.shape), values)
    keep = F.r_sub_scalar(cond, 1.0)
    return F.add2(F.mul2(values, keep), F.mul_scalar(cond, -1e30))


def multi_head_attention(query, key, value, num_heads, q_weight, k_weight, v_weight,
                         out_weight, q_bias=None, k_bias=None, v_bias=None, out_bias=None,
                         attn_bias_k=None, attn_bias_v=None, dropout=0.0, additive_mask=None,
                         key_padding_mask=None):
    """Multi-head attention (Vaswani et al.) as a composite of functions.

    query (L_T, B, D_q), key/value (L_S, B, D_k/D_v); projection weights (D, E); returns
    the output (L_T, B, E_out) and the attention weights (B * num_heads, L_T, L_S).
    """
    F = _F()
    fname = "multi_head_attention"
    for name, v in (("query", query), ("key", key), ("value", value)):
        if len(v.shape) != 3:
            raise ValueError(f"{fname}: {name} must be 3-D (L, B, D), got {_shape(v)}")
    tgt_len, batch_size, _ = _shape(query)
    src_len = key.shape[0]
    if key.shape[1] != batch_size or value.shape[1] != batch_size:
        raise ValueError(f"{fname}: batch sizes of query {_shape(query)}, key {_shape(key)} "
                         f"and value {_shape(value)} differ")
    if value.shape[0] != src_len:
        raise ValueError(f"{fname}: key {_shape(key)} and value {_shape(value)} lengths differ")
    q_embed_dim = q_weight.shape[1]
    k_embed_dim = k_weight.shape[1]
    v_embed_dim = v_weight.shape[1]
    num_heads = int(num_heads)
    if q_embed_dim != k_embed_dim:
        raise ValueError(f"{fname}: query and key embedding dims differ "
                         f"({q_embed_dim} != {k_embed_dim})")
    if num_heads < 1 or q_embed_dim % num_heads or v_embed_dim % num_heads:
        raise ValueError(f"{fname}: embedding dims ({q_embed_dim}, {v_embed_dim}) must be "
                         f"divisible by num_heads={num_heads}")
    head_dim = q_embed_dim // num_heads
    head_vdim = v_embed_dim // num_heads
    if key_padding_mask is not None and _shape(key_padding_mask) != (batch_size, src_len):
        raise ValueError(f"{fname}: key_padding_mask shape {_shape(key_padding_mask)} must be "
                         f"{(batch_size, src_len)}")

    q = F.affine(query, q_weight, q_bias, base_axis=2)
    k = F.affine(key, k_weight, k_bias, base_axis=2)
    v = F.affine(value, v_weight, v_bias, base_axis=2)
    q = q * (float(head_dim) ** -0.5)

    if attn_bias_k is not None:
        bk = F.reshape(attn_bias_k, (1, 1, k_embed_dim))
        bv = F.reshape(attn_bias_v, (1, 1, v_embed_dim))
        src_len += 1
        bk = F.broadcast(bk, (1, batch_size, k_embed_dim))
        bv = F.broadcast(bv, (1, batch_size, v_embed_dim))
        k = F.concatenate(k, bk, axis=0)
        v = F.concatenate(v, bv, axis=0)
        if additive_mask is not None:
            additive_mask = _pad_last(additive_mask, F)
        if key_padding_mask is not None:
            key_padding_mask = _pad_last(key_padding_mask, F)

    q = F.transpose(F.reshape(q, (tgt_len, batch_size * num_heads, head_dim)), (1, 0, 2))
    k = F.transpose(F.reshape(k, (-1, batch_size * num_heads, head_dim)), (1, 0, 2))
    v = F.transpose(F.reshape(v, (-1, batch_size * num_heads, head_vdim)), (1, 0, 2))

    w = F.batch_matmul(q, k, transpose_b=True)     # (B*H, L_T, L_S)
    if additive_mask is not None:
        w = w + F.reshape(additive_mask, (1,) + tuple(additive_mask.shape))
    if key_padding_mask is not None:
        w = F.reshape(w, (batch_size, num_heads, tgt_len, src_len))
        cond = F.broadcast(F.reshape(key_padding_mask, (batch_size, 1, 1, src_len)), w.shape)
        w = _mask_fill(cond, w, F)
        w = F.reshape(w, (batch_size * num_heads, tgt_len, src_len))
    w = F.softmax(w, axis=len(w.shape) - 1)
    if dropout > 0:
        w = F.dropout(w, p=dropout)

    out = F.batch_matmul(w, v)                     # (B*H, L_T, head_vdim)
    out = F.reshape(F.transpose(out, (1, 0, 2)), (tgt_len, batch_size, v_embed_dim))
    out = F.affine(out, out_weight, out_bias, base_axis=2)
    return out, w
