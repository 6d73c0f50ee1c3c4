"""``nnabla.utils.load_function``: NNabla's generated per-type loaders live in the
function registry here (``nnabla.utils.load`` builds functions from it)."""
