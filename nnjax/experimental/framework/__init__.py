"""A small training framework (``nnabla.experimental.framework``).

Three roles, each a class to subclass: :class:`Data` prepares the data
iterators, :class:`Worker` builds the model, loss, solver and monitors and
answers the training loop's hooks, :class:`Trainer` runs the standard loop
over a Worker. :class:`~.updater.Updater` (one training step) and
:class:`~.evaluator.Evaluator` (one evaluation pass) are driven from the
Worker's hooks.
"""
from . import data, evaluator, trainer, updater, worker
from .data import Data
from .evaluator import Evaluator
from .trainer import Trainer
from .updater import Updater
from .worker import Worker
