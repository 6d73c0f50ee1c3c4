"""``PilBackend``: reading, writing and resizing images with Pillow (the functions
``nnabla.utils.image_utils`` exports, and the same as methods of ``PilBackend``)."""
import os

import numpy as np


def _image_module():
    from PIL import Image
    return Image


def _interpolations():
    Image = _image_module()
    res = getattr(Image, 'Resampling', Image)
    table = {
        'nearest': res.NEAREST,
        'bilinear': res.BILINEAR,
        'bicubic': res.BICUBIC,
    }
    for name, attr in (('hamming', 'HAMMING'), ('box', 'BOX'),
                       ('lanczos', 'LANCZOS')):
        if hasattr(res, attr):
            table[name] = getattr(res, attr)
    return table


def _describe(path):
    if isinstance(path, (str, bytes, os.PathLike)):
        return os.fspath(path)
    return getattr(path, 'name', repr(path))


def imread(path, grayscale=False, size=None, interpolate='bilinear',
           channel_first=False, as_uint16=False, num_channels=-1,
           return_palette_indices=False):
    """Read an image file.

    Args:
        path (str or file object): Image to read.
        grayscale (bool): Convert to gray-scale.
        size (tuple of int): ``(width, height)`` to resize to; None keeps
            the original size.
        interpolate (str): Resampling method used with ``size``: one of
            ``nearest``, ``box``, ``bilinear``, ``hamming``, ``bicubic``,
            ``lanczos``.
        channel_first (bool): Return ``(C, H, W)`` instead of ``(H, W, C)``.
        as_uint16 (bool): Return ``uint16``; 8-bit files are scaled by 256.
        num_channels (int): -1 keeps the file's channels; 3 or 4 force
            RGB/RGBA; with ``grayscale=True``, 1 (or more) appends a channel
            axis of that size, 0 keeps the 2-D shape.
        return_palette_indices (bool): For palette ('P') images, return the
            raw palette indices instead of converting to RGB(A).

    Returns:
        numpy.ndarray
    """
    if num_channels not in (-1, 0, 1, 3, 4):
        raise ValueError('Currently num_channels supports [-1, 0, 1, 3, 4].')
    if not grayscale and num_channels in (0, 1):
        raise ValueError('If grayscale=False, num_channels must be [-1, 3, 4]. '
                         'If you want to get image as gray-scale, try '
                         'grayscale=True')
    Image = _image_module()
    try:
        pil = Image.open(path)
        pil.load()
    except FileNotFoundError:
        raise FileNotFoundError('Image file not found: {}'.format(
            _describe(path)))
    except Exception as e:
        raise ValueError('Cannot read image {}: {}'.format(
            _describe(path), e)) from e

    high_depth = pil.mode in ('I;16', 'I;16B', 'I;16L', 'I;16N', 'I')
    if pil.mode == 'P' and not return_palette_indices:
        pil = pil.convert('RGBA' if 'transparency' in pil.info else 'RGB')

    if high_depth:
        raw = np.asarray(pil).astype(np.int64)
        raw = np.clip(raw, 0, 65535).astype(np.uint16)
        if grayscale or num_channels <= 0:
            img16 = raw
        else:
            img16 = np.repeat(raw[..., None], 3, axis=-1)
            if num_channels == 4:
                img16 = np.concatenate(
                    [img16, np.full(raw.shape + (1,), 65535, np.uint16)], -1)
        if grayscale and num_channels > 0:
            img16 = np.repeat(img16[..., None], num_channels, axis=-1)
        img = img16 if as_uint16 else (img16 >> 8).astype(np.uint8)
    else:
        if grayscale:
            img = np.asarray(pil.convert('L'))
            if num_channels > 0:
                img = np.repeat(img[..., None], num_channels, axis=-1)
        elif num_channels == 3:
            img = np.asarray(pil.convert('RGB'))
        elif num_channels == 4:
            img = np.asarray(pil.convert('RGBA'))
        else:
            img = np.asarray(pil)
        img = img.astype(np.uint8)
        if as_uint16:
            img = img.astype(np.uint16) * 256

    if size is not None:
        img = imresize(img, size, interpolate=interpolate)
    if channel_first and img.ndim == 3:
        img = img.transpose(2, 0, 1)
    return np.ascontiguousarray(img)


