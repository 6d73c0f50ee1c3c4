"""NNP -> NNB, the binary network format of nnabla-c-runtime.

Layout (every integer little-endian as the host packs it, NNabla's struct formats):

- header ``IIiIiIiIiIiIII``: NNB version, API level, then (count, list index)
  of buffers, variables, functions, inputs, outputs, then the number of
  memory blocks and the byte size of the memory data;
- the memory index: one ``I`` per block, its offset in the memory data;
- the memory data: blocks, each padded with zeros to a multiple of 4 bytes.

A list is a block of ``I`` indices. A variable block is ``IiIBi``: id, shape
(count, list index), ``fp_pos << 4 | type``, data index (a parameter's data
block, or ``-(buffer + 1)`` for an activation buffer, -1 for none). A
function block is ``H`` id, ``H`` implementation, ``iI`` inputs, ``iI``
outputs, then its arguments packed with the codes of its unique name
(repeated ints and shapes as count + list index, strings as the index of
the value among the allowed ones).

Activation buffers are shared: each Buffer variable lives from the first
function that touches it (0 for inputs) to the last one (past the end for
outputs), and is given the first free buffer big enough, as NNabla assigns
them, so that the runtime allocates only the buffers the widest step needs.
"""
import collections
import math
import struct

import numpy as np
import yaml

from ... import get_file_handle as fh
from ....logger import logger
from ..utils import get_function_info, type_to_pack_format
from .runtime_table import API_LEVELS, STRING_CHOICES

__all__ = ["NnbExporter", "NN_BINARY_FORMAT_VERSION", "ApiLevel", "ApiLevelInfo", "DATA_TYPES",
           "get_api_level_info"]

NN_BINARY_FORMAT_VERSION = 2
DATA_TYPES = {"FLOAT32": 0, "FIXED16": 1, "FIXED8": 2, "SIGN": 3}
_FP_POS_MAX = {1: 15, 2: 7}
_BYTES_PER_ITEM = {"FLOAT32": 4, "FIXED16": 2, "FIXED8": 1}


class ApiLevel:
    """The functions (id, argument codes) an API level of nnabla-c-runtime knows."""

    def __init__(self, level=-1):
        newest = max(API_LEVELS)
        self.level = newest if level is None or level < 0 or level > newest else int(level)
        if self.level < 1:
            raise ValueError(f"NNB: API level {level} does not exist (1 to {newest})")
        self.functions = {}
        for lv in range(1, self.level + 1):
            for uniq, func_id in API_LEVELS[lv].items():
                type_name, codes = uniq.split("_", 1)
                self.functions[type_name] = (func_id, "" if codes == "Empty" else codes)

    def lookup(self, type_name):
        if type_name not in self.functions:
            raise ValueError(f"NNB: {type_name}() is not supported in API level {self.level}")
        return self.functions[type_name]


class _Memory:
    def __init__(self):
        self.offsets = []
        self.data = bytearray()

    def add(self, data):
        index = len(self.offsets)
        self.offsets.append(len(self.data))
        self.data += data + b"\0" * (int(math.ceil(len(data) / 4) * 4) - len(data))
        return index

    def add_list(self, code, values):
        values = list(values)
        return len(values), self.add(struct.pack(f"{len(values)}{code}", *values))


