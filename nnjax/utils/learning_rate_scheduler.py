"""Learning rate schedulers, as ``nnabla.utils.learning_rate_scheduler``.

Each scheduler maps an iteration (counted from 0) to a learning rate with
``get_learning_rate(iter)``; pass it to ``solver.set_learning_rate`` (a
program argument in nnjax, so a schedule never triggers a recompile).
"""
import math


class BaseLearningRateScheduler:
    """Base class: subclasses define ``get_learning_rate(iter)``."""

    def get_learning_rate(self, iter):
        """The learning rate at iteration ``iter`` (starting with 0)."""
        raise TypeError(f"{type(self).__name__} is a scheduler base class: subclasses "
                        "define get_learning_rate(iter)")


class PolynomialScheduler(BaseLearningRateScheduler):
    """``init_lr * (1 - iter / max_iter) ** power``.

    Args:
        init_lr (float): initial learning rate.
        max_iter (int): iteration at which the rate reaches 0.
        power (float): exponent of the decay.
    """

    def __init__(self, init_lr, max_iter, power):
        self.init_lr = init_lr
        self.max_iter = max_iter
        self.power = power

    def get_learning_rate(self, iter):
        return self.init_lr * ((1.0 - iter * 1.0 / self.max_iter) ** self.power)


class CosineScheduler(BaseLearningRateScheduler):
    """``init_lr * (cos(pi * iter / max_iter) + 1) / 2``.

    Args:
        init_lr (float): initial learning rate.
        max_iter (int): iteration at which the rate reaches 0.
    """

    def __init__(self, init_lr, max_iter):
        self.init_lr = init_lr
        self.max_iter = max_iter

    def get_learning_rate(self, iter):
        return self.init_lr * ((math.cos(iter * 1.0 / self.max_iter * math.pi) + 1.0) * 0.5)


class ExponentialScheduler(BaseLearningRateScheduler):
    """``init_lr * gamma ** (iter // iter_interval)``.

    Args:
        init_lr (float): initial learning rate.
        gamma (float): multiplier applied every ``iter_interval`` iterations.
        iter_interval (int): period of the decay (default 1).
    """

    def __init__(self, init_lr, gamma, iter_interval=1):
        self.init_lr = init_lr
        self.gamma = gamma
        self.iter_interval = iter_interval

    def get_learning_rate(self, iter):
        return self.init_lr * (self.gamma ** (iter // self.iter_interval))


class StepScheduler(BaseLearningRateScheduler):
    """``init_lr`` multiplied by ``gamma`` once for each step in ``iter_steps`` reached.

    Args:
        init_lr (float): initial learning rate.
        gamma (float): multiplier.
        iter_steps (list of int): iterations at which ``gamma`` is applied,
            e.g. ``StepScheduler(0.1, 0.1, [150000, 300000, 400000])``.
    """

    def __init__(self, init_lr, gamma, iter_steps):
        self.init_lr = init_lr
        self.gamma = gamma
        self.iter_steps = iter_steps

    def get_learning_rate(self, iter):
        lr = self.init_lr
        for step in self.iter_steps:
            if iter >= step:
                lr *= self.gamma
        return lr


class LinearWarmupScheduler(BaseLearningRateScheduler):
    """Another scheduler's rate scaled by ``(iter + 1) / warmup_iter`` while ``iter < warmup_iter``.

    Args:
        scheduler (BaseLearningRateScheduler): the schedule after warm-up.
        warmup_iter (int): length of the warm-up.
    """

    def __init__(self, scheduler, warmup_iter):
        self.scheduler = scheduler
        self.warmup_iter = warmup_iter

    def get_learning_rate(self, iter):
        lr = self.scheduler.get_learning_rate(iter)
        if iter < self.warmup_iter:
            lr *= (iter + 1) * 1.0 / self.warmup_iter
        return lr
