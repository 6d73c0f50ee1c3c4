"""Semantic segmentation models (``nnabla.models.semantic_segmentation``)."""
from .deeplabv3plus import DeepLabV3plus  # noqa: F401
