"""Function objects from network-file messages (``nnabla.utils.load_function``)."""
from .. import function as F
from .._registry import REGISTRY
from .nnp_graph import function_args

_LOOP_CONTROL = ("RepeatStart", "RepeatEnd", "RecurrentInput", "RecurrentOutput", "Delay")


def _create_function_instance(ctx, f):
    """An ``nnabla.function`` object of Function message ``f``'s type and arguments."""
    spec = REGISTRY.get(f.type)
    if spec is None or f.type in _LOOP_CONTROL or spec.declared is None:
        raise ValueError(f'Function "{f.type}" is not supported.')
    names = set(spec.declared.arg_names)
    args = {k: v for k, v in function_args(f).items() if k in names}
    return getattr(F, f.type)(ctx, **args)
