"""Unsupported / special-use functions: VATNoise, Unlink, Sink, NmsDetection2d,
ONNXNonMaxSuppression, MaxPoolingBackward, PatchCorrelation, Unique, EyeLike,
Mod2, BitShift, Einsum.

Unique and ONNXNonMaxSuppression have data-dependent output shapes and compute
on the host (``jax.pure_callback``). As in NNabla, the shape is computed from
the input values when the node is created (NNabla's setup; the registry's
``sizes`` rule); later forwards recompute the values on the host and keep that
shape (rows beyond it are dropped; missing rows are filled with -1).
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import array
from ._common import call, lowering
from .pooling import _max_pooling, _pool_args



def _on_host(host, out_structs, *xs):
    """``host(*numpy inputs)`` (a tuple of arrays) computed through ``jax.pure_callback``
    with fixed output shapes and dtypes; no gradient flows through it."""
    def run(*values):
        return tuple(np.asarray(r, st.dtype) for r, st in
                     zip(host(*[np.asarray(v) for v in values]), out_structs))
    res = jax.pure_callback(run, tuple(out_structs), *[lax.stop_gradient(x) for x in xs])
    return res if len(res) > 1 else res[0]


def _fit_rows(a, n, fill=-1):
    """``a`` cut or padded (with ``fill``) to ``n`` entries along axis 0."""
    if a.shape[0] >= n:
        return a[:n]
    pad = np.full((n - a.shape[0],) + a.shape[1:], fill, a.dtype)
    return np.concatenate([a, pad], axis=0)


# ---------------------------------------------------------------- VATNoise
@lowering("VATNoise")
def _vat_noise(x, w, base_axis=1, eps=1.0):
    xs = lax.stop_gradient(x)
    axes = tuple(range(base_axis, x.ndim))
    norm = jnp.sqrt(jnp.sum(xs * xs, axis=axes, keepdims=True) + 1e-8)
    y = eps * xs / norm
    # backward: no gradient to x; w receives eps * grad (NNabla writes it into w's data)
    return y + eps * (w - lax.stop_gradient(w))


def vat_noise(x, w, base_axis=1, eps=1.0):
    """``eps * x / sqrt(sum(x**2) + 1e-8)`` per sample (axes from ``base_axis``).

    Backward gives ``x`` no gradient and ``w`` the gradient ``eps * dy`` (NNabla
    writes ``eps * dy`` into ``w``'s data instead; read it from ``w.g`` here).
    """
    fname = "vat_noise"
    if tuple(x.shape) != tuple(w.shape):
        raise ValueError(f"{fname}: x shape {tuple(x.shape)} and w shape {tuple(w.shape)} "
                         "must match")
    if not 0 < base_axis < len(x.shape):
        raise ValueError(f"{fname}: base_axis={base_axis} must be in [1, {len(x.shape) - 1}]")
    return call("VATNoise", [x, w], dict(base_axis=int(base_axis), eps=float(eps)))


# ---------------------------------------------------------------- Unlink / Sink
@lowering("Unlink")
def _unlink(x):
    return lax.stop_gradient(x)


def unlink(x):
    """Identity forward; no gradient flows back."""
    return call("Unlink", [x], {})


def _float0_or(x, value):
    if jnp.issubdtype(x.dtype, jnp.inexact):
        return jnp.full(x.shape, value, x.dtype)
    return np.zeros(x.shape, jax.dtypes.float0)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _sink_core(one_input_grad, *xs):
    return jnp.zeros((), jnp.float32)


def _sink_fwd(one_input_grad, *xs):
    return _sink_core(one_input_grad, *xs), xs


def _sink_bwd(one_input_grad, xs, g):
    return tuple(_float0_or(x, 1.0 if one_input_grad else 0.0) for x in xs)


_sink_core.defvjp(_sink_fwd, _sink_bwd)


@lowering("Sink")
def _sink(*xs, one_input_grad=True):
    return _sink_core(bool(one_input_grad), *xs)


def sink(*x, one_input_grad=True):
    """A 0-d dummy output depending on all inputs ``x``: forward does nothing; backward
    sets the gradient of every input to 1 (``one_input_grad``) whatever the seed.

    With ``one_input_grad=False`` NNabla back-propagates gradients already set on
    the inputs; here the inputs then receive no gradient from the sink.
    """
    if not x:
        raise ValueError("sink: give at least one variable")
    return call("Sink", list(x), dict(one_input_grad=bool(one_input_grad)))


# ---------------------------------------------------------------- NMS
def _iou_center(a, b):
    def overlap(c1, w1, c2, w2):
        return min(c1 + w1 / 2, c2 + w2 / 2) - max(c1 - w1 / 2, c2 - w2 / 2)
    w = overlap(a[0], a[2], b[0], b[2])
    h = overlap(a[1], a[3], b[1], b[3])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def _nms_detection2d_np(x, thresh, nms, nms_per_class):
    x = np.asarray(x, np.float32)
    y = x.copy()
    obj = np.where(x[..., 4] < thresh, 0.0, x[..., 4]).astype(np.float32)
    y[..., 4] = obj
    probs = obj[..., None] * x[..., 5:]
    y[..., 5:] = np.where(probs < thresh, 0.0, probs)
    n_b, n_box, n_c = x.shape
    n_cls = n_c - 5
    if nms_per_class:
        for k in range(n_cls):
            for b in range(n_b):
                order = np.argsort(-y[b, :, 5 + k], kind="stable")
                for i in range(n_box):
                    bi = order[i]
                    if y[b, bi, 5 + k] == 0:
                        continue
                    for j in range(i + 1, n_box):
                        bj = order[j]
                        if y[b, bj, 5 + k] == 0:
                            continue
                        if _iou_center(y[b, bi], y[b, bj]) > nms:
                            y[b, bj, 5 + k] = 0
    else:
        for b in range(n_b):
            order = np.argsort(-y[b, :, 4], kind="stable")
            for i in range(n_box - 1, -1, -1):
                bi = order[i]
                if y[b, bi, 4] == 0:
                    continue
                for j in range(i - 1, -1, -1):
                    if _iou_center(y[b, bi], y[b, order[j]]) > nms:
                        y[b, bi, 4] = 0
                        y[b, bi, 5:] = 0
    return y


@lowering("NmsDetection2d")
def _nms_detection2d(x, thresh=0.5, nms=0.45, nms_per_class=True):
    def host(v):
        return _nms_detection2d_np(v, thresh, nms, nms_per_class).astype(v.dtype)
    return jax.pure_callback(host, jax.ShapeDtypeStruct(x.shape, x.dtype),
                             lax.stop_gradient(x))


def nms_detection2d(x, thresh=0.5, nms=0.45, nms_per_class=True):
    """Non-maximum suppression of YOLO-style detections ``x`` (B, N, 5 + C) =
    (x, y, w, h, objectness, class probabilities); class scores become
    ``objectness * p`` (0 below ``thresh``), suppressed boxes get 0. No gradient."""
    fname = "nms_detection2d"
    if len(x.shape) != 3 or x.shape[2] <= 5:
        raise ValueError(f"{fname}: x must be 3-D (B, N, 5 + C) with C >= 1, got "
                         f"{tuple(x.shape)}")
    return call("NmsDetection2d", [x], dict(thresh=float(thresh), nms=float(nms),
                                            nms_per_class=bool(nms_per_class)))


def _iou_onnx(a, b, center_point_box):
    if center_point_box == 0:
        ya0, ya1 = sorted((a[0], a[2]))
        xa0, xa1 = sorted((a[1], a[3]))
        yb0, yb1 = sorted((b[0], b[2]))
        xb0, xb1 = sorted((b[1], b[3]))
        wa, ha, wb, hb = xa1 - xa0, ya1 - ya0, xb1 - xb0, yb1 - yb0
        wi = min(xa1, xb1) - max(xa0, xb0)
        hi = min(ya1, yb1) - max(ya0, yb0)
    else:
        wa, ha, wb, hb = a[2], a[3], b[2], b[3]
        wi = min(a[0] + wa / 2, b[0] + wb / 2) - max(a[0] - wa / 2, b[0] - wb / 2)
        hi = min(a[1] + ha / 2, b[1] + hb / 2) - max(a[1] - ha / 2, b[1] - hb / 2)
    if wi <= 0 or hi <= 0:
        return 0.0
    inter = wi * hi
    return inter / (wa * ha + wb * hb - inter)


def _onnx_nms_np(boxes, scores, center_point_box, max_out, iou_threshold, score_threshold):
    selected = []
    if max_out > 0:
        n_b, n_box = boxes.shape[:2]
        for b in range(n_b):
            for k in range(scores.shape[1]):
                s = scores[b, k]
                order = np.argsort(-s, kind="stable")
                alive = s >= score_threshold
                for i in range(n_box):
                    bi = order[i]
                    if not alive[bi]:
                        continue
                    for j in range(i + 1, n_box):
                        bj = order[j]
                        if alive[bj] and _iou_onnx(boxes[b, bi], boxes[b, bj],
                                                   center_point_box) > iou_threshold:
                            alive[bj] = False
                count = 0
                for i in range(n_box):
                    if alive[order[i]]:
                        selected.append((b, k, order[i]))
                        count += 1
                        if count >= max_out:
                            break
    return np.asarray(selected, np.int32).reshape(-1, 3)


def _nms_count(values, center_point_box=0, max_output_boxes_per_class=0, iou_threshold=0.0,
               score_threshold=0.0):
    selected = _onnx_nms_np(values[0], values[1], center_point_box,
                            max_output_boxes_per_class, iou_threshold, score_threshold)
    return dict(n_selected=int(selected.shape[0]))


@lowering("ONNXNonMaxSuppression", data_dependent=True, sizes=_nms_count)
def _onnx_non_max_suppression(boxes, scores, center_point_box=0, max_output_boxes_per_class=0,
                              iou_threshold=0.0, score_threshold=0.0, n_selected=0):
    def host(b, s):
        return (_fit_rows(_onnx_nms_np(b, s, center_point_box, max_output_boxes_per_class,
                                       iou_threshold, score_threshold), n_selected),)
    return _on_host(host, [jax.ShapeDtypeStruct((n_selected, 3), jnp.int32)], boxes, scores)


def onnx_non_max_suppression(boxes, scores, center_point_box=0, max_output_boxes_per_class=0,
                             iou_threshold=0.0, score_threshold=0.0):
    """ONNX NonMaxSuppression: ``boxes`` (B, N, 4), ``scores`` (B, C, N) -> selected
    (batch, class, box) indices, int32 of shape (num_selected, 3).

    The number of rows is data dependent: it is fixed from the input values when
    the node is created (as NNabla's setup computes it).
    """
    fname = "onnx_non_max_suppression"
    if len(boxes.shape) != 3 or boxes.shape[2] != 4:
        raise ValueError(f"{fname}: boxes must have shape (B, N, 4), got {tuple(boxes.shape)}")
    if (len(scores.shape) != 3 or scores.shape[0] != boxes.shape[0]
            or scores.shape[2] != boxes.shape[1]):
        raise ValueError(f"{fname}: scores must have shape (B, C, N) = ({boxes.shape[0]}, C, "
                         f"{boxes.shape[1]}), got {tuple(scores.shape)}")
    if center_point_box not in (0, 1):
        raise ValueError(f"{fname}: center_point_box must be 0 or 1, got {center_point_box}")
    if int(max_output_boxes_per_class) < 0:
        raise ValueError(f"{fname}: max_output_boxes_per_class must be non-negative")
    args = dict(center_point_box=int(center_point_box),
                max_output_boxes_per_class=int(max_output_boxes_per_class),
                iou_threshold=float(iou_threshold), score_threshold=float(score_threshold))

    return call("ONNXNonMaxSuppression", [boxes, scores], args)


# ---------------------------------------------------------------- MaxPoolingBackward
@lowering("MaxPoolingBackward")
def _max_pooling_backward(dy, x, kernel, stride, ignore_border=True, pad=None,
                          channel_last=False):
    def pool(v):
        return _max_pooling(v, kernel, stride, ignore_border, pad, channel_last)

    _, vjp = jax.vjp(pool, lax.stop_gradient(x))
    return vjp(dy)[0]


def max_pooling_backward(dy, x, kernel, stride=None, ignore_border=True, pad=None,
                         channel_last=False):
    """The gradient of ``max_pooling(x, ...)`` for the output gradient ``dy`` (each
    window's gradient goes to its first maximum)."""
    fname = "max_pooling_backward"
    args = _pool_args(fname, x, kernel, stride, ignore_border, pad, channel_last)
    return call("MaxPoolingBackward", [dy, x], args)


# ---------------------------------------------------------------- PatchCorrelation
@lowering("PatchCorrelation")
def _patch_correlation(x1, x2, patch=(1, 1), shift=(0, 0), patch_step=(1, 1),
                       shift_step=(1, 1), padding=(0, 0, 0, 0)):
    top, bottom, left, right = padding
    sv, sh = shift
    p1 = jnp.pad(x1, [(0, 0), (top, bottom), (left, right), (0, 0)])
    p2 = jnp.pad(x2, [(0, 0), (top + sv, bottom + sv), (left + sh, right + sh), (0, 0)])
    hp, wp = p1.shape[1], p1.shape[2]
    rows = []
    for dy in range(-sv, sv + 1, shift_step[0]):
        cols = []
        for dx in range(-sh, sh + 1, shift_step[1]):
            shifted = lax.dynamic_slice_in_dim(
                lax.dynamic_slice_in_dim(p2, sv + dy, hp, axis=1), sh + dx, wp, axis=2)
            prod = jnp.sum(p1 * shifted, axis=-1)
            cols.append(lax.reduce_window(prod, 0.0, lax.add,
                                          (1, patch[0], patch[1]),
                                          (1, patch_step[0], patch_step[1]), "VALID"))
        rows.append(jnp.stack(cols, axis=-1))
    return jnp.stack(rows, axis=-2)


def _pair(v, n, name, fname):
    if isinstance(v, (int, np.integer)):
        return [int(v)] * n
    v = [int(i) for i in v]
    if len(v) != n:
        raise ValueError(f"{fname}: {name} must have {n} values, got {v}")
    return v


def patch_correlation(x1, x2, patch=(1, 1), shift=(0, 0), patch_step=(1, 1), shift_step=(1, 1),
                      padding=(0, 0, 0, 0), channel_last=False):
    """Multiplicative patch comparison of ``x1`` and ``x2`` (NCHW, or NHWC if
    ``channel_last``): for every patch position and every shift in
    ``[-shift, shift]`` (step ``shift_step``), the sum over channels and the patch
    of ``x1 * shifted x2`` (zero padding). Output (N, Cy, Cx, Ho, Wo), or
    (N, Ho, Wo, Cy, Cx) with ``channel_last``.
    """
    fname = "patch_correlation"
    if not len(x1.shape) == len(x2.shape) == 4:
        raise ValueError(f"{fname}: both inputs must have 4 dimensions, got "
                         f"{tuple(x1.shape)} and {tuple(x2.shape)}")
    if tuple(x1.shape) != tuple(x2.shape):
        raise ValueError(f"{fname}: inputs must have the same shape, got {tuple(x1.shape)} and "
                         f"{tuple(x2.shape)}")
    patch = _pair(patch, 2, "patch", fname)
    shift = _pair(shift, 2, "shift", fname)
    patch_step = _pair(patch_step, 2, "patch_step", fname)
    shift_step = _pair(shift_step, 2, "shift_step", fname)
    if isinstance(padding, (int, np.integer)):
        padding = [int(padding)] * 4
    padding = [int(p) for p in padding]
    if len(padding) == 2:
        padding = [padding[0], padding[0], padding[1], padding[1]]
    if len(padding) != 4:
        raise ValueError(f"{fname}: padding must have 1, 2 or 4 values, got {padding}")
    if min(patch + patch_step + shift_step) <= 0 or min(shift + padding) < 0:
        raise ValueError(f"{fname}: patch and steps must be positive, shift and padding "
                         "non-negative")
    if not channel_last:
        if x1.shape[1] == 1:
            x1 = array.reshape(x1, (x1.shape[0],) + tuple(x1.shape[2:4]) + (1,))
            x2 = array.reshape(x2, (x2.shape[0],) + tuple(x2.shape[2:4]) + (1,))
        else:
            x1 = array.transpose(x1, (0, 2, 3, 1))
            x2 = array.transpose(x2, (0, 2, 3, 1))
    h, w = x1.shape[1], x1.shape[2]
    if h + padding[0] + padding[1] < patch[0] or w + padding[2] + padding[3] < patch[1]:
        raise ValueError(f"{fname}: patch {tuple(patch)} is larger than the padded input "
                         f"({h}, {w}) with padding {tuple(padding)}")
    y = call("PatchCorrelation", [x1, x2], dict(patch=patch, shift=shift, patch_step=patch_step,
                                                shift_step=shift_step, padding=padding))
    if not channel_last:
        y = array.transpose(y, (0, 3, 4, 1, 2))
    return y


# ---------------------------------------------------------------- Unique
def _unique_np(x, flatten, axis, sorted_, with_index, with_inverse, with_counts):
    if flatten:
        y, index, inverse, counts = np.unique(x.reshape(-1), return_index=True,
                                              return_inverse=True, return_counts=True)
        take_axis = 0
        source = x.reshape(-1)
    else:
        y, index, inverse, counts = np.unique(x, return_index=True, return_inverse=True,
                                              return_counts=True, axis=axis)
        take_axis = axis
        source = x
    inverse = np.asarray(inverse).reshape(-1)
    if not sorted_:
        order = np.argsort(index, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        index, counts = index[order], counts[order]
        inverse = rank[inverse]
        y = np.take(source, index, axis=take_axis)
    outs = [np.asarray(y, x.dtype)]
    if with_index:
        outs.append(index.astype(np.int32))
    if with_inverse:
        outs.append(inverse.astype(np.int32))
    if with_counts:
        outs.append(counts.astype(np.int32))
    return tuple(outs)


def _unique_sizes(values, flatten=True, axis=0, sorted=True, with_index=False,
                  with_inverse=False, with_counts=False):
    first = _unique_np(values[0], flatten, axis, sorted, with_index, with_inverse, with_counts)
    return dict(out_shapes=tuple(r.shape for r in first))


@lowering("Unique", data_dependent=True, sizes=_unique_sizes)
def _unique(x, flatten=True, axis=0, sorted=True, with_index=False, with_inverse=False,
            with_counts=False, out_shapes=()):
    unique_axis = 0 if flatten else axis
    n_unique = out_shapes[0][unique_axis]
    extras = [name for name, flag in (("index", with_index), ("inverse", with_inverse),
                                      ("counts", with_counts)) if flag]

    def host(v):
        res = list(_unique_np(v, flatten, axis, sorted, with_index, with_inverse, with_counts))
        res[0] = np.moveaxis(_fit_rows(np.moveaxis(res[0], unique_axis, 0), n_unique, 0),
                             0, unique_axis)
        for i, name in enumerate(extras, 1):
            if name != "inverse":  # the inverse has one entry per input element/slice
                res[i] = _fit_rows(res[i], n_unique)
        return tuple(res)

    structs = [jax.ShapeDtypeStruct(shape, x.dtype if i == 0 else jnp.int32)
               for i, shape in enumerate(out_shapes)]
    return _on_host(host, structs, x)


def unique(x, flatten=True, axis=None, sorted=True, with_index=False, with_inverse=False,
           with_counts=False):
    """Unique values of ``x`` (flattened), or unique slices along ``axis`` when
    ``flatten=False``; optionally also the first-occurrence indices, the inverse
    indices and the counts (int32). ``sorted=False`` keeps first-occurrence order.

    The output sizes depend on the data: they are fixed from the values of ``x``
    when the node is created (NNabla's setup); no gradient.
    """
    fname = "unique"
    ndim = len(x.shape)
    if axis is None:
        if not flatten:
            raise ValueError(f"{fname}: give an axis when flatten=False")
        axis = 0
    axis = int(axis)
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise ValueError(f"{fname}: axis={axis} is out of range for an input of rank {ndim}")
    axis = axis % max(ndim, 1)
    args = dict(flatten=bool(flatten), axis=axis, sorted=bool(sorted),
                with_index=bool(with_index), with_inverse=bool(with_inverse),
                with_counts=bool(with_counts))

    return call("Unique", [x], args)


# ---------------------------------------------------------------- EyeLike, Mod2, BitShift
@lowering("EyeLike")
def _eye_like(x, k=0):
    return jnp.eye(x.shape[0], x.shape[1], k, dtype=x.dtype)


def eye_like(x, k=0):
    """A 2-D array shaped like ``x`` with ones on the ``k``-th diagonal."""
    if len(x.shape) != 2:
        raise ValueError(f"eye_like: x must be 2-D, got shape {tuple(x.shape)}")
    return call("EyeLike", [x], dict(k=int(k)))


@lowering("Mod2")
def _mod2(x0, x1, fmod=False):
    if fmod or jnp.issubdtype(x0.dtype, jnp.floating) or jnp.issubdtype(x1.dtype, jnp.floating):
        return jnp.fmod(x0, x1)
    return jnp.mod(x0, x1)


def _broadcast_check(fname, a, b):
    try:
        np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
    except ValueError:
        raise ValueError(f"{fname}: shapes {tuple(a.shape)} and {tuple(b.shape)} can not be "
                         "broadcast") from None
    if len(a.shape) != len(b.shape):
        raise ValueError(f"{fname}: inputs must have the same number of dimensions, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")


def mod2(x0, x1, fmod=False):
    """Elementwise remainder (broadcasting): C's ``fmod`` for floats or ``fmod=True``,
    else numpy's ``mod`` (the sign of the divisor)."""
    _broadcast_check("mod2", x0, x1)
    return call("Mod2", [x0, x1], dict(fmod=bool(fmod)))


@lowering("BitShift")
def _bit_shift(x, shift, direction="LEFT"):
    s = shift.astype(x.dtype)
    return jnp.left_shift(x, s) if direction == "LEFT" else jnp.right_shift(x, s)


def bit_shift(x, shift, direction='LEFT'):
    """Elementwise integer bit shift of ``x`` by ``shift`` ('LEFT' or 'RIGHT')."""
    fname = "bit_shift"
    if direction not in ("LEFT", "RIGHT"):
        raise ValueError(f"{fname}: direction must be 'LEFT' or 'RIGHT', got {direction!r}")
    _broadcast_check(fname, x, shift)
    for name, v in (("x", x), ("shift", shift)):
        dtype = v.dtype if hasattr(v, "dtype") else v.data.dtype
        if not np.issubdtype(np.dtype(dtype), np.integer):
            raise TypeError(f"{fname}: {name} must hold integers, got {np.dtype(dtype)}")
    return call("BitShift", [x, shift], dict(direction=direction))


# ---------------------------------------------------------------- Einsum
@lowering("Einsum")
def _einsum(*x, equation):
    return jnp.einsum(equation, *x)


def einsum(*x, equation):
    """Einstein summation of the inputs, e.g. ``einsum(a, b, equation='ij,jk->ik')``."""
    if not x:
        raise ValueError("einsum: give at least one input")
    if not isinstance(equation, str):
        raise TypeError(f"einsum: equation must be a str, got {type(equation).__name__}")
    n_terms = len(equation.split("->")[0].split(","))
    if n_terms != len(x):
        raise ValueError(f"einsum: equation {equation!r} has {n_terms} operands, got {len(x)} "
                         "inputs")
    return call("Einsum", list(x), dict(equation=equation))

