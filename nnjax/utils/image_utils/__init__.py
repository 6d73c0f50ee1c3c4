"""Image reading, writing and resizing (``nnabla.utils.image_utils``).

Pillow is the only backend (NNabla's name for it: ``PilBackend``; ``'pillow'``
is accepted too).  The functions follow NNabla's signatures and
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
from .backend_events.pil_backend import imread, imresize, imsave
from . import backend_events  # noqa: F401

__all__ = ['imread', 'imsave', 'imresize', 'imload', 'imwrite',
           'get_backend', 'set_backend', 'get_available_backends',
           'minmax_auto_scale', 'rescale_pixel_intensity']

_BACKEND = 'PilBackend'
_ALIASES = ('pillow', 'pil')


def get_backend():
    """Name of the backend in use (always ``'PilBackend'``)."""
    return _BACKEND


def get_available_backends():
    """List of usable backends (``['PilBackend']``)."""
    return [_BACKEND]


def set_backend(backend):
    """Select a backend.  Only ``'PilBackend'`` (alias ``'pillow'``) is available.

    Raises:
        ValueError: for any other name.
    """
    if backend != _BACKEND and str(backend).lower() not in _ALIASES:
        raise ValueError(
            "Backend '{}' is not available; available backends: {}".format(
                backend, get_available_backends()))


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


