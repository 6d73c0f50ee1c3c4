"""Compiled programs kept on disk, so that a test file, a notebook or a script
run again skips their XLA compiles (the first tier's and the full one's).
Programs of a multi-process run are not kept.

One file per program, named by a hash of everything that makes two programs
interchangeable (the program text and signature, the compile options, the jax
and jaxlib versions, this CPU). A file is written under a temporary name and
renamed into place; a file that fails its checksum or does not load is deleted
and the program compiled again. The directory is kept under a size limit, oldest
files first.

NNJAX_COMPILE_CACHE: the directory (default ``$XDG_CACHE_HOME/nnjax/xla``, else
``~/.cache/nnjax/xla``), or ``0`` to keep nothing on disk.
NNJAX_COMPILE_CACHE_MB: the size limit (default 1024).
"""
import hashlib
import os
import platform
import struct
import tempfile
import warnings
import zlib

import jax
import jaxlib
from jax.experimental.serialize_executable import deserialize_and_load, serialize

MAGIC = b"nnjax-xla-2\n"  # then the sha256 of the rest, the compile seconds, the zlib payload
DEFAULT_LIMIT_MB = 1024
# The size is checked (a scan of the directory) at a process's first store and
# then each time it has written this fraction of the limit since the last check.
CHECK_FRACTION = 0.05

_written_since_check = None  # None: no check yet in this process
_unusable = set()  # directories that could not be created or written


def directory():
    """The cache directory, or None when the cache is off."""
    setting = os.environ.get("NNJAX_COMPILE_CACHE", "")
    if setting == "0" or jax.process_count() > 1:
        return None
    if setting:
        path = setting
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = os.path.join(base, "nnjax", "xla")
    return None if path in _unusable else path


def entry_name(sharing_key, options):
    """The file name of a program: a hash of its sharing key (see
    ``_program._sharing_key``), the compile options, the versions, the device
    kind and the CPU."""
    digest = hashlib.sha256()
    for part in (repr(sharing_key), repr(sorted(options.items())), jax.__version__,
                 jaxlib.__version__, jax.default_backend(), jax.devices()[0].device_kind,
                 _cpu_signature()):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest() + ".xla"


def load(name, lowered):
    """``(executable, seconds its compile took)`` stored as ``name`` for
    ``lowered``, or None."""
    path = _path(name)
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    unpacked = _unpack(data)
    if unpacked is not None:
        seconds, payload = unpacked
        try:
            executable = deserialize_and_load(payload, lowered.in_tree, lowered.out_tree)
            os.utime(path)  # recently used: pruned last
            return executable, seconds
        except Exception:  # noqa: BLE001 - any unreadable entry is compiled again
            pass
    _remove(path)
    return None


def store(name, executable, seconds):
    """Write ``executable`` (its compile took ``seconds``) as ``name``, atomically;
    failures only turn the cache off."""
    global _written_since_check
    root = directory()
    if root is None:
        return
    try:
        payload, _, _ = serialize(executable)
    except Exception:  # noqa: BLE001 - programs XLA can't serialize are not kept
        return
    try:
        os.makedirs(root, mode=0o700, exist_ok=True)
        packed = _pack(payload, seconds)
        fd, tmp = tempfile.mkstemp(dir=root, prefix=".tmp-", suffix=".xla")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(packed)
            os.replace(tmp, os.path.join(root, name))
        except BaseException:
            _remove(tmp)
            raise
    except OSError as error:
        _unusable.add(root)
        warnings.warn(f"nnjax: compile cache {root} is not writable ({error}); "
                      "compiled programs are not kept on disk (set NNJAX_COMPILE_CACHE)",
                      RuntimeWarning, stacklevel=2)
        return
    limit = limit_bytes()
    if _written_since_check is None or _written_since_check + len(packed) >= CHECK_FRACTION * limit:
        _written_since_check = 0
        prune(root, limit)
    else:
        _written_since_check += len(packed)


def limit_bytes():
    try:
        return int(float(os.environ.get("NNJAX_COMPILE_CACHE_MB", DEFAULT_LIMIT_MB)) * (1 << 20))
    except ValueError:
        raise ValueError("NNJAX_COMPILE_CACHE_MB must be a number of megabytes, got "
                         f"{os.environ['NNJAX_COMPILE_CACHE_MB']!r}") from None


def prune(root, limit):
    """Delete the least recently used entries until ``root`` holds at most
    ``limit`` bytes (to 90% of it, so that pruning is not needed at once again)."""
    entries = []
    try:
        for entry in os.scandir(root):
            if entry.name.endswith(".xla") and not entry.name.startswith(".tmp-"):
                info = entry.stat()
                entries.append((info.st_mtime, info.st_size, entry.path))
    except OSError:
        return
    total = sum(size for _, size, _ in entries)
    if total <= limit:
        return
    for _, size, path in sorted(entries):
        _remove(path)
        total -= size
        if total <= 0.9 * limit:
            break


def _path(name):
    root = directory()
    return None if root is None else os.path.join(root, name)


def _pack(payload, seconds):
    body = struct.pack("<d", seconds) + zlib.compress(payload, 1)  # a third of the size
    return MAGIC + hashlib.sha256(body).digest() + body


def _unpack(data):
    """``(seconds, payload)`` of a stored entry, or None when it is not one or is damaged."""
    head = len(MAGIC)
    if not data.startswith(MAGIC) or len(data) < head + 32 + 8:
        return None
    checksum, body = data[head:head + 32], data[head + 32:]
    if hashlib.sha256(body).digest() != checksum:
        return None
    try:
        return struct.unpack("<d", body[:8])[0], zlib.decompress(body[8:])
    except zlib.error:
        return None


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


_cpu = None


def _cpu_signature():
    """What executables compiled here assume of the CPU (its model and flags):
    a cache directory shared with another machine must not hand its programs over."""
    global _cpu
    if _cpu is None:
        parts = [platform.machine(), platform.processor()]
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith(("model name", "flags", "Features")):
                        parts.append(line.strip())
                    if len(parts) >= 4:
                        break
        except OSError:
            pass
        _cpu = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return _cpu
