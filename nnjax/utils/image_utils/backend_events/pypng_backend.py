"""``PngBackend``: 8- and 16-bit PNG files through ``pypng`` (needs the ``pypng``
package); resizing, and files pypng cannot read as asked, go to the Pillow backend."""
import os

import numpy as np
import png

from ....logger import logger
from . import pil_backend
from .common import check_read_arguments, prepare_save

_GRAY_WEIGHTS = (0.299, 0.587, 0.114)


def _with_channels(img, num_channels):
    have = 0 if img.ndim == 2 else img.shape[-1]
    if num_channels == -1 or have == num_channels:
        return img
    if num_channels == 0:
        return img if img.ndim == 2 else img[..., 0]
    if have == 0:
        return np.repeat(img[..., None], num_channels, axis=-1)
    if num_channels == 3:
        return img[..., :3]
    if num_channels == 4:
        opaque = np.iinfo(img.dtype).max
        alpha = np.full(img.shape[:-1] + (1,), opaque, img.dtype)
        return np.concatenate([img[..., :3], alpha], axis=-1)
    return np.repeat(img[..., :1], num_channels, axis=-1)


def _read_pixels(path, grayscale, as_uint16, num_channels):
    """The pixels of a PNG (None when pypng cannot give them as asked)."""
    f = path if hasattr(path, "read") else open(os.fspath(path), "rb")
    try:
        width, height, rows, meta = png.Reader(file=f).asDirect()
        depth = meta["bitdepth"]
        if depth not in (8, 16) or (depth == 16 and not as_uint16):
            return None  # (a 16-bit file read as 8-bit: its range is unknown)
        dtype = np.uint16 if as_uint16 else np.uint8
        img = np.vstack([np.asarray(r, np.uint32) for r in rows]).astype(dtype)
    finally:
        if hasattr(path, "read"):
            f.seek(0)
        else:
            f.close()
    if depth == 8 and as_uint16:
        logger.warning("Reading an 8-bit image as uint16: values are scaled by 256.")
        img = img * np.uint16(256)
    if not meta["greyscale"] or meta["alpha"]:
        img = img.reshape(height, width, -1)
        if grayscale:
            img = (img[..., :3] @ np.array(_GRAY_WEIGHTS)).astype(dtype) \
                if img.shape[-1] >= 3 else img[..., 0]
    return _with_channels(img, num_channels)


def imread(path, grayscale=False, size=None, interpolate="bilinear", channel_first=False,
           as_uint16=False, num_channels=-1):
    """Read a PNG as uint8 (uint16 with ``as_uint16``); see ``image_utils.imread``."""
    check_read_arguments(grayscale, num_channels)
    img = _read_pixels(path, grayscale, as_uint16, num_channels)
    if img is None:
        return pil_backend.imread(path, grayscale, size, interpolate, channel_first, as_uint16,
                                  num_channels)
    if size is not None:
        img = pil_backend.imresize(img, size, interpolate=interpolate)
    if channel_first and img.ndim == 3:
        img = img.transpose(2, 0, 1)
    return np.ascontiguousarray(img)


def imsave(path, img, channel_first=False, as_uint16=False, auto_scale=True):
    """Write a PNG of 8 bits (16 with ``as_uint16``); see ``image_utils.imsave``."""
    img = prepare_save(img, channel_first, as_uint16, auto_scale)
    planes = 1 if img.ndim == 2 else img.shape[-1]
    writer = png.Writer(img.shape[1], img.shape[0], greyscale=planes <= 2,
                        alpha=planes in (2, 4), bitdepth=16 if img.dtype == np.uint16 else 8)
    rows = np.ascontiguousarray(img).reshape(img.shape[0], -1)
    with open(os.fspath(path), "wb") as f:
        writer.write(f, rows.tolist())


class PngBackend:
    """pypng image backend (8/16-bit PNG); ``imresize`` is Pillow's."""

    def __init__(self):
        self.name = "PngBackend"

    imread = staticmethod(imread)
    imsave = staticmethod(imsave)
    imresize = staticmethod(pil_backend.imresize)
