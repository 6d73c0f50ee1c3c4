"""``nnabla.functions``: every function wrapper, re-exported from ``nnjax.ops``.

Find a function's lowering and wrapper side by side in ``nnjax/ops/<category>.py``;
``python -m nnjax.functions --status`` lists what is implemented.
"""
import functools as _functools
import importlib as _importlib
import numbers as _numbers
import pkgutil as _pkgutil

import numpy as _np

from . import ops as _ops
from ._ndarray import NdArray as _NdArray
from ._registry import InvalidArgumentError as _InvalidArgumentError
from ._variable import Variable as _Variable

_ARRAYLIKE = (_Variable, _NdArray, _np.ndarray, _np.generic, _numbers.Number, list, tuple,
              type(None))


def _with_type_errors(fn, name):
    """Turn the AttributeError a wrapper hits on a non-array argument (reading
    ``.shape`` of a str, say) into a TypeError naming the function and argument,
    and a ValueError for bad inputs or arguments into an ``InvalidArgumentError``
    (a ValueError that is also the RuntimeError NNabla raises)."""
    @_functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except _InvalidArgumentError:
            raise
        except ValueError as e:
            raise _InvalidArgumentError(str(e)) from None
        except AttributeError:
            for i, a in enumerate(args):
                if not isinstance(a, _ARRAYLIKE):
                    raise TypeError(f"{name}: argument {i} has type {type(a).__name__}; "
                                    "expected a Variable, NdArray or numpy array") from None
            raise
    return wrapper


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
        globals()[_name] = _with_type_errors(_obj, _name)

del _info, _mod, _name, _obj

if __name__ == "__main__":
    from nnjax._status import main as _main
    _main()
