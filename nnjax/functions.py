"""``nnabla.functions``: every function wrapper, re-exported from ``nnjax.ops``.

Find a function's lowering and wrapper side by side in ``nnjax/ops/<category>.py``;
``python -m nnjax.functions --status`` lists what is implemented.
"""
import importlib as _importlib
import pkgutil as _pkgutil

from . import ops as _ops

_MODULES = []
for _info in sorted(_pkgutil.iter_modules(_ops.__path__), key=lambda m: m.name):
    if _info.name.startswith("_"):
        continue
    _mod = _importlib.import_module(f"{_ops.__name__}.{_info.name}")
    _MODULES.append(_mod)
    for _name, _obj in vars(_mod).items():
        if _name.startswith("_") or not callable(_obj):
            continue
        if getattr(_obj, "__module__", None) != _mod.__name__:
            continue
        globals()[_name] = _obj

del _info, _mod, _name, _obj

if __name__ == "__main__":
    from nnjax._status import main as _main
    _main()