def imsave(path, img, channel_first=False, as_uint16=False, auto_scale=True):
    """Save an image array to ``path`` (format chosen by the extension).

    Args:
        path (str): Output file.
        img (numpy.ndarray): ``(H, W)``, ``(H, W, C)`` (or ``(C, H, W)`` with
            ``channel_first``) image.  ``uint8``/``uint16`` are written as
            they are; other dtypes must lie in ``[0, 1]`` and need
            ``auto_scale=True``.
        channel_first (bool): ``img`` is ``(C, H, W)``.
        as_uint16 (bool): Write a 16-bit image: refused (ValueError) by the
            Pillow backend, as NNabla's ``PilBackend`` refuses it.
        auto_scale (bool): Scale float images (and uint8 images when
            ``as_uint16``) to the output range.
    """
    if not isinstance(img, np.ndarray):
        raise ValueError('the input img for imsave must be numpy.ndarray.')
    if as_uint16 or img.dtype == np.uint16:
        raise ValueError('imsave: the PilBackend writes 8-bit images only (as NNabla\'s); '
                         'got as_uint16={} and dtype {}'.format(as_uint16, img.dtype))
    if img.ndim not in (2, 3):
        raise ValueError(
            'Invalid dimension size of input image. (dims: {})'.format(img.ndim))
    if img.dtype not in (np.uint8, np.uint16):
        if not auto_scale:
            raise ValueError("If you want to save image with float values, "
                             "'auto_scale' must be True.")
        if np.any(img < 0) or np.any(img > 1):
            raise ValueError('Except for uint8 or uint16, all the pixel values '
                             'of input must be in the range of [0, 1]')
        img = np.asarray(img, np.float32)
    if channel_first and img.ndim == 3:
        img = img.transpose(1, 2, 0)

    if auto_scale:
        if img.dtype == np.uint8:
            if as_uint16:
                img = img.astype(np.uint16) * 256
        elif img.dtype != np.uint16:
            if as_uint16:
                img = (img * 65535).astype(np.uint16)
            else:
                img = (img * 255).astype(np.uint8)
    if img.dtype == np.uint16 and not as_uint16:
        raise ValueError('Input img type is uint16, but as_uint16 is False. '
                         'If you want to save img as uint8, be sure all pixel '
                         'values are in the range of [0, 255] and cast it '
                         'before you call imsave function.')
    if as_uint16 and img.dtype != np.uint16:
        img = img.astype(np.uint16)

    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    Image = _image_module()
    if img.dtype == np.uint16:
        if img.ndim != 2:
            raise ValueError('The pillow backend can write 16-bit images only '
                             'in gray-scale; got shape {}'.format(img.shape))
        # A 2-D native-endian uint16 array becomes an 'I;16' image.
        pil = Image.fromarray(np.ascontiguousarray(img.astype(np.uint16)))
    else:
        if img.ndim == 3 and img.shape[-1] not in (2, 3, 4):
            raise ValueError('Cannot save an image with {} channels'.format(
                img.shape[-1]))
        pil = Image.fromarray(np.ascontiguousarray(img))
    pil.save(path)


def _resize_plane(plane, size, resample):
    Image = _image_module()
    if plane.dtype == np.uint8:
        return np.asarray(Image.fromarray(plane).resize(size, resample=resample))
    # A 2-D float32 array becomes a mode 'F' image.
    out = Image.fromarray(np.ascontiguousarray(plane, np.float32)).resize(
        size, resample=resample)
    return np.asarray(out)


def imresize(img, size, interpolate='bilinear', channel_first=False):
    """Resize an image array.

    Args:
        img (numpy.ndarray): ``(H, W)`` or ``(H, W, C)`` image (``(C, H, W)``
            with ``channel_first``).
        size (tuple of int): Output ``(width, height)``.
        interpolate (str): ``nearest``, ``box``, ``bilinear``, ``hamming``,
            ``bicubic`` or ``lanczos``.
        channel_first (bool): Input and output are ``(C, H, W)``.

    Returns:
        numpy.ndarray of the input dtype with shape ``(height, width[, C])``.
    """
    if not isinstance(img, np.ndarray):
        raise ValueError('the input img for imresize must be numpy.ndarray.')
    if not isinstance(size, (list, tuple)):
        raise ValueError('size must be list or tuple')
    table = _interpolations()
    if interpolate not in table:
        raise ValueError('unknown interpolation type. In this backend, you can '
                         'use only one of [{}]'.format(', '.join(table)))
    resample = table[interpolate]
    size = (int(size[0]), int(size[1]))
    dtype = img.dtype
    if channel_first and img.ndim == 3:
        img = img.transpose(1, 2, 0)
    Image = _image_module()
    if img.ndim == 2:
        out = _resize_plane(img, size, resample)
    elif img.dtype == np.uint8 and img.shape[-1] in (3, 4):
        out = np.asarray(Image.fromarray(np.ascontiguousarray(img)).resize(
            size, resample=resample))
    else:
        out = np.stack([_resize_plane(np.ascontiguousarray(img[..., c]), size,
                                      resample)
                        for c in range(img.shape[-1])], axis=-1)
    if out.dtype != dtype:
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            out = np.clip(np.rint(out), info.min, info.max)
        out = out.astype(dtype)
    if channel_first and out.ndim == 3:
        out = out.transpose(2, 0, 1)
    return out


# aliases


class PilBackend:
    """Pillow image backend: ``imread``, ``imsave`` (8-bit), ``imresize``."""

    def __init__(self):
        self.name = "PilBackend"

    imread = staticmethod(imread)
    imsave = staticmethod(imsave)
    imresize = staticmethod(imresize)
