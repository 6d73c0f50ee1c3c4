"""nnjax's lowerings share an MLIR context (nnjax/_ir_context.py); others don't."""
import threading

import numpy as np
import jax
import jax.numpy as jnp

import nnabla as nn
import nnabla.functions as F
from nnjax import _ir_context


def _lower(n):
    """A small program for a new shape, lowered; (its MLIR context, the executable)."""
    lowered = jax.jit(lambda x: jnp.tanh(x) * 3.0).lower(np.ones((n, 2), np.float32))
    return lowered.compiler_ir().context, lowered.compile()


def test_lowerings_inside_share_a_context_for_a_bounded_number_of_uses(monkeypatch):
    monkeypatch.setattr(_ir_context, "CONTEXT_USES", 3)
    monkeypatch.setattr(_ir_context, "_local", threading.local())
    with _ir_context.lowering():
        got = [_lower(n) for n in range(5, 12)]
    contexts = [c for c, _ in got]
    # uses 1-3 on the first context, 4-6 on a second, 7 on a third
    assert contexts[0] is contexts[1] is contexts[2]
    assert contexts[3] is contexts[4] is contexts[5]
    assert contexts[0] is not contexts[3] and contexts[6] is not contexts[3]
    for n, (_, executable) in zip(range(5, 12), got):
        x = np.random.RandomState(n).randn(n, 2).astype(np.float32)
        np.testing.assert_allclose(np.asarray(executable(x)), np.tanh(x) * 3.0, rtol=1e-6)


def test_lowerings_outside_get_fresh_contexts():
    with _ir_context.lowering():
        _lower(3)
    first, _ = _lower(4)
    second, _ = _lower(5)
    assert first is not second


def test_each_thread_has_its_own_context():
    seen = {}

    def lower_twice(name, n):
        with _ir_context.lowering():
            seen[name] = (_lower(n)[0], _lower(n + 1)[0])

    threads = [threading.Thread(target=lower_twice, args=(k, 20 + 5 * k)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert seen[0][0] is seen[0][1] and seen[1][0] is seen[1][1]
    assert seen[0][0] is not seen[1][0]


def test_graphs_of_new_shapes_run_correctly_through_shared_contexts(monkeypatch):
    monkeypatch.setattr(_ir_context, "CONTEXT_USES", 4)
    monkeypatch.setattr(_ir_context, "_local", threading.local())
    rs = np.random.RandomState(0)
    for n in range(1, 11):
        a = rs.randn(n, 3).astype(np.float32)
        x = nn.Variable.from_numpy_array(a, need_grad=True)
        y = F.sum(F.mul_scalar(F.tanh(x), 2.5))
        y.forward()
        x.grad.zero()
        y.backward()
        np.testing.assert_allclose(y.d, (2.5 * np.tanh(a)).sum(), rtol=1e-5)
        np.testing.assert_allclose(x.g, 2.5 * (1 - np.tanh(a) ** 2), rtol=1e-5)
    # nnjax's programs were lowered in this thread's shared contexts
    assert 1 <= _ir_context._local.uses <= 4 and _ir_context._local.context is not None
