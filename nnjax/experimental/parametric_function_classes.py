"""``nnabla.experimental.parametric_function_classes``: the older name of
``nnabla.experimental.parametric_function_class``."""
from .parametric_function_class import *  # noqa: F401,F403
from .parametric_function_class import __doc__ as _doc  # noqa: F401
