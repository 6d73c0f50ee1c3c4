"""Run by tests/test_communicators.py as two ranks under ``python -m nnabla.distributed``:
checks every collective against numpy, sync batch normalization against batch
normalization of the concatenated batch, and data-parallel SGD against full-batch SGD.
Each rank builds every rank's data from the seeds, so it knows the expected results."""
import os
import sys

import numpy as np

import nnabla as nn
import nnabla.communicators as C
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.solvers as S
from nnabla.ext_utils import get_extension_context

# these checks are about what joins a fused step: graphs are fused from their first run
os.environ["NNJAX_FIRST_RUNS_BY_FUNCTION"] = "0"

comm = C.MultiProcessCommunicator(get_extension_context("cpu"))
comm.init()
R, N = comm.rank, comm.size
assert N == 2, f"this worker needs 2 ranks, got {N}"
SHAPES = [(3, 4), (5,), (2, 2, 2)]


def data(rank, i, shape, seed=0):
    return np.random.RandomState(1000 * seed + 10 * rank + i).randn(*shape).astype(np.float32)


def arrays(seed=0):
    return [nn.NdArray.from_numpy_array(data(R, i, s, seed)) for i, s in enumerate(SHAPES)]


def close(got, want, what, tol=1e-5):
    got = np.asarray(got)
    assert got.shape == np.shape(want), f"rank {R}: {what}: shape {got.shape} != {np.shape(want)}"
    err = np.max(np.abs(got - want)) if got.size else 0.0
    assert err <= tol * (1 + np.max(np.abs(want))), f"rank {R}: {what}: max error {err}"


def check_reductions():
    for seed, (division, inplace) in enumerate([(False, False), (True, True), (True, False)]):
        xs = arrays(seed)
        comm.all_reduce(xs, division=division, inplace=inplace)
        for i, (x, s) in enumerate(zip(xs, SHAPES)):
            want = sum(data(r, i, s, seed) for r in range(N)) / (N if division else 1)
            close(x.data, want, f"all_reduce[{i}] division={division} inplace={inplace}")
    x = nn.NdArray.from_numpy_array(data(R, 0, (7,), 9))   # a single NdArray, not a list
    comm.all_reduce(x)
    close(x.data, data(0, 0, (7,), 9) + data(1, 0, (7,), 9), "all_reduce(NdArray)")
    for dst in (0, 1):
        for division in (False, True):
            xs = arrays(5)
            comm.reduce(xs, dst, division=division, inplace=True)
            for i, (x, s) in enumerate(zip(xs, SHAPES)):
                want = (sum(data(r, i, s, 5) for r in range(N)) / (N if division else 1)
                        if R == dst else data(R, i, s, 5))
                close(x.data, want, f"reduce dst={dst} division={division}")


def check_zeroed():
    both, one = nn.NdArray((4,)), nn.NdArray((4,))
    both.zero()
    if R == 0:
        one.zero()
    else:
        one.data = np.arange(4, dtype=np.float32)
    comm.all_reduce([both, one], division=True)
    assert both.zeroing, f"rank {R}: an array zeroed on every rank must stay zeroed"
    close(both.data, np.zeros(4), "zeroed everywhere")
    assert not one.zeroing, f"rank {R}: an array written on one rank is not zeroed"
    close(one.data, np.arange(4) / 2, "zeroed on rank 0 only")


def check_zeroed_after_backward():
    """all_reduce after backward. A gradient zeroing on rank 0 only: rank 0 exchanges
    outside the step, rank 1 inside it, and both get the sums. A gradient zeroing on both
    ranks: the exchange runs outside the step and the gradient stays zeroed."""
    x = nn.Variable.from_numpy_array(data(R, 0, (3,), 12))
    w1 = nn.Variable.from_numpy_array(np.ones(3, np.float32), need_grad=True)
    w2, w3 = nn.Variable((3,), need_grad=True), nn.Variable((3,), need_grad=True)
    loss = F.sum(w1 * x)
    x_sum = data(0, 0, (3,), 12) + data(1, 0, (3,), 12)
    loss.forward()
    for w in (w1, w2, w3):
        w.grad.zero()
    loss.backward()
    if R == 1:
        w2.grad.data = np.arange(3, dtype=np.float32)
    comm.all_reduce([w1.grad, w2.grad])
    if R == 0:
        assert nn.compile_stats().last_ops == ("forward", "backward"), nn.compile_stats()
    close(w1.g, x_sum, "all_reduce after backward, fused on rank 1 only")
    close(w2.g, np.arange(3), "a gradient zeroing on rank 0 only")
    assert not w2.grad.zeroing
    if R == 1:
        assert nn.compile_stats().last_ops == ("forward", "backward", "all_reduce")
    loss.forward()
    for w in (w1, w3):
        w.grad.zero()
    loss.backward()
    comm.all_reduce([w1.grad, w3.grad], division=True)
    assert w3.grad.zeroing, f"rank {R}: a gradient zeroing on every rank must stay zeroed"
    close(w1.g, x_sum / 2, "all_reduce after backward, mean")


