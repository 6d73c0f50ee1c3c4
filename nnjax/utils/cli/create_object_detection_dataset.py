"""``nnabla_cli create_object_detection_dataset``: images with YOLO-style box files -> resized
PNGs, per-image grid label and region CSV files, and NNabla CSV files
(``x:image,y:label,r:region``).

Each image ``<name>.<ext>`` under ``-i`` (any depth) has ``<name>.txt`` with one
``class cx cy w h`` line per box (coordinates relative to the image). Images
are cut (``trimming``) or padded (``padding``) to the output aspect ratio and
resized to ``-w`` x ``-g``; boxes follow the cut or the padding. ``-a``
anchors are the k-means centres of the boxes' (w, h) (NNabla's procedure:
random initial classes from seed 0, at most 1000 rounds, sorted by area).
The image is divided into cells of ``-d`` pixels; each box goes to the cell
holding its centre and to the anchor with the largest IoU there:
``<name>_label.csv`` holds (anchors x grid rows, grid columns) class numbers
(-1: no box) and ``<name>_region.csv`` (anchors x grid rows, grid columns x 4)
the box as NNabla's YOLO target (``dx + 0.5, dy + 0.5, log(w * grid_w),
log(h * grid_h)``).

Unlike NNabla's command, boxes are moved with the image's actual cut or
padding (NNabla scales them by the original-to-output size ratio, which
moves them off their objects whenever the image is resized).
"""
import csv
import io
import os
import random
import re

import numpy as np

from ...logger import logger
from .. import get_file_handle as fh
from ..image_utils import imread, imsave
from .create_image_classification_dataset import shape_image
from .utility import CliError

__all__ = ["create_object_detection_dataset_command", "anchors_of", "grid_targets",
           "add_create_object_detection_dataset_command"]

_IMAGE_EXT = re.compile(r"\.(bmp|jpg|jpeg|png|gif|tif|tiff)$", re.IGNORECASE)


def _boxes(path):
    if not os.path.exists(path):
        logger.warning(f"Label txt file is not found {path}.")
        return []
    boxes = []
    with open(path) as f:
        for line in f:
            values = line.split()
            if len(values) == 5:
                boxes.append([float(v) for v in values])
    return boxes


def anchors_of(wh, num_anchor):
    """NNabla's k-means of box sizes ``wh`` (N, 2): ``num_anchor`` centres sorted by area."""
    wh = np.asarray(wh, np.float64)
    classes = np.random.RandomState(0).randint(num_anchor, size=len(wh))
    for _ in range(1000):
        means = np.array([wh[classes == i].mean(axis=0) if np.any(classes == i)
                          else np.zeros(2) for i in range(num_anchor)])
        new = np.array([np.sum((wh - m) ** 2, axis=1) for m in means]).argmin(axis=0)
        if np.array_equal(new, classes):
            break
        classes = new
    return means[(means[:, 0] * means[:, 1]).argsort()]


def _box_mapping(h, w, width, height, mode):
    """(scale_x, offset_x, scale_y, offset_y): relative coordinate c -> c * scale + offset."""
    if (w, h) == (width, height):
        return 1.0, 0.0, 1.0, 0.0
    if mode == "trimming":
        if h / w > height / width:
            top = (h - int(w / width * height)) // 2
            kept = h - 2 * top
            return 1.0, 0.0, h / kept, -top / kept
        left = (w - int(h / height * width)) // 2
        kept = w - 2 * left
        return w / kept, -left / kept, 1.0, 0.0
    if h / w < height / width:
        target = int(height / width * w)
        top = (target - h) // 2
        return 1.0, 0.0, h / target, top / target
    target = int(width / height * h)
    left = (target - w) // 2
    return w / target, left / target, 1.0, 0.0


def _iou(a, b):
    """IoU of boxes given as (cx, cy, w, h)."""
    ax0, ax1, ay0, ay1 = a[0] - a[2] / 2, a[0] + a[2] / 2, a[1] - a[3] / 2, a[1] + a[3] / 2
    bx0, bx1, by0, by1 = b[0] - b[2] / 2, b[0] + b[2] / 2, b[1] - b[3] / 2, b[1] + b[3] / 2
    ow = max(min(ax1, bx1) - max(ax0, bx0), 0.0)
    oh = max(min(ay1, by1) - max(ay0, by0), 0.0)
    overlap = ow * oh
    return overlap / (a[2] * a[3] + b[2] * b[3] - overlap)


