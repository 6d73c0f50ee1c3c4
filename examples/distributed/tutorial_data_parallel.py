"""NNabla's "Data Parallel Distributed Training" tutorial (multi_device_training), its
code cells in order, run as: python -m nnabla.distributed -n 2 tutorial_data_parallel.py
(the tutorial prints whole gradient arrays; here their first values)."""
import os  # noqa: F401 (the tutorial imports it)
import time  # noqa: F401

import nnabla as nn
import nnabla.communicators as C
from nnabla.ext_utils import get_extension_context
import nnabla.functions as F
from nnabla.initializer import (
    calc_uniform_lim_glorot,
    UniformInitializer)
import nnabla.parametric_functions as PF
import nnabla.solvers as S
import numpy as np

extension_module = "cudnn"
ctx = get_extension_context(extension_module)
comm = C.MultiProcessCommunicator(ctx)
comm.init()
n_devices = comm.size
mpi_rank = comm.rank
device_id = mpi_rank
ctx = get_extension_context(extension_module, device_id=device_id)

print("n_devices={}".format(n_devices))
print("mpi_rank={}".format(mpi_rank))

# Data points setting
n_class = 2
b, c, h, w = 4, 1, 32, 32

# Data points
x_data = np.random.rand(b, c, h, w)
y_data = np.random.choice(n_class, b).reshape((b, 1))
x = nn.Variable(x_data.shape)
y = nn.Variable(y_data.shape)
x.d = x_data
y.d = y_data

# Network setting
C = 1
kernel = (3, 3)
pad = (1, 1)
stride = (1, 1)

rng = np.random.RandomState(0)
w_init = UniformInitializer(
    calc_uniform_lim_glorot(C, C/2, kernel=(1, 1)),
    rng=rng)

# Network
with nn.context_scope(ctx):
    h = PF.convolution(x, C, kernel, pad, stride, w_init=w_init)
    pred = PF.affine(h, n_class, w_init=w_init)
    loss = F.mean(F.softmax_cross_entropy(pred, y))

# Solver and add parameters
solver = S.Adam()
solver.set_parameters(nn.get_parameters())

# Training steps
loss.forward()
solver.zero_grad()
loss.backward()

for n, v in nn.get_parameters().items():
    print("before all_reduce", n, v.g.ravel()[:3])

comm.all_reduce([x.grad for x in nn.get_parameters().values()], division=True)

for n, v in nn.get_parameters().items():
    print("after all_reduce", n, v.g.ravel()[:3])

solver.update()