class NnbExporter:
    """Write the first executor's network of ``nnp`` as NNB (and/or its settings template)."""

    def __init__(self, nnp, batch_size=-1, nnb_version=None, api_level=-1):
        self._proto = nnp.protobuf
        self._version = NN_BINARY_FORMAT_VERSION if nnb_version is None else int(nnb_version)
        self._api = ApiLevel(api_level)
        self._executor, self._network = _executor_network(self._proto)
        self._batch = batch_size if batch_size and batch_size > 0 else \
            max(int(self._network.batch_size), 1)
        self._params = {p.variable_name: np.asarray(p.data, np.float32)
                        for p in self._proto.parameter}
        _transform_parameters(self._network, self._params)

    def execute(self, nnb_output_filename, settings_template_filename=None,
                settings_filename=None, default_type=("FLOAT32",)):
        settings = _read_settings(settings_filename)
        default = default_type[0] if isinstance(default_type, (list, tuple)) else default_type
        data = self._nnb_bytes(settings, default)
        written = []
        if settings_template_filename is not None:
            fh.atomic_write(settings_template_filename,
                            yaml.dump(_plain(settings), default_flow_style=False).encode())
            written.append(settings_template_filename)
        if nnb_output_filename is not None:
            fh.atomic_write(nnb_output_filename, data)
            written.append(nnb_output_filename)
        return written

    def _shape(self, v):
        return [int(d) if d >= 0 else self._batch for d in v.shape.dim]

    def _nnb_bytes(self, settings, default_type):
        net, mem = self._network, _Memory()
        index_of = {v.name: i for i, v in enumerate(net.variable)}
        inputs = mem.add_list("I", (index_of[d.variable_name] for d in self._executor.data_variable))
        outputs = mem.add_list("I", (index_of[o.variable_name]
                                     for o in self._executor.output_variable))
        # byte sizes (NNB > 2) count only the types the settings name, as NNabla's do
        sizes, assigned = assign_buffers(net, self._executor, self._buffer_sizes(settings))
        for v in net.variable:
            settings["variables"].setdefault(v.name, default_type)
        buffers = mem.add_list("I", sizes)
        generated = _generated(self._executor, net, self._batch)
        blocks = [self._variable_block(mem, n, v, settings, assigned, generated)
                  for n, v in enumerate(net.variable)]
        variables = mem.add_list("I", blocks)
        functions = mem.add_list("I", (self._function_block(mem, f, index_of, settings)
                                       for f in net.function))
        header = struct.pack("IIiIiIiIiIiIII", self._version, self._api.level,
                             *buffers, *variables, *functions, *inputs, *outputs,
                             len(mem.offsets), len(mem.data))
        return header + struct.pack(f"{len(mem.offsets)}I", *mem.offsets) + bytes(mem.data)

    def _buffer_sizes(self, settings):
        sizes = []
        for v in self._network.variable:
            if v.type != "Buffer":
                continue
            size = int(np.prod(self._shape(v), dtype=np.int64))
            if self._version > NN_BINARY_FORMAT_VERSION:
                type_name = settings["variables"].get(v.name, "FLOAT32").split("_")[0]
                size *= _BYTES_PER_ITEM.get(type_name, 4)
            sizes.append(size)
        return sizes

    def _variable_block(self, mem, n, v, settings, assigned, generated):
        shape = mem.add_list("I", self._shape(v))
        option = settings["variables"][v.name].split("_")
        type_name = option[0]
        if type_name not in DATA_TYPES:
            raise ValueError(f"NNB: variable {v.name!r}: type {type_name!r} is not one of "
                             f"{list(DATA_TYPES)}")
        dtype = DATA_TYPES[type_name]
        fp_pos = int(option[1]) if len(option) == 2 else None
        if v.name in generated:
            data_index = mem.add(struct.pack(f"{generated[v.name].size}f",
                                             *generated[v.name].ravel().tolist()))
        elif v.type == "Parameter":
            if v.name not in self._params:
                raise ValueError(f"NNB: parameter {v.name!r} has no value "
                                 "(give the parameter file too)")
            data, fp_pos = _pack_parameter(self._params[v.name], type_name, dtype, fp_pos)
            data_index = mem.add(data)
        else:
            if dtype == DATA_TYPES["SIGN"]:
                raise ValueError(f"NNB: variable {v.name!r}: SIGN is for parameters only")
            if dtype != DATA_TYPES["FLOAT32"] and fp_pos is None:
                raise ValueError(f"NNB: buffer variable {v.name!r} of type {type_name} needs "
                                 f"its fp_pos ({type_name}_<pos>)")
            data_index = -(assigned[n] + 1) if n in assigned else -1
        if dtype in _FP_POS_MAX:
            if not 0 <= fp_pos <= _FP_POS_MAX[dtype]:
                raise ValueError(f"NNB: variable {v.name!r}: fp_pos {fp_pos} out of range")
        else:
            fp_pos = 0
        return mem.add(struct.pack("IiIBi", n, *shape, (fp_pos & 0xF) << 4 | (dtype & 0xF),
                                   data_index))

    def _function_block(self, mem, f, index_of, settings):
        func_id, codes = self._api.lookup(f.type)
        entry = settings["functions"].setdefault(f.name, collections.OrderedDict(implement=0))
        data = struct.pack("H", func_id) + struct.pack("H", int(entry.get("implement", 0)))
        data += struct.pack("iI", *mem.add_list("I", (index_of[i] for i in f.input)))
        data += struct.pack("iI", *mem.add_list("I", (index_of[o] for o in f.output)))
        info = get_function_info()[f.type]
        arguments = info.get("arguments", {})
        if not arguments:
            if codes:
                raise ValueError(f"NNB: {f.type}_{codes} is not supported by API level "
                                 f"{self._api.level}")
            return mem.add(data)
        param = getattr(f, info["snake_name"] + "_param")
        fmt, values, pos = "", [], 0
        for name, arg in arguments.items():
            code = type_to_pack_format(arg["type"])
            if pos >= len(codes):
                logger.info(f"NNB: {f.type}.{name} is left out for API level {self._api.level}")
                continue        # arguments a lower API level does not know are left out
            if codes[pos:pos + len(code)] != code:
                raise ValueError(f"NNB: {f.type}_{codes} is not supported by API level "
                                 f"{self._api.level}")
            pos += len(code)
            fmt += code
            values += self._argument(mem, f, name, arg["type"], getattr(param, name))
        return mem.add(data + struct.pack(fmt, *values))

    @staticmethod
    def _argument(mem, f, name, type_name, value):
        if type_name in ("bool", "double", "float", "int64"):
            return [value]
        if type_name == "repeated int64":
            return list(mem.add_list("i", value))
        if type_name == "Shape":
            return list(mem.add_list("i", value.dim))
        if type_name == "string":
            choices = STRING_CHOICES.get((f.type, name))
            if choices is None or value not in choices:
                raise ValueError(f"NNB: {f.type} argument {name}={value!r} is not one of "
                                 f"{choices}")
            return [choices.index(value)]
        raise ValueError(f"NNB: {f.type} argument {name} of type {type_name!r} has no "
                         "NNB encoding")


