"""``Trainer``: the standard training loop over a Worker's hooks."""


class Trainer(object):
    """Runs a :class:`~nnabla.experimental.framework.worker.Worker` through
    its epochs and iterations.

    Args:
        worker (Worker): the model side; its hooks are called in a fixed order.
    """

    def __init__(self, worker):
        self.worker = worker
        self.start_epoch = 0

    def train(self):
        """Checkpoint load, preparation, the epoch/iteration loop with
        evaluation and checkpoints, final evaluation and model save."""
        w = self.worker
        self.start_epoch = w.load_checkpoint()
        w.training_prepare()
        w.save_model_at_start()
        for e in range(self.start_epoch, self.start_epoch + w.max_epoch()):
            w.epoch_loop_start(e)
            w.evaluate_at_epoch_start(e)
            for i in range(w.iter_per_epoch()):
                w.iter_loop_start(i, e)
                w.update_in_iteration(i, e)
                w.iter_loop_end(i, e)
            w.epoch_loop_end(e)
            w.save_checkpoint_at_epoch_end(e)
        w.evaluate_at_training_end()
        w.save_model_at_end()
        w.training_complete()

    def brief(self):
        """What the worker reports about the run (``Worker.brief``)."""
        return self.worker.brief()
