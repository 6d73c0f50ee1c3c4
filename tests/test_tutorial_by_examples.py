"""NNabla's "NNabla by Examples" tutorial on scikit-learn's 8x8 digits, example by
example (and the static/dynamic comparison of "Static vs Dynamic Neural
Networks"), with fewer iterations.

Each example checks shapes, NNabla's parameter names, that the loss falls into
the range the tutorial reports for a comparable number of steps, and that a
static training loop compiles once (only its first step may compile).

Loss figures from the tutorials (1000 steps unless noted):
  logistic regression  0: 12.7   300: 0.67   900: 0.42   (SGD 1e-3)
  MLP                  0: 2.42   600: 0.87   900: 0.56   (SGD 1e-2)
  CNN + BN             0: 2.35   300: 0.24   900: 0.12   (SGD 1e-1)
  Elman RNN            0: 2.63   300: 0.29   900: 0.09   (SGD 1e-1)
  Siamese (embed2d)    0.05 - 0.21 throughout 2 x 2000 steps
"""
import warnings

import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.solvers as S

sklearn_datasets = pytest.importorskip("sklearn.datasets")


class TinyDigits:
    """Minibatches (images (B, 1, 8, 8) float32, labels (B, 1) int32), reshuffled each epoch."""

    def __init__(self, batch_size=64, seed=0):
        digits = sklearn_datasets.load_digits(n_class=10)
        self.images = digits.images[:, None].astype(np.float32)
        self.labels = digits.target[:, None].astype(np.int32)
        self.batch_size = batch_size
        self.rng = np.random.RandomState(seed)
        self.epoch = 0
        self._order = self.rng.permutation(len(self.images))
        self._pos = 0

    def next(self):
        if self._pos + self.batch_size > len(self._order):
            self._order = self.rng.permutation(len(self.images))
            self._pos = 0
            self.epoch += 1
        idx = self._order[self._pos:self._pos + self.batch_size]
        self._pos += self.batch_size
        return self.images[idx], self.labels[idx]


def logreg_loss(y, t):
    return F.mean(F.softmax_cross_entropy(y, t))


def train(loss, x, t, data, steps, lr, params=None):
    """The tutorial's ``training``: returns the losses and the compiles after step 1."""
    solver = S.Sgd(lr)
    solver.set_parameters(nn.get_parameters() if params is None else params)
    losses = []
    after_first = None
    for i in range(steps):
        x.d, t.d = data.next()
        loss.forward()
        solver.zero_grad()
        loss.backward()
        solver.weight_decay(1e-5)
        solver.update()
        losses.append(float(loss.d))
        if i == 0:
            after_first = nn.compile_count()
    return np.array(losses), nn.compile_count() - after_first


def window(losses, n=50):
    return float(np.mean(losses[-n:]))


