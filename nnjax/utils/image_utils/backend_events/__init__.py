"""Image backends of ``nnabla.utils.image_utils`` (NNabla's ``backend_events``):
``common`` holds the pixel-range helpers the backends share, ``pil_backend`` the
Pillow backend (the one nnjax has)."""
from . import common, pil_backend  # noqa: F401
