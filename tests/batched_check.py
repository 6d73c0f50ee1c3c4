"""Batched forward/backward checks for table-driven function tests: many cases
run in one forward and one backward program (compiling once), each checked
against its numpy reference and central differences of that reference."""
import numpy as np

import nnabla as nn
import nnabla.functions as F


def _var(a, need_grad=True):
    return nn.Variable.from_numpy_array(np.asarray(a, np.float32), need_grad=need_grad)


def _outs(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _numeric_grad(ref, inputs, i, seeds, eps):
    base = [np.asarray(a, np.float64) for a in inputs]

    def objective(vals):
        return sum(float(np.sum(np.asarray(r, np.float64) * s))
                   for r, s in zip(_outs(ref(*vals)), seeds) if s is not None)

    num = np.zeros_like(base[i])
    for idx in np.ndindex(*base[i].shape):
        vals = [b.copy() for b in base]
        vals[i][idx] += eps
        up = objective(vals)
        vals[i][idx] -= 2 * eps
        num[idx] = (up - objective(vals)) / (2 * eps)
    return num


def check_cases(cases, grad=True, eps=1e-3, atol=2e-2, rtol=2e-2, fwd_rtol=1e-5,
                fwd_atol=1e-6, seed=0):
    """Run ``cases`` [(fn, ref, inputs[, wrt])] in one forward and one backward program.

    Forward: every output of ``fn(*variables)`` against ``ref(*numpy inputs)``.
    Backward: the gradient of sum_k <seed_k, out_k> (random seeds, float outputs)
    against central differences of the numpy reference.
    Returns the built (variables, outputs) per case.
    """
    rs = np.random.RandomState(seed)
    built, terms = [], []
    for case in cases:
        fn, ref, inputs = case[:3]
        xs = [_var(a) for a in inputs]
        outs = _outs(fn(*xs))
        seeds = []
        for o in outs:
            if grad and np.issubdtype(o.data.dtype, np.floating) and o.size:
                s = np.asarray(rs.randn(*o.shape), np.float32)
                terms.append(F.sum(o * _var(s, False)))
                seeds.append(s)
            else:
                seeds.append(None)
        built.append((case, xs, outs, seeds))
    loss = F.add_n(*terms) if len(terms) > 1 else (terms[0] if terms else None)
    nn.forward_all([o for _, _, outs, _ in built for o in outs] + ([loss] if loss is not None else []))
    for (case, xs, outs, _) in built:
        refs = _outs(case[1](*[np.asarray(a, np.float64) for a in case[2]]))
        assert len(refs) == len(outs)
        for o, r in zip(outs, refs):
            assert o.shape == np.shape(r), (o.shape, np.shape(r))
            np.testing.assert_allclose(o.d, r, rtol=fwd_rtol, atol=fwd_atol)
    if loss is None:
        return built
    for _, xs, _, _ in built:
        for x in xs:
            x.g = 0
    loss.backward()
    for (case, xs, outs, seeds) in built:
        wrt = case[3] if len(case) > 3 else range(len(case[2]))
        for i in wrt:
            num = _numeric_grad(case[1], case[2], i, seeds, eps)
            np.testing.assert_allclose(xs[i].g, num, atol=atol, rtol=rtol,
                                       err_msg=f"gradient of input {i} of {case[0]}")
    return built
