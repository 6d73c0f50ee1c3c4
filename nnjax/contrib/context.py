"""``nnabla.contrib.context`` (deprecated): use ``nnabla.ext_utils.get_extension_context``."""
from ..ext_utils import get_extension_context
from ..logger import logger


def extension_context(extension_name="cpu", **kw):
    """The context of ``extension_name`` ('cpu', 'cuda', 'cudnn'; 'cuda.cudnn' is read as
    'cudnn'). Deprecated: use ``nnabla.ext_utils.get_extension_context``."""
    logger.warning("Deprecated API. Use `nnabla.ext_utils.get_extension_context(ext_name, "
                   "**kw)`.")
    return get_extension_context(extension_name.rpartition(".")[2] or "cpu", **kw)
