"""``nnabla.contrib.context``: the older way to get an extension context."""
from ..ext_utils import get_extension_context


def extension_context(extension_name="cpu", **kw):
    """The context of extension ``extension_name`` (deprecated in NNabla:
    use ``nnabla.ext_utils.get_extension_context``)."""
    return get_extension_context(extension_name, **kw)
