"""Function messages of network files (``nnabla.utils.save_function``)."""
from .save import set_function_args


def _create_function_nntxt(f, name, function):
    """Fill Function message ``f`` from ``function`` (anything indexable by 'type',
    'inputs', 'outputs' and 'args', e.g. a graph_def ProtoFunction)."""
    f.name = name
    f.type = function["type"]
    f.input.extend(function["inputs"])
    f.output.extend(function["outputs"])
    set_function_args(f, function["type"], function["args"] or {})
