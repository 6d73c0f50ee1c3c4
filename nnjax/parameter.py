"""Parameter scopes and parameter files, as ``nnabla.parameter``.

Parameters live in nested ``OrderedDict`` scopes: a key maps to a Variable
or to a sub-scope. ``.h5`` files hold one dataset per full parameter path
with attributes ``need_grad`` and ``index`` (creation order), as NNabla
writes them, so files move between NNabla and nnjax both ways.
"""
import os
from collections import OrderedDict
from contextlib import contextmanager

import numpy as np

from . import _modes
from ._variable import Variable
from .logger import logger
from .utils import get_file_handle as fh

current_scope = OrderedDict()
root_scope = current_scope
_no_grad_state = {"on": False}


def get_current_parameter_scope():
    """The current scope dict."""
    return current_scope


@contextmanager
def parameter_scope(name, scope=None):
    """Group parameters under ``name`` (nested; '/' separates levels).

    Reusing a name reuses (shares) the parameters created under it.
    ``scope``: a dict to use as the parent scope instead of the current one.
    """
    global current_scope
    if not isinstance(name, str):
        raise TypeError(f"parameter_scope: name must be a str, got {type(name).__name__}")
    names = name.strip("/").split("/")
    prev = current_scope
    if scope is None:
        scope = current_scope
    elif not isinstance(scope, dict):
        raise ValueError(f"parameter_scope: scope must be a dict, got {type(scope).__name__}")
    for n in names:
        if not n:
            continue
        parent = scope
        scope = parent.get(n)
        if scope is None:
            scope = OrderedDict()
            parent[n] = scope
        elif not isinstance(scope, dict):
            raise ValueError(f"parameter_scope: {n!r} names a parameter, not a scope")
    current_scope = scope
    try:
        yield current_scope
    finally:
        current_scope = prev


@contextmanager
def no_grad(no_grad_=True):
    """Build without gradients: parameters and outputs get need_grad=False."""
    prev = _no_grad_state["on"]
    _no_grad_state["on"] = bool(no_grad_)
    try:
        with _modes.no_grad(no_grad_):
            yield
    finally:
        _no_grad_state["on"] = prev


def _split(key):
    names = key.split("/")
    return names[:-1], names[-1]


def _scope_for(path_names, create):
    scope = current_scope
    for n in path_names:
        nxt = scope.get(n)
        if nxt is None:
            if not create:
                return None
            nxt = OrderedDict()
            scope[n] = nxt
        if not isinstance(nxt, dict):
            return None
        scope = nxt
    return scope


def get_parameter(key):
    """The parameter at ``key`` under the current scope, or None."""
    path, leaf = _split(key)
    scope = _scope_for(path, create=False)
    if scope is None:
        return None
    v = scope.get(leaf)
    return v if isinstance(v, Variable) else None


def pop_parameter(key):
    """Remove the parameter at ``key`` and return it (None if absent)."""
    path, leaf = _split(key)
    scope = _scope_for(path, create=False)
    if scope is None or not isinstance(scope.get(leaf), Variable):
        return None
    return scope.pop(leaf)


def set_parameter(key, param):
    """Register ``param`` at ``key`` under the current scope."""
    path, leaf = _split(key)
    _scope_for(path, create=True)[leaf] = param


def _create(initializer, shape, need_grad):
    if initializer is None:
        if shape is None:
            raise ValueError("get_parameter_or_create: give a shape or an initializer array")
        param = Variable(shape, need_grad=need_grad)
        param.data.zero()
        return param
    if isinstance(initializer, np.ndarray):
        if shape is not None and tuple(shape) != initializer.shape:
            raise ValueError(f"get_parameter_or_create: initializer array shape "
                             f"{initializer.shape} differs from shape {tuple(shape)}")
        return Variable.from_numpy_array(initializer, need_grad=need_grad)
    if callable(initializer):
        if shape is None:
            raise ValueError("get_parameter_or_create: a shape is needed with an initializer")
        values = np.asarray(initializer(shape=[int(s) for s in shape]))
        return Variable.from_numpy_array(values, need_grad=need_grad)
    raise ValueError("get_parameter_or_create: initializer must be a numpy array or "
                     "a callable taking shape")


_create_parameter_by_initializer = _create


def get_parameter_or_create(name, shape=None, initializer=None, need_grad=True,
                            as_need_grad=None):
    """The parameter ``name`` of the current scope, created if missing.

    Returns a variable sharing the registered parameter's buffers with
    need_grad ``as_need_grad`` (default ``need_grad``; False under no_grad).
    """
    if as_need_grad is None:
        as_need_grad = need_grad
    if _no_grad_state["on"]:
        as_need_grad = False
    param = get_parameter(name)
    if param is not None:
        if shape is not None and param.shape != tuple(int(s) for s in shape):
            raise ValueError(f"The size of existing parameter {name!r} {param.shape} is "
                             f"different from the size of new parameter {tuple(shape)}. "
                             "To clear all parameters, call nn.clear_parameters().")
        if need_grad != param.need_grad:
            param.need_grad = need_grad
    else:
        param = _create(initializer, shape, need_grad)

        class VariableInfo:
            pass
        param.info = VariableInfo()
        param.info.initializer = initializer
        set_parameter(name, param)
    v = param.get_unlinked_variable(need_grad=as_need_grad)
    v.name = name.split("/")[-1]
    return v


