"""Array-class preference and available contexts, as NNabla's ``nnabla._init``.

nnjax stores arrays as JAX/numpy buffers whatever the class a context names;
the lists below are NNabla's CPU array classes, kept so scripts that read or
reorder them behave as on NNabla.
"""
import gc

import jax

from ._queue import flush

_ORIGINAL_ARRAY_CLASSES = {
    "cpu": ("CpuCachedArray", "CpuArray"),
    "cuda": ("CudaCachedArray", "CudaArray", "CudaCachedUnifiedArray", "CudaCachedHostArray",
             "CudaCachedVirtualArray"),
}
_state = {"preferred": None,
          "array_classes": {k: list(v) for k, v in _ORIGINAL_ARRAY_CLASSES.items()}}
available_contexts = ["cpu"]


def add_available_context(ctx):
    """Record a backend name (``'cpu'``, ``'cudnn'`` ...) as available."""
    if ctx not in available_contexts:
        available_contexts.append(ctx)


def _ordered(classes, prefer):
    ranked = sorted(enumerate(classes), key=lambda ic: (prefer ^ ("Cached" in ic[1]), ic[0]))
    return [c for _, c in ranked]


def prefer_cached_array(prefer):
    """Put cached array classes first (``prefer``) or last in :func:`array_classes`."""
    prefer = bool(prefer)
    if _state["preferred"] == prefer:
        return
    _state["preferred"] = prefer
    for ext, classes in _state["array_classes"].items():
        _state["array_classes"][ext] = _ordered(classes, prefer)


def reset_array_preference():
    """Restore the array classes in their original order (no preference)."""
    _state["preferred"] = None
    _state["array_classes"] = {k: list(v) for k, v in _ORIGINAL_ARRAY_CLASSES.items()}


def array_classes(ext="cpu"):
    """The array class names of ``ext`` ('cpu' or 'cuda'), preferred first."""
    return list(_state["array_classes"]["cuda" if ext == "cudnn" else ext])


def clear_memory_cache():
    """Free what Python still holds; XLA manages device memory itself."""
    gc.collect()


def print_memory_cache_map():
    """NNabla prints its allocator's cache; XLA keeps none that nnjax can show."""
    print("nnjax: no memory cache map (XLA manages device memory)")


def device_synchronize(device=""):
    """Wait until every queued computation has run (any device)."""
    flush()
    jax.block_until_ready(jax.live_arrays())


def get_device_count():
    """CPU devices: one, as NNabla's CPU extension answers."""
    return 1


def get_devices():
    """The CPU device ids, as strings."""
    return [str(i) for i in range(get_device_count())]


prefer_cached_array(True)
