"""Imported by the fork server before its first fork (see ``forked.py``): the
modules every test file needs, then ``gc.freeze()``, so that the children's
garbage collections skip these long-lived objects (and leave their pages
shared with the server)."""
import gc

import jax  # noqa: F401
import jax.numpy  # noqa: F401
import numpy  # noqa: F401
import pytest  # noqa: F401

import nnabla  # noqa: F401
import nnabla.functions  # noqa: F401
import nnabla.parametric_functions  # noqa: F401
import nnabla.solvers  # noqa: F401

gc.collect()
gc.freeze()
