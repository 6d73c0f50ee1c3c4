"""Weight reparameterizations: weight normalization, weight standardization, spectral norm."""
import jax.numpy as jnp
from jax import lax

from ._common import call, int_shape, lowering, norm_axis
from .batch_norm import _record, _register_with_stats
from .normalization import _tn_core


def _weight_standardization_full(w, channel_axis=0, eps=1e-5):
    """Standardize ``w`` per output channel: statistics over every other axis."""
    return _tn_core(w, [channel_axis], eps)


_WS_STATS = _register_with_stats("WeightStandardization", _weight_standardization_full)


def weight_standardization(w, channel_axis=0, eps=1e-05, output_stat=False):
    """``(w - mean) / sqrt(var + eps)`` with statistics per ``channel_axis`` (0 for
    convolution weights, 1 for affine weights)."""
    channel_axis = norm_axis(channel_axis, len(w.shape), "weight_standardization",
                             "channel_axis")
    return _record("WeightStandardization", _WS_STATS, [w],
                   dict(channel_axis=channel_axis, eps=float(eps)), output_stat)


@lowering("WeightNormalization")
def _weight_normalization(w, g, dim=0, eps=1e-12):
    red = tuple(a for a in range(w.ndim) if a != dim)
    scale = jnp.sum(jnp.square(w), axis=red, keepdims=True) + eps
    gshape = [1] * w.ndim
    gshape[dim] = w.shape[dim]
    return w / jnp.sqrt(scale) * g.reshape(gshape)


def weight_normalization(w, g, dim=0, eps=1e-12, n_outputs=-1, outputs=None):
    """``g * w / ||w||`` with the norm over every axis but ``dim`` (``eps`` added inside
    the square root); ``g`` has shape (w.shape[dim],)."""
    fname = "weight_normalization"
    dim = norm_axis(dim, len(w.shape), fname, "dim")
    if int_shape(g) != (w.shape[dim],):
        raise ValueError(f"{fname}: g shape {int_shape(g)} must be ({w.shape[dim]},) for w of "
                         f"shape {int_shape(w)} and dim={dim}")
    if not eps > 0:
        raise ValueError(f"{fname}: eps must be positive, got {eps}")
    return call("WeightNormalization", [w, g], dict(dim=dim, eps=float(eps)), outputs)


# ---------------------------------------------------------------- spectral norm
@lowering("SpectralNorm", state_inputs=(1,), prior_state_grad=True)
def _spectral_norm(w, u, dim=0, itr=1, eps=1e-12, test=False, output_u=False):
    wt = jnp.moveaxis(w, dim, 0)
    mat = wt.reshape(wt.shape[0], -1)
    fixed = lax.stop_gradient(mat)
    uu = lax.stop_gradient(u).reshape(-1)
    v = None
    for _ in range(itr):
        v = uu @ fixed
        v = v / jnp.sqrt(jnp.sum(v * v) + eps)
        uu = fixed @ v
        uu = uu / jnp.sqrt(jnp.sum(uu * uu) + eps)
    sigma = uu @ (mat @ v)
    w_sn = jnp.moveaxis((mat / sigma).reshape(wt.shape), 0, dim)
    new_u = u if test else uu.reshape(u.shape)
    if output_u:  # the u the iteration started from, as NNabla outputs it
        return w_sn, u, new_u
    return w_sn, new_u


def spectral_norm(w, u, dim=0, itr=1, eps=1e-12, test=False, output_u=False):
    """``w / sigma(w)`` with the largest singular value of w (``dim`` moved first,
    flattened to a matrix) estimated by ``itr`` power iterations from ``u``
    (shape (w.shape[dim],)). ``u`` is updated in place unless ``test``; ``output_u``
    also returns ``u`` as it was before the update."""
    fname = "spectral_norm"
    dim = norm_axis(dim, len(w.shape), fname, "dim")
    if int_shape(u) != (w.shape[dim],):
        raise ValueError(f"{fname}: u shape {int_shape(u)} must be ({w.shape[dim]},) for w of "
                         f"shape {int_shape(w)} and dim={dim}")
    itr = int(itr)
    if itr < 1:
        raise ValueError(f"{fname}: itr must be > 0, got {itr}")
    if not eps > 0:
        raise ValueError(f"{fname}: eps must be > 0, got {eps}")
    return call("SpectralNorm", [w, u], dict(dim=dim, itr=itr, eps=float(eps), test=bool(test),
                                             output_u=bool(output_u)))
