"""The audio backend in use (``pydub`` when the package is installed)."""
from collections import OrderedDict

try:
    from . import pydub_utils
except ImportError:  # pydub is optional
    pydub_utils = None


class AudioUtilsBackendManager:
    """The available backends (name -> module) and the one selected."""

    def __init__(self):
        self.backends = OrderedDict(pydub=pydub_utils)
        available = self.get_available_backends()
        self._backend = available[0] if available else None

    def get_available_backends(self):
        return [name for name, module in self.backends.items() if module is not None]

    @property
    def backend(self):
        return self._backend

    @backend.setter
    def backend(self, name):
        if self.backends.get(name) is None:
            raise ValueError(f"audio_utils: backend {name!r} is not available; available: "
                             f"{self.get_available_backends()}")
        self._backend = name

    @property
    def module(self):
        if self._backend is None:
            raise ModuleNotFoundError("audio_utils: no audio backend is installed "
                                      "(pip install pydub)")
        return self.backends[self._backend]


backend_manager = AudioUtilsBackendManager()
