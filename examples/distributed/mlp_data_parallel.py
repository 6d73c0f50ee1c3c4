"""The MLP of "NNabla by Examples" (scikit-learn's 8x8 digits), data-parallel: each of the
N processes takes its share of every global batch of 64 and the gradients are averaged
with ``comm.all_reduce``. Rank 0 then trains the same MLP on the whole batches in one
process and prints how far the two sets of parameters are apart.

    python -m nnabla.distributed -n 2 examples/distributed/mlp_data_parallel.py [steps]
"""
import sys
import time

import numpy as np
from sklearn.datasets import load_digits

import nnabla as nn
import nnabla.communicators as C
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.solvers as S
from nnabla.ext_utils import get_extension_context

comm = C.MultiProcessCommunicator(get_extension_context("cpu"))
comm.init()
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 200
global_batch, share = 64, 64 // comm.size

digits = load_digits(n_class=10)
images = digits.images[:, None].astype(np.float32)
labels = digits.target[:, None].astype(np.int32)
order = np.random.RandomState(0).permutation(len(images))


def global_batch_at(step):
    start = (step * global_batch) % (len(order) - global_batch)
    idx = order[start:start + global_batch]
    return images[idx], labels[idx]


def mlp(x, hidden=[16, 32, 16]):
    with nn.parameter_scope("mlp"):
        h = x
        for hid, hsize in enumerate(hidden):
            with nn.parameter_scope("affine{}".format(hid + 1)):
                h = F.tanh(PF.affine(h, hsize))
        with nn.parameter_scope("classifier"):
            return PF.affine(h, 10)


def build(batch, scope):
    nn.seed(313)  # every process starts from the same parameters
    x, t = nn.Variable((batch, 1, 8, 8)), nn.Variable((batch, 1))
    with nn.parameter_scope(scope):
        loss = F.mean(F.softmax_cross_entropy(mlp(x), t))
        solver = S.Sgd(1e-2)
        solver.set_parameters(nn.get_parameters())
    return x, t, loss, solver


x, t, loss, solver = build(share, "dp")
step_seconds = []
for i in range(steps):
    start = time.perf_counter()
    xs, ts = global_batch_at(i)
    x.d = xs[comm.rank * share:(comm.rank + 1) * share]
    t.d = ts[comm.rank * share:(comm.rank + 1) * share]
    loss.forward()
    solver.zero_grad()
    loss.backward()
    with nn.parameter_scope("dp"):
        comm.all_reduce([p.grad for p in nn.get_parameters().values()], division=True)
    solver.weight_decay(1e-5)
    solver.update()
    nn.synchronize()
    step_seconds.append(time.perf_counter() - start)
    if i % 100 == 0:
        print(i, loss.d)
with nn.parameter_scope("dp"):
    trained = {k: v.d.copy() for k, v in nn.get_parameters().items()}
ms = np.array(step_seconds[1:]) * 1e3  # step 0 compiles
print(f"{comm.size} process(es): median {np.median(ms):.2f} ms/step, mean {ms.mean():.2f}")

if comm.rank == 0:
    x, t, loss, solver = build(global_batch, "full")
    for i in range(steps):
        x.d, t.d = global_batch_at(i)
        loss.forward()
        solver.zero_grad()
        loss.backward()
        solver.weight_decay(1e-5)
        solver.update()
    with nn.parameter_scope("full"):
        full = {k: v.d for k, v in nn.get_parameters().items()}
    gap = max(float(np.max(np.abs(trained[k] - full[k]))) for k in full)
    print(f"full-batch training in one process: loss {float(loss.d):.4f}, largest parameter "
          f"difference from data-parallel training {gap:.2e}")
