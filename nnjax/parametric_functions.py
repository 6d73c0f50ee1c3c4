"""``nnabla.parametric_functions``: re-exported from the modules of ``nnjax.pf``.

Each parametric function creates its parameters (NNabla's names, shapes,
creation order and default initializers) in a parameter scope, then calls
the plain function of ``nnabla.functions``.
"""
import importlib as _importlib
import pkgutil as _pkgutil

from . import pf as _pf
from .pf.core import parametric_function_api  # noqa: F401

for _info in sorted(_pkgutil.iter_modules(_pf.__path__), key=lambda m: m.name):
    if _info.name.startswith("_"):
        continue
    _mod = _importlib.import_module(f"{_pf.__name__}.{_info.name}")
    for _name, _obj in vars(_mod).items():
        if _name.startswith("_") or not callable(_obj):
            continue
        if getattr(_obj, "__module__", None) != _mod.__name__:
            continue
        globals()[_name] = _obj
del _info, _mod, _name, _obj

from .pf.normalization import _spectral_norm_v1  # noqa: E402,F401  (NNabla's private one)
