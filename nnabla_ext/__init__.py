"""``nnabla_ext``: NNabla's extension packages (``nnabla_ext.cpu``, ``nnabla_ext.cuda``,
``nnabla_ext.cudnn``) on nnjax, where XLA runs every context (a JAX GPU when present)."""
