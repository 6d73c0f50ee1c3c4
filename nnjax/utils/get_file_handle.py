"""Reading and writing NNabla's model files.

Formats, as NNabla writes them:

- ``.nntxt`` / ``.prototxt``: an ``NNablaProtoBuf`` message in protobuf text format
  (networks, executors, ... and, rarely, parameters).
- ``.protobuf``: the same message in binary form (a parameter file holds only
  ``parameter`` entries).
- ``.h5``: parameters, one dataset per parameter path with attributes
  ``need_grad`` and ``index`` (creation order).
- ``.nnp``: a zip archive of ``nnp_version.txt`` (``0.1``), ``network.nntxt`` and
  ``parameter.h5`` or ``parameter.protobuf``.

Every error names the file it is about. Files are written to a temporary name
and renamed, so a failed save never leaves a half-written file behind.
"""
import contextlib
import io
import os
import tempfile
import zipfile
from collections import OrderedDict

import numpy as np
from google.protobuf import text_format

from . import nnabla_pb2

NNP_VERSION = "0.1"
TEXT_EXTENSIONS = (".nntxt", ".prototxt")
PARAMETER_EXTENSIONS = (".h5", ".protobuf")


def file_extension(filename, extension=None):
    """The extension of ``filename`` (a path), else ``extension`` (file objects)."""
    if isinstance(filename, (str, os.PathLike)):
        ext = os.path.splitext(os.fspath(filename))[1].lower()
        return ext or extension
    return extension


def describe(filename):
    """A printable name for a path or file object."""
    if isinstance(filename, (str, os.PathLike)):
        return repr(os.fspath(filename))
    name = getattr(filename, "name", None)
    return repr(name) if isinstance(name, str) else f"<{type(filename).__name__}>"


def _read_bytes(filename):
    if isinstance(filename, (str, os.PathLike)):
        path = os.fspath(filename)
        if not os.path.exists(path):
            raise FileNotFoundError(f"no such file {path!r}")
        if os.path.isdir(path):
            raise IsADirectoryError(f"{path!r} is a directory, not a model file")
        with open(path, "rb") as f:
            return f.read()
    if not hasattr(filename, "read"):
        raise TypeError(f"expected a file name or a file object, got {type(filename).__name__}")
    data = filename.read()
    return data.encode("utf-8") if isinstance(data, str) else data


# ---------------------------------------------------------------- parsing
def parse_text(data, where):
    """An ``NNablaProtoBuf`` from protobuf text (bytes or str); ValueError naming ``where``."""
    proto = nnabla_pb2.NNablaProtoBuf()
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"{where} is not a text (.nntxt) model file: {e}") from None
    try:
        text_format.Merge(data, proto)
    except text_format.ParseError as e:
        raise ValueError(f"cannot parse {where} as NNabla protobuf text: {e}") from None
    return proto


def parse_binary(data, where, what="an NNabla protobuf file"):
    """An ``NNablaProtoBuf`` from its binary encoding; ValueError naming ``where``, ``what``."""
    proto = nnabla_pb2.NNablaProtoBuf()
    try:
        proto.MergeFromString(data)
    except Exception as e:  # DecodeError and friends
        raise ValueError(f"cannot parse {where} as {what} ({e})") from None
    return proto


def parameters_of_proto(proto, where):
    """``proto.parameter`` as a list of (name, float32 array, need_grad)."""
    entries = []
    for p in proto.parameter:
        shape = tuple(int(d) for d in p.shape.dim)
        data = np.asarray(p.data, dtype=np.float32)
        if data.size != int(np.prod(shape, dtype=np.int64)):
            raise ValueError(f"parameter {p.variable_name!r} in {where} has {data.size} values, "
                             f"its shape {shape} needs {int(np.prod(shape, dtype=np.int64))}")
        entries.append((p.variable_name, data.reshape(shape), bool(p.need_grad)))
    return entries


def parameters_of_h5(data, where):
    """Parameters of an ``.h5`` parameter file (bytes) in their saved order."""
    import h5py
    entries = []
    try:
        with h5py.File(io.BytesIO(data), "r") as hd:
            found = []

            def collect(name, obj):
                if isinstance(obj, h5py.Dataset):
                    index = obj.attrs.get("index", None)
                    found.append((index is None, 0 if index is None else int(index), name))
            hd.visititems(collect)
            for _, _, name in sorted(found):
                ds = hd[name]
                entries.append((name, np.asarray(ds[...]), bool(ds.attrs.get("need_grad", True))))
    except OSError as e:
        raise ValueError(f"cannot read {where} as an HDF5 parameter file ({e})") from None
    return entries


