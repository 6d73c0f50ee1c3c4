"""Python operators of Variable and NdArray, mapped onto NNabla's functions.

``x + y`` records ``Add2`` (``AddScalar`` for a scalar), ``x @ y`` records
``Affine``/``BatchMatmul`` as NNabla maps them, ``x[i]`` records the slicing
functions, ``x.reshape(s)`` records ``Reshape``. Written once in
``Operators`` and installed on both classes by ``install()`` (called by the
package after everything below has been imported): ``Variable`` and
``NdArray`` live in lower layers than the functions they call.
"""
import numpy as np

from . import functions as F
from ._indexing import getitem, ndarray_setitem, setitem
from ._ndarray import NdArray, _as_shape
from ._variable import Variable

_SCALAR_OPS = {
    "add": F.add_scalar, "sub": lambda x, v: F.add_scalar(x, -v),
    "rsub": F.r_sub_scalar, "mul": F.mul_scalar,
    "div": lambda x, v: F.mul_scalar(x, 1.0 / v),
    "rdiv": F.r_div_scalar, "pow": F.pow_scalar, "rpow": F.r_pow_scalar,
    "lt": F.less_scalar, "le": F.less_equal_scalar,
    "gt": F.greater_scalar, "ge": F.greater_equal_scalar,
}
_ARRAY_OPS = {
    "add": F.add2, "sub": F.sub2, "rsub": lambda x, y: F.sub2(y, x),
    "mul": F.mul2, "div": F.div2, "rdiv": lambda x, y: F.div2(y, x),
    "pow": F.pow2, "rpow": lambda x, y: F.pow2(y, x),
    "lt": F.less, "le": F.less_equal, "gt": F.greater, "ge": F.greater_equal,
}


def binary(op, a, b):
    """Map operator ``op`` onto the F function NNabla uses for it."""
    if np.isscalar(b) or (isinstance(b, np.ndarray) and b.ndim == 0):
        return _SCALAR_OPS[op](a, float(b))
    if isinstance(b, np.ndarray) and isinstance(a, NdArray):
        b = NdArray.from_numpy_array(b)
    return _ARRAY_OPS[op](a, b)


class MatmulOperandError(ValueError, AssertionError):
    """A bad ``@`` operand (NNabla asserts on these, hence the AssertionError base)."""


def matmul(x, y):
    """``x @ y`` mapped as NNabla maps it: F.sum (1-D . 1-D), F.affine (2-D),
    F.batch_matmul (N-D, the lower-rank operand reshaped with leading ones).
    With an NdArray operand the product is computed at once (an NdArray)."""
    for i, v in enumerate((x, y)):
        if not isinstance(v, (Variable, NdArray)):
            raise MatmulOperandError(f"matmul: operand {i} must be a Variable or NdArray, "
                                     f"got {type(v).__name__}")
    xs, ys = tuple(x.shape), tuple(y.shape)
    if not xs or not ys:
        raise MatmulOperandError(f"matmul: scalar operands are not allowed "
                                 f"(shapes {xs} and {ys})")
    if isinstance(x, NdArray) or isinstance(y, NdArray):
        x, y = (v.data if isinstance(v, Variable) else v for v in (x, y))
    if xs[-1] != (ys[0] if len(ys) == 1 else ys[-2]):
        raise ValueError(f"matmul: inner dimensions differ for shapes {xs} and {ys}")
    if len(xs) == 1 and len(ys) == 1:
        return F.sum(x * y)
    if len(xs) == 2 and len(ys) == 2:
        return F.affine(x, y)
    if len(xs) == 1 and len(ys) == 2:
        return F.reshape(F.affine(F.reshape(x, (1, xs[0])), y), (ys[1],))
    if len(xs) == 2 and len(ys) == 1:
        return F.reshape(F.affine(x, F.reshape(y, (ys[0], 1))), (xs[0],))
    if len(xs) == len(ys):
        return F.batch_matmul(x, y)
    if len(xs) > len(ys):
        shape = ys + (1,) if len(ys) == 1 else ys
        shape = (1,) * (len(xs) - len(shape)) + shape
        out = F.batch_matmul(x, F.reshape(y, shape))
        return F.reshape(out, out.shape[:-1]) if len(ys) == 1 else out
    shape = (1,) * (len(ys) - len(xs)) + xs
    out = F.batch_matmul(F.reshape(x, shape), y)
    if len(xs) == 1:
        return F.reshape(out, out.shape[:-2] + out.shape[-1:])
    return out


