"""Utilities (``nnabla.utils``): data iterators and sources, image I/O and
progress helpers.  Submodules are imported on demand, e.g.
``from nnabla.utils.data_iterator import data_iterator_simple``."""
