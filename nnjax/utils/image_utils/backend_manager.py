"""``backend_manager``: the process-wide :class:`ImageUtilsBackend` (NNabla's name)."""
from .backend_events.image_utils_backend import ImageUtilsBackend

_shared = ImageUtilsBackend()


class ImageUtilsBackendManager(object):
    """Making one gives the shared backend registry (as NNabla's manager does)."""

    def __new__(cls, *args, **kwargs):
        return _shared


backend_manager = ImageUtilsBackendManager()
