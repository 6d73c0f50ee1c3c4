"""The benchmark workloads, each written three ways from the same initial weights and data.

- ``nnabla``: an NNabla-API script as a user writes it, run on nnjax;
- ``jax``: a hand-written ``jax.jit`` train step with optax, parameters donated;
- ``torch``: PyTorch eager on the CPU.

Every factory returns a ``step()`` callable running one training (or inference)
step and a ``loss()`` callable returning the latest loss as a float.
"""
import numpy as np

# ---------------------------------------------------------------- shared data


def _digits(n, side, seed):
    """``n`` images (n, 1, side, side) in [0, 1] and labels, from sklearn's digits."""
    from sklearn.datasets import load_digits
    d = load_digits()
    rs = np.random.RandomState(seed)
    idx = rs.randint(0, len(d.images), size=n)
    img = (d.images[idx] / 16.0).astype(np.float32)
    if side != 8:
        reps = side // 8 + 1
        img = np.kron(img, np.ones((reps, reps), np.float32))[:, :side, :side]
    return img[:, None], d.target[idx].astype(np.int64)


def _glorot(rs, fan_in, fan_out, shape):
    d = np.sqrt(6.0 / (fan_in + fan_out))
    return rs.uniform(-d, d, size=shape).astype(np.float32)


class Workload:
    name = ""
    batch = 0
    train = True

    def __init__(self, seed=0):
        self.rs = np.random.RandomState(seed)
        self.params = self.init_params()
        self.x, self.t = self.make_data()

    def data_ints(self):
        return self.t.reshape(-1)


# ---------------------------------------------------------------- definitions
class TinyMLP(Workload):
    """The tutorial's MLP on 8x8 digits, 64-16-16-10, ReLU, batch 64, Sgd(0.1)."""
    name, batch, lr = "tiny_mlp_sgd", 64, 0.1
    dims = (64, 16, 16, 10)
    solver = "sgd"

    def init_params(self):
        p = {}
        for i, (a, b) in enumerate(zip(self.dims[:-1], self.dims[1:]), 1):
            p[f"l{i}/affine/W"] = _glorot(self.rs, a, b, (a, b))
            p[f"l{i}/affine/b"] = np.zeros(b, np.float32)
        return p

    def make_data(self):
        x, t = _digits(self.batch, 8, 1)
        return x, t


class MLPAdam(TinyMLP):
    """MLP 784-512-512-10, ReLU, batch 128, Adam(1e-3)."""
    name, batch, lr = "mlp_adam", 128, 1e-3
    dims = (784, 512, 512, 10)
    solver = "adam"

    def make_data(self):
        x, t = _digits(self.batch, 28, 2)
        return x, t


class LeNetBN(Workload):
    """LeNet-style CNN with batch normalization on 1x28x28, batch 64, Momentum(0.01, 0.9)."""
    name, batch, lr = "lenet_bn_momentum", 64, 0.01
    solver = "momentum"

    def init_params(self):
        rs = self.rs
        p = {"c1/conv/W": _glorot(rs, 1 * 25, 16 * 25, (16, 1, 5, 5)),
             "c1/conv/b": np.zeros(16, np.float32),
             "c2/conv/W": _glorot(rs, 16 * 25, 32 * 25, (32, 16, 5, 5)),
             "c2/conv/b": np.zeros(32, np.float32),
             "f3/affine/W": _glorot(rs, 512, 128, (512, 128)),
             "f3/affine/b": np.zeros(128, np.float32),
             "f4/affine/W": _glorot(rs, 128, 10, (128, 10)),
             "f4/affine/b": np.zeros(10, np.float32)}
        for n, c in (("c1", 16), ("c2", 32)):
            p[f"{n}/bn/beta"] = np.zeros((1, c, 1, 1), np.float32)
            p[f"{n}/bn/gamma"] = np.ones((1, c, 1, 1), np.float32)
            p[f"{n}/bn/mean"] = np.zeros((1, c, 1, 1), np.float32)
            p[f"{n}/bn/var"] = np.ones((1, c, 1, 1), np.float32)
        return p

    def make_data(self):
        return _digits(self.batch, 28, 3)


class LeNetInference(LeNetBN):
    """Forward only of the LeNet+BN network (running statistics), batch 64."""
    name = "lenet_inference"
    train = False


class ElmanRNN(Workload):
    """Elman RNN over 4 steps (8x8 digit as 4 steps of 16), hidden 32, shared weights, Adam."""
    name, batch, lr = "elman_rnn_adam", 64, 1e-3
    steps, feat, hidden = 4, 16, 32
    solver = "adam"

    def init_params(self):
        rs, f, h = self.rs, self.feat, self.hidden
        return {"rnn/affine/W": _glorot(rs, f + h, h, (f + h, h)),
                "rnn/affine/b": np.zeros(h, np.float32),
                "out/affine/W": _glorot(rs, h, 10, (h, 10)),
                "out/affine/b": np.zeros(10, np.float32)}

    def make_data(self):
        x, t = _digits(self.batch, 8, 4)
        return x.reshape(self.batch, self.steps, self.feat), t


