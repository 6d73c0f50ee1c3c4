"""One MLIR context for many of nnjax's lowerings.

jax makes a new MLIR context for every program it lowers and loads its dialects
into it: about 3.5 ms on this project's CPUs, an eighth of what a small
program (a test's ``mul_scalar`` of a new shape) costs from graph to executable.
nnjax lowers thousands of small programs in a test suite, so inside
``lowering()`` a thread reuses its context for up to CONTEXT_USES lowerings.
A context keeps the types and constants of every module made in it until it is
dropped; the bound keeps that small. Lowerings outside ``lowering()`` (the user's
own jax code) get jax's fresh context as before. NNJAX_REUSE_IR_CONTEXT=0 turns
the reuse off. A jax without ``mlir.make_ir_context`` lowers as it always does.
"""
import contextlib
import os
import threading

CONTEXT_USES = 64

_local = threading.local()
_installed = []


def _install():
    """Put the thread-aware factory in place of jax's, once (False if jax has none)."""
    if _installed:
        return _installed[0]
    try:
        from jax._src.interpreters import mlir
        make_fresh = mlir.make_ir_context
    except (ImportError, AttributeError):
        _installed.append(False)
        return False

    def make_ir_context():
        if not getattr(_local, "active", False):
            return make_fresh()
        uses = getattr(_local, "uses", CONTEXT_USES)
        if uses >= CONTEXT_USES:
            _local.context = make_fresh()
            uses = 0
        _local.uses = uses + 1
        return _local.context

    mlir.make_ir_context = make_ir_context
    _installed.append(os.environ.get("NNJAX_REUSE_IR_CONTEXT", "1") != "0")
    return _installed[0]


@contextlib.contextmanager
def lowering():
    """Lowerings inside share this thread's MLIR context (see the module's note)."""
    if not _install() or getattr(_local, "active", False):
        yield
        return
    _local.active = True
    try:
        yield
    finally:
        _local.active = False
