"""Reading an NNB file back (what ``NnbExporter`` wrote), for checks and inspection."""
import struct

import numpy as np

from .runtime_table import API_LEVELS

__all__ = ["read_nnb"]

_HEADER = "IIiIiIiIiIiIII"
_TYPE_NAMES = {0: "FLOAT32", 1: "FIXED16", 2: "FIXED8", 3: "SIGN"}


def _function_ids():
    ids = {}
    for level in API_LEVELS.values():
        for uniq, func_id in level.items():
            ids[func_id] = uniq
    return ids


def read_nnb(data, where="the NNB data"):
    """The network of NNB bytes as a dict: ``version``, ``api_level``, ``buffers`` (sizes),
    ``variables`` (id, shape, type, fp_pos, data_index, and ``data`` for parameters
    stored as FLOAT32), ``functions`` (id, uniq_name, implement, inputs, outputs,
    ``arguments``: the raw argument bytes), ``inputs``, ``outputs``."""
    head = struct.calcsize(_HEADER)
    if len(data) < head:
        raise ValueError(f"{where}: {len(data)} bytes is too short for an NNB header")
    h = struct.unpack(_HEADER, data[:head])
    n_blocks, size = h[12], h[13]
    table_end = head + 4 * n_blocks
    if len(data) != table_end + size:
        raise ValueError(f"{where}: {len(data)} bytes, the header describes {table_end + size}")
    offsets = list(struct.unpack(f"{n_blocks}I", data[head:table_end])) + [size]
    memory = data[table_end:]

    def block(i):
        if not 0 <= i < n_blocks:
            raise ValueError(f"{where}: block index {i} out of range ({n_blocks} blocks)")
        return memory[offsets[i]:offsets[i + 1]]

    def ints(count, index, code="I"):
        return list(struct.unpack(f"{count}{code}", block(index)[:4 * count])) if count else []

    names = _function_ids()
    variables = []
    for vi in ints(h[4], h[5]):
        vid, n_dims, dims_index, type_byte, data_index = struct.unpack("IiIBi", block(vi)[:20])
        v = dict(id=vid, shape=ints(n_dims, dims_index), type=_TYPE_NAMES[type_byte & 0xF],
                 fp_pos=type_byte >> 4, data_index=data_index)
        if data_index >= 0 and v["type"] == "FLOAT32":
            count = int(np.prod(v["shape"], dtype=np.int64))
            v["data"] = np.frombuffer(block(data_index)[:4 * count], np.float32)
        variables.append(v)
    functions = []
    for fi in ints(h[6], h[7]):
        raw = block(fi)
        func_id, implement = struct.unpack("HH", raw[:4])
        n_in, in_index, n_out, out_index = struct.unpack("iIiI", raw[4:20])
        functions.append(dict(id=func_id, uniq_name=names.get(func_id), implement=implement,
                              inputs=ints(n_in, in_index), outputs=ints(n_out, out_index),
                              arguments=bytes(raw[20:])))
    return dict(version=h[0], api_level=h[1], buffers=ints(h[2], h[3]), variables=variables,
                functions=functions, inputs=ints(h[8], h[9]), outputs=ints(h[10], h[11]),
                blocks=n_blocks)
