"""``inspect.Signature`` with editing and formatting helpers (``nnabla.utils.signature_utils``)."""
import inspect

P = inspect.Parameter
# the order Python requires of parameter kinds in a signature
PARAM_KINDS = [P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD, P.VAR_POSITIONAL,
               P.KEYWORD_ONLY, P.VAR_KEYWORD]
param_kind_to_int = {kind: i for i, kind in enumerate(PARAM_KINDS)}


def _insertion_index(params, kind):
    """After the last parameter whose kind does not come later than ``kind``."""
    for i, p in enumerate(params):
        if param_kind_to_int[p.kind] > param_kind_to_int[kind]:
            return i
    return len(params)


def _caller_arguments(sig):
    parts = []
    for name, p in sig.parameters.items():
        if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD):
            parts.append(name)
        elif p.kind is P.KEYWORD_ONLY:
            parts.append(f"{name}={name}")
        else:  # *args, **kwargs
            parts.append(str(p))
    return ", ".join(parts)


class SignatureEx(inspect.Signature):
    """A Signature that can drop and add arguments and format itself for code generation."""

    def drop_arg(self, argname, raise_if_not_found=False):
        """A copy without ``argname`` (KeyError if absent and ``raise_if_not_found``)."""
        params = dict(self.parameters)
        if argname in params:
            del params[argname]
        elif raise_if_not_found:
            raise KeyError(f"'{argname}' not found in {list(params)}")
        return self.replace(parameters=params.values())

    def add_arg(self, argname, kind=P.POSITIONAL_OR_KEYWORD, *, default=P.empty,
                annotation=P.empty):
        """A copy with ``argname`` added after the last parameter of its kind."""
        params = list(self.parameters.values())
        params.insert(_insertion_index(params, kind),
                      P(argname, kind, default=default, annotation=annotation))
        return self.replace(parameters=params)

    @property
    def has_return_annotation(self):
        return self.return_annotation is not self.empty

    def format_argument_signature(self):
        """The parameter list as written in a ``def``, without parentheses."""
        text = str(self)
        return text[:text.rfind(")")].strip("()")

    def format_return_annotation(self):
        """`` -> T`` of the signature ('' without a return annotation)."""
        return str(self).split(")")[1] if self.has_return_annotation else ""

    def format_caller_argument_signature(self):
        """The arguments a call forwarding every parameter passes (``a, *args, k=k, **kw``)."""
        return _caller_arguments(self)