def check_bcast_gather_scatter():
    for src in (0, 1):
        xs = arrays(6)
        comm.bcast(xs, src, inplace=src == 1)
        for i, (x, s) in enumerate(zip(xs, SHAPES)):
            close(x.data, data(src, i, s, 6), f"bcast src={src}")
    x = nn.NdArray.from_numpy_array(data(R, 0, (2, 3), 7))
    outs = [nn.NdArray((2, 3)) for _ in range(N)]
    comm.all_gather(x, outs)
    for r in range(N):
        close(outs[r].data, data(r, 0, (2, 3), 7), f"all_gather[{r}]")
    for division in (False, True):
        ins = [nn.NdArray.from_numpy_array(data(R, i, (3, 2), 8)) for i in range(N)]
        out = nn.NdArray((3, 2))
        comm.reduce_scatter(ins, out, division=division)
        want = sum(data(r, R, (3, 2), 8) for r in range(N)) / (N if division else 1)
        close(out.data, want, f"reduce_scatter division={division}")


def check_groups():
    assert comm.new_group(("pair", np.array([1, 0]))) == "pair"
    assert comm.new_group(("solo", [1])) == "solo"
    assert comm.list_groups() == {"world": [0, 1], "pair": [1, 0], "solo": [1]}
    assert comm.find_group("pair") == [1, 0] and comm.find_group("none") == []
    x = nn.NdArray.from_numpy_array(data(R, 0, (3,), 11))
    outs = [nn.NdArray((3,)) for _ in range(N)]
    comm.all_gather(x, outs, group="pair")   # the group's order: rank 1 first
    close(outs[0].data, data(1, 0, (3,), 11), "all_gather on group [1, 0]")
    close(outs[1].data, data(0, 0, (3,), 11), "all_gather on group [1, 0]")
    comm.bcast([x], 1, group="pair")
    close(x.data, data(1, 0, (3,), 11), "bcast on group [1, 0]")
    y = nn.NdArray.from_numpy_array(data(R, 1, (3,), 11))
    if R == 1:
        comm.all_reduce(y, group="solo")      # a group of one leaves the data as it is
        close(y.data, data(1, 1, (3,), 11), "all_reduce on a group of one")
    else:
        try:
            comm.all_reduce(y, group="solo")
        except ValueError as e:
            assert "not in group" in str(e), str(e)
        else:
            raise AssertionError("rank 0 all-reduced on a group without it")


def mlp(x, scope):
    with nn.parameter_scope(scope):
        h = F.tanh(PF.affine(x, 6, name="l1"))
        return PF.affine(h, 3, name="l2")


def init_params(scope):
    rng = np.random.RandomState(3)
    with nn.parameter_scope(scope):
        for name, p in nn.get_parameters().items():
            p.d = (rng.randn(*p.shape) * 0.5).astype(np.float32)


def batch(rank, step, n=4):
    rng = np.random.RandomState(100 + 10 * step + rank)
    return rng.randn(n, 5).astype(np.float32), rng.randint(0, 3, (n, 1))


