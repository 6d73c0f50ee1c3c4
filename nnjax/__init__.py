"""nnjax: NNabla's Python API, recorded as NNabla records graphs, run by JAX/XLA.

``import nnabla`` resolves to this package (see ``nnjax._alias``).
"""
from . import _alias

__version__ = "1.36.0.nnjax0"

from ._ndarray import NdArray
from ._variable import Variable
from .context import Context, context_scope, get_current_context, set_default_context
from ._init import (prefer_cached_array, reset_array_preference, array_classes,
                    add_available_context, available_contexts)
from .auto_forward import auto_forward, get_auto_forward, set_auto_forward
from .recompute import recompute, recompute_fn, set_global_recompute, get_global_recompute
from .callback import (set_function_pre_hook, set_function_post_hook, unset_function_pre_hook,
                       unset_function_post_hook, set_solver_pre_hook, set_solver_post_hook,
                       unset_solver_pre_hook, unset_solver_post_hook)
from .parameter import (parameter_scope, get_parameters, clear_parameters, save_parameters,
                        load_parameters, get_current_parameter_scope, no_grad)
from .random import seed
from .logger import logger
from ._queue import flush as _flush, stats as _compile_stats
from . import functions, parametric_functions, solvers, solver, initializer, random, ext_utils  # noqa
from . import dtypes, testing  # noqa
from . import variable, _nd_array, _computation_graph  # noqa: F401
from ._graph_api import forward_all  # noqa
from .grad import grad  # noqa: the function, not the module of the same name
from . import _operators, _narrow
from . import backward_functions, backward_function, function, function_bases  # noqa: F401
from .core.module import Module  # noqa: F401
from .core import graph_def  # noqa: F401
from .core.graph_def import ProtoVariable  # noqa: F401
from .core.sequential import Sequential  # noqa: F401
from .interop import from_jax, set_parameters, to_jax  # noqa: F401


def compile_stats():
    """Counters of the compile cache: ``compiles``, ``hits``, ``executions``, ``compile_seconds``."""
    return _compile_stats


def compile_count():
    """Programs compiled so far (tests assert a training loop compiles once)."""
    return _compile_stats.compiles


def synchronize():
    """Run every queued computation now."""
    _flush()


_operators.install()
_narrow.install()
_alias.install()
