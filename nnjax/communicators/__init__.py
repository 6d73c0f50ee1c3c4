"""Data-parallel training over processes, as ``nnabla.communicators``.

    comm = C.MultiProcessCommunicator(ctx)
    comm.init()                      # before anything is computed
    ...
    loss.backward()
    comm.all_reduce([v.grad for v in nn.get_parameters().values()], division=True)

Run it with ``python -m nnabla.distributed -n 2 train.py`` (or ``mpirun -n 2``); run
alone, the world has one process and the collectives leave arrays as they are.
"""
from ._communicator import AllReduceCallback, Communicator


def MultiProcessDataParallelCommunicator(ctx):
    """A communicator over the processes of the job, one device per process."""
    return Communicator(ctx, "MultiProcessDataParallelCommunicator")


def DataParallelCommunicator(ctx):
    """A communicator for several parameter copies in one process: :meth:`allreduce`
    averages the gradients of the copies given to ``add_context_and_parameters``."""
    return Communicator(ctx, "DataParallelCommunicator", multi_process=False)


# NNabla's other names for the same communicator
MultiProcessDataParalellCommunicator = MultiProcessDataParallelCommunicator
MultiProcessCommunicator = MultiProcessDataParallelCommunicator
Comm = MultiProcessDataParallelCommunicator
Dist = MultiProcessDataParallelCommunicator

__all__ = ["Communicator", "AllReduceCallback", "MultiProcessDataParallelCommunicator",
           "DataParallelCommunicator", "MultiProcessDataParalellCommunicator",
           "MultiProcessCommunicator", "Comm", "Dist"]
