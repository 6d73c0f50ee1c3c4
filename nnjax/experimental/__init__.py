"""Experimental utilities (``nnabla.experimental``).

Submodules are imported on demand, e.g.
``from nnabla.experimental.mixed_precision_training import DynamicLossScalingUpdater``.
"""
