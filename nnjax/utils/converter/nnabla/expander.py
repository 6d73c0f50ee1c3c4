"""Unrolling NNabla's repeat blocks (``nnabla.utils.converter.nnabla.NnpExpander``).

A network with ``repeat_info`` marks variables and functions with repeat ids;
each block is written out ``times`` times, variables and functions getting the
suffix ``_<id>_<i>`` (parameters: ``{id}`` in the name becomes ``[i]``, or
NNabla's older ``<name>_<id>_<i>`` when the parameter file uses that form).
The loop-control functions disappear: ``RepeatStart`` reads its first input on
step 0 and the previous step's value of its second input afterwards,
``RepeatEnd`` becomes an ``Identity`` of the last step's value (so the
block's result keeps its name),
``Delay`` its initial value on step 0 and the previous step's value after,
``RecurrentInput`` becomes a ``Split`` and ``RecurrentOutput`` a ``Stack`` along
their axis. Functions are then put in an order where every input is made
before it is read.
"""
import re
from collections import OrderedDict

from ... import nnabla_pb2

__all__ = ["NnpExpander"]


def _suffix(name, rid, i):
    return f"{name}_{rid}_{i}"


class NnpExpander:
    """``NnpExpander(proto).execute()``: a copy of the ``NNablaProtoBuf`` with every
    network's repeat blocks unrolled (and executors' parameter lists expanded)."""

    def __init__(self, nnp):
        self._nnp = nnp
        self._parameters = {p.variable_name for p in nnp.parameter}
        self._param_names = OrderedDict()
        self._old_names = False

    def execute(self):
        out = nnabla_pb2.NNablaProtoBuf()
        out.CopyFrom(self._nnp)
        del out.network[:]
        names = OrderedDict()
        for network in self._nnp.network:
            out.network.add().CopyFrom(self._expand_network(network))
            names.update(self._param_names)
        for holder in list(out.optimizer) + list(out.executor):
            expanded = []
            for pv in holder.parameter_variable:
                expanded += names.get(pv.variable_name) or [pv.variable_name]
            del holder.parameter_variable[:]
            for n in sorted(expanded):
                holder.parameter_variable.add(variable_name=n)
        return out

    def _expand_network(self, network):
        self._param_names = OrderedDict()
        times = {ri.id: ri.times for ri in network.repeat_info}
        self._old_names = any(
            (m := re.search(re.escape(rid) + r"\[([0-9]+)\]$", p)) and int(m.group(1)) < n
            for p in self._parameters for rid, n in times.items())
        net = nnabla_pb2.Network()
        net.CopyFrom(network)
        while net.repeat_info:
            net = self._unroll(net)
        ordered = _in_dependency_order(list(net.function), net)
        del net.function[:]
        for f in ordered:
            net.function.add().CopyFrom(f)
        return net

    def _param_name(self, name, rid, i):
        if self._old_names:
            return _suffix(name, rid, i)
        return name.replace("{" + rid + "}", f"[{i}]")

    def _unroll(self, network):
        info = network.repeat_info[0]
        rid, times = info.id, info.times
        net = nnabla_pb2.Network()
        net.CopyFrom(network)
        del net.repeat_info[0]
        del net.variable[:]
        for var in network.variable:
            if var.type == "Parameter":
                self._param_names.setdefault(var.name, [])
            if rid not in var.repeat_id:
                if var.type == "Parameter" and not var.repeat_id and \
                        not self._param_names[var.name]:
                    self._param_names[var.name].append(var.name)
                net.variable.add().CopyFrom(var)
                continue
            for i in range(times):
                v = net.variable.add()
                v.CopyFrom(var)
                if var.type == "Parameter":
                    v.name = self._param_name(var.name, rid, i)
                    self._param_names[var.name].append(v.name)
                else:
                    v.name = _suffix(var.name, rid, i)
                v.repeat_id.remove(rid)
        steps = self._step_sources(network, rid, times)
        del net.function[:]
        for f in network.function:
            self._unroll_function(net, f, rid, times, steps)
        return net

    @staticmethod
    def _step_sources(network, rid, times):
        """{variable: [name on step i]} for Delay, RepeatEnd and RepeatStart outputs."""
        ends, sources = {}, {}
        for f in network.function:
            if f.type == "RepeatEnd" and f.repeat_param.repeat_id == rid:
                ends[f.output[0]] = [_suffix(f.input[0], rid, i)
                                     for i in range(f.repeat_param.times)]
        for f in network.function:
            if f.type == "Delay" and f.recurrent_param.repeat_id == rid:
                sources[f.output[0]] = [f.input[1]] + [_suffix(f.input[0], rid, i - 1)
                                                       for i in range(1, times)]
            if f.type == "RepeatStart" and f.repeat_param.repeat_id == rid:
                first = f.input[0]
                first = ends[first][times - 1] if first in ends else first
                later = [ends[f.input[1]][i - 1] if f.input[1] in ends
                         else _suffix(f.input[1], rid, i - 1) for i in range(1, times)]
                sources[f.output[0]] = [first] + later
        sources.update(ends)
        return sources, ends

    def _unroll_function(self, net, f, rid, times, steps):
        sources, ends = steps
        if f.type == "RepeatStart" and f.repeat_param.repeat_id == rid:
            return
        if f.type == "RepeatEnd" and f.repeat_param.repeat_id == rid:
            # the block's result keeps its name (an executor may read it)
            g = net.function.add(name=f.name, type="Identity")
            g.input.append(ends[f.output[0]][-1])
            g.output.append(f.output[0])
            g.repeat_id.extend(r for r in f.repeat_id if r != rid)
            return
        if f.type == "Delay" and f.recurrent_param.repeat_id == rid:
            return
        if f.type in ("RecurrentInput", "RecurrentOutput") and \
                f.recurrent_param.repeat_id == rid:
            g = net.function.add()
            g.CopyFrom(f)
            g.ClearField("recurrent_param")
            if f.type == "RecurrentInput":
                g.type = "Split"
                g.split_param.axis = f.recurrent_param.axis
                del g.output[:]
                g.output.extend(_suffix(f.output[0], rid, i) for i in range(times))
                if rid in g.repeat_id:
                    g.repeat_id.remove(rid)
            else:
                g.type = "Stack"
                g.stack_param.axis = f.recurrent_param.axis
                del g.input[:]
                g.input.extend(_suffix(f.input[0], rid, i) for i in range(times))
            return
        if rid not in f.repeat_id:
            net.function.add().CopyFrom(f)
            return
        for i in range(times):
            g = net.function.add()
            g.CopyFrom(f)
            g.repeat_id.remove(rid)
            g.name = _suffix(f.name, rid, i)
            for n, v in enumerate(f.input):
                if v in self._param_names:
                    names = self._param_names[v]
                    g.input[n] = names[i] if len(names) == times else v
                elif v in sources:
                    g.input[n] = sources[v][i]
                else:
                    g.input[n] = _suffix(v, rid, i)
            for n, v in enumerate(f.output):
                g.output[n] = _suffix(v, rid, i)


def _in_dependency_order(functions, network):
    """Functions reordered so each runs after those making its inputs (stable otherwise)."""
    made_by = {o: k for k, f in enumerate(functions) for o in f.output}
    done, order, pending = set(), [], list(range(len(functions)))
    while pending:
        for k in pending:
            if all(made_by.get(i) in done or i not in made_by for i in functions[k].input):
                order.append(k)
                done.add(k)
                pending.remove(k)
                break
        else:
            names = [functions[k].name for k in pending]
            raise ValueError(f"network {network.name!r}: functions {names} depend on each "
                             "other in a cycle")
    return [functions[k] for k in order]
