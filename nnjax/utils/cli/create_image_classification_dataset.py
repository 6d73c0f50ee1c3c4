"""``nnabla_cli create_image_classification_dataset``: a folder per class -> resized PNGs and
NNabla CSV files (``x:image,y:label``).

Images of ``-i`` (``<class>/<file>``, classes in name order, labels 0, 1, ...)
are cut (``trimming``) or padded (``padding``) to the output aspect ratio,
resized to ``-w`` x ``-g`` with Pillow, converted to ``-c`` channels and saved
as PNG under ``-o``; ``-f1`` gets ``100 - r2`` percent of the rows and
``-f2`` the rest (after a shuffle with ``-s true``).
"""
import csv
import io
import os
import random
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ...logger import logger
from .. import get_file_handle as fh
from ..image_utils import imread, imresize, imsave
from .utility import CliError

__all__ = ["create_image_classification_dataset_command", "shape_image",
           "add_create_image_classification_dataset_command"]

_IMAGE_EXT = re.compile(r"\.(bmp|jpg|jpeg|png|gif|tif|tiff)$", re.IGNORECASE)


def shape_image(im, width, height, mode, ch):
    """Cut or pad ``im`` (H, W[, 3]) to the aspect of width x height, resize, set channels."""
    h, w = im.shape[:2]
    if (w, h) != (width, height):
        if mode == "trimming":
            if h / w > height / width:
                target_h = int(w / width * height)
                im = im[(h - target_h) // 2:h - (h - target_h) // 2]
            else:
                target_w = int(h / height * width)
                im = im[:, (w - target_w) // 2:w - (w - target_w) // 2]
        elif mode == "padding":
            if h / w < height / width:
                target_h = int(height / width * w)
                pad = (((target_h - h) // 2, target_h - (target_h - h) // 2 - h), (0, 0))
            else:
                target_w = int(width / height * h)
                pad = ((0, 0), ((target_w - w) // 2, target_w - (target_w - w) // 2 - w))
            if im.ndim == 3:
                pad += ((0, 0),)
            im = np.pad(im, pad, "constant")
        im = imresize(im, size=(width, height))
    if im.ndim == 2 and ch == 3:
        im = np.stack([im, im, im], axis=-1)
    elif im.ndim == 3 and ch == 1:
        im = np.dot(im[..., :3], [0.299, 0.587, 0.114]).astype(np.uint8)
    return im


def _convert(src, dest, width, height, mode, ch):
    try:
        im = imread(src)
        if im.ndim not in (2, 3) or (im.ndim == 3 and im.shape[2] not in (3, 4)):
            raise ValueError(f"shape {im.shape}: the image must be RGB or monochrome")
        if im.ndim == 3:
            im = im[..., :3]
        im = shape_image(np.asarray(im), width, height, mode, ch)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        fh.atomic_write(dest, lambda tmp: imsave(tmp, im))
        return True
    except Exception as e:  # one bad file is skipped, as NNabla does
        logger.warning(f"Failed to convert {src}: {e}")
        return False


def _int_arg(value, what):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise CliError(f"create_image_classification_dataset: {what} must be an integer, "
                       f"got {value!r}") from None


def create_image_classification_dataset_command(args):
    width, height = _int_arg(args.width, "-w"), _int_arg(args.height, "-g")
    ch = _int_arg(args.channel, "-c")
    if args.mode not in ("trimming", "padding"):
        raise CliError(f"create_image_classification_dataset: -m must be trimming or padding, "
                       f"got {args.mode!r}")
    if ch not in (1, 3):
        raise CliError(f"create_image_classification_dataset: -c must be 1 or 3, got {ch}")
    if os.path.abspath(args.sourcedir) == os.path.abspath(args.outdir):
        raise CliError("Input directory and output directory are same.")
    if not os.path.isdir(args.sourcedir):
        raise CliError(f"{args.sourcedir}: no such directory")
    ratio2 = _int_arg(args.ratio2, "-r2") if args.ratio2 else 0
    dirs = sorted(d for d in os.listdir(args.sourcedir)
                  if os.path.isdir(os.path.join(args.sourcedir, d)))
    if not dirs:
        raise CliError(f"{args.sourcedir}: Subdirectory not found in the input directory.")
    rows, label = [], -1
    for d in dirs:
        files = sorted(f for f in os.listdir(os.path.join(args.sourcedir, d))
                       if os.path.isfile(os.path.join(args.sourcedir, d, f))
                       and _IMAGE_EXT.search(f))
        if files:
            label += 1
        rows += [[os.path.join(".", d, f), label] for f in files]
    if not rows:
        raise CliError(f"{args.sourcedir}: No image file found in the subdirectory of the input "
                       "directory.")
    logger.log(99, "Creating output images...")
    jobs = [(os.path.join(args.sourcedir, r[0]),
             os.path.join(args.outdir, os.path.splitext(r[0])[0] + ".png")) for r in rows]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        done = list(pool.map(lambda j: _convert(*j, width, height, args.mode, ch), jobs))
    rows = [[os.path.splitext(r[0])[0] + ".png", r[1]] for r, ok in zip(rows, done) if ok]
    logger.log(99, "Creating CSV files...")
    if args.shuffle == "true":
        random.shuffle(rows)
    first = (len(rows) * (100 - ratio2)) // 100
    parts = [(args.file1, rows[:first])]
    if args.file2:
        parts.append((args.file2, rows[first:]))
    for name, part in parts:
        if not part:
            continue
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([["x:image", "y:label"]] + part)
        fh.atomic_write(os.path.join(args.outdir, name), out.getvalue().encode("utf-8"))
    logger.log(99, "Dataset was successfully created.")
    return True


def add_create_image_classification_dataset_command(subparsers):
    p = subparsers.add_parser("create_image_classification_dataset",
                              help="Create dataset from image files.")
    p.add_argument("-i", "--sourcedir", help="source directory with directories for each class",
                   required=True)
    p.add_argument("-o", "--outdir", help="output directory", required=True)
    p.add_argument("-c", "--channel", help="number of output color channels", required=True)
    p.add_argument("-w", "--width", help="width of output image", required=True)
    p.add_argument("-g", "--height", help="height of output image", required=True)
    p.add_argument("-m", "--mode", help="shaping mode (trimming or padding)", required=True)
    p.add_argument("-s", "--shuffle", help="shuffle mode (true or false)", required=True)
    p.add_argument("-f1", "--file1", help="output file name 1", required=True)
    p.add_argument("-r1", "--ratio1", help="output file ratio(%%) 1")
    p.add_argument("-f2", "--file2", help="output file name 2")
    p.add_argument("-r2", "--ratio2", help="output file ratio(%%) 2")
    p.set_defaults(func=create_image_classification_dataset_command)
