"""Convolutions: convolution, fused convolution (+ batch normalization, residual and
nonlinearity), depthwise convolution, deconvolution and depthwise deconvolution.

Shapes follow NNabla: ``base_axis`` splits sample axes from the feature axes,
``channel_last`` moves the channel axis behind the spatial axes.
"""
import jax
import jax.numpy as jnp
from jax import lax

from .._variable import Variable
from ._common import as_list, call, check_base_axis, int_shape, lowering, prod, round_to_storage
from .batch_norm import _bn_core



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
    return x.reshape((prod(batch),) + x.shape[base_axis:]), batch


def _add_channel_bias(y, bias, n, channel_last):
    if bias is None:
        return y
    shape = (1,) * (n + 1) + (-1,) if channel_last else (1, -1) + (1,) * n
    return y + bias.reshape(shape)


def _conv_general(x, w, stride, padding, lhs_dilation, rhs_dilation, group, dims):
    """``lax.conv_general_dilated``. On CPU a 3-D convolution is computed as one 2-D
    convolution: the depth taps stacked into channels, the output depth folded into
    the batch. XLA's CPU runtime has fast kernels for 2-D convolutions only (3-D ones
    of NNabla's test shapes ran 9x slower, their gradients 20x; a 4x16x16x32x32 input
    with 32 3x3x3 filters 5x and 4x)."""
    if len(stride) != 3 or jax.default_backend() != "cpu":
        return lax.conv_general_dilated(
            x, w, window_strides=stride, padding=padding, lhs_dilation=lhs_dilation,
            rhs_dilation=rhs_dilation, feature_group_count=group, dimension_numbers=dims)
    lhs_spec, rhs_spec, out_spec = dims
    if lhs_spec != "NCDHW":  # channel last: (N, D, H, W, C)
        x = jnp.moveaxis(x, -1, 1)
    if rhs_spec != "OIDHW":  # (O, D, H, W, I)
        w = jnp.moveaxis(w, -1, 1)
    y = _conv3d_as_2d(x, w, stride, padding, lhs_dilation, rhs_dilation, group)
    return y if out_spec == "NCDHW" else jnp.moveaxis(y, 1, -1)


