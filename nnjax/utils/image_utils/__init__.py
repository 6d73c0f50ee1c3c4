"""Image reading, writing and resizing (``nnabla.utils.image_utils``).

Backends (NNabla's names): ``PilBackend`` (Pillow, the default; 8-bit writes)
, ``PngBackend`` (pypng: 8- and 16-bit PNG; installed with ``pypng``) and
``Cv2Backend`` (OpenCV, with ``opencv-python-headless``);
``set_backend`` switches. The functions follow NNabla's signatures and
conventions:

* arrays are ``(height, width, channel)`` (or ``(height, width)`` for
  gray-scale) unless ``channel_first=True`` which means
  ``(channel, height, width)``;
* ``size`` arguments are ``(width, height)``;
* :func:`imread` returns ``uint8`` (``uint16`` with ``as_uint16=True``);
* :func:`imsave` accepts ``uint8``, ``uint16`` or float images in ``[0, 1]``
  (floats are scaled by 255, or 65535 with ``as_uint16=True``).
"""

import numpy as np

from .backend_events.common import rescale_pixel_intensity
from .backend_events import pil_backend
from . import backend_events  # noqa: F401
from .backend_manager import backend_manager

__all__ = ['imread', 'imsave', 'imresize', 'imload', 'imwrite',
           'get_backend', 'set_backend', 'get_available_backends',
           'minmax_auto_scale', 'rescale_pixel_intensity']

_BACKENDS = backend_manager._backends
_ALIASES = {'pillow': 'PilBackend', 'pil': 'PilBackend', 'png': 'PngBackend',
            'pypng': 'PngBackend', 'cv2': 'Cv2Backend', 'opencv': 'Cv2Backend'}


def get_backend():
    """Name of the backend in use (``'PilBackend'`` unless set otherwise)."""
    return backend_manager.get_backend()


def get_available_backends():
    """Names of the usable backends: ``PilBackend`` (Pillow), ``PngBackend`` (pypng)."""
    return list(_BACKENDS)


def set_backend(backend):
    """Select the backend used by :func:`imread`, :func:`imsave` and :func:`imresize`.

    Raises:
        ValueError: for a backend that is not available.
    """
    name = backend if backend in _BACKENDS else _ALIASES.get(str(backend).lower())
    if name not in _BACKENDS:
        raise ValueError("Backend '{}' is not available; available backends: {}".format(
            backend, get_available_backends()))
    backend_manager.set_backend(name)


def imread(path, grayscale=False, size=None, interpolate='bilinear', channel_first=False,
           as_uint16=False, num_channels=-1, return_palette_indices=False):
    """Read an image file with the current backend (see ``PilBackend.imread``):
    ``(H, W[, C])`` uint8, or uint16 with ``as_uint16``; ``size`` is (width, height)."""
    backend = backend_manager.get_best_backend(path, 'load')
    if return_palette_indices:
        return pil_backend.imread(path, grayscale, size, interpolate, channel_first, as_uint16,
                                  num_channels, return_palette_indices)
    return backend.imread(path, grayscale, size, interpolate, channel_first, as_uint16,
                          num_channels)


def imsave(path, img, channel_first=False, as_uint16=False, auto_scale=True):
    """Write an image with the current backend (16-bit needs ``PngBackend``)."""
    return backend_manager.get_best_backend(path, 'save').imsave(path, img, channel_first, as_uint16, auto_scale)


def imresize(img, size, interpolate='bilinear', channel_first=False):
    """Resize an image array to ``size`` (width, height) (see ``PilBackend.imresize``)."""
    return backend_manager.get_best_backend('', 'resize').imresize(img, size, interpolate, channel_first)


def minmax_auto_scale(img, as_uint16):
    """Min-max normalise ``img`` to the full ``uint8`` (or ``uint16``) range."""
    if as_uint16:
        high, dtype = 65535, np.uint16
    else:
        high, dtype = 255, np.uint8
    return rescale_pixel_intensity(img, input_low=img.min(),
                                   input_high=img.max(), output_low=0,
                                   output_high=high, output_type=dtype)


imwrite = imsave
imload = imread


