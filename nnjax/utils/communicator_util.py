"""The communicator a command-line run uses (``nnabla.utils.communicator_util``).

nnjax runs one process per command unless a launcher (``mpirun``) started
several; without one there is no communicator and every process is rank 0.
"""
import os

from ..logger import logger

_current_communicator = None


def current_communicator():
    """The communicator made by ``create_communicator`` (None for a single process)."""
    return _current_communicator


def create_communicator(ignore_error=False, extension_module="cudnn", type_config="float"):
    """A communicator when run under MPI (``OMPI_COMM_WORLD_SIZE`` set), else None.

    nnjax has no multi-process communicator in this module's reach: under MPI
    it raises (or, with ``ignore_error``, warns and runs as one process).
    """
    global _current_communicator
    _current_communicator = None
    if os.environ.get("OMPI_COMM_WORLD_SIZE") is not None:
        message = ("create_communicator: running under MPI (OMPI_COMM_WORLD_SIZE is set), "
                   "but nnjax has no MPI communicator; use nnabla.communicators on "
                   "jax.distributed")
        if not ignore_error:
            raise RuntimeError(message)
        logger.warning(message + "; continuing as a single process")
    return _current_communicator


def single_or_rankzero():
    """True in a single process, or in the rank-0 process of a group."""
    return not _current_communicator or _current_communicator.rank == 0
