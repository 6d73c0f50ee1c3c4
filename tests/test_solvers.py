"""Solvers against numpy transcriptions of NNabla 1.39's update formulas.

Each reference below is written from NNabla's C++ solver sources (float32
arithmetic, bias corrections computed in double and rounded to float as the
C++ code does). The harness runs several steps with fresh random gradients,
optional weight decay (added to the gradient, or fused into the update for
the solvers that fuse it) and a learning-rate change, and compares the
parameters after every step, the states at the end and the step counts.
"""
from collections import OrderedDict

import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.solvers as S

f32 = np.float32

# Every solver compiles its own update program: expected here, not a bug.
pytestmark = pytest.mark.filterwarnings("ignore:nnjax. .*compiled")


def _bc(b1, b2, t):
    """sqrt(1 - b2^t) / (1 - b1^t) computed in double, rounded to float."""
    return f32(np.sqrt(1.0 - np.float64(b2) ** t) / (1.0 - np.float64(b1) ** t))


def _norm(x):
    return f32(np.sqrt(np.sum(x.astype(np.float64) ** 2)))


# ---------------------------------------------------------------- references
class Ref:
    """Base of the references: ``states(shape)`` and ``step(p, g, st, t, lr, wd)``."""
    names = ()
    fused_default = None  # None: weight decay added to the gradient
    lr_name = "lr"

    def __init__(self, **kw):
        self.h = {k: (v if isinstance(v, bool) else f32(v)) for k, v in kw.items()}
        self.init_lr = self.h.get(self.lr_name)

    def states(self, shape):
        return {n: np.zeros(shape, f32) for n in self.names}


class RefSgd(Ref):
    def step(self, p, g, st, t, lr, wd):
        return p - lr * g, st


class RefSgdW(Ref):
    names = ("m",)

    def __init__(self, lr=1e-3, momentum=0.9, wd=1e-4):
        super().__init__(lr=lr, momentum=momentum)
        self.fused_default = f32(wd)

    def step(self, p, g, st, t, lr, wd):
        m = self.h["momentum"] * st["m"] + lr * g
        eta = f32(lr / self.init_lr)
        return p - m - (eta * wd) * p, {"m": m}


class RefMomentum(Ref):
    names = ("m",)

    def step(self, p, g, st, t, lr, wd):
        m = self.h["momentum"] * st["m"] + lr * g
        return p - m, {"m": m}


class RefLars(Ref):
    names = ("v",)
    fused_default = f32(0)

    def step(self, p, g, st, t, lr, wd):
        eps = self.h["eps"]
        g_norm, d_norm = _norm(g), _norm(p)
        x = f32(g_norm + wd * d_norm)
        if x < eps:
            x = f32(x + eps)
        local = lr if d_norm < eps else f32(lr * self.h["coefficient"] * d_norm / x)
        v = self.h["momentum"] * st["v"] + local * (g + wd * p)
        return p - v, {"v": v}


class RefNesterov(Ref):
    names = ("m",)

    def step(self, p, g, st, t, lr, wd):
        mom = self.h["momentum"]
        m = mom * st["m"] - lr * g
        return p + (-mom * st["m"] + (1 + mom) * m), {"m": m}


class RefAdadelta(Ref):
    names = ("e_sqr_grad", "e_sqr_delta")

    def step(self, p, g, st, t, lr, wd):
        d, eps = self.h["decay"], self.h["eps"]
        e1 = st["e_sqr_grad"] * d + g * g * (1 - d)
        delta = np.sqrt((st["e_sqr_delta"] + eps) / (e1 + eps)) * g
        e2 = st["e_sqr_delta"] * d + delta * delta * (1 - d)
        return p - lr * delta, {"e_sqr_grad": e1, "e_sqr_delta": e2}


class RefAdagrad(Ref):
    names = ("v",)

    def step(self, p, g, st, t, lr, wd):
        v = st["v"] + g * g
        return p - lr * g / (np.sqrt(v) + self.h["eps"]), {"v": v}


