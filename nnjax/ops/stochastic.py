"""Dropout and random generators (rand, randint, randn, rand_binomial/beta/gamma, random_choice).

Every rule registered with ``rng=True`` receives a fresh JAX key per forward
(drawn from the generator ``nn.seed`` sets when ``seed=-1``, else from a
generator seeded with ``seed`` when the node is created); backward reuses
the key of the forward, so e.g. a dropout mask is the same in both passes.
"""
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._apply import apply_function
from .._registry import InvalidArgumentError, variant_spec
from ._common import as_shape, call, check_seed, lowering


# ---------------------------------------------------------------- Dropout
def dropout_mask(key, shape, dtype, p):
    """The 0/1 mask a Dropout with ``p`` draws from ``key`` (1 keeps an element)."""
    if p == 0:
        return jnp.ones(shape, dtype)
    return (jax.random.uniform(key, shape) > p).astype(dtype)


def _dropout_mask(key, x, p):
    return dropout_mask(key, x.shape, x.dtype, p)


@lowering("Dropout", rng=True)
def _dropout(key, x, p=0.5, seed=-1):
    mask = _dropout_mask(key, x, p)
    return x * mask * jnp.asarray(1.0 / (1.0 - p), x.dtype)


def _dropout_with_mask(key, x, p=0.5, seed=-1):
    mask = _dropout_mask(key, x, p)
    return x * mask * jnp.asarray(1.0 / (1.0 - p), x.dtype), mask


# The same NNabla type with its optional second output (the mask). The internal
# name "Dropout@mask" keeps its shapes and programs apart from the one-output
# variant; the node's info.type_name is "Dropout".
_DROPOUT_MASK_SPEC = variant_spec("Dropout", _dropout_with_mask, rng=True,
                                  internal_name="Dropout@mask")


def dropout(x, p=0.5, seed=-1, output_mask=False, outputs=None):
    """Zero each element with probability ``p`` (``u <= p`` for ``u ~ U(0, 1)``), scale
    the others by ``1 / (1 - p)``. With ``output_mask`` also returns the 0/1 mask
    (the Dropout node's second output)."""
    fname = "dropout"
    if not 0.0 <= p < 1.0:
        raise InvalidArgumentError(f"{fname}: p must be in [0, 1), got {p}")
    args = dict(p=float(p), seed=check_seed(seed, fname))
    if not output_mask:
        return call("Dropout", [x], args, outputs)
    return apply_function("Dropout", [x], args, outputs=outputs, spec=_DROPOUT_MASK_SPEC)


# ---------------------------------------------------------------- random generators
@lowering("Rand", rng=True)
def _rand(key, low=0.0, high=1.0, shape=(), seed=-1):
    return jax.random.uniform(key, tuple(shape), jnp.float32, low, high)


@lowering("Randint", rng=True)
def _randint(key, low=0, high=1, shape=(), seed=-1):
    return jax.random.randint(key, tuple(shape), low, high, jnp.int32)


@lowering("Randn", rng=True)
def _randn(key, mu=0.0, sigma=1.0, shape=(), seed=-1):
    return mu + sigma * jax.random.normal(key, tuple(shape), jnp.float32)


@lowering("RandBinomial", rng=True)
def _rand_binomial(key, n=1, p=0.5, shape=(), seed=-1):
    return jax.random.binomial(key, float(n), p, tuple(shape), jnp.float32)


# Marsaglia and Tsang's gamma sampler, vectorized: every element draws ROUNDS
# candidates at once and keeps its first accepted one (each is accepted with
# probability above 0.95); the elements that rejected all of them draw again in a
# loop that almost never runs. jax.random.gamma runs a rejection loop per element,
# which XLA's CPU runs about a hundred times slower.
_GAMMA_ROUNDS = 4


