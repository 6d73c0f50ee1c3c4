"""Benchmark sweeps: how the nnjax / hand-written JAX ratio moves as the work grows.

    python -m bench --sweeps --quick    # a few minutes on two cores
    python -m bench --sweeps            # more steps per point

Three sweeps, each point a training step written twice from the same weights and data
(an NNabla-API script on nnjax, a hand-written ``jax.jit`` + optax step with donated
parameters), timed interleaved as ``python -m bench`` times its rows:

- batch size 16 .. 1024 of the MLP 784-512-512-10 with Adam;
- width 256 .. 4096 of the MLP 784-W-W-10 with Adam, batch 128;
- a ResNet-style CNN (3 stages of residual blocks with batch normalization, 16/32/64
  maps, strided 1x1 projections; 20 convolutions at the default depth) on 16x16
  digits, batch 32, Momentum.

Besides the step times the table gives each side's first step (graph set-up plus
compile plus one step) and its ratio, and the time of the warm-up steps that follow
(nnjax recompiles a repeating step fully there: tiered compilation).
"""
import numpy as np

from . import workloads as W

BATCHES = (16, 64, 256, 1024)
WIDTHS = (256, 1024, 4096)
RESNET_BLOCKS = 3  # per stage: 6n + 2 = 20 layers


def mlp_point(batch, width):
    """The MLP workload class at one (batch, width)."""
    return type(f"MLP_b{batch}_w{width}", (W.MLPAdam,), {
        "name": f"mlp_adam b={batch} w={width}", "batch": batch,
        "dims": (784, width, width, 10)})


class ResNetCNN(W.Workload):
    """ResNet-style CNN: stem conv, 3 stages of ``blocks`` residual blocks, global
    average pooling, affine; batch normalization after every convolution."""
    name, batch, lr, side, blocks, solver = "resnet20_bn", 32, 0.01, 16, RESNET_BLOCKS, "momentum"
    maps = (16, 32, 64)

    def layout(self):
        """[(scope, in maps, out maps, kernel, stride)] of every convolution, in order,
        and the blocks as (conv1 scope, conv2 scope, projection scope or None)."""
        convs = [("stem", 1, self.maps[0], 3, 1)]
        blocks = []
        cin = self.maps[0]
        for s, cout in enumerate(self.maps):
            for b in range(self.blocks):
                stride = 2 if (s > 0 and b == 0) else 1
                base = f"s{s}b{b}"
                convs.append((f"{base}/c1", cin, cout, 3, stride))
                convs.append((f"{base}/c2", cout, cout, 3, 1))
                proj = None
                if stride != 1 or cin != cout:
                    proj = f"{base}/proj"
                    convs.append((proj, cin, cout, 1, stride))
                blocks.append((f"{base}/c1", f"{base}/c2", proj, stride))
                cin = cout
        return convs, blocks

    def init_params(self):
        rs = self.rs
        p = {}
        for scope, cin, cout, k, _ in self.layout()[0]:
            p[f"{scope}/conv/W"] = (rs.randn(cout, cin, k, k)
                                    * np.sqrt(2.0 / (cin * k * k))).astype(np.float32)
            p[f"{scope}/bn/beta"] = np.zeros((1, cout, 1, 1), np.float32)
            p[f"{scope}/bn/gamma"] = np.ones((1, cout, 1, 1), np.float32)
            p[f"{scope}/bn/mean"] = np.zeros((1, cout, 1, 1), np.float32)
            p[f"{scope}/bn/var"] = np.ones((1, cout, 1, 1), np.float32)
        c = self.maps[-1]
        p["fc/affine/W"] = W._glorot(rs, c, 10, (c, 10))
        p["fc/affine/b"] = np.zeros(10, np.float32)
        return p

    def make_data(self):
        return W._digits(self.batch, self.side, 5)


def resnet_point(batch=32, blocks=RESNET_BLOCKS):
    return type(f"ResNet_b{batch}_n{blocks}", (ResNetCNN,), {
        "name": f"resnet{6 * blocks + 2}_bn b={batch}", "batch": batch, "blocks": blocks})


