"""``nnabla.utils.communicator_util``: the one communicator a script's helpers share."""
import os

from .. import communicators as C
from ..ext_utils import get_extension_context
from ..logger import logger

_current_communicator = None
_LAUNCHED_BY = ("OMPI_COMM_WORLD_SIZE", "NNJAX_NUM_PROCESSES")


def current_communicator():
    """The communicator :func:`create_communicator` made, or None."""
    return _current_communicator


def create_communicator(ignore_error=False, extension_module="cudnn", type_config="float"):
    """Make and initialize a communicator when the script runs as several processes
    (under ``mpirun`` or ``python -m nnabla.distributed``); None otherwise, or when the
    world has one process. With ``ignore_error`` a failure logs a warning and gives None."""
    global _current_communicator
    _current_communicator = None
    if not any(os.environ.get(name) for name in _LAUNCHED_BY):
        return None
    try:
        context = get_extension_context(extension_module, type_config=type_config)
        logger.log(99, f"Create communicator with contexts {context}")
        comm = C.MultiProcessCommunicator(context)
        comm.init()
        context.device_id = str(comm.rank % comm.size)
        _current_communicator = comm if comm.size > 1 else None
    except Exception:
        if not ignore_error:
            raise
        logger.warning("Failed to initialize nnabla.communicators.")
        _current_communicator = None
    return _current_communicator


def single_or_rankzero():
    """True in a single-process run or on rank 0."""
    return _current_communicator is None or _current_communicator.rank == 0