def check_callback():
    """Gradients all-reduced by all_reduce_callback equal those of all_reduce."""
    x, t = nn.Variable((4, 5)), nn.Variable((4, 1))
    loss = F.mean(F.softmax_cross_entropy(mlp(x, "cb"), t))
    init_params("cb")
    with nn.parameter_scope("cb"):
        params = list(nn.get_parameters().values())
    x.d, t.d = batch(R, 0)
    loss.forward()
    for p in params:
        p.grad.zero()
    loss.backward()
    comm.all_reduce([p.grad for p in params], division=True)
    want = [p.g.copy() for p in params]
    # rank 1 runs the exchange outside the step, rank 0 inside it: they still agree
    os.environ["NNJAX_FUSED_ALL_REDUCE"] = "0" if R == 1 else "1"
    for p in params:
        p.grad.zero()
    loss.forward()
    loss.backward()
    comm.all_reduce([p.grad for p in params], division=True)
    if R == 1:
        assert nn.compile_stats().last_ops == ("forward", "backward"), nn.compile_stats()
    for p, w in zip(params, want):
        close(p.g, w, "all_reduce fused on rank 0 only")
    if R == 0:
        assert nn.compile_stats().last_ops == ("forward", "backward", "all_reduce")
    os.environ["NNJAX_FUSED_ALL_REDUCE"] = "1"
    for pack_size, scale in ((2, 1.0), (8, 0.5)):
        for p in params:
            p.grad.zero()
        loss.forward()
        cb = comm.all_reduce_callback([p.grad for p in params], pack_size, division=True,
                                      scale_grad=scale)
        loss.backward(communicator_callbacks=cb)
        for p, w in zip(params, want):
            close(p.g, w * scale, f"all_reduce_callback pack_size={pack_size}")


def check_data_parallel_sgd(steps=3):
    """Each rank trains on its half of the batch, gradients averaged over the ranks, with
    ONE compiled program per step (forward, backward, the all-reduce and the update), and
    ends with the parameters of full-batch training in one process."""
    x, t = nn.Variable((4, 5)), nn.Variable((4, 1))
    loss = F.mean(F.softmax_cross_entropy(mlp(x, "dp"), t))
    xf, tf = nn.Variable((8, 5)), nn.Variable((8, 1))
    loss_full = F.mean(F.softmax_cross_entropy(mlp(xf, "full"), tf))
    init_params("dp")
    init_params("full")
    solvers = {}
    for scope in ("dp", "full"):
        with nn.parameter_scope(scope):
            solvers[scope] = S.Momentum(0.3, 0.5)
            solvers[scope].set_parameters(nn.get_parameters())
    stats = nn.compile_stats()
    for step in range(steps):
        x.d, t.d = batch(R, step)   # runs the previous step's program
        if step == 1:
            compiles, executions = stats.compiles, stats.executions
        loss.forward()
        solvers["dp"].zero_grad()
        loss.backward()
        with nn.parameter_scope("dp"):
            comm.all_reduce([p.grad for p in nn.get_parameters().values()], division=True)
        solvers["dp"].update()
    with nn.parameter_scope("dp"):
        dp = {k: v.d.copy() for k, v in nn.get_parameters().items()}
    assert stats.last_ops == ("forward", "backward", "all_reduce", "update"), stats.last_ops
    assert (stats.compiles - compiles, stats.executions - executions) == (0, steps - 1), \
        f"rank {R}: {stats}: expected one program per step"
    for step in range(steps):
        parts = [batch(r, step) for r in range(N)]
        xf.d = np.concatenate([p[0] for p in parts])
        tf.d = np.concatenate([p[1] for p in parts])
        loss_full.forward()
        solvers["full"].zero_grad()
        loss_full.backward()
        solvers["full"].update()
    with nn.parameter_scope("full"):
        full = nn.get_parameters()
    for name in full:
        assert not np.allclose(full[name].d, _initial(name, full)), "training did not move"
        close(dp[name], full[name].d, f"data-parallel training parameter {name}", tol=1e-5)


def _initial(name, params):
    rng = np.random.RandomState(3)
    for n, p in params.items():
        v = rng.randn(*p.shape) * 0.5
        if n == name:
            return v


