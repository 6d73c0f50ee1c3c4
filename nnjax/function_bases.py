"""``nnabla.function_bases``: one plain wrapper per function type, made from the registry.

``function_bases.<snake_name>(inputs..., args..., n_outputs=-1, outputs=None)`` takes
NNabla's declared inputs and arguments in NNabla's order with NNabla's defaults
(a default NNabla computes from the inputs, such as Convolution's ``pad``, is
computed the same way) and records the type as is: no checks or conveniences
of the ``nnabla.functions`` composites.
"""
import inspect

from ._apply import apply_function
from ._registry import REGISTRY
from ._specs import COMPUTED, REQUIRED

_P = inspect.Parameter


def _signature(declared):
    params = []
    for decl in declared.inputs:
        if decl.variadic:
            params.append(_P(decl.name, _P.VAR_POSITIONAL))
        elif decl.optional:
            params.append(_P(decl.name, _P.POSITIONAL_OR_KEYWORD, default=None))
        else:
            params.append(_P(decl.name, _P.POSITIONAL_OR_KEYWORD))
    kind = (_P.KEYWORD_ONLY if any(p.kind == _P.VAR_POSITIONAL for p in params)
            else _P.POSITIONAL_OR_KEYWORD)
    for arg in declared.args:
        if arg.default is REQUIRED and kind is _P.POSITIONAL_OR_KEYWORD and not any(
                p.default is not _P.empty for p in params):
            params.append(_P(arg.name, kind))
        else:
            default = None if arg.default in (REQUIRED, COMPUTED) else arg.default
            params.append(_P(arg.name, kind, default=default))
    params += [_P("n_outputs", _P.KEYWORD_ONLY, default=-1),
               _P("outputs", _P.KEYWORD_ONLY, default=None)]
    return inspect.Signature(params)


def _wrapper(type_name):
    declared = REGISTRY[type_name].declared
    signature = _signature(declared)

    def wrapper(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        values = bound.arguments
        inputs = []
        for decl in declared.inputs:
            if decl.variadic:
                inputs += list(values[decl.name])
            else:
                inputs.append(values[decl.name])
        given = {a.name: values[a.name] for a in declared.args}
        scope = {d.name: values[d.name] for d in declared.inputs}
        scope.update(given)
        for a in declared.args:
            if given[a.name] is None and a.default is COMPUTED:
                value = eval(a.default_expr, {"range": range, "len": len}, scope)
                given[a.name] = list(value) if isinstance(value, range) else value
                scope[a.name] = given[a.name]
        args = {k: v for k, v in given.items() if v is not None}
        return apply_function(type_name, inputs, args, outputs=values["outputs"])

    wrapper.__name__ = wrapper.__qualname__ = declared.snake_name
    wrapper.__signature__ = signature
    wrapper.__doc__ = f"Record NNabla's ``{type_name}`` with its declared inputs and arguments."
    return wrapper


for _type_name, _spec in REGISTRY.items():
    globals()[_spec.declared.snake_name] = _wrapper(_type_name)
del _type_name, _spec
