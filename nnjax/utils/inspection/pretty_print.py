"""``pprint``: a text dump of a graph, one block per function."""
import numpy as np

from ... import parameter as _parameter

_STATS = (("Med", np.median), ("Ave", np.mean), ("Std", np.std),
          ("Min", np.min), ("Max", np.max))


def _parameter_scopes():
    """Variable -> parameter scope (its name without the last component)."""
    scopes = {}
    for name, var in _parameter.get_parameters(grad_only=False).items():
        scopes[var] = name.rsplit("/", 1)[0] if "/" in name else ""
    return scopes


def _stats(arrays):
    """One list per statistic, one value per array (floats, nan for empty arrays)."""
    out = []
    for label, reduce in _STATS:
        values = []
        for a in arrays:
            a = np.asarray(a)
            values.append(float(reduce(a)) if a.size else float("nan"))
        out.append((label, values))
    return out


class PrettyPrinter(object):
    """A ``visit`` callback printing each function of a graph.

    For each function it prints ``[scope/]name(type)``, then the depth
    (``rank``), the args, the input and output shapes and which inputs need a
    gradient. With ``summary`` it adds the median, mean, standard deviation,
    minimum and maximum of the data and gradients of the inputs and outputs.

    Args:
        summary (bool): also print statistics of the values.
        hidden (bool): keep, in :attr:`functions`, a dict per function with
            ``name``, ``inputs`` and ``outputs`` (the Variables).

    Attributes:
        functions (list of dict): filled when ``hidden`` is True.
    """

    def __init__(self, summary=False, hidden=False):
        self._summary = summary
        self._hidden = hidden
        self._scopes = _parameter_scopes()
        self.functions = []

    def get_scope_name(self, x):
        """The parameter scope of ``x`` if it is a registered parameter, else None."""
        scope = self._scopes.get(x)
        return scope if scope else None

    def _function_scope(self, f):
        inputs = [v for v in f.inputs if v is not None]
        candidates = inputs[1:2] + inputs  # the weight first, as layers put it
        for v in candidates:
            scope = self.get_scope_name(v)
            if scope:
                return scope
        return None

    def __call__(self, f):
        scope = self._function_scope(f)
        name = f"{f.name}({f.info.type_name})"
        if scope:
            name = f"{scope}/{name}"
        inputs = [v for v in f.inputs if v is not None]
        print(name)
        print(f"\tDepth = {f.rank}")
        print("\tArgs:", [f"{k}={v}" for k, v in f.info.args.items()])
        print("\tInputs:", [v.shape for v in inputs])
        print("\tOutputs:", [v.shape for v in f.outputs])
        print("\tBackward Inputs:", [v.need_grad for v in inputs])
        if self._summary:
            for title, variables, kind in (("Input Data", inputs, "d"),
                                           ("Output Data", f.outputs, "d"),
                                           ("Input Grads", inputs, "g"),
                                           ("Output Grads", f.outputs, "g")):
                print(f"\t{title}:")
                for label, values in _stats([getattr(v, kind) for v in variables]):
                    print(f"\t\t{label}: ", values)
        if self._hidden:
            self.functions.append(dict(name=name, inputs=list(inputs),
                                       outputs=list(f.outputs)))


def _keep_all(f):
    """A no-op function hook."""


def pprint(v, forward=False, backward=False, summary=False, hidden=False, printer=False):
    """Print each function of the graph ending at ``v``, in forward order.

    Args:
        v (nnabla.Variable): the last variable of the graph.
        forward (bool): run ``v.forward()`` first.
        backward (bool): run ``v.backward()`` first (after the forward).
        summary (bool): print statistics (median, mean, std, min, max) of the
            inputs' and outputs' data and gradients. Every intermediate
            value is kept (``forward``/``backward`` then run function by
            function, unfused), which costs memory and time on large graphs.
        hidden (bool): keep the inputs and outputs of each function in the
            printer's ``functions`` list.
        printer (bool): return the :class:`PrettyPrinter`.

    Returns:
        The :class:`PrettyPrinter` if ``printer`` is True, else None.

    Example::

        from nnabla.utils.inspection import pprint
        pprint(loss, forward=True, backward=True, summary=True)
    """
    # with a summary every intermediate value is read: the per-function path
    # (selected by a hook) computes and keeps them all in one pass
    hooks = {"function_post_hook": _keep_all} if summary else {}
    if forward:
        v.forward(**hooks)
    if backward:
        v.backward(**hooks)
    pp = PrettyPrinter(summary, hidden)
    v.visit(pp)
    return pp if printer else None
