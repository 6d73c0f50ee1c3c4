"""``Updater``: one training step made of callbacks."""
from .evaluator import _as_list


class Updater(object):
    """One training step: zero the gradients; ``accum_grad`` times feed data,
    forward and backward (each with start/finish callbacks); all-reduce when
    a communicator and gradients are given; solver update.

    Step callbacks take ``(iteration, epoch, accumulation)``; the all-reduce
    and update callbacks take ``(iteration, epoch)``. Each ``*_callback_*``
    is a callable or a list of them.

    Args:
        train_data_feeder, solver_zero_grad, solver_update (callable): the step's parts.
        loss_forward, loss_backward (callable): forward/backward of the loss.
        comm_all_reduce (callable): the all-reduce, called when ``comm`` and ``grads`` are set.
        accum_grad (int): forward/backward passes per update.
        comm (Communicator or None): the communicator of distributed training.
        grads (list of NdArray): the gradients to all-reduce.
    """

    def _force_to_list(self, x):
        return _as_list(x)

    def __init__(self, train_data_feeder, solver_zero_grad, solver_update,
                 loss_forward=lambda i, e, ag: True,
                 loss_backward=lambda i, e, ag: True,
                 loss_forward_callback_on_start=lambda i, e, ag: True,
                 loss_forward_callback_on_finish=lambda i, e, ag: True,
                 loss_backward_callback_on_start=lambda i, e, ag: True,
                 loss_backward_callback_on_finish=lambda i, e, ag: True,
                 comm_all_reduce_callback_on_start=lambda i, e: True,
                 comm_all_reduce=lambda i, e: True,
                 comm_all_reduce_callback_on_finish=lambda i, e: True,
                 solver_update_callback_on_start=lambda i, e: True,
                 solver_update_callback_on_finish=lambda i, e: True,
                 accum_grad=1, comm=None, grads=[]):
        self.train_data_feeder = train_data_feeder
        self.solver_zero_grad = solver_zero_grad
        self.solver_update = solver_update
        self.loss_forward = loss_forward
        self.loss_backward = loss_backward
        self.comm_all_reduce = comm_all_reduce
        self.loss_forward_callback_on_start = _as_list(loss_forward_callback_on_start)
        self.loss_forward_callback_on_finish = _as_list(loss_forward_callback_on_finish)
        self.loss_backward_callback_on_start = _as_list(loss_backward_callback_on_start)
        self.loss_backward_callback_on_finish = _as_list(loss_backward_callback_on_finish)
        self.comm_all_reduce_callback_on_start = _as_list(comm_all_reduce_callback_on_start)
        self.comm_all_reduce_callback_on_finish = _as_list(comm_all_reduce_callback_on_finish)
        self.solver_update_callback_on_start = _as_list(solver_update_callback_on_start)
        self.solver_update_callback_on_finish = _as_list(solver_update_callback_on_finish)
        self.accum_grad = accum_grad
        self.comm = comm
        self.grads = grads

    def update(self, i, e):
        """Run the step for iteration ``i`` of epoch ``e``."""
        self.solver_zero_grad(i, e)
        for ag in range(self.accum_grad):
            self.train_data_feeder(i, e, ag)
            _each(self.loss_forward_callback_on_start, i, e, ag)
            self.loss_forward(i, e, ag)
            _each(self.loss_forward_callback_on_finish, i, e, ag)
            _each(self.loss_backward_callback_on_start, i, e, ag)
            self.loss_backward(i, e, ag)
            _each(self.loss_backward_callback_on_finish, i, e, ag)
        if self.comm and len(self.grads) != 0:
            _each(self.comm_all_reduce_callback_on_start, i, e)
            self.comm_all_reduce(i, e)
            _each(self.comm_all_reduce_callback_on_finish, i, e)
        _each(self.solver_update_callback_on_start, i, e)
        self.solver_update(i, e)
        _each(self.solver_update_callback_on_finish, i, e)


def _each(callbacks, *args):
    for callback in callbacks:
        callback(*args)