def _executor_network(proto):
    if not proto.executor:
        raise ValueError("NNB: the model has no executor")
    e = proto.executor[0]
    for n in proto.network:
        if n.name == e.network_name:
            return e, n
    raise ValueError(f"NNB: executor {e.name!r} runs network {e.network_name!r}, "
                     "which the model does not hold")


def _read_settings(filename):
    settings = collections.OrderedDict()
    if isinstance(filename, (list, tuple)):
        filename = filename[0] if filename else None
    if filename is not None:
        try:
            with open(filename) as f:
                settings = collections.OrderedDict(yaml.safe_load(f) or {})
        except (OSError, yaml.YAMLError) as e:
            raise ValueError(f"NNB settings {filename!r}: {e}") from None
    settings["functions"] = collections.OrderedDict(settings.get("functions") or {})
    settings["variables"] = collections.OrderedDict(settings.get("variables") or {})
    return settings


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _generated(executor, network, batch):
    shapes = {v.name: [int(d) if d > 0 else batch for d in v.shape.dim]
              for v in network.variable}
    values = {}
    for g in executor.generator_variable:
        shape = shapes[g.variable_name]
        if g.type == "Normal":
            v = np.random.randn(*shape) * g.multiplier
        elif g.type == "Uniform":
            v = np.random.uniform(-g.multiplier, g.multiplier, size=shape)
        elif g.type == "Constant":
            v = np.ones(shape) * g.multiplier
        else:
            raise ValueError(f"NNB: generator type {g.type!r} of {g.variable_name!r} is not "
                             "Normal, Uniform or Constant")
        values[g.variable_name] = np.asarray(v, np.float32)
    return values


def _int_bits(values):
    top = np.abs(values).max() if values.size else 0.0
    if top < 1:
        return 1
    exponent = np.log2(top)
    if exponent.is_integer() and values.ravel()[np.abs(values).argmax()] > 0:
        return int(exponent) + 2
    return int(np.ceil(exponent)) + 1


