"""Learning rate schedulers: tables against their formulas (NNabla's definitions)."""
import math

import pytest

from nnabla.utils import learning_rate_scheduler as lrs


@pytest.mark.parametrize("it", [0, 1, 7, 50, 99, 100])
def test_polynomial(it):
    s = lrs.PolynomialScheduler(0.1, 100, 0.9)
    assert s.get_learning_rate(it) == pytest.approx(0.1 * (1 - it / 100) ** 0.9, rel=1e-12)
    assert lrs.PolynomialScheduler(0.1, 100, 1.0).get_learning_rate(50) == pytest.approx(0.05)


def test_cosine_table():
    s = lrs.CosineScheduler(0.2, 10)
    table = [s.get_learning_rate(i) for i in range(11)]
    assert table == pytest.approx([0.2 * (math.cos(math.pi * i / 10) + 1) / 2
                                   for i in range(11)], rel=1e-12)
    assert table[0] == pytest.approx(0.2) and table[5] == pytest.approx(0.1)
    assert table[10] == pytest.approx(0.0, abs=1e-15)


def test_exponential_table():
    s = lrs.ExponentialScheduler(1.0, 0.5, iter_interval=3)
    assert [s.get_learning_rate(i) for i in range(8)] == \
        [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert lrs.ExponentialScheduler(2.0, 0.9).get_learning_rate(2) == pytest.approx(2 * 0.81)


def test_step_table():
    s = lrs.StepScheduler(0.1, 0.1, [3, 5])
    assert [s.get_learning_rate(i) for i in range(7)] == pytest.approx(
        [0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001])


def test_linear_warmup_table():
    s = lrs.LinearWarmupScheduler(lrs.StepScheduler(0.4, 0.5, [6]), 4)
    assert [s.get_learning_rate(i) for i in range(8)] == pytest.approx(
        [0.1, 0.2, 0.3, 0.4, 0.4, 0.4, 0.2, 0.2])


def test_base_is_abstract_and_schedule_drives_a_solver():
    with pytest.raises(TypeError, match="get_learning_rate"):
        lrs.BaseLearningRateScheduler().get_learning_rate(0)
    import numpy as np
    import nnabla as nn
    import nnabla.solvers as S
    w = nn.Variable.from_numpy_array(np.zeros(2, np.float32), need_grad=True)
    solver = S.Sgd()
    solver.set_parameters({"w": w})
    sched = lrs.CosineScheduler(0.5, 4)
    n0 = None
    for i in range(4):
        solver.set_learning_rate(sched.get_learning_rate(i))
        w.g = np.ones(2, np.float32)
        solver.update()
        assert solver.learning_rate() == float(np.float32(sched.get_learning_rate(i)))
        if i == 0:
            w.d  # run the first step
            n0 = nn.compile_count()
    assert nn.compile_count() == n0  # a schedule never recompiles
    expected = -sum(np.float32(sched.get_learning_rate(i)) for i in range(4))
    np.testing.assert_allclose(w.d, [expected] * 2, rtol=1e-6)
