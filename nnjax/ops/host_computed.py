"""Functions computed on the host (numpy through ``jax.pure_callback``, no gradient):
NmsDetection2d, ONNXNonMaxSuppression and Unique.

ONNXNonMaxSuppression and Unique have data-dependent output shapes. As in NNabla,
the shape is computed from the input values when the node is created (NNabla's
setup; the registry's ``sizes`` rule); later forwards recompute the values on the
host and keep that shape (rows beyond it are dropped; missing rows are filled
with -1).
"""
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._common import call, lowering

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
