"""``python -m nnabla.distributed -n N script.py args...``: run a data-parallel job of N
local processes (see :mod:`nnjax.distributed._launch`)."""
from ._launch import launch, main

__all__ = ["launch", "main"]
