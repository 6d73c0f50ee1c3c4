"""``nnabla.normalization_functions``: the normalization functions (also in
``nnabla.functions``) and the small axis helpers NNabla's module offers with them."""
import numpy as np

from .functions import (batch_normalization, fused_batch_normalization,  # noqa: F401
                        group_normalization, instance_normalization, layer_normalization,
                        mean_subtraction, norm_normalization, spectral_norm,
                        sync_batch_normalization, tensor_normalization, weight_normalization,
                        weight_standardization)
from .functions import reshape, transpose


def _check_axis(ndim, axis):
    """ValueError unless ``0 <= axis < ndim``."""
    if not 0 <= axis < ndim:
        raise ValueError(f"axis must be in [0, {ndim}), got {axis} (ndim {ndim})")


def _force_list(axis):
    """``axis`` itself when it is iterable, else ``[axis]``."""
    return axis if hasattr(axis, "__iter__") else [axis]


def _check_batch_axis_and_force_list(ndim, batch_axis):
    """``batch_axis`` as a list, each entry checked against ``ndim``."""
    batch_axis = _force_list(batch_axis)
    for axis in batch_axis:
        _check_axis(ndim, axis)
    return batch_axis


def _get_axes_excluding(ndim, axes):
    """The axes of an ``ndim``-D array other than ``axes`` (negative ones wrapped)."""
    excluded = {a + ndim if a < 0 else a for a in _force_list(axes)}
    return [i for i in range(ndim) if i not in excluded]


def _apply_affine(x, scale=None, bias=None):
    """``x * scale + bias``, each part only when given."""
    if scale is not None:
        x = x * scale
    if bias is not None:
        x = x + bias
    return x


class BatchNormalizationInOutAdapter(object):
    """Turn an input normalized over several ``axes`` into a 2+-D array whose last
    axis holds them all, and back (NNabla's helper of multi-axis batch statistics).

    ``adapter(x)`` transposes the other axes to the front, then flattens ``axes``
    into the last one; ``adapter.inv(y)`` undoes it for an array of that shape.
    """

    def __init__(self, ndim, axes):
        if len(axes) == 1:
            raise ValueError("BatchNormalizationInOutAdapter: axes must not be a single "
                             f"axis (got {axes}); a single axis needs no adapting")
        self.ndim = ndim
        self.axes = axes
        self.outer_axes = sorted(set(range(ndim)).difference(axes))
        self.transpose_axes = self.outer_axes + sorted(axes)
        self.transposed_shape = None
        self.inv_transpose_axes = np.argsort(self.transpose_axes).tolist()

    def __call__(self, x):
        transposed = transpose(x, self.transpose_axes)
        if self.transposed_shape is not None and self.transposed_shape != transposed.shape:
            raise ValueError(f"BatchNormalizationInOutAdapter: input of transposed shape "
                             f"{transposed.shape}, the adapter was set up for "
                             f"{self.transposed_shape}")
        self.transposed_shape = transposed.shape
        n_outer = len(self.outer_axes)
        inner = int(np.prod(transposed.shape[n_outer:]))
        return reshape(transposed, list(transposed.shape[:n_outer]) + [inner])

    def inv(self, y):
        return transpose(reshape(y, self.transposed_shape), self.inv_transpose_axes)
