"""Variable and Function: the recorded computation graph.

A Variable holds a ``_Buffers`` record (data and grad NdArrays) shared with
its unlinked copies, a parent Function, and flags. A Function node holds
NNabla's type name and args, its input and output Variables. Nothing here
computes: ``forward``/``backward`` queue the ops of ``nnjax._forward`` and
``nnjax._backward``. Operators (``+``, ``@``, ``[]``, ``reshape``) are installed
by ``nnjax._operators``, which sits above the functions they record.
"""
import gc
import weakref

import numpy as np

from . import _modes
from ._backward import backward as _queue_backward
from ._forward import forward as _queue_forward
from ._function import Function
from ._ndarray import NdArray, _as_shape
from ._plan import bump_graph as _bump_graph, functions_in_order
from .context import Context  # noqa: F401  (NNabla's nnabla._variable exports it)


class _Buffers:
    __slots__ = ("data", "grad", "__weakref__")

    def __init__(self, data, grad):
        self.data = data
        self.grad = grad


class Variable:
    """A node of the computation graph holding data and grad arrays.

    Args:
        shape (Iterable of int): shape of the variable.
        need_grad (bool): whether backpropagation computes its gradient.
    """

    __slots__ = ("_buffers", "_parent", "_need_grad", "_persistent",
                 "_recompute", "_name", "_consumers", "info", "_plan_cache",
                 "__weakref__")

    def __init__(self, shape=(), need_grad=None, info=None):
        shape = _as_shape(shape)
        if any(s < 0 for s in shape):
            raise ValueError(f"Variable: negative dimension in shape {shape}")
        self._buffers = _Buffers(NdArray(shape, np.float32), NdArray(shape, np.float32))
        self._parent = None
        self._need_grad = None if need_grad is None else bool(need_grad)
        self._persistent = False
        self._recompute = _modes.get_global_recompute()
        self._name = ""
        self._consumers = []
        self.info = info
        self._plan_cache = None

    # ------------------------------------------------------------ construction
    @staticmethod
    def from_numpy_array(data, grad=None, need_grad=None):
        """A leaf Variable holding copies of ``data`` (and ``grad``)."""
        data = np.asarray(data)
        var = Variable(data.shape, need_grad)
        var._buffers.data = NdArray.from_numpy_array(data)
        if grad is not None:
            grad = np.asarray(grad)
            if grad.shape != data.shape:
                raise ValueError(f"Variable.from_numpy_array: grad shape {grad.shape} "
                                 f"differs from data shape {data.shape}")
            var._buffers.grad = NdArray.from_numpy_array(grad)
        return var

    @classmethod
    def _with_buffers(cls, buffers, need_grad=None):
        var = cls.__new__(cls)
        var._buffers = buffers
        var._parent = None
        var._need_grad = need_grad
        var._persistent = False
        var._recompute = _modes.get_global_recompute()
        var._name = ""
        var._consumers = []
        var.info = None
        var._plan_cache = None
        return var

    def __repr__(self):
        return f"<Variable({self.shape}, need_grad={self.need_grad}) at {hex(id(self))}>"

    # identity: an unlinked variable equals its original (same buffers)
    def __eq__(self, other):
        return isinstance(other, Variable) and other._buffers is self._buffers

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(id(self._buffers))

    def apply(self, **kwargs):
        """Set attributes, then return self."""
        for k, v in kwargs.items():
            setattr(self, k, v)
        return self

    # ------------------------------------------------------------ shape
    @property
    def shape(self):
        return self._buffers.data.shape

    @property
    def size(self):
        return self._buffers.data.size

    @property
    def ndim(self):
        return self._buffers.data.ndim

    def size_from_axis(self, axis=-1):
        return self._buffers.data.size_from_axis(axis)

    def __len__(self):
        return len(self._buffers.data)

    def __bool__(self):  # a Variable is always true, whatever its shape (as in NNabla)
        return True

    def reset_shape(self, shape, force=False):
        """Change the shape in place; values are kept when the size agrees."""
        shape = _as_shape(shape)
        old = self._buffers.data
        if shape == old.shape:
            return
        same_size = int(np.prod(shape, dtype=np.int64)) == old.size
        if not same_size and not force:
            raise ValueError(f"Variable.reset_shape: cannot reshape {old.shape} to {shape} "
                             "(size differs; pass force=True to reallocate)")
        for attr in ("data", "grad"):
            arr = getattr(self._buffers, attr)
            new = NdArray(shape, arr.dtype)
            if same_size and not arr.clear_called and arr._const_fill() is None:
                new.data = np.reshape(arr._host(writable=False), shape)
            elif same_size:
                new._fill = arr._const_fill()
            setattr(self._buffers, attr, new)
        _bump_graph(reshaped=True)

    # ------------------------------------------------------------ flags
    @property
    def need_grad(self):
        if self._need_grad is not None:
            return self._need_grad
        p = self._parent
        return bool(p is not None and p.need_grad)

    @need_grad.setter
    def need_grad(self, value):
        value = bool(value)
        if self._need_grad is not value:  # (setting the flag it has keeps cached plans)
            self._need_grad = value
            _bump_graph()

    @property
    def persistent(self):
        return self._persistent

    @persistent.setter
    def persistent(self, value):
        value = bool(value)
        if self._persistent is not value:
            self._persistent = value
            _bump_graph()

    @property
    def recompute(self):
        return self._recompute

    @recompute.setter
    def recompute(self, value):
        self._recompute = bool(value)

    @property
    def name(self):
        return self._name

    @name.setter
    def name(self, value):
        self._name = str(value)

    @property
    def rank(self):
        p = self._parent
        return 0 if p is None else p.rank + 1

    # ------------------------------------------------------------ buffers
    @property
    def data(self):
        return self._buffers.data

    @data.setter
    def data(self, ndarray):
        if not isinstance(ndarray, NdArray):
            raise TypeError(f"Variable.data: expected an NdArray, got {type(ndarray).__name__}")
        if ndarray.size != self.size:
            raise ValueError(f"Variable.data: NdArray of shape {ndarray.shape} does not "
                             f"fit a variable of shape {self.shape}")
        self._buffers.data = ndarray
        _bump_graph()

    @property
    def grad(self):
        return self._buffers.grad

    @grad.setter
    def grad(self, ndarray):
        if not isinstance(ndarray, NdArray):
            raise TypeError(f"Variable.grad: expected an NdArray, got {type(ndarray).__name__}")
        if ndarray.size != self.size:
            raise ValueError(f"Variable.grad: NdArray of shape {ndarray.shape} does not "
                             f"fit a variable of shape {self.shape}")
        self._buffers.grad = ndarray
        _bump_graph()

    @property
    def d(self):
        """The values as a writable numpy reference."""
        return self._buffers.data.data

    @d.setter
    def d(self, value):
        try:
            self._buffers.data.data = value
        except ValueError as e:
            raise ValueError(f"Variable.d of a variable of shape {self.shape}: {e}") from None

    @property
    def g(self):
        """The gradient values as a writable numpy reference."""
        return self._buffers.grad.data

    @g.setter
    def g(self, value):
        try:
            self._buffers.grad.data = value
        except ValueError as e:
            raise ValueError(f"Variable.g of a variable of shape {self.shape}: {e}") from None

    # ------------------------------------------------------------ graph
    @property
    def parent(self):
        return self._parent

    @parent.setter
    def parent(self, func):
        if func is not None and not isinstance(func, Function):
            raise TypeError(f"Variable.parent: expected a Function, got {type(func).__name__}")
        self._parent = func
        if func is not None and self not in func.outputs:
            func.outputs.append(self)
        _bump_graph()

    def _clear_parent(self):
        self._parent = None
        _bump_graph()

    @property
    def function_references(self):
        """Functions that take this variable as an input (and are still referenced:
        a function whose outputs were all deleted is gone, as in NNabla)."""
        gc.collect()  # a function and its outputs reference each other: free dropped ones
        return self.alive_consumers()

    def alive_consumers(self):
        """``function_references`` without the garbage collection (graph walks collect
        once, then call this per variable)."""
        alive = [r() for r in self._consumers]
        return [f for f in alive if f is not None]

    @property
    def get_number_of_references(self):
        """How many live Variables share this one's memory (itself included): the
        same buffers, the same data array, or an in-place reshape of it."""
        key = _memory_key(self)
        return sum(1 for o in gc.get_objects()
                   if isinstance(o, Variable) and _memory_key(o) is key)

    EXCEPTIONS_AT_DEALLOC = []

    @staticmethod
    def _check_exception_at_dealloc():
        """Raise the first error recorded while releasing a Variable (none in nnjax)."""
        if Variable.EXCEPTIONS_AT_DEALLOC:
            raise Variable.EXCEPTIONS_AT_DEALLOC.pop(0)

    def get_unlinked_variable(self, need_grad=None):
        """A parentless variable sharing this one's data and grad buffers."""
        ng = self.need_grad if need_grad is None else bool(need_grad)
        return Variable._with_buffers(self._buffers, ng)

    def unlinked(self, need_grad=None):
        """Deprecated alias of :meth:`get_unlinked_variable`."""
        return self.get_unlinked_variable(need_grad)

    def rewire_on(self, var):
        """Take ``var``'s buffers and parent function; ``var`` loses its parent."""
        if var.shape != self.shape:
            raise ValueError(f"Variable.rewire_on: shape {var.shape} differs from {self.shape}")
        parent = var._parent
        self._buffers = var._buffers
        self._parent = parent
        if parent is not None:
            parent.outputs = [self if o is var else o for o in parent.outputs]
        var._parent = None
        _bump_graph()

    def visit(self, f):
        """Call ``f(function)`` for each function of the graph, in forward order."""
        for func in functions_in_order([self]):
            f(func)

    def visit_check(self, f):
        """Like visit, but stop and return True as soon as ``f`` returns True."""
        for func in functions_in_order([self]):
            if f(func):
                return True
        return False

    def clear_all_graph_links(self):
        """Drop the parents of every variable of the graph (truncated BPTT)."""
        for func in functions_in_order([self]):
            for v in func.outputs:
                v._parent = None
        _bump_graph()

    def no_grad(self):
        """A copy of the graph to this variable in which nothing needs a gradient."""
        return copy_graph_without_grad(self)

    # ------------------------------------------------------------ execution
    def forward(self, clear_buffer=False, clear_no_need_grad=False,
                function_pre_hook=None, function_post_hook=None):
        """Compute this variable from the roots of its graph."""
        _queue_forward([self], clear_buffer=clear_buffer,
                       clear_no_need_grad=clear_no_need_grad,
                       function_pre_hook=function_pre_hook,
                       function_post_hook=function_post_hook)

    def backward(self, grad=1, clear_buffer=False, communicator_callbacks=None,
                 function_pre_hook=None, function_post_hook=None):
        """Backpropagate from this variable, accumulating into the roots' grads."""
        _queue_backward(self, grad, clear_buffer=clear_buffer,
                        function_pre_hook=function_pre_hook,
                        function_post_hook=function_post_hook)
        if communicator_callbacks is not None:
            callbacks = communicator_callbacks if isinstance(
                communicator_callbacks, (list, tuple)) else [communicator_callbacks]
            for cb in callbacks:
                if hasattr(cb, "on_finish"):
                    cb.on_finish()


