"""``Module``: the parameters of a layer object and of the layers it holds."""
import os
from collections import OrderedDict

from ... import parameter
from ...utils import get_file_handle as fh
from ..._variable import Variable
from ...logger import logger


class Module:
    """Mix-in of the parametric function classes: parameters are the Variable
    attributes, named ``<attribute path>/<attribute>`` (``conv1/W``)."""

    def get_modules(self, memo=None, prefix=""):
        """Yield ``(prefix, module)`` for this module and, depth first, its sub-modules."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, value in self.__dict__.items():
            if isinstance(value, Module):
                yield from value.get_modules(memo, f"{prefix}/{name}" if prefix else name)

    def _named_variables(self):
        for prefix, module in self.get_modules():
            for name, value in module.__dict__.items():
                if isinstance(value, Variable):
                    yield f"{prefix}/{name}", value

    def get_parameters(self, grad_only=True):
        """OrderedDict name -> Variable (only those with ``need_grad`` if ``grad_only``)."""
        return OrderedDict((name, v) for name, v in self._named_variables()
                           if v.need_grad or not grad_only)

    def save_parameters(self, path, grad_only=False):
        """Save the parameters (``.h5``, ``.protobuf`` ...) under their names."""
        parameter.save_parameters(path, self.get_parameters(grad_only=grad_only))

    def load_parameters(self, path):
        """Load values saved by :meth:`save_parameters` into this module's parameters
        (the global parameter scope is not touched)."""
        path = os.fspath(path)
        try:
            stored = {name: value for name, value, _ in
                      fh.read_parameters(path, os.path.splitext(path)[1])}
        except (OSError, ValueError) as e:
            raise ValueError(f"Module.load_parameters: {e}") from None
        for name, var in self._named_variables():
            if name not in stored:
                raise ValueError(f"Module.load_parameters: {path!r} has no parameter {name!r}")
            if stored[name].shape != var.shape:
                raise ValueError(f"Module.load_parameters: {name!r} in {path!r} has shape "
                                 f"{stored[name].shape}, the module's has {var.shape}")
        for name, var in self._named_variables():
            var.d = stored[name]
            logger.info(f"`{name}` loaded.")
