"""The process's communicator for training tools, as ``nnabla.utils.communicator_util``.

nnjax runs single-process here: ``create_communicator()`` returns None (one
process, as NNabla does outside ``mpirun``); under ``mpirun`` with several
processes it fails with a clear error (or warns and returns None when
``ignore_error``), since no MPI communicator is available.
"""
import os

from ..logger import logger

_state = {"communicator": None}


def current_communicator():
    """The communicator made by :func:`create_communicator` (None: single process)."""
    return _state["communicator"]


def create_communicator(ignore_error=False, extension_module="cudnn", type_config="float"):
    """Set up the process's communicator; None when running as a single process."""
    size = int(os.environ.get("OMPI_COMM_WORLD_SIZE", "1") or 1)
    _state["communicator"] = None
    if size > 1:
        message = (f"create_communicator: {size} MPI processes (OMPI_COMM_WORLD_SIZE) but nnjax "
                   "has no MPI communicator; run a single process")
        if not ignore_error:
            raise RuntimeError(message)
        logger.warning(message)
    return None


def single_or_rankzero():
    """True in a single process or in the rank-0 process."""
    comm = _state["communicator"]
    return comm is None or comm.rank == 0