class RefAdaBelief(Ref):
    lr_name = "alpha"

    def __init__(self, alpha=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, wd=0.0, amsgrad=False,
                 weight_decouple=False, fixed_decay=False, rectify=False):
        super().__init__(alpha=alpha, beta1=beta1, beta2=beta2, eps=eps)
        self.flags = (amsgrad, weight_decouple, fixed_decay, rectify)
        self.names = ("mean", "var", "s_max") if amsgrad else ("mean", "var")
        self.fused_default = f32(wd) if weight_decouple else None

    def step(self, p, g, st, t, lr, wd):
        amsgrad, decouple, fixed, rectify = self.flags
        b1, b2, eps = self.h["beta1"], self.h["beta2"], self.h["eps"]
        b1t, b2t = np.float64(b1) ** t, np.float64(b2) ** t
        c1, c2 = f32(1 - b1t), f32(np.sqrt(1 - b2t))
        r_t, rho_t = 1.0, 0.0
        if rectify:
            rho_inf = 2.0 / (1.0 - np.float64(b2)) - 1.0
            rho_t = rho_inf - 2.0 * t * b2t / (1.0 - b2t)
            num = (rho_t - 4.0) * (rho_t - 2.0) * rho_inf
            den = (rho_inf - 4.0) * (rho_inf - 2.0) * rho_t
            r_t = np.sqrt(num / den) if num / den >= 0 else np.nan
        sgd = rectify and rho_t <= 4.0
        alpha_t = lr if sgd else f32(lr * f32(r_t) / c1)
        m = b1 * st["mean"] + (1 - b1) * g
        s = b2 * st["var"] + (1 - b2) * (g - m) ** 2
        if decouple:
            p = p - p * (wd if fixed else f32(wd * lr))
        new = {"mean": m}
        if amsgrad:
            s_max = np.maximum(st["s_max"], s) + eps
            new["var"], new["s_max"], s_t = s, s_max, s_max
        else:
            s = s + eps
            new["var"], s_t = s, s
        if sgd:
            return p - alpha_t * m, new
        return p - alpha_t * m / (np.sqrt(s_t) / c2 + eps), new


class RefRMSprop(Ref):
    names = ("v",)

    def step(self, p, g, st, t, lr, wd):
        d = self.h["decay"]
        v = st["v"] * d + g * g * (1 - d)
        return p - lr / (np.sqrt(v) + self.h["eps"]) * g, {"v": v}


class RefRMSpropGraves(Ref):
    names = ("n", "g", "d")

    def step(self, p, g, st, t, lr, wd):
        rho = self.h["decay"]
        n = rho * st["n"] + (1 - rho) * g * g
        gg = rho * st["g"] + (1 - rho) * g
        d = self.h["momentum"] * st["d"] - lr * g / np.sqrt(n - gg * gg + self.h["eps"])
        return p + d, {"n": n, "g": gg, "d": d}


class RefAdam(Ref):
    names = ("mean", "var")
    lr_name = "alpha"

    def step(self, p, g, st, t, lr, wd):
        b1, b2 = self.h["beta1"], self.h["beta2"]
        m = b1 * st["mean"] + (1 - b1) * g
        v = b2 * st["var"] + (1 - b2) * g * g
        alpha_t = f32(lr * _bc(b1, b2, t))
        return p - alpha_t * m / (np.sqrt(v) + self.h["eps"]), {"mean": m, "var": v}


class RefAdamW(RefAdam):
    def __init__(self, alpha=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, wd=1e-4):
        super().__init__(alpha=alpha, beta1=beta1, beta2=beta2, eps=eps)
        self.fused_default = f32(wd)

    def step(self, p, g, st, t, lr, wd):
        new_p, new = RefAdam.step(self, p, g, st, t, lr, wd)
        eta = f32(lr / self.init_lr)
        return new_p - (wd * eta) * p, new


def _bounded(h, init_lr, lr, t, alpha_t, root, amsbound_upper):
    final_lr = f32(h["final_lr"] * f32(lr / init_lr))
    lower = final_lr * (1 - 1 / (h["gamma"] * f32(t) + 1))
    if amsbound_upper:
        upper = final_lr * (1 + f32(t) / h["gamma"])
    else:
        upper = final_lr * (1 + 1 / (h["gamma"] * f32(t)))
    return np.minimum(upper, np.maximum(alpha_t / (root + h["eps"]), lower))