# ---------------------------------------------------------------- logistic regression
def test_logistic_regression():
    data = TinyDigits(64)
    img, label = data.next()
    assert img.shape == (64, 1, 8, 8) and label.shape == (64, 1)
    x = nn.Variable(img.shape)
    with nn.parameter_scope("affine1"):
        y = PF.affine(x, 10)
    t = nn.Variable(label.shape)
    loss = logreg_loss(y, t)
    assert (x.shape, y.shape, t.shape, loss.shape) == ((64, 1, 8, 8), (64, 10), (64, 1), ())
    params = nn.get_parameters()
    assert list(params) == ["affine1/affine/W", "affine1/affine/b"]
    assert params["affine1/affine/W"].shape == (64, 10)
    assert params["affine1/affine/b"].shape == (10,)

    x.d = img
    t.d = label
    loss.forward()
    assert y.d.shape == (64, 10)
    # random weights on raw 0..16 pixels: a large loss (tutorial: 10.6)
    assert 3.0 < float(loss.d) < 40.0
    w = params["affine1/affine/W"].d
    logits = img.reshape(64, 64) @ w
    logp = logits - logits.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    np.testing.assert_allclose(loss.d, -np.mean(logp[np.arange(64), label[:, 0]]), rtol=1e-4)

    for param in nn.get_parameters().values():
        param.grad.zero()
    loss.backward()
    # pixel (0, 0) is 0 in every digit: the first row of dW is zero (as printed there)
    np.testing.assert_array_equal(params["affine1/affine/W"].g[0], 0)
    assert np.abs(params["affine1/affine/b"].g).sum() > 0
    np.testing.assert_allclose(params["affine1/affine/b"].g.sum(), 0, atol=1e-5)

    losses, compiles = train(loss, x, t, data, 1000, 1e-3)
    assert compiles == 0  # the loop compiled once, in its first step
    assert losses[0] > 2.0
    assert window(losses, 100) < 1.0  # tutorial: 0.29 - 0.72 from step 500 on

    x.d, t.d = data.next()
    y.forward()  # a sub graph
    assert np.mean(y.d.argmax(axis=1) == t.d[:, 0]) > 0.75

    # "Dynamic graph construction support": same parameters, computed as built
    def logreg_forward(x):
        with nn.parameter_scope("affine1"):
            return PF.affine(x, 10)

    x2 = nn.Variable(img.shape)
    t2 = nn.Variable(label.shape)
    x2.d, t2.d = data.next()
    with nn.auto_forward():
        y2 = logreg_forward(x2)
        loss2 = logreg_loss(y2, t2)
    assert list(nn.get_parameters()) == ["affine1/affine/W", "affine1/affine/b"]
    dyn = float(loss2.d)
    x.d, t.d = x2.d, t2.d
    loss.forward()
    np.testing.assert_allclose(dyn, loss.d, rtol=1e-5)
    assert dyn < 1.5  # tutorial: 0.43
    for param in nn.get_parameters().values():
        param.grad.zero()
    loss2.backward()  # backward on the dynamically built graph
    static_grads = [p.g.copy() for p in nn.get_parameters().values()]
    for param in nn.get_parameters().values():
        param.grad.zero()
    loss.backward()
    for p, g in zip(nn.get_parameters().values(), static_grads):
        np.testing.assert_allclose(p.g, g, rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- MLP
def mlp(x, hidden=(16, 32, 16)):
    hs = []
    with nn.parameter_scope("mlp"):
        h = x
        for hid, hsize in enumerate(hidden):
            with nn.parameter_scope("affine{}".format(hid + 1)):
                h = F.tanh(PF.affine(h, hsize))
                hs.append(h)
        with nn.parameter_scope("classifier"):
            y = PF.affine(h, 10)
    return y, hs


def test_mlp():
    data = TinyDigits(64, seed=1)
    x = nn.Variable((64, 1, 8, 8))
    t = nn.Variable((64, 1))
    y, hs = mlp(x)
    assert [h.shape for h in hs] == [(64, 16), (64, 32), (64, 16)]
    assert y.shape == (64, 10)
    assert [(k, v.shape) for k, v in nn.get_parameters().items()] == [
        ("mlp/affine1/affine/W", (64, 16)), ("mlp/affine1/affine/b", (16,)),
        ("mlp/affine2/affine/W", (16, 32)), ("mlp/affine2/affine/b", (32,)),
        ("mlp/affine3/affine/W", (32, 16)), ("mlp/affine3/affine/b", (16,)),
        ("mlp/classifier/affine/W", (16, 10)), ("mlp/classifier/affine/b", (10,))]
    loss = logreg_loss(y, t)
    losses, compiles = train(loss, x, t, data, 700, 1e-2)
    assert compiles == 0
    assert 1.8 < losses[0] < 3.5  # tutorial: 2.42
    assert window(losses) < 1.1  # tutorial: 0.87 at 600, 0.73 at 700
    assert window(losses) < losses[0] - 0.8
    assert np.all(np.abs(hs[1].d) <= 1)  # tanh responses


# ---------------------------------------------------------------- CNN with batch normalization
def cnn(x):
    with nn.parameter_scope("cnn"):
        with nn.parameter_scope("conv1"):
            c1 = F.tanh(PF.batch_normalization(
                PF.convolution(x, 4, (3, 3), pad=(1, 1), stride=(2, 2))))
        with nn.parameter_scope("conv2"):
            c2 = F.tanh(PF.batch_normalization(PF.convolution(c1, 8, (3, 3), pad=(1, 1))))
            c2 = F.average_pooling(c2, (2, 2))
        with nn.parameter_scope("fc3"):
            fc3 = F.tanh(PF.affine(c2, 32))
        with nn.parameter_scope("classifier"):
            y = PF.affine(fc3, 10)
    return y, [c1, c2, fc3]


CNN_PARAMS = [
    ("cnn/conv1/conv/W", (4, 1, 3, 3)), ("cnn/conv1/conv/b", (4,)),
    ("cnn/conv1/bn/beta", (1, 4, 1, 1)), ("cnn/conv1/bn/gamma", (1, 4, 1, 1)),
    ("cnn/conv1/bn/mean", (1, 4, 1, 1)), ("cnn/conv1/bn/var", (1, 4, 1, 1)),
    ("cnn/conv2/conv/W", (8, 4, 3, 3)), ("cnn/conv2/conv/b", (8,)),
    ("cnn/conv2/bn/beta", (1, 8, 1, 1)), ("cnn/conv2/bn/gamma", (1, 8, 1, 1)),
    ("cnn/conv2/bn/mean", (1, 8, 1, 1)), ("cnn/conv2/bn/var", (1, 8, 1, 1)),
    ("cnn/fc3/affine/W", (32, 32)), ("cnn/fc3/affine/b", (32,)),
    ("cnn/classifier/affine/W", (32, 10)), ("cnn/classifier/affine/b", (10,)),
]


@pytest.fixture(scope="module")
def trained_cnn(tmp_path_factory):
    """Trains the tutorial's CNN (under the 'cudnn' context it asks for) and saves it."""
    from nnabla.ext_utils import get_extension_context
    nn.clear_parameters()
    nn.seed(313)
    data = TinyDigits(64, seed=2)
    x = nn.Variable((64, 1, 8, 8))
    t = nn.Variable((64, 1))
    default = nn.get_current_context()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # CPU fallback notice
        ctx = get_extension_context("cudnn", device_id=0)
    try:
        nn.set_default_context(ctx)
        y, hs = cnn(x)
        loss = logreg_loss(y, t)
        names = [(k, v.shape) for k, v in nn.get_parameters(grad_only=False).items()]
        trainable = list(nn.get_parameters())
        losses, compiles = train(loss, x, t, data, 300, 1e-1)
        x.d, t.d = data.next()
        y.forward()
        accuracy = float(np.mean(y.d.argmax(1) == t.d[:, 0]))
        stats = nn.get_parameters(grad_only=False)["cnn/conv1/bn/mean"].d.copy()
        path = str(tmp_path_factory.mktemp("cnn") / "tmp.params.cnn.h5")
        nn.save_parameters(path)
        saved = {k: v.d.copy() for k, v in nn.get_parameters(grad_only=False).items()}
        shapes = [h.shape for h in hs]
    finally:
        nn.set_default_context(default)
        nn.clear_parameters()
    return dict(names=names, trainable=trainable, losses=losses, compiles=compiles,
                accuracy=accuracy, bn_mean=stats, path=path, saved=saved, shapes=shapes,
                ctx=ctx)


def test_cnn_with_batch_normalization(trained_cnn):
    r = trained_cnn
    assert r["ctx"].backend[0].startswith("cudnn")
    assert r["shapes"] == [(64, 4, 4, 4), (64, 8, 2, 2), (64, 32)]
    assert r["names"] == CNN_PARAMS
    assert r["trainable"] == [k for k, _ in CNN_PARAMS
                              if not k.endswith("/mean") and not k.endswith("/var")]
    assert r["compiles"] == 0
    losses = r["losses"]
    assert 1.8 < losses[0] < 3.5  # tutorial: 2.35
    assert window(losses) < 0.6  # tutorial: 0.42 at 200, 0.24 at 300
    assert r["accuracy"] > 0.8
    assert np.abs(r["bn_mean"]).sum() > 0  # running statistics were updated


def test_save_clear_load(trained_cnn):
    path = trained_cnn["path"]
    assert nn.get_parameters(grad_only=False) == {}
    nn.load_parameters(path)
    params = nn.get_parameters(grad_only=False)
    assert [(k, v.shape) for k, v in params.items()] == CNN_PARAMS
    for k, v in params.items():
        np.testing.assert_array_equal(v.d, trained_cnn["saved"][k])
    assert not params["cnn/conv1/bn/mean"].need_grad
    nn.clear_parameters()
    assert len(nn.get_parameters(grad_only=False)) == 0


# ---------------------------------------------------------------- Elman RNN
def rnn(xs, h0, hidden=32):
    hs = []
    with nn.parameter_scope("rnn"):
        h = h0
        for x in xs:
            # the same scopes at every step: parameters shared over time
            with nn.parameter_scope("x2h"):
                x2h = PF.affine(x, hidden, with_bias=False)
            with nn.parameter_scope("h2h"):
                h2h = PF.affine(h, hidden)
            h = F.tanh(x2h + h2h)
            hs.append(h)
        with nn.parameter_scope("classifier"):
            y = PF.affine(h, 10)
    return y, hs


def split_grid4(x):
    return x[..., :4, :4], x[..., :4, 4:], x[..., 4:, :4], x[..., 4:, 4:]


def test_elman_rnn_shares_parameters_over_time():
    data = TinyDigits(64, seed=3)
    img, label = data.next()
    hidden = 32
    seq_img = split_grid4(img)
    assert [s.shape for s in seq_img] == [(64, 1, 4, 4)] * 4
    seq_x = [nn.Variable(s.shape) for s in seq_img]
    h0 = nn.Variable((img.shape[0], hidden))
    t = nn.Variable(label.shape)
    y, hs = rnn(seq_x, h0, hidden)
    loss = logreg_loss(y, t)
    assert [h.shape for h in hs] == [(64, 32)] * 4
    assert [(k, v.shape) for k, v in nn.get_parameters().items()] == [
        ("rnn/x2h/affine/W", (16, 32)), ("rnn/h2h/affine/W", (32, 32)),
        ("rnn/h2h/affine/b", (32,)), ("rnn/classifier/affine/W", (32, 10)),
        ("rnn/classifier/affine/b", (10,))]
    # one registered weight, used by the four time steps
    w_x2h = nn.get_parameters()["rnn/x2h/affine/W"]
    uses = []
    loss.visit(lambda f: uses.append(f) if f.name == "Affine" and f.inputs[1] == w_x2h else None)
    assert len(uses) == 4
    affines = []
    loss.visit(lambda f: affines.append(f) if f.name == "Affine" else None)
    assert len(affines) == 9

    solver = S.Sgd(1e-1)
    solver.set_parameters(nn.get_parameters())
    losses = []
    for i in range(800):
        img, t.d = data.next()
        h0.d = 0
        for xv, sub in zip(seq_x, split_grid4(img)):
            xv.d = sub
        loss.forward()
        solver.zero_grad()
        loss.backward()
        solver.weight_decay(1e-5)
        solver.update()
        losses.append(float(loss.d))
        if i == 0:
            count = nn.compile_count()
    assert nn.compile_count() == count
    losses = np.array(losses)
    assert 1.8 < losses[0] < 4.0  # tutorial: 2.63
    assert window(losses, 100) < 0.5  # tutorial: 0.09 - 0.54 from step 300 on, 0.25 at 800
    # the shared weights' gradients sum the four steps' contributions (numpy BPTT)
    img, lbl = data.images[:64], data.labels[:64]
    t.d = lbl
    h0.d = 0
    xs = [sub.reshape(64, 16) for sub in split_grid4(img)]
    for xv, sub in zip(seq_x, split_grid4(img)):
        xv.d = sub
    loss.forward()
    for p in nn.get_parameters().values():
        p.grad.zero()
    loss.backward()
    p = {k: v.d.astype(np.float64) for k, v in nn.get_parameters().items()}
    W, U, b = p["rnn/x2h/affine/W"], p["rnn/h2h/affine/W"], p["rnn/h2h/affine/b"]
    C, c = p["rnn/classifier/affine/W"], p["rnn/classifier/affine/b"]
    hs_np = [np.zeros((64, hidden))]
    for xk in xs:
        hs_np.append(np.tanh(xk @ W + hs_np[-1] @ U + b))
    logits = hs_np[-1] @ C + c
    prob = np.exp(logits - logits.max(1, keepdims=True))
    prob /= prob.sum(1, keepdims=True)
    np.testing.assert_allclose(loss.d, -np.mean(np.log(prob[np.arange(64), lbl[:, 0]])),
                               rtol=1e-4)
    dlogits = prob.copy()
    dlogits[np.arange(64), lbl[:, 0]] -= 1
    dlogits /= 64
    dh = dlogits @ C.T
    dW, dU = np.zeros_like(W), np.zeros_like(U)
    for k in range(4, 0, -1):
        da = dh * (1 - hs_np[k] ** 2)
        dW += xs[k - 1].T @ da
        dU += hs_np[k - 1].T @ da
        dh = da @ U.T
    np.testing.assert_allclose(w_x2h.g, dW, rtol=2e-3, atol=1e-5)
    np.testing.assert_allclose(nn.get_parameters()["rnn/h2h/affine/W"].g, dU, rtol=2e-3,
                               atol=1e-5)


# ---------------------------------------------------------------- Siamese network
def cnn_embed(x, test=False):
    with nn.parameter_scope("cnn"):
        with nn.parameter_scope("conv1"):
            c1 = F.tanh(PF.batch_normalization(
                PF.convolution(x, 4, (3, 3), pad=(1, 1), stride=(2, 2)), batch_stat=not test))
        with nn.parameter_scope("conv2"):
            c2 = F.tanh(PF.batch_normalization(
                PF.convolution(c1, 8, (3, 3), pad=(1, 1)), batch_stat=not test))
            c2 = F.average_pooling(c2, (2, 2))
        with nn.parameter_scope("fc3"):
            fc3 = PF.affine(c2, 32)
    with nn.parameter_scope("embed2d"):
        embed = PF.affine(c2, 2)
    return embed, [c1, c2, fc3]


def siamese_loss(e0, e1, t, margin=1.0, eps=1e-4):
    dist = F.sum(F.squared_error(e0, e1), axis=1)
    sim_cost = t * dist
    dissim_cost = (1 - t) * (F.maximum_scalar(margin - (dist + eps) ** (0.5), 0) ** 2)
    return F.mean(sim_cost + dissim_cost)


def test_siamese_trains_only_embed2d(trained_cnn):
    data = TinyDigits(64, seed=4)
    nn.clear_parameters()
    nn.load_parameters(trained_cnn["path"])
    x0 = nn.Variable((64, 1, 8, 8))
    x1 = nn.Variable((64, 1, 8, 8))
    t = nn.Variable((64,))
    e0, hs0 = cnn_embed(x0)
    e1, hs1 = cnn_embed(x1)  # parameters shared with the first stream
    loss = siamese_loss(e0, e1, t)
    assert e0.shape == (64, 2) and loss.shape == ()
    names = list(nn.get_parameters(grad_only=False))
    assert names == [k for k, _ in CNN_PARAMS] + ["embed2d/affine/W", "embed2d/affine/b"]
    types = []
    loss.visit(lambda f: types.append(f.info.type_name))
    assert types.count("Convolution") == 4 and types.count("BatchNormalization") == 4
    # contrastive loss: t*d + (1-t)*max(margin - sqrt(d + eps), 0)**2, as NNabla records it
    assert types[-12:] == ["SquaredError", "Sum", "Mul2", "RSubScalar", "AddScalar",
                           "PowScalar", "RSubScalar", "MaximumScalar", "PowScalar", "Mul2",
                           "Add2", "Mean"]

    solver = S.Sgd(1e-2)
    with nn.parameter_scope("embed2d"):
        solver.set_parameters(nn.get_parameters())
    assert list(solver.get_parameters()) == ["affine/W", "affine/b"]
    frozen = {k: v.d.copy() for k, v in nn.get_parameters().items()
              if not k.startswith("embed2d")}
    w_embed = nn.get_parameters()["embed2d/affine/W"].d.copy()

    def training_siamese(steps):
        out = []
        for i in range(steps):
            xa, la = data.next()
            xa = xa.copy()
            xb, lb = data.next()
            x0.d, x1.d = xa, xb
            t.d = (la == lb).astype(np.int32).flat
            loss.forward()
            solver.zero_grad()
            loss.backward()
            solver.weight_decay(1e-5)
            solver.update()
            out.append(float(loss.d))
        return out

    counts = [nn.compile_count()]
    first = training_siamese(1)
    counts.append(nn.compile_count())
    first += training_siamese(1)
    counts.append(nn.compile_count())
    first += training_siamese(148)
    solver.set_learning_rate(solver.learning_rate() * 0.1)  # no recompilation
    second = training_siamese(50)
    counts.append(nn.compile_count())
    assert counts[3] == counts[2]  # no program compiled after the second step
    losses = np.array(first + second)
    assert np.all(np.isfinite(losses))
    assert 0.02 < window(losses, 100) < 0.21  # tutorial: 0.05 - 0.21
    for k, v in frozen.items():
        np.testing.assert_array_equal(nn.get_parameters()[k].d, v, err_msg=k)
    assert not np.allclose(nn.get_parameters()["embed2d/affine/W"].d, w_embed)

    # embed images with the moving statistics, under auto_forward
    digits = TinyDigits(64)
    x_all = nn.Variable((512, 1, 8, 8))
    x_all.d = digits.images[:512]
    with nn.auto_forward():
        embed, _ = cnn_embed(x_all, test=True)
    assert embed.shape == (512, 2)
    assert np.all(np.isfinite(embed.d))
    assert len(nn.get_parameters(grad_only=False)) == len(names)
    # gradients of the frozen CNN (never zeroed) become real arrays at the first step,
    # so every step runs the same program
    assert counts[2] == counts[1], counts


# ---------------------------------------------------------------- static vs dynamic
def deep_cnn(x, depth=10, maps=8):
    """"Static vs Dynamic" tutorial's CNN, with fewer and narrower layers."""
    with nn.parameter_scope("cnn"):
        with nn.parameter_scope("conv1"):
            h = F.tanh(PF.batch_normalization(PF.convolution(x, maps, (3, 3), pad=(1, 1))))
        for i in range(depth):
            with nn.parameter_scope("conv{}".format(i + 2)):
                h = F.tanh(PF.batch_normalization(
                    PF.convolution(h, maps, (3, 3), pad=(1, 1))))
        with nn.parameter_scope("conv_last"):
            h = F.tanh(PF.batch_normalization(PF.convolution(h, maps, (3, 3), pad=(1, 1))))
            h = F.average_pooling(h, (2, 2))
        with nn.parameter_scope("fc"):
            h = F.tanh(PF.affine(h, 32))
        with nn.parameter_scope("classifier"):
            y = PF.affine(h, 10)
    return y


def test_dynamic_graph_with_retained_solver_state():
    steps = 25

    def run(dynamic):
        nn.clear_parameters()
        nn.seed(7)
        data = TinyDigits(16, seed=5)
        x = nn.Variable((16, 1, 8, 8))
        t = nn.Variable((16, 1))
        solver = S.Adam(alpha=1e-3)
        if dynamic:
            solver.set_parameters(nn.get_parameters())  # nothing yet
            assert len(solver.get_parameters()) == 0
        else:
            static_l = F.mean(F.softmax_cross_entropy(deep_cnn(x, depth=0), t))
            solver.set_parameters(nn.get_parameters())
        losses = []
        for i in range(steps):
            x.d, t.d = data.next()
            if dynamic:
                with nn.auto_forward():
                    dynamic_l = F.mean(F.softmax_cross_entropy(deep_cnn(x, depth=0), t))
                # adds the parameters at the first step, keeps their state afterwards
                solver.set_parameters(nn.get_parameters(), reset=False, retain_state=True)
                loss = dynamic_l
            else:
                static_l.forward(clear_no_need_grad=True)
                loss = static_l
            solver.zero_grad()
            loss.backward(clear_buffer=True)
            solver.update()
            losses.append(float(loss.d))
            if i == 0:
                count = nn.compile_count()
        compiles = nn.compile_count() - count
        states = solver.get_states()
        return np.array(losses), compiles, states, list(nn.get_parameters())

    static_losses, static_compiles, static_states, names = run(False)
    dyn_losses, dyn_compiles, dyn_states, dyn_names = run(True)
    assert names == dyn_names
    assert names[:4] == ["cnn/conv1/conv/W", "cnn/conv1/conv/b", "cnn/conv1/bn/beta",
                         "cnn/conv1/bn/gamma"]
    assert "cnn/conv_last/conv/W" in names and names[-2:] == [
        "cnn/classifier/affine/W", "cnn/classifier/affine/b"]
    assert static_compiles == 0 and dyn_compiles == 0
    assert list(dyn_states) == names
    assert all(s.t == steps for s in dyn_states.values())  # state retained, not reset
    assert all(s.t == steps for s in static_states.values())
    # identical initial weights and batches: the two graphs train identically
    np.testing.assert_allclose(dyn_losses, static_losses, rtol=2e-4, atol=1e-5)
    assert 1.8 < static_losses[0] < 3.5  # tutorial epoch 0 average: 0.9 - 1.05
    assert window(static_losses, 5) < static_losses[0] - 0.4