def check_sync_bn():
    for axes, shape in (([1], (3, 3, 2, 2)), ([3], (3, 2, 2, 3))):
        rng = np.random.RandomState(42 + axes[0])
        xs = [rng.randn(*shape).astype(np.float32) * 2 + 1 for _ in range(N)]
        dys = [rng.randn(*shape).astype(np.float32) for _ in range(N)]
        stat = tuple(shape[a] if a in axes else 1 for a in range(4))
        beta0, gamma0 = rng.randn(*stat), rng.rand(*stat) + 0.5

        def run(x_value, dy_value, sync):
            x = nn.Variable.from_numpy_array(x_value, need_grad=True)
            beta = nn.Variable.from_numpy_array(beta0.astype(np.float32), need_grad=True)
            gamma = nn.Variable.from_numpy_array(gamma0.astype(np.float32), need_grad=True)
            mean = nn.Variable.from_numpy_array(np.zeros(stat, np.float32))
            var = nn.Variable.from_numpy_array(np.ones(stat, np.float32))
            if sync:
                y = F.sync_batch_normalization(x, beta, gamma, mean, var, comm, axes=axes)
            else:
                y = F.batch_normalization(x, beta, gamma, mean, var, axes=axes)
            y.forward()
            x.grad.zero()
            y.backward(dy_value)
            return y.d.copy(), x.g.copy(), mean.d.copy(), var.d.copy()

        y, gx, m, v = run(xs[R], dys[R], True)
        yf, gxf, mf, vf = run(np.concatenate(xs), np.concatenate(dys), False)
        n = shape[0]
        what = f"sync_batch_normalization axes={axes}"
        close(y, yf[R * n:(R + 1) * n], what + " output", 1e-4)
        close(gx, gxf[R * n:(R + 1) * n], what + " input gradient", 1e-4)
        close(m, mf, what + " running mean", 1e-5)
        close(v, vf, what + " running variance", 1e-5)
    check_sync_bn_output_stat()
    x = nn.Variable.from_numpy_array(np.random.RandomState(R).randn(4, 2).astype(np.float32))
    with nn.parameter_scope("sbn"):
        y = PF.sync_batch_normalization(x, comm)   # the parametric form, world group
    y.forward()
    both = [np.random.RandomState(r).randn(4, 2) for r in range(N)]
    full = np.concatenate(both)
    want = (both[R] - full.mean(0)) / np.sqrt(full.var(0) + 1e-5)
    close(y.d, want, "PF.sync_batch_normalization against numpy", 1e-4)


def check_sync_bn_output_stat():
    """With output_stat, gradients reaching the (shared) batch statistics count once, as
    for batch normalization of the whole batch."""
    rng = np.random.RandomState(7)
    xs = [rng.randn(3, 2).astype(np.float32) + r for r in range(N)]
    dys = [rng.randn(3, 2).astype(np.float32) for _ in range(N)]
    dm, dv = rng.randn(1, 2).astype(np.float32), rng.randn(1, 2).astype(np.float32)

    def grad_of_x(x_value, dy_value, sync):
        x = nn.Variable.from_numpy_array(x_value, need_grad=True)
        beta = nn.Variable.from_numpy_array(np.zeros((1, 2), np.float32))
        gamma = nn.Variable.from_numpy_array(np.ones((1, 2), np.float32))
        mean = nn.Variable.from_numpy_array(np.zeros((1, 2), np.float32))
        var = nn.Variable.from_numpy_array(np.ones((1, 2), np.float32))
        if sync:
            y, m, v = F.sync_batch_normalization(x, beta, gamma, mean, var, comm,
                                                 output_stat=True)
        else:
            y, m, v = F.batch_normalization(x, beta, gamma, mean, var, output_stat=True)
        loss = F.sum(y * nn.Variable.from_numpy_array(dy_value)) + \
            F.sum(m * nn.Variable.from_numpy_array(dm)) + F.sum(v * nn.Variable.from_numpy_array(dv))
        loss.forward()
        x.grad.zero()
        loss.backward()
        return m.d.copy(), v.d.copy(), x.g.copy()

    m, v, gx = grad_of_x(xs[R], dys[R], True)
    mf, vf, gxf = grad_of_x(np.concatenate(xs), np.concatenate(dys), False)
    close(m, mf, "sync BN output_stat batch mean")
    close(v, vf, "sync BN output_stat batch variance")
    close(gx, gxf[3 * R:3 * (R + 1)], "sync BN output_stat input gradient", 1e-4)


for check in (check_reductions, check_zeroed, check_zeroed_after_backward,
              check_bcast_gather_scatter, check_groups,
              check_callback, check_data_parallel_sgd, check_sync_bn):
    check()
    comm.barrier()
print(f"rank {R}: all checks passed")
sys.stdout.flush()
