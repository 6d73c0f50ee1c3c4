"""Dynamic-graph mode, as ``nnabla.auto_forward``."""
from ._modes import auto_forward, get_auto_forward, set_auto_forward

__all__ = ["auto_forward", "get_auto_forward", "set_auto_forward"]
