"""Edits of proto networks (``nnabla.core.graph_optimizer``)."""
from ..logger import logger


def rename_variable(proto_network, renames):
    """Rename variables of ``proto_network``: ``renames`` is {old name: new name}
    (the new names must not be in use)."""
    for old, new in renames.items():
        if old not in proto_network.variables:
            raise ValueError(f"rename_variable: {old!r} is not a variable of network "
                             f"{proto_network.name!r}")
        pv = proto_network.variables.pop(old)
        proto_network.variables[new] = pv
        pv.name = new
        pv._proto = None
        if pv.parent is not None:
            parent = proto_network.functions[pv.parent]
            parent.outputs = [new if n == old else n for n in parent.outputs]
        for fname in pv.required:
            f = proto_network.functions[fname]
            f.inputs = [new if n == old else n for n in f.inputs]
    proto_network.inputs = [renames.get(n, n) for n in proto_network.inputs]
    proto_network.outputs = [renames.get(n, n) for n in proto_network.outputs]


def remove_function(pf, renamed):
    """Remove a one-input one-output function (e.g. Identity), joining its input and
    output into one variable; ``renamed`` gets {removed name: kept name}.

    As NNabla's: when the output is read by other functions it takes the input's
    name; when it is a final output, it keeps its name and the input's producer
    writes it directly.
    """
    network = pf.owner()
    if len(pf.inputs) != 1 or len(pf.outputs) != 1:
        raise ValueError(f"remove_function: {pf.name!r} ({pf.type}) must have one input and "
                         "one output")
    in_name, out_name = pf.inputs[0], pf.outputs[0]
    if in_name not in network.variables:
        raise ValueError(f"remove_function: the input {in_name!r} of {pf.name!r} is not a "
                         "variable (a parameter cannot be joined)")
    src, dst = network.variables[in_name], network.variables[out_name]
    other_readers = [f for f in src.required if f != pf.name]
    if dst.required:  # keep the input's name
        for fname in dst.required:
            f = network.functions[fname]
            f.inputs = [in_name if n == out_name else n for n in f.inputs]
        src.required = other_readers + list(dst.required)
        del network.variables[out_name]
        renamed[out_name] = in_name
        kept, gone = in_name, out_name
    else:  # a final output keeps its name
        if src.parent is not None:
            parent = network.functions[src.parent]
            parent.outputs = [out_name if n == in_name else n for n in parent.outputs]
        for fname in other_readers:
            f = network.functions[fname]
            f.inputs = [out_name if n == in_name else n for n in f.inputs]
        dst.parent = src.parent
        dst.required = other_readers
        dst.need_grad = src.need_grad
        del network.variables[in_name]
        renamed[in_name] = out_name
        kept, gone = out_name, in_name
    network.inputs = [kept if n == gone else n for n in network.inputs]
    network.outputs = [kept if n == gone else n for n in network.outputs]
    del network.functions[pf.name]
    logger.info(f"proto_function:{pf.name} is deleted, {gone} is now {kept}.")


class IdentityRemover:
    """A callback removing Identity functions (those ``is_required`` accepts)."""

    def __init__(self, renamed=None, is_required=None):
        self.renamed = renamed if renamed is not None else {}
        self.is_required = is_required

    def __call__(self, pf):
        if pf.type == "Identity" and (self.is_required is None or self.is_required(pf)):
            remove_function(pf, self.renamed)
