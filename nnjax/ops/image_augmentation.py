"""ImageAugmentation: random scale, rotation, crop, flip, distortion, color and noise of images."""
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.special import erfinv

from ._common import as_shape, call, check_seed, lowering


# ---------------------------------------------------------------- ImageAugmentation
@lowering("ImageAugmentation", rng=True)
def _image_augmentation(key, x, shape, pad=(0, 0), min_scale=1.0, max_scale=1.0, angle=0.0,
                        aspect_ratio=1.0, distortion=0.0, flip_lr=False, flip_ud=False,
                        brightness=0.0, brightness_each=False, contrast=1.0,
                        contrast_center=0.0, contrast_each=False, noise=0.0, seed=-1):
    x = lax.stop_gradient(x)  # NNabla gives ImageAugmentation no backward
    in_shape = x.shape
    w_in, h_in = in_shape[-1], in_shape[-2]
    ch = in_shape[-3] if x.ndim >= 3 else 1
    n_img = int(np.prod(in_shape, dtype=np.int64)) // (w_in * h_in * ch)
    out_shape = tuple(in_shape[:x.ndim - len(shape)]) + tuple(shape)
    w_out, h_out = out_shape[-1], out_shape[-2]
    # one draw for every per-image parameter (NNabla draws (rgen() % 1001) * 0.001)
    # and, with noise, for the per-pixel normal values
    n_params = n_img * (11 + 2 * ch)
    n_noise = n_img * ch * h_out * w_out if noise > 0.0 else 0
    u_all = jax.random.uniform(key, (n_params + n_noise,), minval=1e-7, maxval=1.0)
    u = u_all[:n_params].reshape((n_img, 11 + 2 * ch))
    steps = jnp.floor(u * 1001).astype(jnp.float32) * 0.001
    scale = min_scale * jnp.exp(steps[:, 0] * math.log(max_scale / min_scale))
    scale_x = jnp.exp(-math.log(aspect_ratio) * 0.5 + steps[:, 1] * math.log(aspect_ratio))
    scale_y = 1.0 / scale_x
    i_sx = 1.0 / (scale * scale_x)
    i_sy = 1.0 / (scale * scale_y)
    theta = -angle + steps[:, 2] * angle * 2
    w_scaled = (w_in + pad[1] * 2) * scale * scale_x
    h_scaled = (h_in + pad[0] * 2) * scale * scale_y
    cx = (w_out - 1) * 0.5
    cy = (h_out - 1) * 0.5
    cx_scaled = steps[:, 3] * (w_scaled - w_out) + cx
    cy_scaled = steps[:, 4] * (h_scaled - h_out) + cy
    do_lr = (u[:, 5] < 0.5) & bool(flip_lr)
    do_ud = (u[:, 6] < 0.5) & bool(flip_ud)
    g_bright = steps[:, 7] * brightness * 2.0 - brightness
    g_contrast = jnp.exp(steps[:, 8] * math.log(contrast) * 2.0) / contrast
    if brightness_each:
        bright = steps[:, 11:11 + ch] * brightness * 2.0 - brightness
    else:
        bright = jnp.broadcast_to(g_bright[:, None], (n_img, ch))
    if contrast_each:
        contr = jnp.exp(steps[:, 11 + ch:11 + 2 * ch] * math.log(contrast) * 2.0) / contrast
    else:
        contr = jnp.broadcast_to(g_contrast[:, None], (n_img, ch))
    dist = jnp.exp(steps[:, 9] * 2.0 * distortion - distortion) - 1.0
    sigma = steps[:, 10] * noise

    cos_t, sin_t = jnp.cos(theta), jnp.sin(theta)
    x_ax = jnp.where(do_lr, -cos_t, cos_t) * i_sx
    y_ax = jnp.where(do_lr, sin_t, -sin_t) * i_sy
    x_ay = jnp.where(do_ud, -sin_t, sin_t) * i_sx
    y_ay = jnp.where(do_ud, -cos_t, cos_t) * i_sy
    x0 = cx_scaled * i_sx - (x_ax * cx + y_ax * cy) - pad[1]
    y0 = cy_scaled * i_sy - (x_ay * cx + y_ay * cy) - pad[0]

    ix = jnp.arange(w_out, dtype=jnp.float32)[None, None, :]
    iy = jnp.arange(h_out, dtype=jnp.float32)[None, :, None]

    def per_img(v):
        return v[:, None, None]

    if distortion != 0.0:
        hw, hh = w_out * 0.5, h_out * 0.5
        dx = (ix - hw) / hw
        dy = (iy - hh) / hh
        r2 = dx * dx + dy * dy
        d = per_img(dist)
        dx = (dx + dx * d * r2) * hw / (1.0 + d) + hw
        dy = (dy + dy * d * r2) * hh / (1.0 + d) + hh
        px = per_img(x0) + dx * per_img(x_ax) + dy * per_img(y_ax)
        py = per_img(y0) + dx * per_img(x_ay) + dy * per_img(y_ay)
    else:
        px = per_img(x0) + ix * per_img(x_ax) + iy * per_img(y_ax)
        py = per_img(y0) + ix * per_img(x_ay) + iy * per_img(y_ay)
    px = jnp.clip(px, 0.0, w_in - 1)
    py = jnp.clip(py, 0.0, h_in - 1)
    x0i = px.astype(jnp.int32)
    y0i = py.astype(jnp.int32)
    fx = px - x0i
    fy = py - y0i
    x1i = jnp.minimum(x0i + 1, w_in - 1)
    y1i = jnp.minimum(y0i + 1, h_in - 1)
    imgs = x.reshape((n_img, ch, h_in * w_in))

    def gather(yy, xx):  # (n, h_out, w_out) -> (n, ch, h_out, w_out)
        flat = (yy * w_in + xx).reshape((n_img, 1, -1))
        vals = jnp.take_along_axis(imgs, jnp.broadcast_to(flat, (n_img, ch, flat.shape[-1])),
                                   axis=2)
        return vals.reshape((n_img, ch, h_out, w_out))

    fx, fy = fx[:, None], fy[:, None]
    out = (gather(y0i, x0i) * (1 - fx) * (1 - fy) + gather(y0i, x1i) * fx * (1 - fy)
           + gather(y1i, x0i) * (1 - fx) * fy + gather(y1i, x1i) * fx * fy)
    out = ((out + (bright - contrast_center)[:, :, None, None]) * contr[:, :, None, None]
           + contrast_center)
    if noise > 0.0:
        normal = math.sqrt(2.0) * erfinv(2.0 * u_all[n_params:] - 1.0)
        out = out + normal.reshape(out.shape) * sigma[:, None, None, None]
    return out.astype(x.dtype).reshape(out_shape)