class Contents:
    """What files hold: one merged ``proto`` (no parameters) and the parameters."""

    def __init__(self):
        self.proto = nnabla_pb2.NNablaProtoBuf()
        self.parameters = []       # (name, array, need_grad) in file order
        self.nnp_version = None
        self.skipped = []          # members of .nnp files that were not read


def _merge(contents, proto, where, exclude_parameter, parameter_only):
    if not exclude_parameter:
        contents.parameters += parameters_of_proto(proto, where)
    if not parameter_only:
        proto.ClearField("parameter")
        contents.proto.MergeFrom(proto)


def _read_one(contents, data, ext, where, exclude_parameter, parameter_only):
    if ext in TEXT_EXTENSIONS:
        _merge(contents, parse_text(data, where), where, exclude_parameter, parameter_only)
    elif ext == ".protobuf":
        _merge(contents, parse_binary(data, where), where, exclude_parameter, parameter_only)
    elif ext == ".h5":
        if not exclude_parameter:
            contents.parameters += parameters_of_h5(data, where)
    else:
        return False
    return True


def read_files(filenames, extension=".nntxt", exclude_parameter=False, parameter_only=False):
    """Read model files into a :class:`Contents`.

    ``filenames``: a path, a file object (its format given by ``extension``)
    or a list of them. ``.nnp`` archives are opened and their members read by
    their own extensions.
    """
    if isinstance(filenames, (str, os.PathLike)) or hasattr(filenames, "read"):
        filenames = [filenames]
    contents = Contents()
    for filename in filenames:
        ext = file_extension(filename, extension)
        where = describe(filename)
        if ext == ".nnp" and hasattr(filename, "seek"):
            filename.seek(0)  # a zip archive is read whole, wherever the file object stands
        data = _read_bytes(filename)
        if ext == ".nnp":
            _read_nnp(contents, data, where, exclude_parameter, parameter_only)
        elif not _read_one(contents, data, ext, where, exclude_parameter, parameter_only):
            raise ValueError(f"{where}: unsupported model file extension {ext!r} "
                             "(use .nnp, .nntxt, .prototxt, .protobuf or .h5)")
    return contents


def nnp_members(data, where, wanted=None):
    """(name, bytes) of the members of an .nnp archive (bytes), in archive order.

    wanted: a predicate on member names (default: every member); the others
    are not read. ValueError naming ``where`` for a bad archive or member.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data), "r")
    except zipfile.BadZipFile as e:
        raise ValueError(f"{where} is not a valid .nnp (zip) file ({e})") from None
    with archive:
        for name in archive.namelist():
            if wanted is not None and not wanted(name):
                continue
            try:
                member = archive.read(name)
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                raise ValueError(f"{where}: cannot read member {name!r} ({e})") from None
            yield name, member


def _read_nnp(contents, data, where, exclude_parameter, parameter_only):
    for name, member in nnp_members(data, where):
        inner = f"{name!r} in {where}"
        if name == "nnp_version.txt":
            contents.nnp_version = member.decode("utf-8", "replace").strip()
            continue
        ext = os.path.splitext(name)[1].lower()
        if not _read_one(contents, member, ext, inner, exclude_parameter, parameter_only):
            contents.skipped.append(name)


def parameters_of_file(data, ext, where):
    """(name, array, need_grad) entries of a ``.h5`` or ``.protobuf`` parameter file's bytes."""
    if ext == ".h5":
        return parameters_of_h5(data, where)
    proto = parse_binary(data, where, "an NNabla protobuf parameter file")
    return parameters_of_proto(proto, where)


def read_parameters(path, ext):
    """The parameter entries of a ``.h5`` / ``.protobuf`` file, or of a ``.nnp``'s members.

    ``ext``: the file's extension, as the caller dispatched on it (``.h5``,
    ``.protobuf`` or ``.nnp``). In an ``.nnp`` only the ``.h5`` and
    ``.protobuf`` members are read, in archive order. ValueError naming the file.
    """
    where = describe(path)
    data = _read_bytes(path)
    if ext != ".nnp":
        return parameters_of_file(data, ext, where)
    entries = []
    for name, member in nnp_members(
            data, where, lambda n: os.path.splitext(n)[1] in PARAMETER_EXTENSIONS):
        entries += parameters_of_file(member, os.path.splitext(name)[1], f"{name!r} in {where}")
    return entries


