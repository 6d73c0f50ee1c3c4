"""Checks shared by the function tests: build F functions on numpy inputs, compare
their outputs with numpy references and their gradients with central differences.

* :func:`check_grad` -- backward of one nnjax function against central differences
  of the same nnjax function (forward runs in float32).
* :func:`check_cases` -- a table of ``(fn, ref, inputs[, wrt])`` cases run in one
  forward and one backward program (compiling once); outputs against the numpy
  reference, gradients against central differences of the reference, element by
  element.
* :func:`check_named_cases` -- a table of ``dict(name, fn, ref, inputs, ...)`` cases,
  also in one graph; gradients of large inputs are checked along random directions.

All three take their numeric gradients from :func:`numeric_grad`.
"""
import numpy as np

import nnabla as nn
import nnabla.functions as F


def var(a, need_grad=True):
    """A float32 Variable holding ``a``."""
    return nn.Variable.from_numpy_array(np.asarray(a, np.float32), need_grad=need_grad)


def outputs_of(out):
    """The outputs of a function call (one value or a list/tuple) as a list."""
    return list(out) if isinstance(out, (list, tuple)) else [out]


def numeric_grad(f, inputs, index, seeds, eps=1e-3, direction=None):
    """Central differences of ``sum_k <seeds[k], f(*inputs)[k]>`` with respect to
    ``inputs[index]``, in float64 (a None seed leaves output k out; None inputs are
    passed as None).

    Returns the gradient (one pair of evaluations per element), or with
    ``direction`` the derivative along that direction (a float)."""
    base = [None if a is None else np.asarray(a, np.float64) for a in inputs]

    def objective(x):
        vals = [None if b is None else b.copy() for b in base]
        vals[index] = x
        return sum(float(np.sum(np.asarray(r, np.float64) * s))
                   for r, s in zip(outputs_of(f(*vals)), seeds) if s is not None)

    x = base[index]
    if direction is not None:
        return (objective(x + eps * direction) - objective(x - eps * direction)) / (2 * eps)
    grad = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += eps
        down[idx] -= eps
        grad[idx] = (objective(up) - objective(down)) / (2 * eps)
    return grad


def central_differences(x, f, xs, indices, eps, after_each=None):
    """(f(xs + eps e_k) - f(xs - eps e_k)) / 2 eps for each k of ``indices``,
    computed through the graph ``f`` of the Variable ``x`` (``after_each()``
    runs after each estimate)."""
    estimates = []
    for k in indices:
        bumped = xs.copy()
        bumped[k] += eps
        x.d = bumped
        f.forward()
        up = float(f.d)
        bumped[k] -= 2 * eps
        x.d = bumped
        f.forward()
        estimates.append((up - float(f.d)) / (2 * eps))
        if after_each is not None:
            after_each()
    return np.array(estimates)


def run_forward(fn, inputs, need_grad=True):
    """Build ``fn(*variables)`` from numpy ``inputs`` (None stays None); forward;
    return (variables, outputs)."""
    xs = [None if a is None else var(a, need_grad) for a in inputs]
    outs = outputs_of(fn(*xs))
    nn.forward_all(outs)
    return xs, outs


