"""Convolutions that sample where their inputs say: deformable convolution (learned
offsets and masks) and adaptive separable convolution (per-pixel kernels)."""
import jax.numpy as jnp
import numpy as np

from ._common import call, int_shape, lowering, prod
from .convolution import _conv_full_args, _fold_batch



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
                         f"{int_shape(weight)}")
    deformable_group = int(deformable_group)
    c_in = x.shape[-1] if channel_last else x.shape[b]
    if deformable_group < 1 or c_in % deformable_group or weight.shape[0] % deformable_group:
        raise ValueError(f"{fname}: channels {c_in} -> {weight.shape[0]} are not divisible by "
                         f"deformable_group={deformable_group}")
    K = prod(weight.shape[1:3] if channel_last else weight.shape[2:])
    spatial = tuple(x.shape[b:-1]) if channel_last else tuple(x.shape[b + 1:])
    batch = tuple(x.shape[:b])

    def expect(ch):
        return batch + (spatial + (ch,) if channel_last else (ch,) + spatial)

    if int_shape(offset) != expect(2 * K * deformable_group):
        raise ValueError(f"{fname}: offset shape {int_shape(offset)} must be "
                         f"{expect(2 * K * deformable_group)}")
    if mask is not None and int_shape(mask) != expect(K * deformable_group):
        raise ValueError(f"{fname}: mask shape {int_shape(mask)} must be "
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
        raise ValueError(f"{fname}: x {int_shape(x)}, vertical_kernel "
                         f"{int_shape(vertical_kernel)} and horizontal_kernel "
                         f"{int_shape(horizontal_kernel)} must all be 4-D")
    B, C, H, W = int_shape(x)
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
                         f"{int_shape(vertical_kernel)}, horizontal {int_shape(horizontal_kernel)}")
    return call("AdaptiveSeparableConvolution", [x, vertical_kernel, horizontal_kernel], {},
                outputs)
