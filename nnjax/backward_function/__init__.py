"""``nnabla.backward_function.<snake_name>``: one module per function type, each
holding ``<snake_name>_backward`` (the entry of ``nnabla.backward_functions.registry``)
and, for linear functions, their gradient functions (``affine.AffineDataGrad`` ...);
the normalizations' backward objects (``BatchNormalizationBackward`` ...).

The modules are made here from the registry (there is nothing per type to write):
``import nnabla.backward_function.affine`` finds ``nnjax.backward_function.affine``
in ``sys.modules``.
"""
import importlib.machinery
import sys
import types

from ..backward_functions import node_backward, registry
from .._registry import REGISTRY
from ._backward_classes import BACKWARD_CLASSES
from ._grad_functions import GRAD_FUNCTIONS


def _module_for(type_name):
    snake = REGISTRY[type_name].declared.snake_name
    name = f"{__name__}.{snake}"
    module = types.ModuleType(name, f"The backward of {type_name} (``{snake}_backward``).")
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    setattr(module, f"{snake}_backward", registry[type_name])
    return snake, module


for _type_name in REGISTRY:
    _snake, _module = _module_for(_type_name)
    for _cls in GRAD_FUNCTIONS.get(_snake, []) + BACKWARD_CLASSES.get(_snake, []):
        setattr(_module, _cls.__name__, _cls)
        registry[_cls.__name__] = node_backward
    sys.modules[_module.__name__] = _module
    globals()[_snake] = _module
del _type_name, _snake, _module, _cls
