"""Linear algebra: coordinate grids, diagonal and triangular matrices, and batched
determinant, inverse, log-determinant and Cholesky factor."""
import jax.numpy as jnp

from ._common import call, int_list, lowering
from .arithmetic import _shape



# ---------------------------------------------------------------- grids
@lowering("Meshgrid")
def _meshgrid(*xs, ij_indexing=False):
    return tuple(jnp.meshgrid(*xs, indexing="ij" if ij_indexing else "xy"))


def meshgrid(*x, ij_indexing=False):
    """Coordinate arrays from 1-D inputs (``xy`` indexing unless ``ij_indexing``)."""
    if len(x) == 1 and isinstance(x[0], (list, tuple)):
        x = tuple(x[0])
    if not x:
        raise ValueError("meshgrid: at least one input is required")
    for i, v in enumerate(x):
        if len(_shape(v)) != 1:
            raise ValueError(f"meshgrid: input {i} has shape {_shape(v)}; inputs must be 1-D")
    out = call("Meshgrid", list(x), dict(ij_indexing=bool(ij_indexing)))
    return out if isinstance(out, tuple) else (out,)


# ---------------------------------------------------------------- matrices
@lowering("MatrixDiag")
def _matrix_diag(x):
    return x[..., :, None] * jnp.eye(x.shape[-1], dtype=x.dtype)


def matrix_diag(x, n_outputs=-1, outputs=None):
    """Diagonal matrices from the last axis: (..., N) -> (..., N, N)."""
    if not _shape(x):
        raise ValueError("matrix_diag: the input must have at least one dimension")
    return call("MatrixDiag", [x], {}, outputs)


@lowering("MatrixDiagPart")
def _matrix_diag_part(x):
    return jnp.diagonal(x, axis1=-2, axis2=-1)


def matrix_diag_part(x, n_outputs=-1, outputs=None):
    """Diagonals of the last two (square) axes: (..., N, N) -> (..., N)."""
    s = _shape(x)
    if len(s) < 2 or s[-1] != s[-2]:
        raise ValueError(f"matrix_diag_part: the last two dimensions of {s} must be square")
    return call("MatrixDiagPart", [x], {}, outputs)


@lowering("Trilu")
def _trilu(x, k=0, upper=True):
    return jnp.triu(x, k) if upper else jnp.tril(x, k)


def trilu(x, k=0, upper=True, n_outputs=-1, outputs=None):
    """Upper (``j >= i + k``) or lower (``j <= i + k``) triangle of the last two axes;
    the other elements are zero."""
    if len(_shape(x)) < 2:
        raise ValueError(f"trilu: input must have at least 2 dimensions, got {_shape(x)}")
    k = int_list("trilu", "k", k)[0]
    return call("Trilu", [x], dict(k=k, upper=bool(upper)), outputs)


def _check_square_batch(fname, x):
    s = _shape(x)
    if len(s) != 3 or s[1] != s[2]:
        raise ValueError(f"{fname}: input must be a batch of square matrices (B, N, N), "
                         f"got {s}")


@lowering("BatchDet")
def _batch_det(x):
    return jnp.linalg.det(x)


@lowering("BatchInv")
def _batch_inv(x):
    return jnp.linalg.inv(x)


@lowering("BatchLogdet")
def _batch_logdet(x):
    return jnp.linalg.slogdet(x)[1]


@lowering("BatchCholesky")
def _batch_cholesky(x, upper=False):
    lower = jnp.linalg.cholesky(x)
    return jnp.swapaxes(lower, -1, -2) if upper else lower


def batch_det(x, n_outputs=-1, outputs=None):
    """Determinants of a batch of square matrices: (B, N, N) -> (B,)."""
    _check_square_batch("batch_det", x)
    return call("BatchDet", [x], {}, outputs)


def batch_inv(x, n_outputs=-1, outputs=None):
    """Inverses of a batch of square matrices (B, N, N)."""
    _check_square_batch("batch_inv", x)
    return call("BatchInv", [x], {}, outputs)


def batch_logdet(x, n_outputs=-1, outputs=None):
    """``log|det|`` of a batch of square matrices: (B, N, N) -> (B,)."""
    _check_square_batch("batch_logdet", x)
    return call("BatchLogdet", [x], {}, outputs)


def batch_cholesky(x, upper=False, n_outputs=-1, outputs=None):
    """Cholesky factors of a batch of symmetric positive-definite matrices: lower
    ``L`` with ``x = L L^T`` (or ``U = L^T`` when ``upper``). The gradient with
    respect to ``x`` is symmetric."""
    _check_square_batch("batch_cholesky", x)
    return call("BatchCholesky", [x], dict(upper=bool(upper)), outputs)
