"""``nnabla.common``: NNabla's Cython declarations module; nothing public in Python."""
