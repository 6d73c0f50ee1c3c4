"""``NanInfTracer``: find the first function that produces NaN or inf."""
from collections import OrderedDict
from contextlib import contextmanager

import numpy as np

from .base import FunctionHookCallbackBase


def _ordinal(n):
    if 10 <= n % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _count(array, test):
    """How many elements of the NdArray ``array`` ``test`` flags."""
    values = np.asarray(array.get_data("r"))
    if not np.issubdtype(values.dtype, np.inexact):
        return 0
    return int(np.count_nonzero(test(values)))


class NanInfTracer(FunctionHookCallbackBase):
    """Function hooks that check every function for NaN / inf values.

    ``forward_post_hook`` looks at each function's outputs after it ran in
    ``forward``; ``backward_post_hook`` looks at the gradients of each
    function's inputs after its backward ran. Each hook counts the NaN / inf
    elements (on the host, as the unfused path has the values at hand) and
    :meth:`check` raises ``ValueError`` naming the first function (in
    execution order) whose values hold NaN or inf.
    :meth:`trace` is a context manager calling :meth:`check` on exit.

    Passing hooks makes nnjax run the graph one function at a time (the
    unfused path), so the values of every intermediate variable exist.

    Args:
        trace_nan (bool): look for NaN.
        trace_inf (bool): look for +-inf.
        need_details (bool): put the function's type, args and shapes into
            the error message.

    Example::

        from nnabla.utils.inspection import NanInfTracer
        nit = NanInfTracer(trace_inf=True, trace_nan=True, need_details=True)
        with nit.trace():
            loss.forward(function_post_hook=nit.forward_post_hook)
            loss.backward(function_post_hook=nit.backward_post_hook)
    """

    def __init__(self, trace_nan=True, trace_inf=True, need_details=True):
        super().__init__()
        self.trace_nan = trace_nan
        self.trace_inf = trace_inf
        self.need_details = need_details
        self.key_to_stat_fwd = OrderedDict()
        self.key_to_stat_bwd = OrderedDict()

    # ------------------------------------------------------------ hooks
    @property
    def pre_hook(self):
        """Nothing to do before a function: None."""
        return None

    @property
    def post_hook(self):
        raise AttributeError(
            "NanInfTracer: use forward_post_hook for forward() and "
            "backward_post_hook for backward(); there is no single post_hook")

    def _describe(self, f):
        stat = {"name": f.name, "rank": f.rank, "function_type": None,
                "function_args": None, "input_shapes": None, "output_shapes": None}
        if self.need_details:
            stat.update(function_type=f.info.type_name,
                        function_args=str(f.info.args),
                        input_shapes=[str(v.shape) for v in f.inputs if v is not None],
                        output_shapes=[str(v.shape) for v in f.outputs])
        return stat

    def _record(self, f, table, arrays):
        stat = table.get(f)
        if stat is None:
            stat = table[f] = self._describe(f)
        stat["rank"] = f.rank
        stat["nan"] = [_count(a, np.isnan) for a in arrays] if self.trace_nan else []
        stat["inf"] = [_count(a, np.isinf) for a in arrays] if self.trace_inf else []

    @property
    def forward_post_hook(self):
        """A ``function_post_hook`` for ``forward``: counts NaN/inf in each output
        (None if neither NaN nor inf is traced)."""
        if not (self.trace_nan or self.trace_inf):
            return None

        def callback(f):
            self._record(f, self.key_to_stat_fwd, [o.data for o in f.outputs])
        return callback

    @property
    def backward_post_hook(self):
        """A ``function_post_hook`` for ``backward``: counts NaN/inf in the
        gradient of each input (None if neither NaN nor inf is traced)."""
        if not (self.trace_nan or self.trace_inf):
            return None

        def callback(f):
            grads = [v.grad if v is not None else None for v in f.inputs]
            self._record(f, self.key_to_stat_bwd, [g for g in grads if g is not None])
        return callback

    # ------------------------------------------------------------ checking
    @contextmanager
    def trace(self):
        """``with tracer.trace(): ...`` calls :meth:`check` when the block ends."""
        yield self
        self.check()

    def _first_bad(self, stat):
        """(position, what) of the first array holding NaN/inf, or None."""
        n = max(len(stat["nan"]), len(stat["inf"]))
        for i in range(n):
            nan = stat["nan"][i] if i < len(stat["nan"]) else 0
            inf = stat["inf"][i] if i < len(stat["inf"]) else 0
            if nan or inf:
                parts = []
                if nan:
                    parts.append(f"{nan} nan")
                if inf:
                    parts.append(f"{inf} inf")
                return i, " and ".join(parts)
        return None

    def _check_table(self, table, direction):
        history = []
        for f, stat in table.items():
            history.append(f"{stat['name']} (rank: {stat['rank']})")
            bad = self._first_bad(stat)
            if bad is None:
                continue
            index, what = bad
            print(f"Error during {direction} propagation")
            for line in history[:-1]:
                print(f"\t{line}")
            print(f"\t{history[-1]} <-- ERROR")
            where = ("output" if direction == "forward" else "input's gradient")
            msg = (f"The {_ordinal(index + 1)} {where} of the function '{stat['name']}' "
                   f"(rank: {stat['rank']}) has nan or inf as its values ({what}) "
                   f"in {direction}.")
            if self.need_details:
                msg += (f"\n    function type: {stat['function_type']}"
                        f"\n    shapes of inputs: {stat['input_shapes']}"
                        f"\n    shapes of outputs: {stat['output_shapes']}"
                        f"\n    function args: {stat['function_args']}")
            raise ValueError(msg)

    def check(self):
        """Raise ``ValueError`` if a traced value held NaN or inf: the forward
        pass is checked first, then the backward pass."""
        self._check_table(self.key_to_stat_fwd, "forward")
        self._check_table(self.key_to_stat_bwd, "backward")
