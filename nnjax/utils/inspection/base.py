"""Base class of the objects that hand out function hooks."""


class FunctionHookCallbackBase(object):
    """Something that provides ``pre_hook`` and ``post_hook`` callables.

    The callables take a function node and are meant to be passed as
    ``function_pre_hook`` / ``function_post_hook`` to ``Variable.forward``,
    ``Variable.backward`` or ``nnabla.forward_all``. Subclasses override the
    two properties.
    """

    @property
    def pre_hook(self):
        """A callable ``f(function)`` run before each function (None: no hook)."""
        return None

    @property
    def post_hook(self):
        """A callable ``f(function)`` run after each function (None: no hook)."""
        return None