def image_augmentation(x, shape=None, pad=(0, 0), min_scale=1.0, max_scale=1.0, angle=0.0,
                       aspect_ratio=1.0, distortion=0.0, flip_lr=False, flip_ud=False,
                       brightness=0.0, brightness_each=False, contrast=1.0, contrast_center=0.0,
                       contrast_each=False, noise=0.0, seed=-1):
    """Randomly scale, rotate, crop, flip and recolor images (last 2 axes H, W; the
    axis before them is the channel axis). No gradient flows back (as in NNabla)."""
    fname = "image_augmentation"
    if len(x.shape) < 2:
        raise ValueError(f"{fname}: input must have at least 2 dimensions (H, W), got "
                         f"{tuple(x.shape)}")
    shape = list(x.shape) if shape is None else as_shape(shape, fname)
    if len(shape) < 2 or len(shape) > len(x.shape):
        raise ValueError(f"{fname}: shape {tuple(shape)} must have 2 to {len(x.shape)} "
                         "dimensions")
    offset = len(x.shape) - len(shape)
    if list(shape[:-2]) != list(x.shape[offset:-2]):
        raise ValueError(f"{fname}: shape {tuple(shape)} may only change the last two "
                         f"dimensions of the input {tuple(x.shape)}")
    pad = [int(p) for p in pad]
    if len(pad) != 2:
        raise ValueError(f"{fname}: pad must have 2 values (height, width), got {pad}")
    if min_scale <= 0 or max_scale <= 0 or aspect_ratio <= 0 or contrast <= 0:
        raise ValueError(f"{fname}: min_scale, max_scale, aspect_ratio and contrast must be "
                         "positive")
    args = dict(shape=shape, pad=pad, min_scale=float(min_scale), max_scale=float(max_scale),
                angle=float(angle), aspect_ratio=float(aspect_ratio),
                distortion=float(distortion), flip_lr=bool(flip_lr), flip_ud=bool(flip_ud),
                brightness=float(brightness), brightness_each=bool(brightness_each),
                contrast=float(contrast), contrast_center=float(contrast_center),
                contrast_each=bool(contrast_each), noise=float(noise),
                seed=check_seed(seed, fname))
    return call("ImageAugmentation", [x], args)