def _log_gamma_draws(key, k, shape):
    """log of ``Gamma(k, 1)`` samples of ``shape`` (float32), ``k`` a Python float."""
    alpha = k + 1.0 if k < 1.0 else k  # k < 1: Gamma(k) = Gamma(k + 1) * U ** (1 / k)
    d = alpha - 1.0 / 3.0
    c = 1.0 / np.sqrt(9.0 * d)

    def candidates(key, rounds):
        kz, ku = jax.random.split(key)
        z = jax.random.normal(kz, (rounds,) + shape, jnp.float32)
        u = jax.random.uniform(ku, (rounds,) + shape, jnp.float32)
        v = (1.0 + c * z) ** 3
        log_v = jnp.log(jnp.where(v > 0, v, 1.0))
        ok = (v > 0) & (jnp.log(u) < 0.5 * z * z + d - d * v + d * log_v)
        first = jnp.argmax(ok, axis=0)
        pick = jnp.take_along_axis(log_v, first[None], axis=0)[0]
        return jnp.any(ok, axis=0), pick

    key, k_first, k_boost = jax.random.split(key, 3)
    done, log_v = candidates(k_first, _GAMMA_ROUNDS)

    def again(state):
        key, done, log_v = state
        key, sub = jax.random.split(key)
        ok, pick = candidates(sub, 1)
        return key, done | ok, jnp.where(done, log_v, pick)

    _, _, log_v = lax.while_loop(lambda s: ~jnp.all(s[1]), again, (key, done, log_v))
    out = np.log(d) + log_v
    if k < 1.0:
        out = out + jnp.log(jax.random.uniform(k_boost, shape, jnp.float32)) / k
    return out


@lowering("RandBeta", rng=True)
def _rand_beta(key, alpha=0.5, beta=0.5, shape=(), seed=-1):
    ka, kb = jax.random.split(key)
    log_a = _log_gamma_draws(ka, alpha, tuple(shape))
    log_b = _log_gamma_draws(kb, beta, tuple(shape))
    return jax.nn.sigmoid(log_a - log_b)  # Ga / (Ga + Gb), without underflow


@lowering("RandGamma", rng=True)
def _rand_gamma(key, k=0.5, theta=1.0, shape=(), seed=-1):
    return jnp.exp(_log_gamma_draws(key, k, tuple(shape))) * theta


def rand(low=0, high=1, shape=[], seed=-1):
    """Samples of ``U(low, high)`` with the given ``shape`` (float32)."""
    fname = "rand"
    if not low < high:
        raise ValueError(f"{fname}: low ({low}) must be less than high ({high})")
    return call("Rand", [], dict(low=float(low), high=float(high), shape=as_shape(shape, fname),
                                 seed=check_seed(seed, fname)))


def randint(low=0, high=1, shape=[], seed=-1):
    """Integer samples of ``U{low, ..., high - 1}`` (int32)."""
    fname = "randint"
    if not int(low) < int(high):
        raise ValueError(f"{fname}: low ({low}) must be less than high ({high})")
    return call("Randint", [], dict(low=int(low), high=int(high),
                                    shape=as_shape(shape, fname),
                                    seed=check_seed(seed, fname)))


def randn(mu=0, sigma=1, shape=[], seed=-1):
    """Samples of ``N(mu, sigma)`` (sigma is the standard deviation)."""
    fname = "randn"
    if sigma < 0:
        raise ValueError(f"{fname}: sigma must be non-negative, got {sigma}")
    return call("Randn", [], dict(mu=float(mu), sigma=float(sigma),
                                  shape=as_shape(shape, fname), seed=check_seed(seed, fname)))


def rand_binomial(n=1, p=0.5, shape=[], seed=-1):
    """Samples of the binomial distribution ``B(n, p)`` (float32)."""
    fname = "rand_binomial"
    if int(n) < 0 or not 0.0 <= p <= 1.0:
        raise ValueError(f"{fname}: n must be >= 0 and p in [0, 1], got n={n}, p={p}")
    return call("RandBinomial", [], dict(n=int(n), p=float(p), shape=as_shape(shape, fname),
                                         seed=check_seed(seed, fname)))


