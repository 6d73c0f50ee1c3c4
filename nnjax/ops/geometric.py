"""Geometric layers: AffineGrid, WarpByGrid (spatial transformer), WarpByFlow."""
import jax.numpy as jnp
import numpy as np

from ._common import call, lowering



# ---------------------------------------------------------------- AffineGrid
def _target_axis(n, align_corners):
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.float32(2.0) * np.arange(n, dtype=np.float32) / np.float32(n - 1) - np.float32(1)
    if not align_corners:
        v = v * (np.float32(n - 1) / np.float32(n))
    return v.astype(np.float32)


@lowering("AffineGrid")
def _affine_grid(theta, size, align_corners=False):
    axes = [_target_axis(n, align_corners) for n in size]
    mesh = np.meshgrid(*axes, indexing="ij")  # (D,) H, W
    coords = [m.reshape(-1) for m in reversed(mesh)]  # x, y(, z)
    target = np.stack(coords + [np.ones_like(coords[0])], axis=-1)  # (P, nd + 1)
    grid = jnp.einsum("pk,bjk->bpj", jnp.asarray(target, theta.dtype), theta)
    return grid.reshape((theta.shape[0],) + tuple(size) + (len(size),))


def affine_grid(theta, size, align_corners=False):
    """Source sampling grid: ``theta`` (B, 2, 3) or (B, 3, 4) applied to the normalized
    target grid of ``size`` (H, W) or (D, H, W); output (B, *size, 2 or 3) holding
    (x, y[, z]). Without ``align_corners`` the target grid is scaled by (S - 1) / S."""
    fname = "affine_grid"
    size = [int(s) for s in size]
    if len(size) not in (2, 3):
        raise ValueError(f"{fname}: size must have 2 (H, W) or 3 (D, H, W) values, got {size}")
    nd = len(size)
    if len(theta.shape) != 3 or tuple(theta.shape[1:]) != (nd, nd + 1):
        raise ValueError(f"{fname}: theta must have shape (B, {nd}, {nd + 1}) for a "
                         f"{nd}-D grid, got {tuple(theta.shape)}")
    return call("AffineGrid", [theta], dict(size=size, align_corners=bool(align_corners)))


# ---------------------------------------------------------------- WarpByGrid
def _unnormalize(g, size, align_corners):
    if align_corners:
        return (g + 1) * (size - 1) / 2
    return ((g + 1) * size - 1) / 2


def _reflect(s, low, high):
    span = high - low
    d_low = low - s
    n_low = jnp.floor(d_low / span)
    r_low = d_low - n_low * span
    below = jnp.where(jnp.mod(n_low, 2) == 0, low + r_low, high - r_low)
    d_high = s - high
    n_high = jnp.floor(d_high / span)
    r_high = d_high - n_high * span
    above = jnp.where(jnp.mod(n_high, 2) == 0, high - r_high, low + r_high)
    return jnp.where(s < low, below, jnp.where(s > high, above, s))


def _pad_index(s, size, padding_mode, align_corners):
    if padding_mode == "repeat":
        return jnp.clip(s, 0, size - 1)
    if padding_mode == "reflect":
        if align_corners:
            return _reflect(s, 0.0, float(size - 1))
        sf = _reflect(2 * s, -1.0, 2.0 * size - 1) * 0.5
        return jnp.clip(sf, 0, size - 1)
    return s


def _gather_zero(x, idx, spatial):
    """x: (B, C, *S); idx: list of (B, *O) int arrays -> (B, C, *O), zero outside."""
    valid = None
    flat = None
    for i, n in zip(idx, spatial):
        ok = (i >= 0) & (i < n)
        valid = ok if valid is None else (valid & ok)
        ic = jnp.clip(i, 0, n - 1)
        flat = ic if flat is None else flat * n + ic
    b, c = x.shape[:2]
    xf = x.reshape((b, c, -1))
    fo = flat.reshape((b, 1, -1))
    vals = jnp.take_along_axis(xf, jnp.broadcast_to(fo, (b, c, fo.shape[-1])), axis=2)
    vals = vals.reshape((b, c) + flat.shape[1:])
    return jnp.where(valid[:, None], vals, jnp.zeros_like(vals))


