"""Function information in the layout of NNabla's converter utilities.

``get_category_info()`` returns ``{category: {TypeName: info}}`` (ordered as
NNabla orders them), where ``info`` is a dict with

- ``snake_name``: the ``nnabla.functions`` name;
- ``inputs``: ``{name: flags}``; ``flags`` holds ``optional``, ``variadic``
  and ``parameter`` set to True where they apply (absent otherwise);
- ``arguments`` (only for functions with arguments): ``{name: {'type': ...,
  'default': ...}}`` with NNabla's argument type and the default written as
  Python source text (a literal, or the expression NNabla computes it from);
  ``default`` is absent for a required argument;
- ``outputs``: ``{name: flags}`` (``variadic`` where it applies);
- ``uniq_name``: the type name, then ``_`` and the argument pack format
  (see ``type_to_pack_format``) when the function has arguments.

Everything is built from ``nnjax._specs.DECLARED``. NNabla's tables also
carry numeric function ids and C-runtime support flags; nnjax has no source
for those, so they are not included.
"""
from collections import OrderedDict

from ..._specs import CATEGORIES, COMPUTED, DECLARED, REQUIRED

__all__ = ["type_to_pack_format", "get_category_info", "get_function_info",
           "select_executor", "search_network", "calc_shape_size", "func_set_import_nnp"]

_PACK_FORMATS = {
    "bool": "B",
    "double": "f",
    "float": "f",
    "int64": "i",
    "repeated int64": "iI",
    "Shape": "iI",
    "repeated float": "fF",
    "string": "i",
    "Communicator": "C",
}


def type_to_pack_format(typestring):
    """The one- or two-letter pack code NNabla uses for an argument type
    (``'int64'`` -> ``'i'``, ``'Shape'`` -> ``'iI'``, ...); None if unknown."""
    return _PACK_FORMATS.get(typestring)


def _flags(**flags):
    return OrderedDict((k, True) for k, v in flags.items() if v)


def _default_text(arg):
    if arg.default is COMPUTED:
        return arg.default_expr
    return repr(arg.default)


def _function_info(decl):
    info = OrderedDict()
    info["snake_name"] = decl.snake_name
    info["inputs"] = OrderedDict(
        (i.name, _flags(optional=i.optional, variadic=i.variadic, parameter=i.parameter))
        for i in decl.inputs)
    if decl.args:
        arguments = OrderedDict()
        for a in decl.args:
            entry = OrderedDict(type=a.type)
            if a.default is not REQUIRED:
                entry["default"] = _default_text(a)
            arguments[a.name] = entry
        info["arguments"] = arguments
    info["outputs"] = OrderedDict((o.name, _flags(variadic=o.variadic)) for o in decl.outputs)
    fmt = "".join(type_to_pack_format(a.type) or "" for a in decl.args)
    info["uniq_name"] = decl.type_name + ("_" + fmt if decl.args else "")
    return info


def get_category_info():
    """``{category: {TypeName: info}}`` for every NNabla function type (a new
    structure on each call: callers may change it)."""
    categories = OrderedDict((c, OrderedDict()) for c in CATEGORIES)
    for decl in DECLARED.values():
        categories[decl.category][decl.type_name] = _function_info(decl)
    return categories


def get_function_info():
    """``{TypeName: info}``: ``get_category_info()`` without the category level."""
    functions = OrderedDict()
    for category in get_category_info().values():
        functions.update(category)
    return functions


def select_executor(nnp, name=None):
    """The first executor of an NNP object (one with a ``protobuf`` attribute)."""
    return nnp.protobuf.executor[0]


def search_network(nnp, name):
    """The network called ``name`` in an NNP object, or None."""
    for network in nnp.protobuf.network:
        if network.name == name:
            return network
    return None


def calc_shape_size(shape, batch_size):
    """Element count of a protobuf ``Shape``, a negative dimension read as ``batch_size``."""
    size = 1
    for d in shape.dim:
        size *= batch_size if d < 0 else d
    return size


def func_set_import_nnp(nnp):
    """The set of function types used by the network the first executor runs."""
    network_name = nnp.protobuf.executor[0].network_name
    for network in nnp.protobuf.network:
        if network.name == network_name:
            return {f.type for f in network.function}
    return None