def rand_beta(alpha=0.5, beta=0.5, shape=[], seed=-1):
    """Samples of the beta distribution ``Beta(alpha, beta)``."""
    fname = "rand_beta"
    if alpha <= 0 or beta <= 0:
        raise ValueError(f"{fname}: alpha and beta must be positive, got {alpha}, {beta}")
    return call("RandBeta", [], dict(alpha=float(alpha), beta=float(beta),
                                     shape=as_shape(shape, fname),
                                     seed=check_seed(seed, fname)))


def rand_gamma(k=0.5, theta=1, shape=[], seed=-1):
    """Samples of the gamma distribution with shape ``k`` and scale ``theta``."""
    fname = "rand_gamma"
    if k <= 0 or theta <= 0:
        raise ValueError(f"{fname}: k and theta must be positive, got {k}, {theta}")
    return call("RandGamma", [], dict(k=float(k), theta=float(theta),
                                      shape=as_shape(shape, fname),
                                      seed=check_seed(seed, fname)))


# ---------------------------------------------------------------- RandomChoice
@lowering("RandomChoice", rng=True)
def _random_choice(key, x, w, shape=(), replace=True, seed=-1):
    n = x.shape[-1]
    m = int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
    batch = x.shape[:-1]
    xf = x.reshape((-1, n))
    wf = lax.stop_gradient(w).reshape((-1, n)).astype(jnp.float32)
    if replace:
        idx = _inverse_cdf_draws(key, wf, m)
    else:  # Gumbel top-k: m distinct entries, each with probability in proportion to w
        logits = jnp.where(wf > 0, jnp.log(jnp.where(wf > 0, wf, 1.0)), -jnp.inf)
        perturbed = logits + jax.random.gumbel(key, logits.shape)
        _, idx = lax.top_k(perturbed, m)
    idx = lax.stop_gradient(idx)
    picked_w = jnp.take_along_axis(w.reshape((-1, n)), idx, axis=1)
    # NNabla propagates the output gradient to the chosen entries of both x and w.
    y = jnp.take_along_axis(xf, idx, axis=1) + (picked_w - lax.stop_gradient(picked_w))
    out_shape = batch + (tuple(shape) if len(shape) else (1,))
    return y.astype(x.dtype).reshape(out_shape)


def _inverse_cdf_draws(key, weights, m):
    """``m`` indices per row of ``weights`` (rows, n), drawn with replacement by
    inverting each row's cumulative weights: one uniform and a binary search a
    draw (``jax.random.categorical`` would draw n Gumbel numbers a draw)."""
    cdf = jnp.cumsum(jnp.where(weights > 0, weights, 0.0), axis=1)
    u = jax.random.uniform(key, (weights.shape[0], m), jnp.float32) * cdf[:, -1:]
    idx = jax.vmap(lambda c, v: jnp.searchsorted(c, v, side="right"))(cdf, u)
    # u * total can round up to total: take the last entry of positive weight
    n = weights.shape[1]
    last = n - 1 - jnp.argmax((weights > 0)[:, ::-1], axis=1)
    return jnp.minimum(idx, last[:, None]).astype(jnp.int32)


def random_choice(x, w, shape=[], replace=True, seed=-1):
    """Draw ``prod(shape)`` samples from each population in the last axis of ``x``,
    with selection probabilities proportional to ``w``.

    The output shape is ``x.shape[:-1] + shape`` (``+ (1,)`` for an empty shape).
    """
    fname = "random_choice"
    if tuple(x.shape) != tuple(w.shape):
        raise ValueError(f"{fname}: x shape {tuple(x.shape)} and w shape {tuple(w.shape)} "
                         "must match")
    if len(x.shape) < 1:
        raise ValueError(f"{fname}: x must have at least one dimension")
    shape = as_shape(shape, fname)
    m = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if not replace and m > x.shape[-1]:
        raise ValueError(f"{fname}: can not draw {m} samples without replacement from a "
                         f"population of {x.shape[-1]}")
    return call("RandomChoice", [x, w], dict(shape=shape, replace=bool(replace),
                                             seed=check_seed(seed, fname)))