def get_parameters(params=None, path="", grad_only=True):
    """Parameters under the current scope as {relative name: Variable}, in creation order."""
    if params is None:
        params = OrderedDict()
    stack = [(current_scope, path)]
    # depth-first in insertion order, as NNabla's recursive walk
    def walk(scope, prefix):
        for k, v in scope.items():
            full = f"{prefix}/{k}" if prefix else k
            if isinstance(v, dict):
                walk(v, full)
            elif not grad_only or v.need_grad:
                params[full] = v
    walk(*stack[0])
    return params


def clear_parameters():
    """Remove every parameter (and sub-scope) of the current scope."""
    for k in list(current_scope.keys()):
        del current_scope[k]


# ---------------------------------------------------------------- files
def save_parameters(path, params=None, extension=None):
    """Save parameters (default: all under the current scope) to ``.h5`` or ``.protobuf``.

    ``path``: a file name, or a file object with ``extension`` giving the
    format. A file name is written to a temporary name and renamed, so an
    interrupted save never leaves a half-written file in place of a good one.
    """
    if params is None:
        params = get_parameters(grad_only=False)
    ext = os.path.splitext(path)[1] if isinstance(path, (str, os.PathLike)) else extension
    if ext not in fh.PARAMETER_EXTENSIONS:
        raise ValueError(f"save_parameters: unsupported extension {ext!r} of {path!r}; "
                         "use .h5 or .protobuf")
    fh.save_parameters_file(path, params, ext)
    if hasattr(path, "seek"):  # as NNabla's: a file object is rewound for reading back
        path.seek(0)
    logger.info(f"Parameter save ({ext}): {path}")


def load_parameters(path, proto=None, needs_proto=False, extension=".h5"):
    """Load parameters from ``.h5``/``.protobuf``/``.nnp`` into the current scope.

    Every entry is checked against existing parameters before any value is
    written: on a shape mismatch nothing is changed.
    """
    if hasattr(path, "read"):  # a file object holding a file of format ``extension``
        _set_loaded(_file_object_entries(path, extension), f"a {extension} file object")
        return proto
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError("load_parameters: path must be a file name or a file object")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_parameters: no such file {path!r}")
    ext = os.path.splitext(path)[1]
    if ext not in fh.PARAMETER_EXTENSIONS + (".nnp",):
        raise ValueError(f"load_parameters: unsupported extension {ext!r} of {path!r}")
    try:
        entries = fh.read_parameters(path, ext)
    except ValueError as e:
        raise ValueError(f"load_parameters: {e}") from None
    for name, value, _ in entries:
        existing = get_parameter(name)
        if existing is not None and existing.shape != value.shape:
            raise ValueError(f"load_parameters: {name!r} in {path!r} has shape {value.shape}, "
                             f"the existing parameter has shape {existing.shape}")
    for name, value, need_grad in entries:
        var = get_parameter_or_create(name, value.shape, need_grad=need_grad)
        var.data.cast(value.dtype)[...] = value
    logger.info(f"Parameter load ({ext}): {path}")
    return proto


def _file_object_entries(f, ext):
    if ext not in fh.PARAMETER_EXTENSIONS:
        raise ValueError(f"load_parameters: unsupported extension {ext!r} for a file object; "
                         "use .h5 or .protobuf")
    data = f.read()
    try:
        return fh.parameters_of_file(data.encode("utf-8") if isinstance(data, str) else data,
                                     ext, f"a {ext} file object")
    except ValueError as e:
        raise ValueError(f"load_parameters: {e}") from None


def _set_loaded(entries, where):
    """Set (name, array, need_grad) entries, all checked against existing shapes first."""
    for name, value, _ in entries:
        existing = get_parameter(name)
        if existing is not None and existing.shape != value.shape:
            raise ValueError(f"load_parameters: {name!r} in {where} has shape {value.shape}, "
                             f"the existing parameter has shape {existing.shape}")
    for name, value, need_grad in entries:
        var = get_parameter_or_create(name, value.shape, need_grad=need_grad)
        var.data.cast(value.dtype)[...] = value
    logger.info(f"Parameter load: {where}")


def set_parameter_from_proto(proto):
    """Create (or overwrite) the parameters held in an ``NNablaProtoBuf``'s ``parameter``
    entries, in the current parameter scope, with their shapes, values and need_grad."""
    for p in proto.parameter:
        shape = tuple(p.shape.dim)
        values = np.asarray(p.data, dtype=np.float32)
        if values.size != int(np.prod(shape, dtype=np.int64)):
            raise ValueError(f"set_parameter_from_proto: parameter {p.variable_name!r} has "
                             f"{values.size} values for shape {shape}")
        var = get_parameter_or_create(p.variable_name, shape, need_grad=p.need_grad)
        var.d = values.reshape(shape)


def __getattr__(name):
    # NNabla's module global of the no_grad() scope, read from the live state
    if name == "current_no_grad":
        return _no_grad_state["on"]
    raise AttributeError(f"module 'nnabla.parameter' has no attribute {name!r}")
