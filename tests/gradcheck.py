"""Shared test helpers: run an F function on numpy inputs, and check its
gradients against central finite differences (float64 numpy arithmetic)."""
import numpy as np

import nnabla as nn


def run_forward(fn, inputs, need_grad=True):
    """Build ``fn(*variables)`` from numpy ``inputs``; forward; return (vars, outputs)."""
    xs = [nn.Variable.from_numpy_array(np.asarray(a, np.float32), need_grad=need_grad)
          if a is not None else None for a in inputs]
    out = fn(*xs)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    nn.forward_all(outs)
    return xs, outs


def numeric_grad(fn, inputs, index, seed_grads, eps=1e-3):
    """d(sum_k <seed_k, out_k>)/d inputs[index] by central differences."""
    base = [np.asarray(a, np.float64) if a is not None else None for a in inputs]
    x = base[index]
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        vals = []
        for sign in (1, -1):
            pert = [b.copy() if b is not None else None for b in base]
            pert[index][i] += sign * eps
            _, outs = run_forward(fn, pert, need_grad=False)
            vals.append(sum(float(np.sum(np.asarray(o.d, np.float64) * s))
                            for o, s in zip(outs, seed_grads)))
        grad[i] = (vals[0] - vals[1]) / (2 * eps)
    return grad


def check_grad(fn, inputs, wrt=None, eps=1e-3, atol=1e-2, rtol=1e-2, seed=0):
    """Compare backward gradients of ``fn`` with finite differences.

    ``wrt``: indices of inputs to check (default: all non-None float inputs).
    A random seed gradient is used for every output.
    """
    rs = np.random.RandomState(seed)
    xs, outs = run_forward(fn, inputs)
    seeds = [rs.randn(*o.shape).astype(np.float32) for o in outs]
    for x in xs:
        if x is not None:
            x.g = 0
    for o, s in zip(outs, seeds):
        o.backward(s)
    wrt = [i for i, a in enumerate(inputs) if a is not None] if wrt is None else wrt
    for i in wrt:
        expected = numeric_grad(fn, inputs, i, seeds, eps)
        np.testing.assert_allclose(xs[i].g, expected, atol=atol, rtol=rtol,
                                   err_msg=f"gradient of input {i}")