WORKLOADS = [TinyMLP, MLPAdam, LeNetBN, ElmanRNN, LeNetInference]


# ---------------------------------------------------------------- nnabla (nnjax)
def nnabla_training_step(x, xs, loss, solver):
    """The NNabla-API training step: write the batch, forward, zero, backward, update."""
    def step():
        x.d = xs
        loss.forward()
        solver.zero_grad()
        loss.backward()
        solver.update()
    return step, lambda: float(loss.d)


def nnabla_impl(w):
    """The workload as an NNabla user writes it."""
    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    import nnabla.solvers as S

    nn.clear_parameters()
    x = nn.Variable(w.x.shape)
    t = nn.Variable((w.batch, 1))
    if isinstance(w, TinyMLP):
        h = x
        n = len(w.dims) - 1
        for i, units in enumerate(w.dims[1:], 1):
            with nn.parameter_scope(f"l{i}"):
                h = PF.affine(h, units)
            if i < n:
                h = F.relu(h)
        y = h
    elif isinstance(w, LeNetBN):
        h = x
        for scope, maps in (("c1", 16), ("c2", 32)):
            with nn.parameter_scope(scope):
                h = PF.convolution(h, maps, (5, 5))
                h = PF.batch_normalization(h, batch_stat=w.train)
            h = F.max_pooling(F.relu(h), (2, 2))
        with nn.parameter_scope("f3"):
            h = F.relu(PF.affine(h, 128))
        with nn.parameter_scope("f4"):
            y = PF.affine(h, 10)
    else:  # ElmanRNN
        hstate = nn.Variable.from_numpy_array(np.zeros((w.batch, w.hidden), np.float32))
        for s in range(w.steps):
            xs = x[:, s, :]
            with nn.parameter_scope("rnn"):
                hstate = F.tanh(PF.affine(F.concatenate(xs, hstate, axis=1), w.hidden))
        with nn.parameter_scope("out"):
            y = PF.affine(hstate, 10)
    loss = F.mean(F.softmax_cross_entropy(y, t))

    params = nn.get_parameters(grad_only=False)
    for k, v in params.items():
        v.d = w.params[k]
    x.d = w.x
    t.d = w.t.reshape(-1, 1)

    if not w.train:
        def step():
            x.d = w.x
            loss.forward(clear_buffer=True)
        return step, lambda: float(loss.d)

    solver = {"sgd": lambda: S.Sgd(w.lr), "adam": lambda: S.Adam(w.lr),
              "momentum": lambda: S.Momentum(w.lr, 0.9)}[w.solver]()
    solver.set_parameters(nn.get_parameters())
    return nnabla_training_step(x, w.x, loss, solver)


