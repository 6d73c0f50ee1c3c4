"""``ImageUtilsBackend``: the registry of image backends and the one in use.

NNabla picks a backend per file extension from a chain of candidates; here one
backend is in use at a time (``PilBackend`` unless ``set_backend`` chose
another), and the same object answers NNabla's backend-manager calls.
"""
from collections import OrderedDict

from . import pil_backend

try:
    from . import pypng_backend
except ImportError:  # the pypng package is optional
    pypng_backend = None
try:
    from . import cv2_backend
except ImportError:  # OpenCV is optional
    cv2_backend = None

_DEFAULT = 'PilBackend'


def _available_classes():
    classes = OrderedDict(PilBackend=pil_backend.PilBackend)
    if pypng_backend is not None:
        classes['PngBackend'] = pypng_backend.PngBackend
    if cv2_backend is not None:
        classes['Cv2Backend'] = cv2_backend.Cv2Backend
    return classes


class ImageUtilsBackend(object):
    """The image backends that import here, and the one ``imread``/``imsave``/
    ``imresize`` use."""

    _subclasses = _available_classes()

    def __init__(self):
        self._backends = OrderedDict((name, cls()) for name, cls in self._subclasses.items())
        self._current = _DEFAULT

    def imread(self, path, grayscale=False, size=None, interpolate="bilinear",
               channel_first=False, as_uint16=False, num_channels=-1):
        return self.get_best_backend(path, 'load').imread(
            path, grayscale, size, interpolate, channel_first, as_uint16, num_channels)

    def imsave(self, path, img, channel_first=False, as_uint16=False, auto_scale=True):
        return self.get_best_backend(path, 'save').imsave(
            path, img, channel_first, as_uint16, auto_scale)

    def imresize(self, img, size, interpolate="bilinear", channel_first=False):
        return self.get_best_backend('', 'resize').imresize(img, size, interpolate,
                                                            channel_first)

    def get_best_backend(self, path, operator):
        """The backend object that handles ``operator`` ('load', 'save', 'resize')."""
        return self._backends[self._current]

    def next_available(self, path):
        """NNabla's fallback to the next backend of a chain: there is one backend in use."""
        raise ValueError(f"Currently, No backend available after {self._current} for {path!r}.")

    def get_backend(self):
        return self._current

    def set_backend(self, name):
        """Use the backend ``name`` (one of ``get_available_backends()``)."""
        if name not in self._backends:
            raise ValueError("Backend '{}' is not available; available backends: {}".format(
                name, self.get_available_backends()))
        self._current = name

    def get_available_backends(self):
        return list(self._backends)

    def get_backend_from_name(self, name):
        """The backend object called ``name`` (None if it is not available)."""
        return self._backends.get(name)
