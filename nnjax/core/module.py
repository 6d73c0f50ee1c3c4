"""``nn.Module`` (``nnabla.core.module``): a model as an object owning its parameters.

A Module subclass defines ``call``; its instances own a parameter scope
(``parameter_scope``, a dict), and every method of the subclass runs inside
that scope and inside the module's recording scope, so calling a module on
``nn.Variable`` inputs builds a computation graph with the module's
parameters, and calling it on ``nn.ProtoVariable`` inputs records a proto
network named after it. Modules assigned as attributes are sub-modules: their
parameters appear as ``@name/...`` in ``get_parameters()``.
"""
import re
from collections import OrderedDict
from functools import wraps

from .. import parameter as P
from .graph_def import current_graph_builder, module_scope


def insert_parent_name(name, params):
    """``params`` with ``@name/`` put before each key."""
    return OrderedDict((f"@{name}/{k}", v) for k, v in params.items())


class ParamMemo:
    """Parameters already listed (a parameter shared by sub-modules is listed once)."""

    def __init__(self):
        self._memo = set()

    def filter_and_update(self, params):
        ret = OrderedDict()
        for k, v in params.items():
            if v in self._memo:
                continue
            ret[k] = v
            self._memo.add(v)
        return ret


def _is_method(attr):
    """A plain function defined in the class body (not a static/class method or a class)."""
    return callable(attr) and not isinstance(attr, (staticmethod, classmethod, type))


class MetaClass(type):
    """Wraps each method of a Module subclass in the module's scopes."""

    @staticmethod
    def method_wrapper(method):
        @wraps(method)
        def wrapped(self, *args, **kwargs):
            with module_scope(current_graph_builder(), self):
                with P.parameter_scope("", self.parameter_scope):
                    return method(self, *args, **kwargs)
        return wrapped

    def __new__(meta, classname, bases, class_dict):
        if bases:
            class_dict = {name: MetaClass.method_wrapper(attr) if _is_method(attr) else attr
                          for name, attr in class_dict.items()}
        return type.__new__(meta, classname, bases, class_dict)


class Module(metaclass=MetaClass):
    """A building block of models; subclasses implement ``call(*inputs)``.

    Example::

        class MLP(nn.Module):
            def __init__(self, hidden):
                self.hidden = hidden

            def call(self, x):
                return PF.affine(F.relu(PF.affine(x, self.hidden, name='fc1')), 10,
                                 name='fc2')

        mlp = MLP(32)
        y = mlp(x)                      # a graph using mlp's parameters
        solver.set_parameters(mlp.get_parameters())

    A sub-module must be kept as an attribute of its parent (one created inside
    ``call`` gets new parameters at every call).
    """

    _recursive_attrs = ["training"]

    def __repr__(self):
        return self.__class__.__name__

    @property
    def training(self):
        """Whether the module is in training mode (default True); setting it sets the
        sub-modules' too. ``call`` may read it to build a training or an eval graph."""
        return self.__dict__.setdefault("training", True)

    @training.setter
    def training(self, b):  # __setattr__ handles it; kept for the documentation
        self.__dict__["training"] = b

    @property
    def parameter_scope(self):
        """The dict holding this module's own parameters."""
        return self.__dict__.setdefault("_parameter_scope", OrderedDict())

    @property
    def submodules(self):
        """{name: Module} of the sub-modules, in assignment order."""
        return self.__dict__.setdefault("_submodules", OrderedDict())

    def get_scope_name(self):
        for name, module in self.submodules.items():
            return f"@{name}/{module.get_scope_name()}".strip("/")
        return ""

    def get_parameters(self, recursive=True, grad_only=False, memo=None):
        """{name: Variable} of the parameters (sub-modules' as ``@sub/...`` first)."""
        params = OrderedDict()
        memo = ParamMemo() if memo is None else memo
        if recursive:
            for name, module in self.submodules.items():
                params.update(insert_parent_name(
                    name, module.get_parameters(recursive=recursive, grad_only=grad_only,
                                                memo=memo)))
        with P.parameter_scope("", self.parameter_scope):
            found = P.get_parameters(grad_only=grad_only)
        params.update(memo.filter_and_update(found))
        return params

    def load_parameters(self, path, extension=".h5", raise_if_missing=True):
        """Load the parameters saved by ``save_parameters`` (a path or file object)."""
        scope = OrderedDict()
        with P.parameter_scope("", scope):
            P.load_parameters(path, extension=extension)
            params = P.get_parameters(grad_only=False)
        self.set_parameters(params, raise_if_missing=raise_if_missing)

    def save_parameters(self, path, extension=".h5"):
        """Save all parameters (``@sub/...`` names) to a path or file object."""
        P.save_parameters(path, params=self.get_parameters(grad_only=False),
                          extension=extension)

    def set_parameter(self, key, param, raise_if_missing=False):
        """Use ``param`` as parameter ``key`` (``@sub/...`` goes to sub-module ``sub``)."""
        if key.startswith("@"):
            pos = key.find("/")
            if pos < 0 or pos == len(key) - 1:
                raise ValueError(f"Invalid parameter key {key}. A module parameter scope "
                                 "represented as `@name` must be followed by `/`.")
            module_name, subkey = key[1:pos], key[pos + 1:]
            if module_name in self.submodules:
                self.submodules[module_name].set_parameter(subkey, param,
                                                           raise_if_missing=raise_if_missing)
            elif raise_if_missing:
                raise ValueError(f"A child module {module_name} cannot be found in {self}. "
                                 "This error is raised because `raise_if_missing` is "
                                 "specified as True. Please turn off if you allow it.")
            return
        with P.parameter_scope("", self.parameter_scope):
            P.set_parameter(key, param)

    def set_parameters(self, params, raise_if_missing=False):
        for key, param in params.items():
            self.set_parameter(key, param, raise_if_missing=raise_if_missing)

    def update_parameter(self):
        """Take the values now in the module's scopes (e.g. after loading into them)."""
        self.set_parameters(self.get_parameters())

    def zero_grad(self):
        """Set the gradients of all parameters to 0."""
        for param in self.get_parameters().values():
            param.grad.zero()

    def __len__(self):
        return len(self.submodules)

    def __setattr__(self, name, value):
        if isinstance(value, Module):
            self.submodules[name] = value
            value.__dict__["_name"] = name
            value.__dict__["_parent"] = self
            return
        self.__dict__[name] = value
        if name in self._recursive_attrs:
            for module in self.submodules.values():
                setattr(module, name, value)

    def __getattr__(self, name):
        submodules = self.__dict__.get("_submodules", {})
        if name in submodules:
            return submodules[name]
        raise AttributeError(f"{type(self).__name__!r} module has no attribute {name!r}")

    @property
    def name(self):
        """The attribute name in the parent, else the class name in snake case."""
        if "_name" in self.__dict__:
            return self.__dict__["_name"]
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.__class__.__name__).lower()

    @property
    def parent(self):
        return self.__dict__.get("_parent", None)

    def is_root(self):
        return self.parent is None

    def get_path_name(self):
        """``@root/@child/...``: the prefix of function names recorded by this module."""
        if self.is_root():
            return "@" + self.name
        parent_name = self.parent.get_path_name()
        return f"{parent_name}/@{self.name}" if parent_name else "@" + self.name

    def __call__(self, *args, **kwargs):
        return self.call(*args, **kwargs)

    def call(self, *args, **kwargs):
        """Build the module's graph from its inputs; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__}.call(*inputs) must be implemented")
