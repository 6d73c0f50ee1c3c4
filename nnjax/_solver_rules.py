"""Solver update rules, optax-style: one small factory per NNabla solver.

A factory returns a ``SolverRule(state_names, update)``. ``update(p, g,
state, t, h)`` is a pure function of JAX arrays for ONE parameter and returns
``(new_p, new_state)``:

- ``p``, ``g``: the parameter and its gradient (same dtype as ``p``);
- ``state``: dict of arrays named as NNabla names them (``get_states()``);
- ``t``: the step count AFTER this update (int32 scalar, NNabla increments
  it before computing, so the first update sees ``t == 1``);
- ``h``: dict of float32 scalars (learning rate, betas, the fused weight
  decay rate ``wd`` ...). They are arguments of the compiled program, so
  changing one (``set_learning_rate``, ``weight_decay``) never recompiles.

Static choices (``amsgrad``, ``bias_correction`` ...) are Python values of
the factory and part of the compile key.

The formulas follow NNabla 1.39's CPU implementation, which differs from
optax in several places (Adam's bias correction applied to the step size
with eps outside the corrected root, Momentum scaling the gradient by the
learning rate before accumulating, AdaBelief adding eps into its stored
variance, Lion interpolating with ``g + beta * (m - g)``, ...). optax is used
only where the arithmetic is identical (plain SGD).

Solvers whose weight decay NNabla fuses into the update (SgdW, AdamW, Lars,
Lamb, Lion, AdaBelief with ``weight_decouple``) read the rate from ``h["wd"]``.
"""
from typing import Callable, NamedTuple

import jax.numpy as jnp


class SolverRule(NamedTuple):
    state_names: tuple
    update: Callable


def _pow(b, t):
    """``b ** t`` in float32 for a float32 scalar ``b`` and an int32 step ``t``."""
    return jnp.power(b, t.astype(jnp.float32))


def _adam_correction(h, t):
    """sqrt(1 - beta2^t) / (1 - beta1^t): the factor NNabla folds into the step size."""
    return jnp.sqrt(1 - _pow(h["beta2"], t)) / (1 - _pow(h["beta1"], t))


def _ema(beta, prev, x):
    """Running average ``beta prev + (1 - beta) x``, in NNabla's operation order."""
    return beta * prev + (1 - beta) * x


def _ema_sq(beta, prev, x):
    """Running average of squares ``beta prev + (1 - beta) x x``, in NNabla's operation order."""
    return beta * prev + (1 - beta) * x * x


def _adam_moments(h, g, m, v):
    """Adam's first and second moments of ``g``: (ema of g with beta1, ema of g^2 with beta2)."""
    return _ema(h["beta1"], m, g), _ema_sq(h["beta2"], v, g)


def _norm(x):
    return jnp.sqrt(jnp.sum(x * x))


# ---------------------------------------------------------------- SGD family
def sgd():
    """w <- w - lr * g (optax.sgd computes exactly this)."""
    import optax

    def update(p, g, state, t, h):
        tx = optax.sgd(h["lr"])
        updates, _ = tx.update(g, tx.init(p))
        return optax.apply_updates(p, updates), state
    return SolverRule((), update)


def sgdw():
    """m <- momentum m + lr g;  w <- w - m - (lr / lr_0) wd w (decoupled, fused)."""
    def update(p, g, state, t, h):
        m = h["momentum"] * state["m"] + h["lr"] * g
        eta_wd = (h["lr"] / h["init_lr"]) * h["wd"]
        return p - m - eta_wd * p, {"m": m}
    return SolverRule(("m",), update)


def momentum():
    """m <- momentum m + lr g;  w <- w - m."""
    def update(p, g, state, t, h):
        m = h["momentum"] * state["m"] + h["lr"] * g
        return p - m, {"m": m}
    return SolverRule(("m",), update)


def lars():
    """LARS: a per-parameter trust ratio from ||w|| and ||g|| (fused weight decay)."""
    def update(p, g, state, t, h):
        eps, wd = h["eps"], h["wd"]
        g_norm = _norm(g)
        d_norm = _norm(p)
        x = g_norm + wd * d_norm
        x = jnp.where(x < eps, x + eps, x)
        local_lr = jnp.where(d_norm < eps, h["lr"], h["lr"] * h["coefficient"] * d_norm / x)
        v = h["momentum"] * state["v"] + local_lr * (g + wd * p)
        return p - v, {"v": v}
    return SolverRule(("v",), update)