class RefAdaBound(Ref):
    names = ("mean", "var")
    lr_name = "alpha"

    def step(self, p, g, st, t, lr, wd):
        b1, b2 = self.h["beta1"], self.h["beta2"]
        m = b1 * st["mean"] + (1 - b1) * g
        v = b2 * st["var"] + (1 - b2) * g * g
        alpha_t = f32(lr * _bc(b1, b2, t))
        eta = _bounded(self.h, self.init_lr, lr, t, alpha_t, np.sqrt(v), False)
        return p - eta * m, {"mean": m, "var": v}


class RefAdamax(Ref):
    names = ("m", "u")
    lr_name = "alpha"

    def step(self, p, g, st, t, lr, wd):
        b1, b2 = self.h["beta1"], self.h["beta2"]
        m = b1 * st["m"] + (1 - b1) * g
        u = np.maximum(b2 * st["u"], np.abs(g))
        alpha_t = f32(lr * f32(1 / (1 - np.float64(b1) ** t)))
        return p - alpha_t * m / (u + self.h["eps"]), {"m": m, "u": u}


class RefAMSGRAD(Ref):
    names = ("m", "v", "v_hat")
    lr_name = "alpha"

    def step(self, p, g, st, t, lr, wd):
        b1, b2 = self.h["beta1"], self.h["beta2"]
        m = b1 * st["m"] + (1 - b1) * g
        v = b2 * st["v"] + (1 - b2) * g * g
        v_hat = np.maximum(st["v_hat"], v)
        alpha_t = f32(lr * _bc(b1, b2, t)) if self.h["bias_correction"] else lr
        return p - alpha_t * m / (np.sqrt(v_hat) + self.h["eps"]), \
            {"m": m, "v": v, "v_hat": v_hat}


class RefAMSBound(Ref):
    names = ("m", "v", "v_hat")
    lr_name = "alpha"

    def step(self, p, g, st, t, lr, wd):
        b1, b2 = self.h["beta1"], self.h["beta2"]
        m = b1 * st["m"] + (1 - b1) * g
        v = b2 * st["v"] + (1 - b2) * g * g
        v_hat = np.maximum(st["v_hat"], v)
        alpha_t = f32(lr * _bc(b1, b2, t)) if self.h["bias_correction"] else lr
        eta = _bounded(self.h, self.init_lr, lr, t, alpha_t, np.sqrt(v_hat), True)
        return p - eta * m, {"m": m, "v": v, "v_hat": v_hat}


class RefLamb(Ref):
    names = ("mean", "var")
    lr_name = "eta"
    fused_default = f32(0)

    def step(self, p, g, st, t, lr, wd):
        b1, b2, eps = self.h["beta1"], self.h["beta2"], self.h["eps"]
        m = b1 * st["mean"] + (1 - b1) * g
        v = b2 * st["var"] + (1 - b2) * g * g
        c1 = f32(1 - np.float64(b1) ** t) if self.h["bias_correction"] else f32(1)
        c2 = f32(1 - np.float64(b2) ** t) if self.h["bias_correction"] else f32(1)
        r = (m / c1) / (np.sqrt(v / c2) + eps) + wd * p
        r_norm = _norm(r)
        w_norm = min(max(_norm(p), self.h["gamma_l"]), self.h["gamma_u"])
        local = f32(w_norm / r_norm) if r_norm > eps else f32(1)
        return p - lr * local * r, {"mean": m, "var": v}


class RefLion(Ref):
    names = ("m",)
    fused_default = f32(0)

    def step(self, p, g, st, t, lr, wd):
        u = np.sign(g + self.h["beta1"] * (st["m"] - g))
        m = g + self.h["beta2"] * (st["m"] - g)
        return p - lr * (u + wd * p), {"m": m}