@lowering("WarpByGrid")
def _warp_by_grid(x, grid, mode="linear", padding_mode="zero", align_corners=False,
                  channel_last=False):
    nd = grid.shape[-1]
    if channel_last:
        x = jnp.moveaxis(x, -1, 1)
    spatial = x.shape[2:]  # (D,) H, W
    # grid components are (x, y[, z]): reverse to match the spatial axes order
    coords = []
    for k in range(nd):
        size = spatial[nd - 1 - k]
        s = _unnormalize(grid[..., k], size, align_corners)
        coords.append(_pad_index(s, size, padding_mode, align_corners))
    coords = coords[::-1]
    if mode == "nearest":
        idx = [(jnp.sign(c) * jnp.floor(jnp.abs(c) + 0.5)).astype(jnp.int32)  # C round()
               for c in coords]
        y = _gather_zero(x, idx, spatial)
    else:
        base = [jnp.floor(c) for c in coords]
        frac = [c - b for c, b in zip(coords, base)]
        base = [b.astype(jnp.int32) for b in base]
        y = 0
        for corner in range(2 ** nd):
            bits = [(corner >> (nd - 1 - k)) & 1 for k in range(nd)]
            idx = [b + bit for b, bit in zip(base, bits)]
            weight = 1
            for f, bit in zip(frac, bits):
                weight = weight * (f if bit else (1 - f))
            y = y + _gather_zero(x, idx, spatial) * weight[:, None]
    if channel_last:
        y = jnp.moveaxis(y, 1, -1)
    return y


def warp_by_grid(x, grid, mode='linear', padding_mode='zero', align_corners=False,
                 channel_last=False):
    """Sample ``x`` (B, C, H, W) or (B, C, D, H, W) at the normalized ``grid``
    locations (B, Ho, Wo, 2) / (B, Do, Ho, Wo, 3) ('linear' or 'nearest').

    ``padding_mode``: 'zero' (0 outside), 'repeat' (edge values), 'reflect'.
    """
    fname = "warp_by_grid"
    if mode not in ("linear", "nearest"):
        raise ValueError(f"{fname}: mode must be 'linear' or 'nearest', got {mode!r}")
    if padding_mode not in ("zero", "repeat", "reflect"):
        raise ValueError(f"{fname}: padding_mode must be 'zero', 'repeat' or 'reflect', got "
                         f"{padding_mode!r}")
    nd = len(x.shape) - 2
    if nd not in (2, 3):
        raise ValueError(f"{fname}: x must be 4-D or 5-D, got shape {tuple(x.shape)}")
    if len(grid.shape) != nd + 2 or grid.shape[-1] != nd or grid.shape[0] != x.shape[0]:
        raise ValueError(f"{fname}: grid of shape {tuple(grid.shape)} does not fit x of shape "
                         f"{tuple(x.shape)} (expected (B, *out_spatial, {nd}))")
    return call("WarpByGrid", [x, grid], dict(mode=mode, padding_mode=padding_mode,
                                              align_corners=bool(align_corners),
                                              channel_last=bool(channel_last)))


# ---------------------------------------------------------------- WarpByFlow
@lowering("WarpByFlow")
def _warp_by_flow(data, flow):
    n, c, h, w = data.shape
    xf = jnp.arange(w, dtype=data.dtype)[None, None, :] + flow[:, 0]
    yf = jnp.arange(h, dtype=data.dtype)[None, :, None] + flow[:, 1]
    fx, fy = jnp.floor(xf), jnp.floor(yf)
    xl = jnp.clip(fx, 0, w - 1).astype(jnp.int32)
    yt = jnp.clip(fy, 0, h - 1).astype(jnp.int32)
    xr = jnp.clip(fx + 1, 0, w - 1).astype(jnp.int32)
    yb = jnp.clip(fy + 1, 0, h - 1).astype(jnp.int32)
    flat = data.reshape((n, c, h * w))

    def at(yy, xx):
        i = (yy * w + xx).reshape((n, 1, -1))
        v = jnp.take_along_axis(flat, jnp.broadcast_to(i, (n, c, h * w)), axis=2)
        return v.reshape((n, c, h, w))

    alpha = (xf - xl)[:, None]
    beta = (yf - yt)[:, None]
    tl, tr, bl, br = at(yt, xl), at(yt, xr), at(yb, xl), at(yb, xr)
    upper = alpha * (tr - tl) + tl
    lower = alpha * (br - bl) + bl
    return beta * (lower - upper) + upper


def warp_by_flow(data, flow):
    """Bilinear warp: ``out[n, c, y, x] = data[n, c, y + flow[n, 1, y, x], x + flow[n, 0, y, x]]``,
    with coordinates outside the image taking the nearest border pixel."""
    fname = "warp_by_flow"
    if len(data.shape) != 4:
        raise ValueError(f"{fname}: data must be 4-D (N, C, H, W), got {tuple(data.shape)}")
    expected = (data.shape[0], 2) + tuple(data.shape[2:])
    if tuple(flow.shape) != expected:
        raise ValueError(f"{fname}: flow shape {tuple(flow.shape)} must be {expected} for data "
                         f"of shape {tuple(data.shape)}")
    return call("WarpByFlow", [data, flow], {})
