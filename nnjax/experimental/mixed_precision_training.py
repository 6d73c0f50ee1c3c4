"""Dynamic loss scaling for mixed precision training (``nnabla.experimental``).

Typical use: build the network under
``get_extension_context(..., type_config='half')`` (float16 compute, float32
parameters), then let the updater run each step::

    updater = DynamicLossScalingUpdater(solver, loss, data_feeder, scale=8.0)
    for i in range(max_iter):
        updater.update()
"""
import numpy as np

from .._ndarray import NdArray


def _no_feed(*args):
    return None


class DynamicLossScalingUpdater:
    """Run zero_grad / feed / forward / backward(scale) / update with a dynamic loss scale.

    On a gradient holding inf or NaN the update is skipped, the scale is
    divided by ``scaling_factor`` and the step is tried again with the next
    data (at most ``_max_recursive_count`` retries, then the step is given
    up). After an update, once more than ``N`` updates went by since the last
    change, the scale is multiplied by ``scaling_factor``.

    Args:
        solver (Solver): the solver (e.g. Momentum or Adam).
        loss (Variable): the loss; forward and backward are called on it.
        data_feeder (callable): called without arguments before each forward.
        scale (float): initial loss scale.
        scaling_factor (float): factor by which the scale shrinks and grows.
        N (int): number of updates between two growths of the scale.
        clear_buffer (bool): passed to forward (``clear_no_need_grad``) and backward.
        accum_grad (int): forward/backward passes accumulated per update.
        weight_decay (float or None): rate given to ``solver.weight_decay`` before updating.
        comm: communicator whose ``all_reduce`` is applied to ``grads`` (distributed).
        grads (list of NdArray): gradients exchanged through ``comm``.
    """

    def __init__(self, solver, loss, data_feeder=_no_feed, scale=8.0, scaling_factor=2.0,
                 N=2000, clear_buffer=True, accum_grad=1, weight_decay=None, comm=None,
                 grads=[]):
        self.solver = solver
        self.loss = loss
        self.data_feeder = data_feeder
        self.scale = scale
        self.scaling_factor = scaling_factor
        self.N = N
        self.clear_buffer = clear_buffer
        self.accum_grad = accum_grad
        self.weight_decay = weight_decay
        self.comm = comm
        self.grads = list(grads)
        self._counter = 0
        self._recursive_count = 0
        self._max_recursive_count = 100
        # The scale reaches backward as an array read by the program (not a
        # constant folded into it), so changing it never recompiles.
        self._scale_array = NdArray((), np.float32)

    def _backward_seed(self):
        self._scale_array.data = np.array(self.scale, np.float32)
        return self._scale_array

    def update(self):
        """One training step with dynamic loss scaling (see the class docstring)."""
        while True:
            self.solver.zero_grad()
            for _ in range(self.accum_grad):
                self.data_feeder()
                self.loss.forward(clear_no_need_grad=self.clear_buffer)
                self.loss.backward(self._backward_seed(), clear_buffer=self.clear_buffer)
            if self.comm and len(self.grads) != 0:
                self.comm.all_reduce(self.grads, division=False, inplace=False)
            if self.solver.check_inf_or_nan_grad():
                self.scale /= self.scaling_factor
                self._counter = 0
                self._recursive_count += 1
                if self._recursive_count > self._max_recursive_count:
                    self._recursive_count = 0
                    return
                continue
            self._recursive_count = 0
            self.solver.scale_grad(1. / self.scale)
            if self.weight_decay is not None:
                self.solver.weight_decay(self.weight_decay)
            self.solver.update()
            if self._counter > self.N:
                self.scale *= self.scaling_factor
                self._counter = 0
            self._counter += 1
            return