# (solver class, reference class, constructor kwargs); lrs moderately large so
# that the formulas matter.
CASES = [
    (S.Sgd, RefSgd, dict(lr=0.1)),
    (S.SgdW, RefSgdW, dict(lr=0.1, momentum=0.8, wd=0.01)),
    (S.Momentum, RefMomentum, dict(lr=0.1, momentum=0.7)),
    (S.Lars, RefLars, dict(lr=0.5, momentum=0.9, coefficient=0.02, eps=1e-6)),
    (S.Nesterov, RefNesterov, dict(lr=0.05, momentum=0.9)),
    (S.Adadelta, RefAdadelta, dict(lr=1.0, decay=0.9, eps=1e-6)),
    (S.Adagrad, RefAdagrad, dict(lr=0.05, eps=1e-8)),
    (S.AdaBelief, RefAdaBelief, dict(alpha=0.01)),
    (S.AdaBelief, RefAdaBelief, dict(alpha=0.01, beta2=0.9, wd=0.01, amsgrad=True,
                                     weight_decouple=True)),
    (S.AdaBelief, RefAdaBelief, dict(alpha=0.01, beta2=0.9, wd=0.02, weight_decouple=True,
                                     fixed_decay=True, rectify=True)),
    (S.RMSprop, RefRMSprop, dict(lr=0.01, decay=0.8, eps=1e-8)),
    (S.RMSpropGraves, RefRMSpropGraves, dict(lr=0.01, decay=0.9, momentum=0.8, eps=1e-4)),
    (S.Adam, RefAdam, dict(alpha=0.01, beta1=0.8, beta2=0.95, eps=1e-8)),
    (S.AdamW, RefAdamW, dict(alpha=0.01, beta1=0.8, beta2=0.95, eps=1e-8, wd=0.02)),
    (S.AdaBound, RefAdaBound, dict(alpha=0.01, beta1=0.8, beta2=0.95, final_lr=0.05,
                                   gamma=0.1)),
    (S.Adamax, RefAdamax, dict(alpha=0.01, beta1=0.8, beta2=0.95)),
    (S.AMSGRAD, RefAMSGRAD, dict(alpha=0.01, beta1=0.8, beta2=0.95)),
    (S.AMSGRAD, RefAMSGRAD, dict(alpha=0.01, beta1=0.8, beta2=0.95, bias_correction=True)),
    (S.AMSBound, RefAMSBound, dict(alpha=0.01, beta1=0.8, beta2=0.95, final_lr=0.05,
                                   gamma=0.1)),
    (S.AMSBound, RefAMSBound, dict(alpha=0.01, beta1=0.8, beta2=0.95, final_lr=0.05,
                                   gamma=0.1, bias_correction=True)),
    (S.Lamb, RefLamb, dict(eta=0.01, beta1=0.8, beta2=0.95, gamma_l=0.1, gamma_u=3.0)),
    (S.Lamb, RefLamb, dict(eta=0.01, beta1=0.8, beta2=0.95, bias_correction=True)),
    (S.Lion, RefLion, dict(lr=0.01, beta1=0.8, beta2=0.95)),
]

SHAPES = OrderedDict([("zZzZ", (2, 3, 4)), ("affine/W", (3, 4, 1, 2)), ("scalar", ())])


def _case_id(case):
    cls, _, kw = case
    flags = [k for k, v in kw.items() if v is True]
    return cls.__name__ + ("-" + "-".join(flags) if flags else "")


def _ref_for(ref_cls, solver):
    """The reference built from the solver's info (every argument, defaults included)."""
    return ref_cls(**solver.info)