# ---------------------------------------------------------------- writing
def atomic_write(path, data):
    """Write ``path`` through a temporary file in its directory and a rename.

    ``data``: the bytes to write, or a callable ``write(temporary_path)``
    that writes the file itself (h5py, json ...). On any error the temporary
    file is removed and ``path`` is left as it was: an interrupted save never
    leaves a half-written file in place of a good one.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=directory)
    try:
        if callable(data):
            os.close(fd)
            data(tmp)
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_target(filename, data):
    """Write bytes to a path (atomically) or a file object (text or binary)."""
    if isinstance(filename, (str, os.PathLike)):
        atomic_write(filename, data)
    elif isinstance(filename, io.TextIOBase):
        filename.write(data.decode("utf-8"))
    else:
        filename.write(data)


def _as_entries(parameters):
    """{name: Variable, array or (array, need_grad)} -> [(name, array, need_grad)]."""
    entries = []
    for name, v in parameters.items():
        if isinstance(v, tuple):
            entries.append((name, np.asarray(v[0]), bool(v[1])))
        elif isinstance(v, np.ndarray):
            entries.append((name, v, True))
        else:
            entries.append((name, np.asarray(v.d), bool(v.need_grad)))
    return entries


def write_parameters_h5(target, parameters):
    """Write parameters into ``target`` (a path or a binary file object) as NNabla's .h5.

    One dataset per parameter name, attributes ``need_grad`` and ``index``
    (the order of ``parameters``).
    """
    import h5py
    with h5py.File(target, "w") as hd:
        for i, (name, value, need_grad) in enumerate(_as_entries(parameters)):
            hd[name] = value
            hd[name].attrs["need_grad"] = need_grad
            hd[name].attrs["index"] = i


def parameters_to_h5(parameters):
    """NNabla's .h5 parameter file of ``parameters``, as bytes."""
    bio = io.BytesIO()
    write_parameters_h5(bio, parameters)
    return bio.getvalue()


def parameters_to_proto(parameters, proto=None):
    """Add ``parameters`` to ``proto.parameter`` (a new ``NNablaProtoBuf`` if None)."""
    proto = nnabla_pb2.NNablaProtoBuf() if proto is None else proto
    for name, value, need_grad in _as_entries(parameters):
        p = proto.parameter.add()
        p.variable_name = name
        p.shape.dim.extend(int(d) for d in value.shape)
        p.data.extend(np.asarray(value, np.float32).ravel().tolist())
        p.need_grad = need_grad
    return proto


def proto_to_text(proto):
    """``proto`` in protobuf text format (utf-8 bytes), as .nntxt files hold it."""
    return text_format.MessageToString(proto).encode("utf-8")


def nnp_bytes(proto, parameters, parameter_format=".h5"):
    """An ``.nnp`` archive (bytes) of ``proto`` and ``parameters``.

    ``parameter_format``: ``.h5`` or ``.protobuf`` (the parameter file of the
    archive), or None for no parameter file (parameters, if any, are then
    expected inside ``proto``).
    """
    if parameter_format not in (".h5", ".protobuf", None):
        raise ValueError(f"parameter_format must be '.h5' or '.protobuf', got {parameter_format!r}")
    params = None
    if parameter_format == ".h5":
        params = parameters_to_h5(parameters)
    elif parameter_format == ".protobuf":
        params = parameters_to_proto(parameters).SerializeToString()
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("nnp_version.txt", NNP_VERSION + "\n")
        z.writestr("network.nntxt", proto_to_text(proto))
        if params is not None:
            z.writestr("parameter" + parameter_format, params)
    return bio.getvalue()


def save_parameters_file(filename, parameters, ext):
    """Write {name: Variable} to a ``.h5`` or ``.protobuf`` parameter file.

    ``filename``: a path (written atomically) or a binary file object.
    """
    if ext == ".h5":
        def data(target):
            write_parameters_h5(target, parameters)
    elif ext == ".protobuf":
        data = parameters_to_proto(parameters).SerializeToString()
    else:
        raise ValueError(f"{describe(filename)}: unsupported parameter file extension "
                         f"{ext!r} (use .h5 or .protobuf)")
    if isinstance(filename, (str, os.PathLike)):
        atomic_write(filename, data)
    elif callable(data):
        data(filename)
    else:
        filename.write(data)