def nesterov():
    """v <- momentum v - lr g;  w <- w - momentum v_prev + (1 + momentum) v."""
    def update(p, g, state, t, h):
        mom = h["momentum"]
        prev = state["m"]
        m = mom * prev - h["lr"] * g
        return p + (-mom * prev + (1 + mom) * m), {"m": m}
    return SolverRule(("m",), update)


# ---------------------------------------------------------------- adaptive
def adadelta():
    def update(p, g, state, t, h):
        decay, eps = h["decay"], h["eps"]
        e_g = state["e_sqr_grad"] * decay + g * g * (1 - decay)
        delta = jnp.sqrt((state["e_sqr_delta"] + eps) / (e_g + eps)) * g
        e_d = state["e_sqr_delta"] * decay + delta * delta * (1 - decay)
        return p - h["lr"] * delta, {"e_sqr_grad": e_g, "e_sqr_delta": e_d}
    return SolverRule(("e_sqr_grad", "e_sqr_delta"), update)


def adagrad():
    def update(p, g, state, t, h):
        v = state["v"] + g * g
        return p - h["lr"] * g / (jnp.sqrt(v) + h["eps"]), {"v": v}
    return SolverRule(("v",), update)


def adabelief(amsgrad=False, weight_decouple=False, fixed_decay=False, rectify=False):
    """AdaBelief; eps is added to the stored variance (or its running max) each step."""
    names = ("mean", "var", "s_max") if amsgrad else ("mean", "var")

    def update(p, g, state, t, h):
        b1, b2, eps, alpha = h["beta1"], h["beta2"], h["eps"], h["alpha"]
        b1_t, b2_t = _pow(b1, t), _pow(b2, t)
        corr1 = 1 - b1_t
        corr2 = jnp.sqrt(1 - b2_t)
        m = _ema(b1, state["mean"], g)
        s = _ema_sq(b2, state["var"], g - m)
        if weight_decouple:
            ratio = h["wd"] if fixed_decay else h["wd"] * alpha
            p = p - p * ratio
        new = {"mean": m}
        if amsgrad:
            s_max = jnp.maximum(state["s_max"], s) + eps
            new["var"], new["s_max"] = s, s_max
            s_t = s_max
        else:
            s = s + eps
            new["var"] = s
            s_t = s
        adaptive = p - (alpha / corr1) * m / (jnp.sqrt(s_t) / corr2 + eps)
        if not rectify:
            return adaptive, new
        tf = t.astype(jnp.float32)
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * tf * b2_t / (1 - b2_t)
        r_t = jnp.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                       / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        rectified = p - (alpha * r_t / corr1) * m / (jnp.sqrt(s_t) / corr2 + eps)
        return jnp.where(rho_t <= 4, p - alpha * m, rectified), new
    return SolverRule(names, update)


def rmsprop():
    def update(p, g, state, t, h):
        decay = h["decay"]
        v = state["v"] * decay + g * g * (1 - decay)
        return p - h["lr"] / (jnp.sqrt(v) + h["eps"]) * g, {"v": v}
    return SolverRule(("v",), update)


def rmsprop_graves():
    def update(p, g, state, t, h):
        decay = h["decay"]
        n = _ema_sq(decay, state["n"], g)
        gm = _ema(decay, state["g"], g)
        d = h["momentum"] * state["d"] - h["lr"] * g / jnp.sqrt(n - gm * gm + h["eps"])
        return p + d, {"n": n, "g": gm, "d": d}
    return SolverRule(("n", "g", "d"), update)


def adam():
    def update(p, g, state, t, h):
        m, v = _adam_moments(h, g, state["mean"], state["var"])
        alpha_t = h["alpha"] * _adam_correction(h, t)
        return p - alpha_t * m / (jnp.sqrt(v) + h["eps"]), {"mean": m, "var": v}
    return SolverRule(("mean", "var"), update)