@pytest.mark.parametrize("decay", [None, 0.05], ids=["no-wd", "wd"])
@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_solver_matches_reference(case, decay):
    cls, ref_cls, kw = case
    rs = np.random.RandomState(313)
    params = OrderedDict()
    for name, shape in SHAPES.items():
        params[name] = nn.Variable.from_numpy_array(np.asarray(rs.randn(*shape), f32),
                                                    need_grad=True)
    solver = cls(**kw)
    solver.set_parameters(params)
    ref = _ref_for(ref_cls, solver)
    assert solver.weight_decay_is_fused() == (ref.fused_default is not None)
    ref_p = {k: v.d.copy() for k, v in params.items()}
    ref_s = {k: ref.states(v.shape) for k, v in params.items()}
    lr = f32(kw.get(ref.lr_name, solver.learning_rate()))
    for it in range(6):
        if it == 3:
            lr = f32(lr * 0.5)
            solver.set_learning_rate(lr)
        grads = {k: np.asarray(rs.randn(*v.shape), f32) for k, v in params.items()}
        for k, g in grads.items():
            params[k].g = g
        rate = None
        if decay is not None:
            rate = f32(decay * (1 + it % 2))  # the rate may change between steps
            solver.weight_decay(rate)
        solver.update()
        for k in params:
            g = grads[k]
            if ref.fused_default is None:
                if rate is not None:
                    g = g + rate * ref_p[k]
                wd = f32(0)
            else:
                wd = ref.fused_default if rate is None else rate
            ref_p[k], ref_s[k] = ref.step(ref_p[k], g, ref_s[k], it + 1, lr, wd)
            np.testing.assert_allclose(params[k].d, ref_p[k], rtol=1e-5, atol=1e-6,
                                       err_msg=f"{_case_id(case)} step {it} {k}")
        for k, st in solver.get_states().items():
            assert st.t == it + 1
    states = solver.get_states()
    for k in params:
        assert list(states[k].pstate) == list(ref.names)
        for n in ref.names:
            np.testing.assert_allclose(states[k].pstate[n].d, ref_s[k][n], rtol=1e-5,
                                       atol=1e-6, err_msg=f"state {k}/{n}")


# ---------------------------------------------------------------- API behaviour
def _params(rs, shapes=(("a", (3,)), ("b", (2, 2)))):
    return OrderedDict((k, nn.Variable.from_numpy_array(rs.randn(*s).astype(f32),
                                                         need_grad=True))
                       for k, s in shapes)


def test_defaults_info_name_and_learning_rate():
    s = S.Adam()
    assert s.name == "Adam"
    assert dict(s.info) == {"alpha": f32(1e-3), "beta1": f32(0.9), "beta2": f32(0.999),
                            "eps": f32(1e-8)}
    # NNabla keeps C floats: the learning rate reads back rounded to float32
    assert s.learning_rate() == float(f32(1e-3))
    s.set_learning_rate(0.1)
    assert s.learning_rate() == float(f32(0.1))
    assert s.info["alpha"] == float(f32(1e-3))
    expected = {
        "Sgd": (S.Sgd(), 1e-3), "SgdW": (S.SgdW(), 1e-3), "Momentum": (S.Momentum(), 1e-3),
        "Lars": (S.Lars(), 1e-3), "Nesterov": (S.Nesterov(), 1e-3),
        "Adadelta": (S.Adadelta(), 1.0), "Adagrad": (S.Adagrad(), 1e-2),
        "AdaBelief": (S.AdaBelief(), 1e-3), "RMSprop": (S.RMSprop(), 1e-3),
        "RMSpropGraves": (S.RMSpropGraves(), 1e-4), "AdamW": (S.AdamW(), 1e-3),
        "AdaBound": (S.AdaBound(), 1e-3), "Adamax": (S.Adamax(), 2e-3),
        "AMSGRAD": (S.AMSGRAD(), 1e-3), "AMSBound": (S.AMSBound(), 1e-3),
        "Lamb": (S.Lamb(), 1e-3), "Lion": (S.Lion(), 1e-4)}
    for name, (solver, lr) in expected.items():
        assert solver.name == name
        assert solver.learning_rate() == float(f32(lr))
    assert S.SgdW().info["wd"] == float(f32(1e-4))
    assert S.Lamb().info["gamma_u"] == 10.0
    assert S.AdaBelief().info["rectify"] is False
    fused = {n for n, (s, _) in expected.items() if s.weight_decay_is_fused()}
    assert fused == {"SgdW", "Lars", "AdamW", "Lamb", "Lion"}
    assert S.AdaBelief(weight_decouple=True).weight_decay_is_fused()


