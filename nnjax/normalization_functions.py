"""``nnabla.normalization_functions``: the normalization functions (also in
``nnabla.functions``) and the small axis helpers NNabla's module offers with them."""
from .functions import (batch_normalization, fused_batch_normalization,  # noqa: F401
                        group_normalization, instance_normalization, layer_normalization,
                        mean_subtraction, norm_normalization, spectral_norm,
                        sync_batch_normalization, tensor_normalization, weight_normalization,
                        weight_standardization)


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
