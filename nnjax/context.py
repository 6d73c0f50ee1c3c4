"""Contexts: which device and type configuration functions run with."""
import threading
import warnings
from contextlib import contextmanager

import jax


class Context:
    """Computation context, as ``nnabla.Context``.

    Args:
        backend (list of str): e.g. ``['cudnn:float', 'cuda:float', 'cpu:float']``.
        array_class (str): array class name NNabla would use.
        device_id (str): device index.
    """

    def __init__(self, backend=None, array_class="", device_id="0"):
        if isinstance(backend, str):
            backend = [backend]
        self.backend = list(backend) if backend is not None else ["cpu:float"]
        for entry in self.backend:
            _check_backend(entry)
        self.array_class = array_class
        self.device_id = str(device_id)

    def __getitem__(self, key):
        return getattr(self, key)

    def __eq__(self, other):
        return (isinstance(other, Context) and self.backend == other.backend
                and self.array_class == other.array_class
                and self.device_id == other.device_id)

    def __hash__(self):
        return hash((tuple(self.backend), self.array_class, self.device_id))

    def __repr__(self):
        return (f"Context(backend={self.backend}, array_class='{self.array_class}', "
                f"device_id='{self.device_id}')")

    __str__ = __repr__

    @property
    def type_config(self):
        """'float', 'half' or 'bfloat16', read from the first backend entry."""
        first = self.backend[0] if self.backend else "cpu:float"
        return first.split(":", 1)[1] if ":" in first else "float"

    @property
    def extension(self):
        first = self.backend[0] if self.backend else "cpu:float"
        return first.split(":", 1)[0]


BACKENDS = ("cpu", "cuda", "cudnn")
TYPE_CONFIGS = ("float", "half", "mixed_half", "bfloat16", "double")


def _check_backend(entry):
    """An entry of ``Context.backend`` is ``'<backend>:<type config>'`` (or the backend)."""
    if not isinstance(entry, str):
        raise TypeError(f"Context: backend entries are strings such as 'cpu:float', got "
                        f"{entry!r}")
    name, _, type_config = entry.partition(":")
    if name not in BACKENDS or (type_config and type_config not in TYPE_CONFIGS):
        raise ValueError(f"Context: unknown backend entry {entry!r}; entries are "
                         f"'<backend>:<type config>' with backend one of {list(BACKENDS)} "
                         f"and type config one of {list(TYPE_CONFIGS)}")


_local = threading.local()
_default = {"ctx": Context()}


def get_current_context():
    """The context functions are created with now."""
    stack = getattr(_local, "stack", None)
    if stack:
        return stack[-1]
    return _default["ctx"]


def set_default_context(ctx):
    """Set the context used outside any ``context_scope``."""
    _default["ctx"] = ctx
    _warn_if_no_gpu(ctx)


@contextmanager
def context_scope(ctx):
    """Use ``ctx`` for the functions created inside the block."""
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    stack.append(ctx)
    _warn_if_no_gpu(ctx)
    try:
        yield
    finally:
        stack.pop()


_warned = set()


def gpu_available():
    try:
        return any(d.platform == "gpu" for d in jax.devices())
    except RuntimeError:
        return False


def _warn_if_no_gpu(ctx):
    if ctx.extension in ("cuda", "cudnn") and "cpu-fallback" not in _warned:
        if not gpu_available():
            _warned.add("cpu-fallback")
            warnings.warn(f"nnjax: context '{ctx.extension}' requested but JAX sees no GPU; "
                          "running on the CPU", RuntimeWarning, stacklevel=3)


def __getattr__(name):
    # NNabla keeps these as module globals; here they are read from the live state
    if name == "current_ctx":
        return get_current_context()
    if name == "context_level":
        return len(getattr(_local, "stack", None) or ())
    raise AttributeError(f"module 'nnabla.context' has no attribute {name!r}")