def adamw():
    """Adam, then w <- w - (alpha / alpha_0) wd w_prev (decoupled, fused)."""
    def update(p, g, state, t, h):
        m, v = _adam_moments(h, g, state["mean"], state["var"])
        alpha_t = h["alpha"] * _adam_correction(h, t)
        eta_wd = h["wd"] * (h["alpha"] / h["init_alpha"])
        new_p = p - alpha_t * m / (jnp.sqrt(v) + h["eps"]) - eta_wd * p
        return new_p, {"mean": m, "var": v}
    return SolverRule(("mean", "var"), update)


def _bound_step(h, t, alpha_t, root_v, upper_as_nnabla_amsbound):
    final_lr = h["final_lr"] * (h["alpha"] / h["init_alpha"])
    gt = h["gamma"] * t.astype(jnp.float32)
    lower = final_lr * (1 - 1 / (gt + 1))
    if upper_as_nnabla_amsbound:
        # NNabla's AMSBound writes `1 / gamma * t`, i.e. 1 + t / gamma.
        upper = final_lr * (1 + t.astype(jnp.float32) / h["gamma"])
    else:
        upper = final_lr * (1 + 1 / gt)
    return jnp.minimum(upper, jnp.maximum(alpha_t / (root_v + h["eps"]), lower))


def adabound():
    def update(p, g, state, t, h):
        m, v = _adam_moments(h, g, state["mean"], state["var"])
        alpha_t = h["alpha"] * _adam_correction(h, t)
        eta = _bound_step(h, t, alpha_t, jnp.sqrt(v), False)
        return p - eta * m, {"mean": m, "var": v}
    return SolverRule(("mean", "var"), update)


def adamax():
    def update(p, g, state, t, h):
        m = _ema(h["beta1"], state["m"], g)
        u = jnp.maximum(h["beta2"] * state["u"], jnp.abs(g))
        alpha_t = h["alpha"] / (1 - _pow(h["beta1"], t))
        return p - alpha_t * m / (u + h["eps"]), {"m": m, "u": u}
    return SolverRule(("m", "u"), update)


def amsgrad(bias_correction=False):
    def update(p, g, state, t, h):
        m, v = _adam_moments(h, g, state["m"], state["v"])
        v_hat = jnp.maximum(state["v_hat"], v)
        alpha_t = h["alpha"] * _adam_correction(h, t) if bias_correction else h["alpha"]
        return (p - alpha_t * m / (jnp.sqrt(v_hat) + h["eps"]),
                {"m": m, "v": v, "v_hat": v_hat})
    return SolverRule(("m", "v", "v_hat"), update)


def amsbound(bias_correction=False):
    def update(p, g, state, t, h):
        m, v = _adam_moments(h, g, state["m"], state["v"])
        v_hat = jnp.maximum(state["v_hat"], v)
        alpha_t = h["alpha"] * _adam_correction(h, t) if bias_correction else h["alpha"]
        eta = _bound_step(h, t, alpha_t, jnp.sqrt(v_hat), True)
        return p - eta * m, {"m": m, "v": v, "v_hat": v_hat}
    return SolverRule(("m", "v", "v_hat"), update)


def lamb(bias_correction=False):
    """LAMB: Adam direction plus fused decay, scaled by clip(||w||) / ||r|| per parameter."""
    def update(p, g, state, t, h):
        eps = h["eps"]
        m, v = _adam_moments(h, g, state["mean"], state["var"])
        if bias_correction:
            corr1, corr2 = 1 - _pow(h["beta1"], t), 1 - _pow(h["beta2"], t)
            r = (m / corr1) / (jnp.sqrt(v / corr2) + eps)
        else:
            r = m / (jnp.sqrt(v) + eps)
        r = r + h["wd"] * p
        r_norm = _norm(r)
        w_norm = jnp.minimum(jnp.maximum(_norm(p), h["gamma_l"]), h["gamma_u"])
        local_lr = jnp.where(r_norm > eps, w_norm / r_norm, 1.0)
        return p - h["eta"] * local_lr * r, {"mean": m, "var": v}
    return SolverRule(("mean", "var"), update)


def lion():
    """u = sign(g + beta1 (m - g)); m <- g + beta2 (m - g); w <- w - lr (u + wd w)."""
    def update(p, g, state, t, h):
        m_prev = state["m"]
        u = jnp.sign(g + h["beta1"] * (m_prev - g))
        m = g + h["beta2"] * (m_prev - g)
        return p - h["lr"] * (u + h["wd"] * p), {"m": m}
    return SolverRule(("m",), update)
