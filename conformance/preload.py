"""Imported by the fork server before its first fork (see ``forked.py``): the
modules NNabla's test files import (its function tester pulls in the file
converters and scipy's optimizer), then ``gc.freeze()``, so that the
children's garbage collections skip these long-lived objects (and leave their
pages shared with the server)."""
import gc
import importlib

MODULES = ("numpy", "jax", "jax.numpy", "pytest", "nnabla", "nnabla.functions",
           "nnabla.parametric_functions", "nnabla.solvers", "nnabla.utils.converter",
           "nnabla.utils.load", "nnabla.utils.save", "nnabla.utils.data_iterator",
           "scipy.optimize", "h5py")

for name in MODULES:
    try:
        importlib.import_module(name)
    except Exception:  # noqa: BLE001 - optional (scipy, h5py) or broken: each test file
        pass           # that needs it imports it again and reports the error itself

gc.collect()
gc.freeze()