def copy_graph_without_grad(output):
    """Replay the graph up to ``output`` with every variable need_grad=False."""
    mapping = {}

    def mapped(v):
        if v is None:
            return None
        m = mapping.get(id(v))
        if m is None:
            m = v.get_unlinked_variable(need_grad=False)
            mapping[id(v)] = m
        return m

    for fn in functions_in_order([output]):
        new_fn = Function(fn.spec, dict(fn.info.args), [mapped(v) for v in fn._inputs],
                          fn.python_function, dict(fn.lower_args))
        new_fn._info.type_name = fn._info.type_name
        for o in fn.outputs:
            nv = Variable(o.shape, need_grad=False)
            nv._buffers.data._dtype = o.data.dtype
            nv._parent = new_fn
            new_fn.outputs.append(nv)
            mapping[id(o)] = nv
        for v in new_fn._inputs:
            if v is not None:
                v._consumers.append(weakref.ref(new_fn))
    return mapped(output)


def _memory_key(v):
    """The array whose memory ``v``'s data is (NNabla's in-place Reshape shares its input's)."""
    while v._parent is not None and v._parent.info.type_name == "Reshape" \
            and v._parent.info.args.get("inplace", True) and v._parent.inputs:
        v = v._parent.inputs[0]
    return getattr(v._buffers.data, "_root", v._buffers.data)
