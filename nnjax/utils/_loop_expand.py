"""Unrolling NNabla's loop control in a network file (repeat and recurrent networks).

A network with ``repeat_info`` declares loops: variables and functions whose
``repeat_id`` lists a loop exist once per iteration. ``expand_network`` returns
the same network with every loop unrolled, as NNabla's ``load`` does before it
builds a graph:

- a name gets ``_<id>[i]`` appended per loop, or its ``{<id>}`` replaced by
  ``[i]`` (parameters shared or not across iterations);
- ``RepeatStart`` reads its first input on iteration 0 and its second input
  of the previous iteration afterwards; ``RepeatEnd`` reads the last
  iteration; ``Delay`` reads its second input (initial value) on iteration 0
  and its first input of the previous iteration afterwards. The three become
  ``Identity`` functions named ``$EC$/<name>...``;
- ``RecurrentInput`` becomes a ``Split`` along its axis (one output per
  iteration), ``RecurrentOutput`` a ``Stack`` of the iterations' values.
"""
import itertools

from . import nnabla_pb2

__all__ = ["expand_network", "has_loop_control"]

_LOOP_TYPES = ("RepeatStart", "RepeatEnd", "RecurrentInput", "RecurrentOutput", "Delay")


def has_loop_control(network_proto):
    return bool(network_proto.repeat_info) or any(
        f.type in _LOOP_TYPES or f.repeat_id for f in network_proto.function)


def _suffix(pairs):
    return "".join(f"_{rid}[{i}]" for rid, i in pairs)


def _times(network, times, rid, what):
    if rid not in times:
        raise ValueError(f"network {network.name!r}: {what} uses repeat id {rid!r}, which "
                         f"has no repeat_info (repeat ids: {list(times)})")
    return times[rid]


def _indices(network, times, repeat_ids, what):
    ranges = [range(_times(network, times, rid, what)) for rid in repeat_ids]
    return itertools.product(*ranges)


def _expanded_name(name, pairs):
    for rid, i in pairs:
        placeholder = "{" + rid + "}"
        if placeholder in name:
            name = name.replace(placeholder, f"[{i}]")
        else:
            name += f"_{rid}[{i}]"
    return name


def _expand_variables(network, times, out):
    names, shapes = set(), {}
    for v in network.variable:
        for index in _indices(network, times, v.repeat_id, f"variable {v.name!r}"):
            nv = out.variable.add()
            nv.CopyFrom(v)
            nv.name = _expanded_name(v.name, list(zip(v.repeat_id, index)))
            del nv.repeat_id[:]
            names.add(nv.name)
        shapes[v.name] = [int(d) for d in v.shape.dim]
    return names, shapes


def _new_function(out, name, type_name, inputs, outputs, source):
    f = out.function.add()
    f.name = name
    f.type = type_name
    f.input.extend(inputs)
    f.output.extend(outputs)
    if type_name == "Split":
        f.split_param.axis = source.recurrent_param.axis
    elif type_name == "Stack":
        f.stack_param.axis = source.recurrent_param.axis
    elif type_name == source.type:
        f.CopyFrom(source)
        f.name = name
        del f.repeat_id[:]
        del f.input[:]
        f.input.extend(inputs)
        del f.output[:]
        f.output.extend(outputs)
    return f


def _expand_function(network, f, index, times, names, shapes, out):
    pairs = list(zip(f.repeat_id, index))
    full, outer = _suffix(pairs), _suffix(pairs[:-1])
    last = index[-1] if index else 0
    inputs = list(f.input)
    name = f.name + full

    def outer_name(v):
        return v if v in names else v + outer

    if f.type == "RepeatStart":
        rid = f.repeat_param.repeat_id
        src = outer_name(inputs[0]) if last == 0 else inputs[1] + outer + f"_{rid}[{last - 1}]"
        return _new_function(out, "$EC$/" + name, "Identity", [src],
                             [_output(o, full, names) for o in f.output], f)
    if f.type == "RepeatEnd":
        rid = f.repeat_param.repeat_id
        n = _times(network, times, rid, f"function {f.name!r}")
        last_iteration = inputs[0] + full + f"_{rid}[{n - 1}]"
        return _new_function(out, "$EC$/" + name, "Identity", [last_iteration],
                             [_output(o, full, names) for o in f.output], f)
    if f.type == "Delay":
        rid = f.recurrent_param.repeat_id
        src = outer_name(inputs[1]) if last == 0 else inputs[0] + outer + f"_{rid}[{last - 1}]"
        return _new_function(out, "$EC$/" + name, "Identity", [src],
                             [_output(o, full, names) for o in f.output], f)
    if f.type == "RecurrentInput":
        if last > 0:
            return None
        rid = f.recurrent_param.repeat_id
        axis = f.recurrent_param.axis
        shape = shapes.get(inputs[0])
        if shape is None or not -len(shape) <= axis < len(shape):
            raise ValueError(f"network {network.name!r}: RecurrentInput {f.name!r} splits axis "
                             f"{axis} of {inputs[0]!r} (shape {shape})")
        outputs = [f.output[0] + outer + f"_{rid}[{k}]" for k in range(shape[axis])]
        return _new_function(out, f.name + outer, "Split", [outer_name(v) for v in inputs],
                             outputs, f)
    if f.type == "RecurrentOutput":
        rid = f.recurrent_param.repeat_id
        length = f.recurrent_param.length or _times(network, times, rid, f"function {f.name!r}")
        sources = [inputs[0] + full + f"_{rid}[{k}]" for k in range(length)]
        return _new_function(out, name, "Stack", sources,
                             [_output(o, full, names) for o in f.output], f)
    resolved = []
    for v in inputs:
        v = _expanded_name(v, [(rid, i) for rid, i in pairs if "{" + rid + "}" in v])
        if v in names:
            resolved.append(v)
        elif v + full in names:
            resolved.append(v + full)
        else:
            resolved.append(v + outer)
    return _new_function(out, name, f.type, resolved,
                         [_output(o, full, names) for o in f.output], f)


def _output(v, full, names):
    return v + full if v + full in names else v


def expand_network(network_proto):
    """A copy of Network message ``network_proto`` with its loops unrolled."""
    out = nnabla_pb2.Network()
    out.CopyFrom(network_proto)
    if not has_loop_control(network_proto):
        return out
    del out.variable[:]
    del out.function[:]
    del out.repeat_info[:]
    times = {r.id: int(r.times) for r in network_proto.repeat_info}
    names, shapes = _expand_variables(network_proto, times, out)
    for f in network_proto.function:
        for index in _indices(network_proto, times, f.repeat_id, f"function {f.name!r}"):
            _expand_function(network_proto, f, index, times, names, shapes, out)
    return out