def test_zero_grad_skips_untouched_parameters(rng):
    params = _params(rng)
    s = S.Adam(0.1)
    s.set_parameters(params)
    s.zero_grad()
    params["a"].g = rng.randn(3).astype(f32)
    b_before = params["b"].d.copy()
    a_before = params["a"].d.copy()
    s.weight_decay(0.1)
    s.clip_grad_by_norm(0.5)
    s.scale_grad(2.0)
    s.update()
    np.testing.assert_array_equal(params["b"].d, b_before)
    assert not np.array_equal(params["a"].d, a_before)
    st = s.get_states()
    assert st["a"].t == 1 and st["b"].t == 0
    np.testing.assert_array_equal(st["b"].pstate["mean"].d, 0)
    # a graph touching only "a": backward writes only a's grad
    s.zero_grad()
    loss = F.sum(params["a"] * params["a"])
    loss.forward()
    loss.backward()
    s.update()
    st = s.get_states()
    assert st["a"].t == 2 and st["b"].t == 0
    np.testing.assert_array_equal(params["b"].d, b_before)


def test_grad_ops_values(rng):
    params = _params(rng)
    s = S.Sgd(1.0)
    s.set_parameters(params)
    g = {k: rng.randn(*v.shape).astype(f32) for k, v in params.items()}
    for k in params:
        params[k].g = g[k]
    p0 = {k: v.d.copy() for k, v in params.items()}
    s.weight_decay(0.5)
    for k in params:
        np.testing.assert_allclose(params[k].g, g[k] + f32(0.5) * p0[k], rtol=1e-6)
        g[k] = params[k].g.copy()
    s.clip_grad_by_norm(0.3)
    for k in params:
        norm = np.sqrt(np.sum(g[k] ** 2))
        expect = f32(0.3) * g[k] / norm if norm > 0.3 else g[k]
        np.testing.assert_allclose(params[k].g, expect, rtol=1e-5)
        g[k] = params[k].g.copy()
    s.clip_grad_by_norm(100.0)  # below the limit: unchanged
    for k in params:
        np.testing.assert_array_equal(params[k].g, g[k])
    s.scale_grad(0.25)
    for k in params:
        np.testing.assert_allclose(params[k].g, g[k] * f32(0.25), rtol=1e-6)
    assert not s.check_inf_grad() and not s.check_nan_grad()
    assert not s.check_inf_or_nan_grad()
    bad = params["b"].g.copy()
    bad[0, 1] = np.inf
    params["b"].g = bad
    assert s.check_inf_grad() and s.check_inf_or_nan_grad() and not s.check_nan_grad()
    bad[0, 1] = np.nan
    params["b"].g = bad
    assert s.check_nan_grad() and s.check_inf_or_nan_grad() and not s.check_inf_grad()
    s.zero_grad()  # zeroed gradients are not checked
    assert not s.check_inf_or_nan_grad()


def test_fused_weight_decay_reverts_after_update(rng):
    params = _params(rng, (("w", (4,)),))
    w0 = params["w"].d.copy()
    s = S.Lion(lr=0.1)
    s.set_parameters(params)
    params["w"].g = np.zeros(4, f32)
    s.weight_decay(0.5)
    s.update()  # sign(0) = 0: only the decay acts
    np.testing.assert_allclose(params["w"].d, w0 - f32(0.1) * f32(0.5) * w0, rtol=1e-6)
    w1 = params["w"].d.copy()
    params["w"].g = np.zeros(4, f32)
    s.update()  # the rate went back to the default 0
    np.testing.assert_array_equal(params["w"].d, w1)


def test_hooks_are_called_per_parameter_without_arguments(rng):
    params = _params(rng)
    s = S.Sgd(0.5)
    s.set_parameters(params)
    for v in params.values():
        v.g = np.ones(v.shape, f32)
    calls = []
    before = {k: v.d.copy() for k, v in params.items()}

    def pre():
        calls.append(("pre", [np.array_equal(v.d, before[k]) for k, v in params.items()]))

    def post():
        calls.append(("post", [np.array_equal(v.d, before[k]) for k, v in params.items()]))
    s.update(update_pre_hook=pre, update_post_hook=post)
    assert [c[0] for c in calls] == ["pre", "post", "pre", "post"]
    assert calls[0][1] == [True, True] and calls[1][1] == [False, True]
    assert calls[3][1] == [False, False]
    n = []
    s.weight_decay(0.1, pre_hook=lambda: n.append(1), post_hook=lambda: n.append(2))
    s.clip_grad_by_norm(1.0, pre_hook=lambda: n.append(3))
    s.scale_grad(1.0, post_hook=lambda: n.append(4))
    assert n == [1, 2, 1, 2, 3, 3, 4, 4]