def check_grad(fn, inputs, wrt=None, eps=1e-3, atol=1e-2, rtol=1e-2, seed=0):
    """Compare backward gradients of ``fn`` with central differences of ``fn`` itself.

    ``wrt``: indices of inputs to check (default: all non-None inputs).
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

    def forward_values(*vals):
        return [o.d for o in run_forward(fn, vals, need_grad=False)[1]]

    wrt = [i for i, a in enumerate(inputs) if a is not None] if wrt is None else wrt
    for i in wrt:
        expected = numeric_grad(forward_values, inputs, i, seeds, eps)
        np.testing.assert_allclose(xs[i].g, expected, atol=atol, rtol=rtol,
                                   err_msg=f"gradient of input {i}")


def check_cases(cases, grad=True, eps=1e-3, atol=2e-2, rtol=2e-2, fwd_rtol=1e-5,
                fwd_atol=1e-6, seed=0):
    """Run ``cases`` [(fn, ref, inputs[, wrt])] in one forward and one backward program.

    Forward: every output of ``fn(*variables)`` against ``ref(*numpy inputs)``.
    Backward: the gradient of sum_k <seed_k, out_k> (random seeds, float outputs)
    against central differences of the numpy reference.
    Returns the built (case, variables, outputs, seeds) per case.
    """
    rs = np.random.RandomState(seed)
    built, terms = [], []
    for case in cases:
        fn, ref, inputs = case[:3]
        xs = [var(a) for a in inputs]
        outs = outputs_of(fn(*xs))
        seeds = []
        for o in outs:
            if grad and np.issubdtype(o.data.dtype, np.floating) and o.size:
                s = np.asarray(rs.randn(*o.shape), np.float32)
                terms.append(F.sum(o * var(s, False)))
                seeds.append(s)
            else:
                seeds.append(None)
        built.append((case, xs, outs, seeds))
    loss = F.add_n(*terms) if len(terms) > 1 else (terms[0] if terms else None)
    nn.forward_all([o for _, _, outs, _ in built for o in outs]
                   + ([loss] if loss is not None else []))
    for (case, xs, outs, _) in built:
        refs = outputs_of(case[1](*[np.asarray(a, np.float64) for a in case[2]]))
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
            num = numeric_grad(case[1], case[2], i, seeds, eps)
            np.testing.assert_allclose(xs[i].g, num, atol=atol, rtol=rtol,
                                       err_msg=f"gradient of input {i} of {case[0]}")
    return built


def check_named_cases(cases, seed=0, eps=1e-4, full_size=12, probes=3):
    """Each case: dict(name, fn, ref, inputs, [wrt], [rtol, atol, grad_rtol, grad_atol]);
    ``wrt`` lists the inputs whose gradients are checked (default all, [] for none).

    Builds every ``fn(*Variables)`` in one graph, checks the outputs against
    ``ref(*float64 arrays)`` and the input gradients of ``sum(seed * outputs)`` against
    central differences of the reference: element by element for inputs of at most
    ``full_size`` elements, else along ``probes`` random directions (the directional
    derivative ``<grad, d>``). Returns the output Variables per case."""
    rs = np.random.RandomState(seed)
    built = []
    loss = None
    for case in cases:
        arrays = [None if a is None else np.asarray(a, np.float32) for a in case["inputs"]]
        wrt = case.get("wrt")
        wrt = [i for i, a in enumerate(arrays) if a is not None] if wrt is None else wrt
        xs = [None if a is None else nn.Variable.from_numpy_array(a, need_grad=i in wrt)
              for i, a in enumerate(arrays)]
        outs = outputs_of(case["fn"](*xs))
        for o in outs:
            o.persistent = True  # computed by the same program as the loss
        seeds = [rs.randn(*o.shape) for o in outs]
        for o, s in zip(outs, seeds):
            term = F.sum(o * nn.Variable.from_numpy_array(s.astype(np.float32)))
            loss = term if loss is None else loss + term
        built.append((case, [None if a is None else a.astype(np.float64) for a in arrays],
                      xs, outs, seeds))
    for _, _, xs, _, _ in built:
        for x in xs:
            if x is not None and x.need_grad:
                x.g = 0
    loss.forward()
    if any(x is not None and x.need_grad for _, _, xs, _, _ in built for x in xs):
        loss.backward()
    results = []
    for case, arrays, xs, outs, seeds in built:
        name = case["name"]
        expected = outputs_of(case["ref"](*arrays))
        assert len(outs) == len(expected), name
        for k, (o, e) in enumerate(zip(outs, expected)):
            assert o.shape == np.shape(e), f"{name}: output {k} shape {o.shape} != {np.shape(e)}"
            np.testing.assert_allclose(o.d, e, rtol=case.get("rtol", 1e-5),
                                       atol=case.get("atol", 1e-5),
                                       err_msg=f"{name}: output {k}")

        wrt = case.get("wrt")
        wrt = [i for i, a in enumerate(arrays) if a is not None] if wrt is None else wrt
        rtol = case.get("grad_rtol", 1e-3)
        atol = case.get("grad_atol", 1e-4)
        for i in wrt:
            g = np.asarray(xs[i].g, np.float64)
            if arrays[i].size <= full_size:
                num = numeric_grad(case["ref"], arrays, i, seeds, eps)
                np.testing.assert_allclose(g, num, rtol=rtol, atol=atol,
                                           err_msg=f"{name}: gradient of input {i}")
                continue
            for p in range(probes):
                d = rs.randn(*arrays[i].shape)
                got = float(np.sum(g * d))
                want = numeric_grad(case["ref"], arrays, i, seeds, eps, direction=d)
                scale = np.sqrt(arrays[i].size)
                assert abs(got - want) <= atol * scale + rtol * abs(want), \
                    f"{name}: gradient of input {i} along probe {p}: {got} != {want}"
        results.append(outs)
    return results