def _pack_parameter(values, type_name, dtype, fp_pos):
    values = np.asarray(values, np.float32).ravel()
    if type_name == "FLOAT32":
        return struct.pack(f"{values.size}f", *values.tolist()), fp_pos
    if type_name == "SIGN":
        if values.size % 8:
            raise ValueError(f"NNB: a SIGN parameter packs 8 values a byte; {values.size} "
                             "values do not fill whole bytes")
        bits = values.astype(np.uint8)
        bits[bits == 255] = 0
        bits = bits.reshape(-1, 8)[:, ::-1].ravel()
        packed = np.packbits(bits)
        return struct.pack(f"{packed.size}B", *packed.tolist()), fp_pos
    if fp_pos is None:
        fp_pos = _FP_POS_MAX[dtype] + 1 - _int_bits(values)
    fixed = np.round(values * (1 << fp_pos)).astype(int)
    if type_name == "FIXED16":
        return struct.pack(f"{fixed.size}h", *np.clip(fixed, -0x8000, 0x7FFF).tolist()), fp_pos
    return struct.pack(f"{fixed.size}b", *np.clip(fixed, -128, 127).tolist()), fp_pos


def _transform_parameters(network, params):
    """The runtime's parameter layouts: affine weights transposed to (out, in);
    the unused real-valued weight of binary convolutions cut to one value."""
    done = set()
    transposed = {"Affine": (1,), "BinaryConnectAffine": (1, 2), "BinaryWeightAffine": (1, 2)}
    shapes = {v.name: [int(d) for d in v.shape.dim] for v in network.variable}
    for f in network.function:
        for i in transposed.get(f.type, ()):
            name = f.input[i]
            if name in done or name not in params:
                continue
            done.add(name)
            rows = shapes[name][0]
            params[name] = params[name].reshape(rows, -1).T.ravel()
        if f.type in ("BinaryConnectConvolution", "BinaryWeightConvolution"):
            name = f.input[1]
            if name in params:
                params[name] = params[name].ravel()[:1]


def assign_buffers(network, executor, sizes):
    """(buffer sizes, {variable index: buffer}) sharing buffers between Buffer variables
    whose lives (first to last function touching them) do not overlap."""
    inputs = {d.variable_name for d in executor.data_variable}
    outputs = {o.variable_name for o in executor.output_variable}
    buffer_vars = [i for i, v in enumerate(network.variable) if v.type == "Buffer"]
    slot = {network.variable[i].name: k for k, i in enumerate(buffer_vars)}
    begin = [-1] * len(buffer_vars)
    end = [-1] * len(buffer_vars)
    n_functions = len(network.function)
    for fi, f in enumerate(network.function):
        for name in list(f.input) + list(f.output):
            k = slot.get(name)
            if k is None:
                continue
            if begin[k] < 0:
                begin[k] = 0 if name in inputs else fi
            end[k] = n_functions if name in outputs else fi
    alive = [[k for k in range(len(buffer_vars)) if begin[k] <= fi <= end[k]]
             for fi in range(n_functions)]
    count = max((len(a) for a in alive), default=0)
    actual = [0] * count
    for a in alive:
        step = sorted([sizes[k] for k in a] + [-1] * (count - len(a)))
        actual = [max(x, s) for x, s in zip(actual, step)]
    assigned = {}
    for a in alive:
        busy = [False] * count
        for k in a:
            if buffer_vars[k] in assigned:
                busy[assigned[buffer_vars[k]]] = True
        for k in a:
            if buffer_vars[k] in assigned:
                continue
            free = [b for b in range(count) if not busy[b] and sizes[k] <= actual[b]]
            if not free:
                free = [b for b in range(count) if not busy[b]]
                actual[free[0]] = sizes[k]
            busy[free[0]] = True
            assigned[buffer_vars[k]] = free[0]
    return [int(s) for s in actual], assigned


class ApiLevelInfo:
    """NNabla's API-level query object (``nnabla.utils.converter.get_api_level_info()``):
    ``set_api_level(level)`` (-1: newest), then ids and argument codes per type."""

    def __init__(self):
        self._level = ApiLevel(-1)

    def set_api_level(self, level):
        self._level = ApiLevel(level)

    def get_current_level(self):
        return self._level.level

    def get_function_list(self):
        return self._level.functions.keys()

    def get_func_id(self, func_name):
        return self._level.lookup(func_name)[0]

    def get_argument_code(self, func_name):
        return self._level.lookup(func_name)[1]

    def get_func_uniq_name(self, func_name):
        return f"{func_name}_{self._level.lookup(func_name)[1] or 'Empty'}"


def get_api_level_info():
    """A fresh :class:`ApiLevelInfo` (at the newest level)."""
    return ApiLevelInfo()
