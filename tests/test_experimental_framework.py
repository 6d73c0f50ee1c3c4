"""nnabla.experimental.framework: a Worker trained by the Trainer matches a hand-written loop."""
import numpy as np

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.solvers as S
import nnabla.experimental.framework as framework


def _data(seed=3, n=16):
    rs = np.random.RandomState(seed)
    x = rs.randn(n, 3).astype(np.float32)
    t = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3).astype(np.float32)
    return x, t


class _Batches(framework.Data):
    def __init__(self, x, t, batch):
        self._x, self._t, self._batch, self._pos = x, t, batch, 0

    def next(self):
        i = self._pos
        self._pos = (i + self._batch) % len(self._x)
        return self._x[i:i + self._batch], self._t[i:i + self._batch]

    def size(self):
        return len(self._x)


class _Regression(framework.Worker):
    def __init__(self, data, max_epoch, batch, accum_grad=1):
        super().__init__(data, max_epoch, data.size() // (batch * accum_grad))
        self._batch = batch
        self._updater.accum_grad = accum_grad
        self.events = []
        self.eval_losses = []

    def _var_init(self):
        self._x = nn.Variable((self._batch, 3))
        self._t = nn.Variable((self._batch, 1))

    def _graph_init(self):
        with nn.parameter_scope("fw"):
            self._y = PF.affine(self._x, 1)

    def _loss_init(self):
        self._loss = F.mean(F.squared_error(self._y, self._t))

    def _solver_init(self):
        self._solver = S.Sgd(0.1)
        with nn.parameter_scope("fw"):
            self._solver.set_parameters(nn.get_parameters())

    def _train_data_feeder(self, i, e, ag):
        self._x.d, self._t.d = self._data.next()

    def epoch_loop_start(self, e):
        self.events.append(("epoch", e))

    def _eval_graph_forward(self, e, vi):
        self._loss.forward()
        self.eval_losses.append(float(self._loss.d))

    def brief(self):
        with nn.parameter_scope("fw"):
            return {k: v.d.copy() for k, v in nn.get_parameters().items()}


def _hand_loop(x, t, w, b, epochs, batch, accum, lr=0.1):
    """Plain numpy SGD on the mean squared error, same batches and accumulation."""
    n_iter = len(x) // (batch * accum)
    pos = 0
    for _ in range(epochs):
        for _ in range(n_iter):
            gw, gb = np.zeros_like(w), np.zeros_like(b)
            for _ in range(accum):
                xb, tb = x[pos:pos + batch], t[pos:pos + batch]
                pos = (pos + batch) % len(x)
                r = xb @ w + b - tb
                gw += 2 * xb.T @ r / r.size
                gb += 2 * r.sum(0) / r.size
            w, b = w - lr * gw, b - lr * gb
    return w, b


def _train(accum):
    nn.clear_parameters()
    x, t = _data()
    worker = _Regression(_Batches(x, t, 4), max_epoch=3, batch=4, accum_grad=accum)
    worker.training_prepare()  # to read the initial weights; train() prepares again
    with nn.parameter_scope("fw"):
        w0 = nn.get_parameters()["affine/W"].d.copy()
        b0 = nn.get_parameters()["affine/b"].d.copy()
    trainer = framework.Trainer(worker)
    trainer.train()
    return worker, trainer, x, t, w0, b0


def test_trainer_matches_hand_written_sgd():
    worker, trainer, x, t, w0, b0 = _train(accum=1)
    w, b = _hand_loop(x, t, w0, b0, epochs=3, batch=4, accum=1)
    got = trainer.brief()
    np.testing.assert_allclose(got["affine/W"], w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["affine/b"], b, rtol=1e-5, atol=1e-6)
    assert worker.events == [("epoch", 0), ("epoch", 1), ("epoch", 2)]
    # evaluated at each epoch start and once at the end
    assert len(worker.eval_losses) == 4


def test_updater_accumulates_gradients():
    _, trainer, x, t, w0, b0 = _train(accum=2)
    w, b = _hand_loop(x, t, w0, b0, epochs=3, batch=4, accum=2)
    np.testing.assert_allclose(trainer.brief()["affine/W"], w, rtol=1e-5, atol=1e-6)


def test_updater_and_evaluator_call_order():
    calls = []

    def rec(name):
        return lambda *a: calls.append((name,) + a)
    up = framework.updater.Updater(rec("feed"), rec("zero"), rec("update"),
                                   loss_forward=rec("fwd"), loss_backward=rec("bwd"),
                                   solver_update_callback_on_start=[rec("pre")],
                                   accum_grad=2)
    up.update(5, 1)
    assert calls == [("zero", 5, 1), ("feed", 5, 1, 0), ("fwd", 5, 1, 0), ("bwd", 5, 1, 0),
                     ("feed", 5, 1, 1), ("fwd", 5, 1, 1), ("bwd", 5, 1, 1),
                     ("pre", 5, 1), ("update", 5, 1)]
    calls.clear()
    ev = framework.evaluator.Evaluator(rec("vfeed"), rec("vfwd"), rec("start"),
                                       [rec("end")], val_iter=2)
    ev.evaluate(7)
    assert calls == [("start", 7), ("vfeed", 7, 0), ("vfwd", 7, 0), ("vfeed", 7, 1),
                     ("vfwd", 7, 1), ("end", 7)]
