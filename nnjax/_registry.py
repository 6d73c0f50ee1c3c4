"""The one registry of lowering rules, keyed by NNabla's function type name.

A rule is a pure function of JAX arrays and keyword args, returning one array
or a tuple of arrays. Flags say what else the runtime must do around it:

- ``rng``: the rule takes a PRNG key as its first positional argument.
- ``state_inputs``: indices of inputs the function updates in place (the
  running statistics of batch normalization). The rule returns its outputs
  followed by the new values of those inputs.
- ``data_dependent``: output shape depends on input values (one compile per
  shape; the rule is evaluated on concrete values for shape inference).
- ``host``: the rule runs Python on the host (PythonFunction); it is still
  called under jit through ``jax.pure_callback``.
"""
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class FunctionSpec:
    type_name: str
    lower: Callable
    rng: bool = False
    state_inputs: tuple = ()
    data_dependent: bool = False
    host: bool = False
    category: str = ""
    doc: str = field(default="", compare=False)


REGISTRY: dict[str, FunctionSpec] = {}


def lowering(type_name, *, rng=False, state_inputs=(), data_dependent=False,
             category=""):
    """Decorator: register ``fn`` as the lowering of NNabla type ``type_name``."""
    def register(fn):
        if type_name in REGISTRY:
            raise ValueError(f"lowering for {type_name!r} registered twice")
        REGISTRY[type_name] = FunctionSpec(
            type_name, fn, rng=rng, state_inputs=tuple(state_inputs),
            data_dependent=data_dependent, category=category,
            doc=fn.__doc__ or "")
        return fn
    return register


def register_spec(spec):
    REGISTRY[spec.type_name] = spec
    return spec


def get_spec(type_name):
    try:
        return REGISTRY[type_name]
    except KeyError:
        raise KeyError(
            f"nnjax has no lowering for NNabla function {type_name!r}") from None