def _conv3d_as_2d(x, w, stride, padding, lhs_dilation, rhs_dilation, group):
    """NCDHW x OIDHW convolution as a 2-D one (see ``_conv_general``)."""
    n, c = x.shape[:2]
    o, c_g, kd = w.shape[:3]
    depth_stride, depth_dilation = stride[0], rhs_dilation[0]
    # the depth axis padded (and dilated, for a transposed convolution) explicitly
    x = lax.pad(x, jnp.zeros((), x.dtype),
                [(0, 0, 0), (0, 0, 0), (padding[0][0], padding[0][1], lhs_dilation[0] - 1),
                 (0, 0, 0), (0, 0, 0)])
    depth = (x.shape[2] - depth_dilation * (kd - 1) - 1) // depth_stride + 1
    taps = [lax.slice_in_dim(x, t * depth_dilation,
                             t * depth_dilation + (depth - 1) * depth_stride + 1,
                             depth_stride, axis=2) for t in range(kd)]
    h, wd = x.shape[3:]
    # (N, tap, group, C/group, D', H, W) -> (N * D', group * tap * C/group, H, W): each
    # group's channels stay together, as feature_group_count expects
    stacked = jnp.stack(taps, axis=1).reshape(n, kd, group, c // group, depth, h, wd)
    stacked = stacked.transpose(0, 4, 2, 1, 3, 5, 6).reshape(n * depth, c * kd, h, wd)
    w2 = w.transpose(0, 2, 1, 3, 4).reshape((o, kd * c_g) + w.shape[3:])
    y = lax.conv_general_dilated(stacked, w2, window_strides=stride[1:], padding=padding[1:],
                                 lhs_dilation=lhs_dilation[1:], rhs_dilation=rhs_dilation[1:],
                                 feature_group_count=group)
    return y.reshape((n, depth) + y.shape[1:]).transpose(0, 2, 1, 3, 4)


def _conv_core(x, weight, bias, base_axis, pad, stride, dilation, group, channel_last):
    n = weight.ndim - 2
    xb, batch = _fold_batch(x, base_axis)
    y = _conv_general(xb, weight, stride, [(p, p) for p in pad], [1] * n, dilation, group,
                      _dim_numbers(n, channel_last))
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
    y = _conv_general(xb, w, [1] * n, padding, stride, dilation, group, dn)
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
        raise ValueError(f"{fname}: weight of shape {int_shape(weight)} has no kernel dimensions")
    base_axis = check_base_axis(fname, x, base_axis, spare=1)
    if len(x.shape) != base_axis + n + 1:
        raise ValueError(f"{fname}: x of shape {int_shape(x)} must have base_axis + 1 + {n} "
                         f"= {base_axis + n + 1} dimensions for weight {int_shape(weight)}")
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
        raise ValueError(f"{fname}: x of shape {int_shape(x)} has {c_in} channels but weight "
                         f"{int_shape(weight)} expects {w_in} x group {group}")
    if weight.shape[0] % group:
        raise ValueError(f"{fname}: {weight.shape[0]} output maps are not divisible by "
                         f"group={group}")
    if bias is not None and int_shape(bias) != (weight.shape[0],):
        raise ValueError(f"{fname}: bias shape {int_shape(bias)} must be ({weight.shape[0]},)")
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


def _pad_pairs(pad, n):
    """(before, after) per spatial axis: ``pad`` holds n symmetric sizes or 2n sizes."""
    pad = list(pad)
    if len(pad) == n:
        return [(p, p) for p in pad]
    return [(pad[2 * i], pad[2 * i + 1]) for i in range(n)]


def _fused_pad_input(x, pad, n, base_axis, channel_last, pad_mode, constant_value):
    """(x padded as F.pad would, the convolution's own pad): NNabla pads with the
    convolution unless pad has 2n sizes or the mode is not a zero constant."""
    if len(pad) == n and pad_mode == "constant" and constant_value == 0:
        return x, list(pad)
    first = base_axis if channel_last else base_axis + 1
    widths = [(0, 0)] * x.ndim
    for i, pair in enumerate(_pad_pairs(pad, n)):
        widths[first + i] = pair
    if pad_mode == "constant":
        x = jnp.pad(x, widths, mode="constant", constant_values=constant_value)
    else:
        x = jnp.pad(x, widths, mode="reflect" if pad_mode == "reflect" else "edge")
    return x, [0] * n


@lowering("FusedConvolution", state_inputs=(5, 6))
def _fused_convolution(x, weight, bias=None, beta=None, gamma=None, mean=None, variance=None,
                       z=None, base_axis=1, pad=None, stride=None, dilation=None, group=1,
                       channel_last=False, decay_rate=0.9, eps=1e-5, batch_stat=True,
                       nonlinearity="relu", nonlinearity_args=(), pad_mode="constant",
                       constant_value=0.0):
    n = weight.ndim - 2
    x, pad = _fused_pad_input(x, pad if pad is not None else [0] * n, n, base_axis,
                              channel_last, pad_mode, constant_value)
    h = round_to_storage(_conv_core(x, weight, bias, base_axis, pad, stride, dilation, group,
                                    channel_last))
    new_mean, new_var = mean, variance
    if mean is not None and variance is not None:
        axis = h.ndim - 1 if channel_last else base_axis
        h, _, _, new_mean, new_var = _bn_core(h, beta, gamma, mean, variance, [axis],
                                              decay_rate, eps, batch_stat)
        h = round_to_storage(h)
    if z is not None:
        h = round_to_storage(h + z)
    return _apply_nonlinearity(h, nonlinearity, list(nonlinearity_args)), new_mean, new_var


def fused_convolution(x, weight, bias=None, beta=None, gamma=None, mean=None, variance=None,
                      z=None, base_axis=1, pad=None, stride=None, dilation=None, group=1,
                      channel_last=False, decay_rate=0.9, eps=1e-05, batch_stat=True,
                      nonlinearity="relu", nonlinearity_args=list(), pad_mode="constant",
                      constant_value=0.0, n_outputs=-1, outputs=None):
    """Padding (``pad``: one size per spatial axis or (before, after) pairs; ``pad_mode``
    'constant' with ``constant_value``, 'reflect' or 'repeat', as :func:`pad`), then
    convolution, then batch normalization over the channel axis (when ``mean`` and
    ``variance`` are given; running statistics are updated in place), then ``+ z``
    (when given), then ``nonlinearity`` (identity, relu, sigmoid, tanh, leaky_relu [alpha],
    elu [alpha], relu6)."""
    fname = "fused_convolution"
    if pad_mode not in ("constant", "reflect", "repeat"):
        raise ValueError(f"{fname}: pad_mode must be 'constant', 'reflect' or 'repeat', got "
                         f"{pad_mode!r}")
    n_sp = len(weight.shape) - 2
    pad_list = None if pad is None else [int(p) for p in
                                         (pad if isinstance(pad, (list, tuple)) else [pad])]
    if pad_list is not None and len(pad_list) not in (n_sp, 2 * n_sp):
        raise ValueError(f"{fname}: pad must have {n_sp} or {2 * n_sp} sizes, got {pad_list}")
    if pad_list is not None and any(p < 0 for p in pad_list):
        raise ValueError(f"{fname}: pad must be non-negative, got {pad_list}")
    x_checked, sym = x, pad_list
    if pad_list is not None and len(pad_list) == 2 * n_sp:
        # check the geometry on the padded input's shape
        b = base_axis + len(x.shape) if base_axis < 0 else base_axis
        first = b if channel_last else b + 1
        shape = list(x.shape)
        for i, (lo, hi) in enumerate(_pad_pairs(pad_list, n_sp)):
            shape[first + i] += lo + hi
        x_checked, sym = Variable(tuple(shape)), [0] * n_sp
    args = _conv_full_args(fname, x_checked, weight, bias, base_axis, sym, stride, dilation,
                           group, channel_last)
    if pad_list is not None:
        args["pad"] = pad_list
    if nonlinearity not in _NONLIN:
        raise ValueError(f"{fname}: nonlinearity must be one of {_NONLIN}, got {nonlinearity!r}")
    nonlinearity_args = [float(a) for a in (nonlinearity_args or [])]
    # output shape of the convolution, for the BN parameter and residual checks
    _, n, _, spatial = _conv_geometry(fname, x_checked, weight, args["base_axis"],
                                      channel_last, len(weight.shape) - 2)
    kernel = list(weight.shape[1:-1]) if channel_last else list(weight.shape[2:])
    osp = _conv_out(fname, spatial, kernel, sym or [0] * n, args["stride"], args["dilation"])
    b = args["base_axis"]
    oshape = tuple(x.shape[:b]) + ((tuple(osp) + (weight.shape[0],)) if channel_last
                                   else ((weight.shape[0],) + tuple(osp)))
    caxis = len(oshape) - 1 if channel_last else b
    stat = tuple(oshape[a] if a == caxis else 1 for a in range(len(oshape)))
    if (mean is None) != (variance is None):
        raise ValueError(f"{fname}: give both mean and variance, or neither")
    for name, v in (("beta", beta), ("gamma", gamma), ("mean", mean), ("variance", variance)):
        if v is not None and int_shape(v) != stat:
            raise ValueError(f"{fname}: {name} shape {int_shape(v)} must be {stat} for the "
                             f"convolution output of shape {oshape}")
    if z is not None and int_shape(z) != oshape:
        raise ValueError(f"{fname}: z shape {int_shape(z)} must be the output shape {oshape}")
    args.update(decay_rate=float(decay_rate), eps=float(eps), batch_stat=bool(batch_stat),
                nonlinearity=str(nonlinearity), nonlinearity_args=nonlinearity_args,
                pad_mode=str(pad_mode), constant_value=float(constant_value))
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
        raise ValueError(f"{fname}: weight shape {int_shape(weight)} must start with input "
                         f"channels {c_in} x multiplier {multiplier} = {c_in * multiplier}")
    if bias is not None and int_shape(bias) != (c_in * multiplier,):
        raise ValueError(f"{fname}: bias shape {int_shape(bias)} must be ({c_in * multiplier},)")
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
        raise ValueError(f"{fname}: x of shape {int_shape(x)} has {c_in} channels but weight "
                         f"{int_shape(weight)} expects {weight.shape[0]}")
    c_out = (weight.shape[-1] if channel_last else weight.shape[1]) * group
    if bias is not None and int_shape(bias) != (c_out,):
        raise ValueError(f"{fname}: bias shape {int_shape(bias)} must be ({c_out},)")
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
        raise ValueError(f"{fname}: weight shape {int_shape(weight)} must start with the "
                         f"{c_in} input channels")
    if bias is not None and int_shape(bias) != (c_in // divisor,):
        raise ValueError(f"{fname}: bias shape {int_shape(bias)} must be ({c_in // divisor},)")
    for i, (L, k, p, s, d) in enumerate(zip(spatial, weight.shape[1:], pad, stride, dilation)):
        if s * (L - 1) - 2 * p + d * (k - 1) + 1 <= 0:
            raise ValueError(f"{fname}: invalid configuration at spatial dimension {i}")
    return call("DepthwiseDeconvolution", [x, weight, bias],
                dict(base_axis=base_axis, pad=pad, stride=stride, dilation=dilation,
                     divisor=divisor), outputs)
