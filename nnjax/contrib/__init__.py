"""``nnabla.contrib``: NNabla's older helpers (``contrib.context``)."""
