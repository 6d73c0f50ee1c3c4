"""``nnabla.utils.save_function``: NNabla's generated per-type savers live in the
function registry here (``nnabla.utils.save`` writes functions from it)."""
