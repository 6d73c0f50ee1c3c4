"""``nnabla.utils.py23_compatible``: ``getargspec`` as Python 2's inspect had it."""
import inspect
from collections import namedtuple

__all__ = ["getargspec"]

ArgSpec = namedtuple("ArgSpec", ("args", "varargs", "keywords", "defaults"))


def getargspec(func):
    """(args, varargs, keywords, defaults) of ``func`` (keyword-only arguments are
    not reported, as in Python 2)."""
    spec = inspect.getfullargspec(func)
    return ArgSpec(args=spec.args, varargs=spec.varargs, keywords=spec.varkw,
                   defaults=spec.defaults)