# ---------------------------------------------------------------- hand-written JAX
def _jax_forward(w, p, state, x, train):
    import jax
    import jax.numpy as jnp
    from jax import lax
    new_state = {}
    if isinstance(w, TinyMLP):
        h = x.reshape(x.shape[0], -1)
        n = len(w.dims) - 1
        for i in range(1, n + 1):
            h = h @ p[f"l{i}/affine/W"] + p[f"l{i}/affine/b"]
            if i < n:
                h = jax.nn.relu(h)
        return h, new_state
    if isinstance(w, LeNetBN):
        def conv_bn(h, n):
            h = lax.conv_general_dilated(h, p[f"{n}/conv/W"], (1, 1), "VALID",
                                         dimension_numbers=("NCHW", "OIHW", "NCHW"))
            h = h + p[f"{n}/conv/b"][None, :, None, None]
            if train:
                m = jnp.mean(h, axis=(0, 2, 3), keepdims=True)
                v = jnp.mean(jnp.square(h - m), axis=(0, 2, 3), keepdims=True)
                cnt = h.shape[0] * h.shape[2] * h.shape[3]
                new_state[f"{n}/bn/mean"] = 0.9 * state[f"{n}/bn/mean"] + 0.1 * m
                new_state[f"{n}/bn/var"] = 0.9 * state[f"{n}/bn/var"] + 0.1 * v * cnt / (cnt - 1)
            else:
                m, v = state[f"{n}/bn/mean"], state[f"{n}/bn/var"]
            h = (h - m) / jnp.sqrt(v + 1e-5) * p[f"{n}/bn/gamma"] + p[f"{n}/bn/beta"]
            h = jax.nn.relu(h)
            return lax.reduce_window(h, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        h = conv_bn(x, "c1")
        h = conv_bn(h, "c2")
        h = h.reshape(h.shape[0], -1)
        h = jax.nn.relu(h @ p["f3/affine/W"] + p["f3/affine/b"])
        return h @ p["f4/affine/W"] + p["f4/affine/b"], new_state
    hstate = jnp.zeros((x.shape[0], w.hidden), x.dtype)
    for s in range(w.steps):
        z = jnp.concatenate([x[:, s, :], hstate], axis=1)
        hstate = jnp.tanh(z @ p["rnn/affine/W"] + p["rnn/affine/b"])
    return hstate @ p["out/affine/W"] + p["out/affine/b"], new_state


def jax_impl(w):
    import jax
    import jax.numpy as jnp
    import optax

    state_keys = [k for k in w.params if k.endswith("/bn/mean") or k.endswith("/bn/var")]
    params = {k: jnp.asarray(v) for k, v in w.params.items() if k not in state_keys}
    state = {k: jnp.asarray(v) for k, v in w.params.items() if k in state_keys}
    x = jnp.asarray(w.x)
    labels = jnp.asarray(w.data_ints().astype(np.int32))

    def loss_fn(p, st, xb, tb):
        logits, new_st = _jax_forward(w, p, st, xb, w.train)
        ce = -jnp.take_along_axis(jax.nn.log_softmax(logits), tb[:, None], axis=1)
        return jnp.mean(ce), new_st

    box = {}
    if not w.train:
        fwd = jax.jit(lambda p, st, xb, tb: loss_fn(p, st, xb, tb)[0])

        def step():
            box["loss"] = fwd(params, state, jnp.asarray(w.x), labels)
        return step, lambda: float(box["loss"])

    opt = {"sgd": lambda: optax.sgd(w.lr), "adam": lambda: optax.adam(w.lr),
           "momentum": lambda: optax.sgd(w.lr, momentum=0.9)}[w.solver]()

    @jax.jit
    def _train(p, st, o, xb, tb):
        (loss, new_st), g = jax.value_and_grad(loss_fn, has_aux=True)(p, st, xb, tb)
        updates, o = opt.update(g, o, p)
        return optax.apply_updates(p, updates), {**st, **new_st}, o, loss

    train = jax.jit(_train, donate_argnums=(0, 1, 2))
    box.update(p=params, st=state, o=opt.init(params))

    def step():
        box["p"], box["st"], box["o"], box["loss"] = train(
            box["p"], box["st"], box["o"], jnp.asarray(w.x), labels)
    del x
    return step, lambda: float(box["loss"])


# ---------------------------------------------------------------- PyTorch eager
def torch_impl(w):
    import torch
    import torch.nn.functional as tf

    params = {k: torch.tensor(v, requires_grad=not (k.endswith("/mean") or k.endswith("/var")))
              for k, v in w.params.items()}
    x = torch.tensor(w.x)
    t = torch.tensor(w.data_ints())
    trainable = [v for v in params.values() if v.requires_grad]

    def forward():
        p = params
        if isinstance(w, TinyMLP):
            h = x.reshape(x.shape[0], -1)
            n = len(w.dims) - 1
            for i in range(1, n + 1):
                h = h @ p[f"l{i}/affine/W"] + p[f"l{i}/affine/b"]
                if i < n:
                    h = torch.relu(h)
            return h
        if isinstance(w, LeNetBN):
            def conv_bn(h, n):
                h = tf.conv2d(h, p[f"{n}/conv/W"], p[f"{n}/conv/b"])
                h = tf.batch_norm(h, p[f"{n}/bn/mean"].view(-1), p[f"{n}/bn/var"].view(-1),
                                  p[f"{n}/bn/gamma"].view(-1), p[f"{n}/bn/beta"].view(-1),
                                  training=w.train, momentum=0.1, eps=1e-5)
                return tf.max_pool2d(torch.relu(h), 2)
            h = conv_bn(conv_bn(x, "c1"), "c2").reshape(x.shape[0], -1)
            h = torch.relu(h @ p["f3/affine/W"] + p["f3/affine/b"])
            return h @ p["f4/affine/W"] + p["f4/affine/b"]
        hstate = torch.zeros(x.shape[0], w.hidden)
        for s in range(w.steps):
            z = torch.cat([x[:, s, :], hstate], dim=1)
            hstate = torch.tanh(z @ p["rnn/affine/W"] + p["rnn/affine/b"])
        return hstate @ p["out/affine/W"] + p["out/affine/b"]

    box = {}
    if not w.train:
        def step():
            with torch.no_grad():
                box["loss"] = tf.cross_entropy(forward(), t)
        return step, lambda: float(box["loss"])

    opt = {"sgd": lambda: torch.optim.SGD(trainable, lr=w.lr),
           "adam": lambda: torch.optim.Adam(trainable, lr=w.lr),
           "momentum": lambda: torch.optim.SGD(trainable, lr=w.lr, momentum=0.9)}[w.solver]()

    def step():
        opt.zero_grad()
        loss = tf.cross_entropy(forward(), t)
        loss.backward()
        opt.step()
        box["loss"] = loss.detach()
    return step, lambda: float(box["loss"])


IMPLS = {"nnjax": nnabla_impl, "jax": jax_impl, "torch": torch_impl}
