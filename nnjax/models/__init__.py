"""Pretrained models (``nnabla.models``): ``imagenet``, ``object_detection``,
``semantic_segmentation``. Weights are NNabla's ``.nnp`` files, looked for
offline first; every ImageNet model is also defined with parametric functions
(``pretrained=False``)."""