def test_set_parameters_reset_retain_remove_clear(rng):
    params = _params(rng)
    s = S.Momentum(0.1)
    s.set_parameters(params)
    for v in params.values():
        v.g = np.ones(v.shape, f32)
    s.update()
    assert list(s.get_parameters()) == ["a", "b"]
    assert s.get_parameters()["a"] is params["a"]
    # add a parameter mid-training, keeping the others' state
    c = nn.Variable.from_numpy_array(rng.randn(5).astype(f32), need_grad=True)
    s.set_parameters({"c": c, "a": params["a"]}, reset=False, retain_state=True)
    st = s.get_states()
    assert [st[k].t for k in ("a", "b", "c")] == [1, 1, 0]
    assert np.any(st["a"].pstate["m"].d != 0)
    # without retain_state an existing name starts over
    s.set_parameters({"a": params["a"]}, reset=False)
    assert s.get_states()["a"].t == 0
    with pytest.raises(ValueError, match="retain"):
        s.set_parameters({"b": nn.Variable((7,))}, reset=False, retain_state=True)
    s.remove_parameters(["b", "not-there"])
    assert list(s.get_parameters()) == ["a", "c"]
    s.set_parameters({"z": c})
    assert list(s.get_parameters()) == ["z"]
    s.clear_parameters()
    assert s.get_parameters() == {} and s.get_states() == {}
    with pytest.raises(TypeError):
        s.set_parameters([params["a"]])
    with pytest.raises(TypeError):
        s.set_parameters({"a": np.zeros(3)})
    with pytest.raises(RuntimeError):
        s.setup(params)


def test_parameter_shared_by_two_solvers(rng):
    w = nn.Variable.from_numpy_array(rng.randn(4).astype(f32), need_grad=True)
    g = rng.randn(4).astype(f32)
    s1, s2 = S.Sgd(0.1), S.Momentum(0.2, 0.5)
    s1.set_parameters({"w": w})
    s2.set_parameters({"x": w})
    w0 = w.d.copy()
    for _ in range(2):
        w.g = g
        s1.update()
        s2.update()
    ref = w0.copy()
    m = np.zeros(4, f32)
    for _ in range(2):
        ref = ref - f32(0.1) * g
        m = f32(0.5) * m + f32(0.2) * g
        ref = ref - m
    np.testing.assert_allclose(w.d, ref, rtol=1e-6)
    assert s1.get_states()["w"].t == 2 and s2.get_states()["x"].t == 2


def test_training_loop_compiles_once(rng):
    x = nn.Variable.from_numpy_array(rng.randn(8, 5).astype(f32))
    y = nn.Variable.from_numpy_array(rng.randn(8, 3).astype(f32))
    with nn.parameter_scope("net"):
        h = F.tanh(PF.affine(x, 6, name="l1"))
        out = PF.affine(h, 3, name="l2")
    loss = F.mean(F.squared_error(out, y))
    s = S.Adam(0.01)
    s.set_parameters(nn.get_parameters())
    losses = []
    counts = []
    for i in range(8):
        s.set_learning_rate(0.01 / (1 + i))
        loss.forward()
        s.zero_grad()
        loss.backward()
        s.weight_decay(1e-4 * (i + 1))
        s.clip_grad_by_norm(10.0)
        s.update()
        losses.append(float(loss.d))
        counts.append(nn.compile_count())
    assert counts[-1] == counts[0], counts
    assert losses[-1] < losses[0]


def test_float_vs_state_dtype_and_t_cap(rng):
    params = _params(rng, (("w", (3,)),))
    s = S.Adam()
    s.set_parameters(params)
    st = s.get_states()["w"]
    assert st.pstate["mean"].d.dtype == np.float32 and isinstance(st.t, int)
