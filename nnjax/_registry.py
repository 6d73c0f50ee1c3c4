"""The one registry of function types: NNabla's declaration plus nnjax's lowering.

Each entry (a ``FunctionSpec``) joins what NNabla declares for a type
(``nnjax._specs``: category, inputs, arguments with NNabla's defaults,
outputs) with its lowering: a pure function of JAX arrays and keyword args,
returning one array or a tuple of arrays. Flags say what else the runtime
must do around it:

- ``rng``: the rule takes a PRNG key as its first positional argument.
- ``state_inputs``: indices of inputs the function updates in place (the
  running statistics of batch normalization). The rule returns its outputs
  followed by the new values of those inputs. ``prior_state_grad``: a direct
  ``backward`` differentiates at the state as it was before the last forward
  (SpectralNorm's ``u``) rather than after the update.
- ``resetup``: ``resetup(node)``, called when a node's input shapes changed since it
  was set up (NNabla's setup after ``reset_shape``): resets state it keeps (INQ's
  counter and weight copies) before the node's output shapes are computed again.
- ``grad_to_data``: indices of inputs whose *data* NNabla's backward overwrites
  with the gradient the lowering gives them (VATNoise's ``w``), leaving their
  grads alone; a leaf there gets it whatever its ``need_grad``.
- ``data_dependent``: output shapes depend on input values. ``sizes`` maps
  the inputs' host values (numpy) and the args to the extra keyword args the
  rule needs to fix its output shapes; they are computed when the node is
  recorded and are part of its compile key (one compile per distinct size).
- ``rounds_inputs_to``: set on the reduced-precision variants (``nnjax._apply``)
  whose first operation rounds each float32 input (state inputs aside) to this
  dtype: a program may get those inputs already rounded (``nnjax._rounded_inputs``).
- ``backward_error``: ``backward_error(args)`` -> a message when NNabla refuses to
  run the type's backward with these args (the recurrent layers under
  ``training=False``); ``backward()`` through such a node raises RuntimeError.

F wrappers, the status table (``python -m nnjax.functions --status``) and the
NNP writer read this registry; they keep no list of their own.
"""
import functools
import inspect
from dataclasses import dataclass, field
from typing import Callable

from ._specs import COMPUTED, DECLARED, REQUIRED, TypeDecl


@dataclass(frozen=True)
class FunctionSpec:
    type_name: str
    lower: Callable
    rng: bool = False
    state_inputs: tuple = ()
    data_dependent: bool = False
    sizes: Callable = None
    prior_state_grad: bool = False
    grad_to_data: tuple = ()
    resetup: Callable = None
    backward_error: Callable = None
    rounds_inputs_to: object = None
    declared: TypeDecl = field(default=None, compare=False)

    @property
    def category(self):
        return self.declared.category if self.declared is not None else ""

    def default(self, arg_name):
        """NNabla's literal default of ``arg_name`` (KeyError if it has none)."""
        value = self.declared.arg(arg_name).default if self.declared is not None else REQUIRED
        if value is REQUIRED or value is COMPUTED:
            raise KeyError(f"{self.type_name}: argument {arg_name!r} has no literal default")
        return value

    def complete_args(self, args):
        """(NNabla's full args, the lowering's args) of a node recorded with ``args``.

        Arguments left out get NNabla's literal default; an argument NNabla does not
        declare, or a required one left out, is a TypeError naming the function. The
        lowering's args leave out those it always computes with the default
        (``implied_args``). Nodes of types nnjax adds (Grad, PythonFunction) keep
        ``args`` as given."""
        if self.declared is None:
            return args, args
        unknown = [k for k in args if k not in self.declared.arg_names]
        if unknown:
            raise TypeError(f"{self.type_name}: unknown argument(s) {unknown}; NNabla's "
                            f"arguments are {list(self.declared.arg_names)}")
        full = dict(args)
        for a in self.declared.args:
            if a.name not in full:
                if a.default is REQUIRED or a.default is COMPUTED:
                    raise TypeError(f"{self.type_name}: argument {a.name!r} is required")
                full[a.name] = a.default
        implied = self.implied_args()
        if len(full) == len(args) and not implied:
            return args, args
        return full, {k: v for k, v in full.items() if k not in implied}

    def implied_args(self):
        """NNabla's arguments the lowering does not take, with NNabla's default:
        the lowering always computes with that value (nodes record it in
        ``info.args``; the NNP loader refuses a file holding another value)."""
        return _implied_args(self)


@functools.lru_cache(maxsize=None)
def _implied_args(spec):
    if spec.declared is None or spec.lower is None:
        return {}
    params = inspect.signature(spec.lower).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return {}
    return {a.name: spec.default(a.name) for a in spec.declared.args if a.name not in params}


REGISTRY: dict[str, FunctionSpec] = {}


class InvalidArgumentError(ValueError, RuntimeError):
    """Inputs or arguments a function cannot take. A ValueError, and a RuntimeError
    as NNabla raises for what its C++ functions refuse."""


def lowering(type_name, *, rng=False, state_inputs=(), data_dependent=False, sizes=None,
             prior_state_grad=False, grad_to_data=(), resetup=None, backward_error=None):
    """Decorator: register ``fn`` as the lowering of NNabla type ``type_name``."""
    declared = DECLARED.get(type_name)
    if declared is None:
        raise ValueError(f"lowering: {type_name!r} is not an NNabla function type "
                         "(nnjax._specs declares them)")

    def register(fn):
        if type_name in REGISTRY:
            raise ValueError(f"lowering for {type_name!r} registered twice")
        REGISTRY[type_name] = FunctionSpec(
            type_name, fn, rng=rng, state_inputs=tuple(state_inputs),
            data_dependent=data_dependent, sizes=sizes, prior_state_grad=prior_state_grad,
            grad_to_data=tuple(grad_to_data), resetup=resetup,
            backward_error=backward_error, declared=declared)
        return fn
    return register


def get_spec(type_name):
    try:
        return REGISTRY[type_name]
    except KeyError:
        raise KeyError(
            f"nnjax has no lowering for NNabla function {type_name!r}") from None


def internal_spec(type_name, lower=None, **flags):
    """A spec for a node that is not an NNabla type of its own (a Grad node, a
    PythonFunction, a variant of a registered type): not registered."""
    return FunctionSpec(type_name, lower, **flags)


def variant_spec(type_name, lower, internal_name=None, **flags):
    """Another lowering of registered type ``type_name`` (e.g. one returning its
    optional outputs too), not registered itself. ``internal_name`` (such as
    ``"Dropout@mask"``) keeps its shapes and programs apart where the steps
    alone would not."""
    return FunctionSpec(internal_name or type_name, lower, declared=DECLARED[type_name], **flags)
