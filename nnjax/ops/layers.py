"""Neural Network Layer: affine, embed and RoI align (convolutions, pooling and
attention have modules of their own).

Shapes follow NNabla: ``base_axis`` splits sample axes from the feature axes.
"""
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._common import as_list, call, check_base_axis, int_shape, lowering, prod



# ---------------------------------------------------------------- affine
@lowering("Affine")
def _affine(x, weight, bias=None, base_axis=1):
    batch = x.shape[:base_axis]
    flat = x.reshape((prod(batch), -1))
    w = weight.reshape((weight.shape[0], -1))
    y = flat @ w
    if bias is not None:
        y = y + bias.reshape((1, -1))
    return y.reshape(batch + weight.shape[1:])


def affine(x, weight, bias=None, base_axis=1, n_outputs=-1, outputs=None):
    """``x`` flattened from ``base_axis`` times ``weight`` (inmaps, *outmaps), plus ``bias``."""
    base_axis = check_base_axis("affine", x, base_axis, spare=0)
    in_features = prod(x.shape[base_axis:])
    if len(weight.shape) < 1 or weight.shape[0] != in_features:
        raise ValueError(f"affine: x of shape {int_shape(x)} has {in_features} features from "
                         f"base_axis={base_axis}, but weight has shape {int_shape(weight)}")
    if bias is not None and int_shape(bias) != int_shape(weight)[1:]:
        raise ValueError(f"affine: bias shape {int_shape(bias)} must be weight.shape[1:] = "
                         f"{int_shape(weight)[1:]}")
    return call("Affine", [x, weight, bias], dict(base_axis=base_axis), outputs)


# ---------------------------------------------------------------- embed
@lowering("Embed")
def _embed(x0, w):
    index = lax.stop_gradient(x0).astype(jnp.int32)
    return jnp.take(w, index, axis=0)


def embed(x0, w, n_outputs=-1, outputs=None):
    """Rows of ``w`` selected by the integer indices in ``x0``: output
    ``x0.shape + w.shape[1:]``."""
    if len(w.shape) < 1:
        raise ValueError(f"embed: w must have at least one dimension, got {int_shape(w)}")
    return call("Embed", [x0, w], {}, outputs)


# ---------------------------------------------------------------- RoI align
def _roi_plan(boxes, out_h, out_w, spatial_scale, sampling_ratio, n_images):
    """Per-RoI sampling geometry (all (K,) arrays)."""
    b = lax.stop_gradient(boxes)
    index = jnp.clip(jnp.maximum(jnp.trunc(b[:, 0]), 0).astype(jnp.int32), 0, n_images - 1)
    # pixel centers at +0.5: a box edge at x sits at x * scale - 0.5 in sample space
    x1 = b[:, 1] * spatial_scale[1] - 0.5
    y1 = b[:, 2] * spatial_scale[0] - 0.5
    x2 = b[:, 3] * spatial_scale[1] - 0.5
    y2 = b[:, 4] * spatial_scale[0] - 0.5
    step_x = (x2 - x1) / out_w
    step_y = (y2 - y1) / out_h
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
        raise ValueError(f"{fname}: input must be 4-D, got {int_shape(input)}")
    if len(boxes.shape) != 2 or boxes.shape[1] != 5:
        raise ValueError(f"{fname}: boxes must have shape (K, 5), got {int_shape(boxes)}")
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
