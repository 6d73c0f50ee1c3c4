"""Write an NNP for an older NNabla version (``nnabla_cli convert --nnp-version``).

The function table of that version (NNabla's ``functions.yaml`` at tag
``v<version>``) is read from ``~/.nnabla/function_info_<version>.yaml``, the
cache NNabla itself uses, and downloaded into it when missing. Against it, each
function of the executor's network is checked and rewritten: a type the
version does not have, an input it does not take or a different output count
is an error; an argument the version does not know is dropped when it holds
its default and is an error otherwise. The result holds the executor's
network, the executor and the parameters, as NNabla writes it.
"""
import os
import tempfile
import urllib.request
from collections import OrderedDict

import yaml

from ..._specs import DECLARED, REQUIRED, COMPUTED
from ...logger import logger
from .. import nnabla_pb2
from ..save import _is_repeated

URL = ("https://raw.githubusercontent.com/sony/nnabla/v{version}/build-tools/"
       "code_generator/functions.yaml")
DOWNLOAD_TIMEOUT_S = 10


def cache_path(version):
    return os.path.join(os.path.expanduser("~"), ".nnabla", f"function_info_{version}.yaml")


def load_function_info(path):
    """{type name: its entry (inputs, arguments, outputs)} of an NNabla ``functions.yaml``."""
    with open(path) as f:
        table = yaml.safe_load(f)
    if not isinstance(table, dict):
        raise ValueError(f"{path}: not an NNabla function table")
    info = OrderedDict()
    for category in table.values():
        for name, entry in (category or {}).items():
            info[name] = entry or {}
    return info


def function_info(version):
    """The function table of NNabla ``version`` (cached, else downloaded)."""
    path = cache_path(version)
    if not os.path.exists(path):
        _download(version, path)
    return load_function_info(path)


def _download(version, path):
    url = URL.format(version=version)
    logger.info(f"--nnp-version {version}: downloading NNabla's function table from {url}")
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as r:
            data = r.read()
    except Exception as e:  # offline, unknown tag, ...
        raise ValueError(f"--nnp-version {version}: NNabla's function table of v{version} is "
                         f"not in {path} and could not be downloaded from {url} ({e})") from None
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def downgrade(nnp, version, old_info=None):
    """Rewrite ``nnp`` (an importer's result: ``.protobuf``) for NNabla ``version``; returns it."""
    old_info = function_info(version) if old_info is None else old_info
    proto = nnp.protobuf
    if not proto.executor:
        raise ValueError("--nnp-version: the NNP has no executor, so no network to write")
    executor = proto.executor[0]
    network = next((n for n in proto.network if n.name == executor.network_name), None)
    if network is None:
        raise ValueError(f"--nnp-version: the executor's network {executor.network_name!r} "
                         "is not in the NNP")
    for f in network.function:
        _downgrade_function(f, old_info, version)
    out = nnabla_pb2.NNablaProtoBuf()
    out.network.add().CopyFrom(network)
    out.executor.add().CopyFrom(executor)
    for p in proto.parameter:
        out.parameter.add().CopyFrom(p)
    nnp.protobuf = out
    return nnp


def _downgrade_function(f, old_info, version):
    where = f"--nnp-version {version}: function {f.name!r} ({f.type})"
    old = old_info.get(f.type)
    decl = DECLARED.get(f.type)
    if old is None:
        raise ValueError(f"{where}: NNabla v{version} has no {f.type}")
    if decl is None:
        raise ValueError(f"{where}: not a function type nnjax knows")
    old_inputs = old.get("inputs") or {}
    for name in decl.input_names:
        if name not in old_inputs:
            raise ValueError(f"{where}: NNabla v{version}'s {f.type} has no input {name!r}")
    if len(old.get("outputs") or {}) != len(decl.outputs):
        raise ValueError(f"{where}: NNabla v{version}'s {f.type} has "
                         f"{len(old.get('outputs') or {})} outputs, this one {len(decl.outputs)}")
    old_args = old.get("arguments") or {}
    for name, spec in old_args.items():
        if name not in decl.arg_names and "default" not in (spec or {}):
            raise ValueError(f"{where}: NNabla v{version} requires argument {name!r}, "
                             "which this version does not have")
    field = nnabla_pb2.FUNCTION_PARAMS.get(f.type)
    if field is None or not f.HasField(field):
        return
    message = getattr(f, field)
    for arg in decl.args:
        if arg.name in old_args:
            continue
        if not _holds_default(message, arg):
            raise ValueError(f"{where}: NNabla v{version} only supports the default of "
                             f"argument {arg.name!r} ({arg.default!r})")
        message.ClearField(arg.name)
    if not old_args:
        f.ClearField(field)


def _holds_default(message, arg):
    if arg.default is REQUIRED or arg.default is COMPUTED:
        return False
    fd = message.DESCRIPTOR.fields_by_name.get(arg.name)
    if fd is None:
        return True
    value = getattr(message, arg.name)
    if fd.type == fd.TYPE_MESSAGE:
        if fd.message_type.name != "Shape":
            return True  # (a Communicator: nothing stored)
        value = list(value.dim)
    elif _is_repeated(fd):
        value = list(value)
    default = arg.default
    if isinstance(default, (list, tuple)):
        return [_close(a, b) for a, b in zip(value, default)] == [True] * len(default) \
            and len(value) == len(default)
    return _close(value, default)


def _close(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(b)))
    return a == b
