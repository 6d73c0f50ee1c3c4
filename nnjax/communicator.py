"""``nnabla.communicator``: the module ``nnabla.communicators`` re-exports."""
from .communicators import *  # noqa: F401,F403
from .communicators import __all__  # noqa: F401
