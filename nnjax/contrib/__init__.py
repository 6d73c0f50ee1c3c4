"""``nnabla.contrib``: deprecated helpers kept for old scripts."""
