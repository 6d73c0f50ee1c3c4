"""``Evaluator``: one evaluation pass made of callbacks."""


def _as_list(x):
    return x if type(x) is list else [x]


class Evaluator(object):
    """One evaluation pass: start callbacks, ``val_iter`` times (feed data,
    forward), finish callbacks.

    Args:
        eval_data_feeder (callable): ``(epoch, val_iteration)``; sets the inputs.
        eval_graph_forward (callable): ``(epoch, val_iteration)``; runs the graphs.
        eval_callback_on_start (callable or list of them): ``(epoch)``, before the pass.
        eval_callback_on_finish (callable or list of them): ``(epoch)``, after it.
        val_iter (int): iterations of the pass.
    """

    def _force_to_list(self, x):
        return _as_list(x)

    def __init__(self, eval_data_feeder, eval_graph_forward,
                 eval_callback_on_start=lambda i: True,
                 eval_callback_on_finish=lambda i: True,
                 val_iter=1):
        self.eval_data_feeder = eval_data_feeder
        self.eval_graph_forward = eval_graph_forward
        self.eval_callback_on_start = _as_list(eval_callback_on_start)
        self.eval_callback_on_finish = _as_list(eval_callback_on_finish)
        self.val_iter = val_iter

    def evaluate(self, e):
        """Run the pass for epoch ``e``."""
        for callback in self.eval_callback_on_start:
            callback(e)
        for vi in range(self.val_iter):
            self.eval_data_feeder(e, vi)
            self.eval_graph_forward(e, vi)
        for callback in self.eval_callback_on_finish:
            callback(e)
