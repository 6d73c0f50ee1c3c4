"""Extension contexts, as ``nnabla.ext_utils``.

'cpu', 'cuda' and 'cudnn' all run through XLA: on a JAX GPU when one is
present, else on the CPU (with one warning), so GPU-written scripts run.
"""
import importlib
import warnings

import jax

from ._init import array_classes as _array_classes, device_synchronize as _device_synchronize
from ._queue import flush
from .context import Context, _warn_if_no_gpu

_EXTENSIONS = ("cpu", "cuda", "cudnn")
_TYPE_CONFIGS = ("float", "half", "mixed_half", "bfloat16")


def list_extensions():
    """Names accepted by :func:`get_extension_context`."""
    return list(_EXTENSIONS)


def get_extension_context(ext_name, **kw):
    """A Context for ``ext_name`` ('cpu', 'cuda' or 'cudnn').

    Keyword args: ``device_id`` (str or int, default '0') and ``type_config``
    ('float' by default, 'half' for float16 compute); others are ignored with a
    warning, as NNabla ignores them.
    """
    if ext_name not in _EXTENSIONS:
        raise ValueError(f"get_extension_context: unknown extension {ext_name!r}; "
                         f"choose one of {list(_EXTENSIONS)}")
    device_id = str(kw.pop("device_id", "0"))
    type_config = kw.pop("type_config", "float")
    if kw:
        # NNabla's extension contexts take **kw and ignore what they do not know
        warnings.warn(f"get_extension_context({ext_name!r}): ignoring unknown arguments "
                      f"{sorted(kw)} (as NNabla does)", UserWarning, stacklevel=2)
    if type_config not in _TYPE_CONFIGS:
        raise ValueError(f"get_extension_context: type_config must be one of "
                         f"{list(_TYPE_CONFIGS)}, got {type_config!r}")
    if ext_name == "cpu":
        backend = [f"cpu:{type_config}"]
        array_class = "CpuCachedArray"
    elif ext_name == "cuda":
        backend = [f"cuda:{type_config}", f"cpu:{type_config}"]
        array_class = "CudaCachedArray"
    else:
        backend = [f"cudnn:{type_config}", f"cuda:{type_config}", f"cpu:{type_config}"]
        array_class = "CudaCachedArray"
    ctx = Context(backend, array_class, device_id)
    _warn_if_no_gpu(ctx)
    return ctx


def extension_functions(ext_name):
    """The helpers ``nnabla_ext.<ext_name>`` offers scripts, as a dict of functions."""
    if ext_name not in _EXTENSIONS:
        raise ImportError(f"nnabla_ext: unknown extension {ext_name!r}; nnjax offers "
                          f"{sorted(_EXTENSIONS)}")

    def context(**kw):
        return get_extension_context(ext_name, **kw)

    def synchronize(**kw):
        """Wait until every queued computation has run."""
        flush()

    def clear_memory_cache():
        """Kept for NNabla compatibility: XLA manages device memory; nothing is cached here."""
        return None

    def get_device_count():
        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        return len(gpus) if ext_name != "cpu" else 1

    def get_devices():
        return [str(i) for i in range(get_device_count())]

    def array_classes():
        """The extension's array class names, preferred first."""
        return _array_classes(ext_name)

    def device_synchronize(device=""):
        """Wait until every queued computation has run."""
        _device_synchronize(device)

    return dict(context=context, synchronize=synchronize, clear_memory_cache=clear_memory_cache,
                get_device_count=get_device_count, get_devices=get_devices,
                array_classes=array_classes, device_synchronize=device_synchronize)


def import_extension_module(ext_name):
    """The module ``nnabla_ext.<ext_name>`` (``cpu``, ``cuda`` or ``cudnn``)."""
    if ext_name not in _EXTENSIONS:
        raise ImportError(f"import_extension_module: unknown extension {ext_name!r}")
    return importlib.import_module(f"nnabla_ext.{ext_name}")