def _clip(cx, cy, w, h):
    x0, x1 = np.clip([cx - w / 2, cx + w / 2], 0.0, 1.0)
    y0, y1 = np.clip([cy - h / 2, cy + h / 2], 0.0, 1.0)
    return (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0


def grid_targets(boxes, anchors, grid_w, grid_h):
    """(label (A, gh, gw) ints, region (A, gh, gw, 4)) of ``boxes`` [class, cx, cy, w, h]."""
    label = np.full((len(anchors), grid_h, grid_w), -1, dtype=int)
    region = np.zeros((len(anchors), grid_h, grid_w, 4))
    for cls, *box in boxes:
        cx, cy, w, h = _clip(*box)
        if w <= 0 or h <= 0:
            continue
        gx, gy = min(int(cx * grid_w), grid_w - 1), min(int(cy * grid_h), grid_h - 1)
        ax, ay = (gx + 0.5) / grid_w, (gy + 0.5) / grid_h
        ious = [_iou((cx, cy, w, h), (ax, ay, aw, ah)) for aw, ah in anchors]
        best = int(np.argmax(ious)) if max(ious) > 0 else 0
        label[best, gy, gx] = int(cls)
        region[best, gy, gx] = [(cx - ax) * grid_w + 0.5, (cy - ay) * grid_h + 0.5,
                                np.log(w * grid_w), np.log(h * grid_h)]
    return label, region


def _save_csv(path, array, fmt):
    buf = io.StringIO()
    np.savetxt(buf, array, fmt=fmt, delimiter=",")
    fh.atomic_write(path, buf.getvalue().encode("utf-8"))


def _convert(args, name, anchors, size):
    width, height, ch, grid = size
    src = os.path.join(args.sourcedir, name)
    stem = os.path.join(args.outdir, "data", os.path.splitext(name)[0])
    boxes = _boxes(os.path.splitext(src)[0] + ".txt")
    try:
        im = imread(src)
        if im.ndim == 3:
            im = im[..., :3]
    except Exception as e:
        logger.warning(f"Failed to convert {src}: {e}")
        return False
    sx, ox, sy, oy = _box_mapping(im.shape[0], im.shape[1], width, height, args.mode)
    boxes = [[c, cx * sx + ox, cy * sy + oy, w * sx, h * sy] for c, cx, cy, w, h in boxes]
    im = shape_image(np.asarray(im), width, height, args.mode, ch)
    os.makedirs(os.path.dirname(stem), exist_ok=True)
    fh.atomic_write(stem + ".png", lambda tmp: imsave(tmp, im))
    label, region = grid_targets(boxes, anchors, width // grid, height // grid)
    _save_csv(stem + "_label.csv", label.reshape(-1, label.shape[2]), "%i")
    _save_csv(stem + "_region.csv", region.reshape(len(anchors) * label.shape[1], -1), "%f")
    return True


def _int(value, what):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise CliError(f"create_object_detection_dataset: {what} must be an integer, "
                       f"got {value!r}") from None


def create_object_detection_dataset_command(args):
    width, height = _int(args.width, "-w"), _int(args.height, "-g")
    ch, grid = _int(args.channel, "-c"), _int(args.grid_size, "-d")
    num_anchor, _ = _int(args.num_anchor, "-a"), _int(args.num_class, "-n")
    ratio2 = _int(args.ratio2, "-r2") if args.ratio2 else 0
    if args.mode not in ("trimming", "padding"):
        raise CliError(f"create_object_detection_dataset: -m must be trimming or padding, "
                       f"got {args.mode!r}")
    if grid <= 0 or width % grid or height % grid:
        raise CliError(f"create_object_detection_dataset: width {width} and height {height} "
                       f"must be divisible by grid_size {grid}")
    if os.path.abspath(args.sourcedir) == os.path.abspath(args.outdir):
        raise CliError("Input directory and output directory are same.")
    if not os.path.isdir(args.sourcedir):
        raise CliError(f"{args.sourcedir}: no such directory")
    names = sorted(os.path.relpath(os.path.join(root, f), args.sourcedir)
                   for root, _, files in os.walk(args.sourcedir) for f in files
                   if _IMAGE_EXT.search(f))
    if not names:
        raise CliError(f"{args.sourcedir}: No image file found in the input directory.")
    wh = [b[3:5] for n in names
          for b in _boxes(os.path.join(args.sourcedir, os.path.splitext(n)[0] + ".txt"))]
    if len(wh) < num_anchor:
        raise CliError(f"create_object_detection_dataset: {len(wh)} boxes found, fewer than "
                       f"the {num_anchor} anchors asked for")
    logger.log(99, f"{len(wh)} labels are found in {len(names)} images.")
    anchors = anchors_of(wh, num_anchor)
    done = [n for n in names if _convert(args, n, anchors, (width, height, ch, grid))]
    if not done:
        raise CliError("No image and label file created correctly.")
    rows = [os.path.join(".", "data", n) for n in done]
    if args.shuffle == "true":
        random.shuffle(rows)
    first = (len(rows) * (100 - ratio2)) // 100
    parts = [(args.file1, rows[:first])] + ([(args.file2, rows[first:])] if args.file2 else [])
    for name, part in parts:
        if not part:
            continue
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["x:image", "y:label", "r:region"])
        for r in part:
            stem = os.path.splitext(r)[0]
            writer.writerow([stem + ".png", stem + "_label.csv", stem + "_region.csv"])
        fh.atomic_write(os.path.join(args.outdir, name), out.getvalue().encode("utf-8"))
    logger.log(99, "Dataset was successfully created.")
    return True


def add_create_object_detection_dataset_command(subparsers):
    p = subparsers.add_parser("create_object_detection_dataset",
                              help="Create dataset from image and label files.")
    p.add_argument("-i", "--sourcedir", help="source directory with souce image and label files",
                   required=True)
    p.add_argument("-o", "--outdir", help="output directory", required=True)
    p.add_argument("-n", "--num_class", help="number of object classes", required=True)
    p.add_argument("-c", "--channel", help="number of output color channels", required=True)
    p.add_argument("-w", "--width", help="width of output image", required=True)
    p.add_argument("-g", "--height", help="height of output image", required=True)
    p.add_argument("-a", "--num_anchor", help="number of anchor", required=True)
    p.add_argument("-d", "--grid_size", help="width and height of detection grid", required=True)
    p.add_argument("-m", "--mode", help="shaping mode (trimming or padding)", required=True)
    p.add_argument("-s", "--shuffle", help="shuffle mode (true or false)", required=True)
    p.add_argument("-f1", "--file1", help="output file name 1", required=True)
    p.add_argument("-r1", "--ratio1", help="output file ratio(%%) 1")
    p.add_argument("-f2", "--file2", help="output file name 2")
    p.add_argument("-r2", "--ratio2", help="output file ratio(%%) 2")
    p.set_defaults(func=create_object_detection_dataset_command)