# ---------------------------------------------------------------- nnabla (nnjax)
def _nnabla_resnet(w):
    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    import nnabla.solvers as S

    nn.clear_parameters()
    x = nn.Variable(w.x.shape)
    t = nn.Variable((w.batch, 1))
    convs = {c[0]: c for c in w.layout()[0]}

    def conv_bn(h, scope):
        _, _, cout, k, stride = convs[scope]
        with nn.parameter_scope(scope):
            h = PF.convolution(h, cout, (k, k), pad=(k // 2, k // 2), stride=(stride, stride),
                               with_bias=False)
            return PF.batch_normalization(h, batch_stat=w.train)

    h = F.relu(conv_bn(x, "stem"))
    for c1, c2, proj, _ in w.layout()[1]:
        skip = h if proj is None else conv_bn(h, proj)
        r = conv_bn(F.relu(conv_bn(h, c1)), c2)
        h = F.relu(r + skip)
    h = F.mean(h, axis=(2, 3))
    with nn.parameter_scope("fc"):
        y = PF.affine(h, 10)
    loss = F.mean(F.softmax_cross_entropy(y, t))
    for k, v in nn.get_parameters(grad_only=False).items():
        v.d = w.params[k]
    t.d = w.t.reshape(-1, 1)
    solver = S.Momentum(w.lr, 0.9)
    solver.set_parameters(nn.get_parameters())
    return W.nnabla_training_step(x, w.x, loss, solver)


# ---------------------------------------------------------------- hand-written JAX
def _jax_resnet(w):
    import jax
    import jax.numpy as jnp
    import optax
    from jax import lax

    convs = {c[0]: c for c in w.layout()[0]}
    blocks = w.layout()[1]
    is_state = [k for k in w.params if k.endswith("/bn/mean") or k.endswith("/bn/var")]
    params = {k: jnp.asarray(v) for k, v in w.params.items() if k not in is_state}
    state = {k: jnp.asarray(v) for k, v in w.params.items() if k in is_state}
    labels = jnp.asarray(w.data_ints().astype(np.int32))

    def forward(p, st, x):
        new_st = {}

        def conv_bn(h, scope):
            _, _, _, k, stride = convs[scope]
            h = lax.conv_general_dilated(h, p[f"{scope}/conv/W"], (stride, stride),
                                         [(k // 2, k // 2)] * 2,
                                         dimension_numbers=("NCHW", "OIHW", "NCHW"))
            m = jnp.mean(h, axis=(0, 2, 3), keepdims=True)
            v = jnp.mean(jnp.square(h - m), axis=(0, 2, 3), keepdims=True)
            n = h.shape[0] * h.shape[2] * h.shape[3]
            new_st[f"{scope}/bn/mean"] = 0.9 * st[f"{scope}/bn/mean"] + 0.1 * m
            new_st[f"{scope}/bn/var"] = 0.9 * st[f"{scope}/bn/var"] + 0.1 * v * n / (n - 1)
            return (h - m) / jnp.sqrt(v + 1e-5) * p[f"{scope}/bn/gamma"] + p[f"{scope}/bn/beta"]

        h = jax.nn.relu(conv_bn(x, "stem"))
        for c1, c2, proj, _ in blocks:
            skip = h if proj is None else conv_bn(h, proj)
            h = jax.nn.relu(conv_bn(jax.nn.relu(conv_bn(h, c1)), c2) + skip)
        h = jnp.mean(h, axis=(2, 3))
        return h @ p["fc/affine/W"] + p["fc/affine/b"], new_st

    def loss_fn(p, st, xb, tb):
        logits, new_st = forward(p, st, xb)
        ce = -jnp.take_along_axis(jax.nn.log_softmax(logits), tb[:, None], axis=1)
        return jnp.mean(ce), new_st

    opt = optax.sgd(w.lr, momentum=0.9)

    def _train(p, st, o, xb, tb):
        (loss, new_st), g = jax.value_and_grad(loss_fn, has_aux=True)(p, st, xb, tb)
        updates, o = opt.update(g, o, p)
        return optax.apply_updates(p, updates), new_st, o, loss

    train = jax.jit(_train, donate_argnums=(0, 1, 2))
    box = {"p": params, "st": state, "o": opt.init(params)}

    def step():
        box["p"], box["st"], box["o"], box["loss"] = train(
            box["p"], box["st"], box["o"], jnp.asarray(w.x), labels)
    return step, lambda: float(box["loss"])


def _nnabla(w):
    return _nnabla_resnet(w) if isinstance(w, ResNetCNN) else W.nnabla_impl(w)


def _jax(w):
    return _jax_resnet(w) if isinstance(w, ResNetCNN) else W.jax_impl(w)


IMPLS = {"nnjax": _nnabla, "jax": _jax}


def sweep_points(quick):
    """[(sweep name, workload class)] in the order they run."""
    points = [("batch", mlp_point(b, 512)) for b in BATCHES]
    points += [("width", mlp_point(128, h)) for h in WIDTHS]
    points += [("resnet", resnet_point(32, RESNET_BLOCKS))]
    return points


def format_sweeps(rows):
    lines = ["| sweep | workload | nnjax ms | jax ms | nnjax/jax | first step s (nnjax/jax) "
             "| first-step ratio | warm-up s (nnjax/jax) | loss after N (nnjax/jax) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        im = r["impls"]
        ms = {k: im[k]["median_ms"] for k in im}
        first = {k: im[k]["first_step_s"] for k in im}
        losses = r.get("losses_after_n", {})
        loss_s = "/".join(f"{losses[k]:.4f}" for k in ("nnjax", "jax") if k in losses)
        lines.append(
            f"| {r['sweep']} | {r['workload']} | {ms['nnjax']:.3f} | {ms['jax']:.3f} | "
            f"{ms['nnjax'] / ms['jax']:.2f} | {first['nnjax']:.2f}/{first['jax']:.2f} | "
            f"{first['nnjax'] / first['jax']:.2f} | "
            f"{im['nnjax']['warmup_s']:.2f}/{im['jax']['warmup_s']:.2f} | {loss_s} |")
    return "\n".join(lines)


def run_sweeps(quick, run_workload, same_steps_losses):
    """Run every sweep point (``run_workload``/``same_steps_losses`` from ``bench``'s
    main module, given the implementations here); returns the rows."""
    # warm-up: nnjax's runs until its programs settle (see bench.__main__._warm_up)
    warmup, rounds, per_round, n_loss = (8, 3, 5, 5) if quick else (12, 7, 20, 20)
    rows = []
    impls = ["nnjax", "jax"]
    for sweep, cls in sweep_points(quick):
        row = run_workload(cls, impls, warmup, rounds, per_round, factories=IMPLS,
                           record_warmup=True)
        row["warmup_steps"] = row["impls"].get("nnjax", {}).get("warmup_steps", warmup)
        row["sweep"] = sweep
        row["losses_after_n"] = same_steps_losses(cls, impls, n_loss, factories=IMPLS)
        row["n_loss_steps"] = n_loss
        rows.append(row)
        print(format_sweeps([row]).splitlines()[-1], flush=True)
    return rows