def save_model_file(filename, proto, parameters=None, extension=".nnp", parameter_format=".h5"):
    """Write ``proto`` as .nnp / .nntxt / .prototxt / .protobuf / .h5 (parameters only).

    ``parameters``: {name: Variable} stored in the .nnp (or .h5) file; for the
    other formats include them in ``proto`` beforehand.
    """
    ext = file_extension(filename, extension)
    if ext == ".nnp":
        data = nnp_bytes(proto, parameters or OrderedDict(), parameter_format)
    elif ext in TEXT_EXTENSIONS:
        data = proto_to_text(proto)
    elif ext == ".protobuf":
        data = proto.SerializeToString()
    elif ext == ".h5":
        data = parameters_to_h5(parameters or OrderedDict())
    else:
        raise ValueError(f"{describe(filename)}: unsupported extension {ext!r} "
                         "(use .nnp, .nntxt, .prototxt, .protobuf or .h5)")
    write_target(filename, data)
    return ext


# ---------------------------------------------------------------- NNabla's handle API
_HANDLE_EXTENSIONS = (".nnp", ".h5", ".nntxt", ".prototxt", ".protobuf")


def _check_handle_ext(ext, what):
    if ext not in _HANDLE_EXTENSIONS:
        raise ValueError(f"{what}: extension {ext!r} is not supported; use one of "
                         f"{list(_HANDLE_EXTENSIONS)}")


def _open_handle(target, ext, mode):
    """A file handle of the kind NNabla hands out for ``ext`` (zip, h5, text or binary)."""
    import h5py
    if ext == ".nnp":
        return zipfile.ZipFile(target, mode)
    if ext == ".h5":
        return h5py.File(target, mode)
    if ext == ".protobuf":
        return open(target, mode + "b")
    return open(target, mode, encoding="utf-8")


@contextlib.contextmanager
def get_file_handle_load(nnp, path, ext):
    """A handle to read ``path`` (NNabla's): a ZipFile (.nnp), an h5py File (.h5) or
    a text/binary file; a file object given for .nntxt/.protobuf is handed back as is.
    ``nnp``: a ZipFile to open ``path`` inside of instead. Closed on leaving the block."""
    import h5py
    if nnp is not None:
        with nnp.open(path, "r") as member:
            if ext == ".h5":
                with h5py.File(io.BytesIO(member.read()), "r") as f:
                    yield f
            else:
                yield member
        return
    _check_handle_ext(ext, "get_file_handle_load")
    if hasattr(path, "read") and ext in (".nntxt", ".prototxt", ".protobuf"):
        yield path
        return
    if hasattr(path, "read") and ext == ".h5":
        path = io.BytesIO(path.read())
    f = _open_handle(path, ext, "r")
    try:
        yield f
    finally:
        f.close()


@contextlib.contextmanager
def get_file_handle_save(path, ext):
    """A handle to write ``path`` (NNabla's, see ``get_file_handle_load``).

    A file name is written through a temporary file renamed into place when the
    block ends without an error (an error leaves any earlier file untouched); a
    file object is written directly and rewound afterwards."""
    _check_handle_ext(ext, "get_file_handle_save")
    if hasattr(path, "write"):
        if ext in (".nntxt", ".prototxt", ".protobuf"):
            try:
                yield path
            finally:
                if hasattr(path, "seek"):
                    path.seek(0)
            return
        f = _open_handle(path, ext, "w")
        try:
            yield f
        finally:
            f.close()
            if hasattr(path, "seek"):
                path.seek(0)
        return
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=ext, dir=directory)
    os.close(fd)
    f = _open_handle(tmp, ext, "w")
    try:
        yield f
        f.close()
        os.replace(tmp, path)
    except BaseException:
        f.close()
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def get_buf_type(filename):
    """``'text'`` for .nntxt/.prototxt, ``'binary'`` otherwise (NNabla's)."""
    return "text" if os.path.splitext(os.fspath(filename))[1] in (".nntxt", ".prototxt") \
        else "binary"