class Operators:
    """The operators shared by Variable and NdArray."""

    def __pos__(self):
        return self

    def __neg__(self):
        return F.mul_scalar(self, -1.0)

    def __abs__(self):
        return F.abs(self)

    def __add__(self, other):
        return binary("add", self, other)

    def __radd__(self, other):
        return binary("add", self, other)

    def __sub__(self, other):
        return binary("sub", self, other)

    def __rsub__(self, other):
        return binary("rsub", self, other)

    def __mul__(self, other):
        return binary("mul", self, other)

    def __rmul__(self, other):
        return binary("mul", self, other)

    def __truediv__(self, other):
        return binary("div", self, other)

    def __rtruediv__(self, other):
        return binary("rdiv", self, other)

    def __pow__(self, other, modulo=None):
        return binary("pow", self, other)

    def __rpow__(self, other):
        return binary("rpow", self, other)

    def __matmul__(self, other):
        return matmul(self, other)

    def __lt__(self, other):
        return binary("lt", self, other)

    def __le__(self, other):
        return binary("le", self, other)

    def __gt__(self, other):
        return binary("gt", self, other)

    def __ge__(self, other):
        return binary("ge", self, other)


class VariableOperators:
    """Variable only: in-place operators build a new node (as NNabla), indexing
    and ``reshape`` record functions."""

    # numpy scalars and arrays defer to the Variable's reflected operators
    # (``np.float64(2) ** v`` is ``v.__rpow__``), as with NNabla's Variable
    __array_ufunc__ = None

    def __rmatmul__(self, other):
        return matmul(other, self)

    __iadd__ = Operators.__add__
    __isub__ = Operators.__sub__
    __imul__ = Operators.__mul__
    __itruediv__ = Operators.__truediv__
    __ipow__ = Operators.__pow__

    def __getitem__(self, key):
        return getitem(self, key)

    def __setitem__(self, key, value):
        setitem(self, key, value)

    def reshape(self, shape, unlink=False):
        """A reshaped variable: F.reshape, or an unlinked copy when ``unlink``."""
        if unlink:
            shape = _as_shape(shape)
            src = self._buffers.data
            if int(np.prod(shape, dtype=np.int64)) != src.size:
                raise ValueError(f"Variable.reshape: cannot view {src.shape} as {shape}")
            var = Variable(shape, self.need_grad)
            var.d = np.reshape(src._host(writable=False), shape)
            return var
        out = F.reshape(self, shape)
        # as NNabla's in-place reshape: the result's data is this variable's memory
        out._buffers.data = self._buffers.data._reshaped_view(out.shape)
        return out


class NdArrayOperators:
    """NdArray only: in-place operators write the result into the array."""

    def __getitem__(self, key):
        return getitem(self, key)

    def __setitem__(self, key, value):
        ndarray_setitem(self, key, value)

    def _inplace(self, op, other):
        result = binary(op, self, other)
        if result.shape != self.shape:
            raise ValueError(f"in-place {op}: result shape {result.shape} does not match "
                             f"{self.shape}")
        self.copy_from(result)
        return self

    def __iadd__(self, other):
        return self._inplace("add", other)

    def __isub__(self, other):
        return self._inplace("sub", other)

    def __imul__(self, other):
        return self._inplace("mul", other)

    def __itruediv__(self, other):
        return self._inplace("div", other)

    def __ipow__(self, other):
        return self._inplace("pow", other)


def _methods(cls):
    return {k: v for k, v in vars(cls).items() if not k.startswith("__") or k.endswith("__")
            if k not in ("__module__", "__qualname__", "__doc__", "__dict__", "__weakref__",
                         "__firstlineno__", "__static_attributes__")}


def install():
    """Put the operators on Variable and NdArray (idempotent)."""
    for cls, extra in ((Variable, VariableOperators), (NdArray, NdArrayOperators)):
        for source in (Operators, extra):
            for name, method in _methods(source).items():
                setattr(cls, name, method)
