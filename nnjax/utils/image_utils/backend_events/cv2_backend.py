"""``Cv2Backend``: images through OpenCV (needs ``opencv-python``): 8- and 16-bit
files of the formats OpenCV writes; arrays are RGB(A) as elsewhere (OpenCV's BGR
order is converted)."""
import cv2
import numpy as np

from ....logger import logger
from .common import check_read_arguments, prepare_save

_INTERPOLATIONS = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR,
                   "bicubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}


def _decode(path, mode):
    if hasattr(path, "read"):
        data = np.frombuffer(path.read(), np.uint8)
        img = cv2.imdecode(data, mode)
    else:
        img = cv2.imread(str(path), mode)
    if img is None:
        raise ValueError(f"Cv2Backend.imread: cannot read an image from {path!r}")
    return img


def _with_channels(img, num_channels):
    """Gray/BGR/BGRA ``img`` as gray (0, -1 for gray), gray + axis (1), RGB (3), RGBA (4)."""
    opaque = np.iinfo(img.dtype).max
    if img.ndim == 2:
        if num_channels in (-1, 0):
            return img
        planes = [img] * (1 if num_channels == 1 else 3)
    else:
        rgb = img[..., 2::-1]
        alpha = img[..., 3:4] if img.shape[-1] == 4 else None
        if num_channels in (0, 1):
            gray = cv2.cvtColor(np.ascontiguousarray(img[..., :3]), cv2.COLOR_BGR2GRAY)
            return gray if num_channels == 0 else gray[..., None]
        if num_channels == -1:
            num_channels = img.shape[-1]
        planes = [rgb[..., k] for k in range(3)]
        if num_channels == 4:
            planes.append(alpha[..., 0] if alpha is not None else np.full(img.shape[:2], opaque,
                                                                          img.dtype))
        return np.ascontiguousarray(np.stack(planes, axis=-1))
    if num_channels == 4:
        planes = planes + [np.full(img.shape, opaque, img.dtype)]
    return np.ascontiguousarray(np.stack(planes, axis=-1))


def imresize(img, size, interpolate="bilinear", channel_first=False):
    """Resize to ``size`` = (width, height) with OpenCV (nearest, bilinear, bicubic, lanczos)."""
    if not isinstance(img, np.ndarray):
        raise ValueError("the input img for imresize must be numpy.ndarray.")
    if not isinstance(size, (list, tuple)):
        raise ValueError("size must be list or tuple")
    if img.ndim not in (2, 3):
        raise ValueError(f"Invalid dimension size of input image. (dims: {img.ndim})")
    if interpolate not in _INTERPOLATIONS:
        raise ValueError(f"unknown interpolation type. In this backend, you can use only one of "
                         f"[{', '.join(_INTERPOLATIONS)}]")
    dtype = img.dtype
    if dtype not in (np.uint8, np.uint16):
        img = np.asarray(img, np.float32)
    if channel_first and img.ndim == 3:
        img = img.transpose(1, 2, 0)
    if img.ndim == 3 and img.shape[0] * img.shape[1] == 1:
        img = np.repeat(np.repeat(img, 2, axis=0), 2, axis=1)  # OpenCV needs more than 1 pixel
    single = img.ndim == 3 and img.shape[-1] == 1
    out = cv2.resize(np.ascontiguousarray(img), (int(size[0]), int(size[1])),
                     interpolation=_INTERPOLATIONS[interpolate])
    if single:
        out = out[..., None]
    if channel_first and out.ndim == 3:
        out = out.transpose(2, 0, 1)
    return out.astype(dtype)


def imread(path, grayscale=False, size=None, interpolate="bilinear", channel_first=False,
           as_uint16=False, num_channels=-1):
    """Read an image as uint8 (uint16 with ``as_uint16``); see ``image_utils.imread``."""
    check_read_arguments(grayscale, num_channels)
    img = _decode(path, cv2.IMREAD_GRAYSCALE if grayscale else cv2.IMREAD_UNCHANGED)
    if img.dtype == np.uint16 and not as_uint16:
        img = (img >> 8).astype(np.uint8)
    elif as_uint16 and img.dtype == np.uint8:
        logger.warning("Reading an 8-bit image as uint16: values are scaled by 256.")
        img = img.astype(np.uint16) * np.uint16(256)
    img = _with_channels(img, num_channels)
    if size is not None:
        img = imresize(img, size, interpolate=interpolate)
    if channel_first and img.ndim == 3:
        img = img.transpose(2, 0, 1)
    return img


def imsave(path, img, channel_first=False, as_uint16=False, auto_scale=True):
    """Write an image (8 bits, 16 with ``as_uint16``); see ``image_utils.imsave``."""
    img = prepare_save(img, channel_first, as_uint16, auto_scale)
    if img.ndim == 3 and img.shape[-1] in (3, 4):
        img = np.concatenate([img[..., 2::-1], img[..., 3:]], axis=-1)  # RGB(A) -> BGR(A)
    if not cv2.imwrite(str(path), np.ascontiguousarray(img)):
        raise ValueError(f"Cv2Backend.imsave: OpenCV could not write {path!r}")


class Cv2Backend:
    """OpenCV image backend."""

    def __init__(self):
        self.name = "Cv2Backend"

    imread = staticmethod(imread)
    imsave = staticmethod(imsave)
    imresize = staticmethod(imresize)
