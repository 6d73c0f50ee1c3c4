"""nnabla.communicators: every method in a world of one process (in this process), the
collectives, sync batch normalization and data-parallel training over two processes
(tests/comm_worker.py under the launcher), the launcher ending a failed job, and a rank
whose peer died ending with an error in bounded time."""
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import nnabla as nn
import nnabla.communicators as C
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.solvers as S
from nnabla.utils import communicator_util

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORLD_VARS = ("NNJAX_NUM_PROCESSES", "NNJAX_PROCESS_ID", "NNJAX_COORDINATOR",
              "NNJAX_LOCAL_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK",
              "OMPI_COMM_WORLD_LOCAL_RANK", "NNJAX_AUTO_DETECT")


@pytest.fixture
def comm(monkeypatch):
    for name in WORLD_VARS:
        monkeypatch.delenv(name, raising=False)
    c = C.MultiProcessCommunicator(None)
    c.init()
    return c


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in WORLD_VARS}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def _run(command, timeout, env=None):
    """Run ``command`` in its own session; on timeout end that session and fail."""
    proc = subprocess.Popen(command, env=env or _env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        pytest.fail(f"{command} did not end within {timeout} s")
    return proc.returncode, out.decode(errors="replace")


# ------------------------------------------------------------ one process
def test_names_and_world_of_one(comm):
    assert C.MultiProcessCommunicator is C.MultiProcessDataParallelCommunicator
    assert C.MultiProcessDataParalellCommunicator is C.Comm is C.Dist is \
        C.MultiProcessDataParallelCommunicator
    assert (comm.size, comm.rank, comm.local_rank) == (1, 0, 0)
    assert comm.name == "MultiProcessDataParallelCommunicator"
    assert comm.list_groups() == {"world": [0]}
    assert comm.new_group(("me", [0])) == "me"
    assert comm.find_group("me") == [0] and comm.find_group("nobody") == []
    comm.barrier()
    with pytest.raises(RuntimeError, match="already initialized"):
        comm.init()
    with pytest.raises(ValueError, match="distinct ranks"):
        comm.new_group(("bad", [0, 1]))


def test_collectives_of_one_process_leave_data(comm, rng):
    values = [rng.randn(3, 4).astype(np.float32), rng.randn(5).astype(np.float32)]
    xs = [nn.NdArray.from_numpy_array(v) for v in values]
    z = nn.NdArray((2,))
    z.zero()
    comm.all_reduce(xs + [z], division=True, inplace=True)
    comm.reduce(xs, 0, division=False)
    comm.bcast(xs, 0)
    for x, v in zip(xs, values):
        np.testing.assert_array_equal(x.data, v)
    assert z.zeroing
    out = nn.NdArray((3, 4))
    comm.all_gather(xs[0], [out])
    np.testing.assert_array_equal(out.data, values[0])
    out2 = nn.NdArray((3, 4))
    comm.reduce_scatter([xs[0]], out2, division=True)
    np.testing.assert_array_equal(out2.data, values[0])


def test_bad_arguments_name_the_method(comm):
    x = nn.Variable((2,))
    with pytest.raises(TypeError, match=r"all_reduce: expected an NdArray.*\.grad"):
        comm.all_reduce(x)
    with pytest.raises(ValueError, match="no group named 'nope'"):
        comm.all_reduce(x.data, group="nope")
    with pytest.raises(ValueError, match="src=1 is not in group"):
        comm.bcast(x.data, 1)
    with pytest.raises(ValueError, match="ndarray_list has 2 arrays for a group of 1"):
        comm.all_gather(x.data, [nn.NdArray((2,)), nn.NdArray((2,))])
    with pytest.raises(ValueError, match="pack_size must be positive"):
        comm.all_reduce_callback([x.grad], 0)


def test_all_reduce_callback_scales_gradients(comm):
    x = nn.Variable.from_numpy_array(np.array([[1.0, 2.0]], np.float32))
    loss = F.sum(PF.affine(x, 1, name="fc") ** 2)
    params = list(nn.get_parameters().values())
    for p in params:
        p.d = 0.5
    loss.forward()
    loss.backward()
    plain = [p.g.copy() for p in params]
    for p in params:
        p.grad.zero()
    loss.backward(communicator_callbacks=comm.all_reduce_callback(
        [p.grad for p in params], 8, scale_grad=0.25))
    for p, g in zip(params, plain):
        np.testing.assert_allclose(p.g, 0.25 * g, rtol=1e-6)
    # loss = (0.5 + 0.5 * (1 + 2))^2: dW = 2 * 2 * x, db = 2 * 2
    np.testing.assert_allclose(plain[0].ravel(), [4.0, 8.0], rtol=1e-6)


def test_training_step_of_one_process_is_one_program(comm):
    """In a world of one, all_reduce after backward queues nothing: the step stays the
    single-process program (forward, backward, update) and trains as without it."""
    x = nn.Variable.from_numpy_array(np.array([[1.0, -2.0], [0.5, 3.0]], np.float32))
    loss = F.mean(PF.affine(x, 1, name="fc1") ** 2)
    params = nn.get_parameters()
    for p in params.values():
        p.d = 0.5
    solver = S.Sgd(0.1)
    solver.set_parameters(params)
    stats = nn.compile_stats()
    for step in range(2):
        loss.forward()
        solver.zero_grad()
        loss.backward()
        comm.all_reduce([p.grad for p in params.values()], division=True)
        solver.update()
        before = stats.executions
        got = params["fc1/affine/W"].d.copy()
        assert stats.executions == before + 1
        assert stats.last_ops == ("forward", "backward", "update")
    # two SGD steps of mean((x w + b)^2), by hand in numpy
    w, b = np.full((2, 1), 0.5), 0.5
    for _ in range(2):
        r = x.d @ w + b
        w, b = w - 0.1 * (2 * x.d.T @ r / 2), b - 0.1 * (2 * r.mean())
    np.testing.assert_allclose(got, w, rtol=1e-5)
    np.testing.assert_allclose(params["fc1/affine/b"].d, [b], rtol=1e-5)


def test_deprecated_allreduce_and_data_parallel_copies():
    comm = C.DataParallelCommunicator(None)
    comm.init()
    grads = {}
    for i in range(2):
        with nn.parameter_scope(f"copy{i}"):
            w = nn.parameter.get_parameter_or_create("w", (3,))
            w.g = np.full(3, i + 1.0, np.float32)
            grads[i] = w
            comm.add_context_and_parameters((f"ctx{i}", nn.get_parameters()))
    with pytest.warns(DeprecationWarning):
        comm.allreduce(division=True)
    for w in grads.values():
        np.testing.assert_allclose(w.g, [1.5, 1.5, 1.5])
    comm.clear_context_parameters()
    with pytest.raises(RuntimeError, match="no parameters were added"), \
            pytest.warns(DeprecationWarning):
        comm.allreduce()
    with pytest.raises(TypeError, match="tuple"):
        comm.add_context_and_parameters([None, {}])


def test_sync_bn_of_one_process_is_batch_normalization(comm, rng):
    x = nn.Variable.from_numpy_array(rng.randn(4, 3, 2).astype(np.float32))
    with nn.parameter_scope("s"):
        ys = PF.sync_batch_normalization(x, comm)
    with nn.parameter_scope("b"):
        yb = PF.batch_normalization(x)
    F.sink(ys, yb).forward()
    np.testing.assert_allclose(ys.d, yb.d, rtol=1e-6, atol=1e-6)
    with nn.parameter_scope("s"):
        mean = nn.get_parameters(grad_only=False)["bn/mean"].d
    np.testing.assert_allclose(mean.ravel(), 0.1 * x.d.mean(axis=(0, 2)), rtol=1e-5)


def test_create_communicator_without_mpi_is_none(monkeypatch):
    for name in WORLD_VARS:
        monkeypatch.delenv(name, raising=False)
    assert communicator_util.create_communicator() is None
    assert communicator_util.current_communicator() is None
    assert communicator_util.single_or_rankzero()


def test_world_from_the_launcher_or_openmpi(monkeypatch):
    from nnjax.communicators._runtime import World, detect_world
    for name in WORLD_VARS + ("MASTER_ADDR", "MASTER_PORT", "NNJAX_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert detect_world() == World(1, 0, 0, "")
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "3")
    monkeypatch.setenv("OMPI_COMM_WORLD_LOCAL_RANK", "1")
    monkeypatch.setenv("MASTER_ADDR", "10.0.0.2")
    assert detect_world() == World(4, 3, 1, "10.0.0.2:29517")
    monkeypatch.setenv("NNJAX_NUM_PROCESSES", "2")   # the launcher's variables come first
    monkeypatch.setenv("NNJAX_PROCESS_ID", "1")
    monkeypatch.setenv("NNJAX_COORDINATOR", "127.0.0.1:5000")
    assert detect_world() == World(2, 1, 1, "127.0.0.1:5000")
    monkeypatch.setenv("NNJAX_PROCESS_ID", "2")
    with pytest.raises(ValueError, match="rank 2 is not in a world of 2"):
        detect_world()
    monkeypatch.setenv("NNJAX_PROCESS_ID", "one")
    with pytest.raises(ValueError, match="NNJAX_PROCESS_ID='one' is not an integer"):
        detect_world()


def test_launcher_command_line():
    from nnjax.distributed._launch import _split, main
    assert _split(["-n", "2", "--timeout=5", "train.py", "-n", "7"]) == \
        (["-n", "2", "--timeout=5"], ["train.py", "-n", "7"])
    assert _split(["-n", "2", "-m", "pytest", "-q"]) == (["-n", "2"], ["-m", "pytest", "-q"])
    assert main(["-n", "2", "no_such_script.py"]) == 2
    assert main(["-n", "0", "x.py"]) == 2


def test_init_after_computing_is_refused():
    code = ("import numpy as np, nnabla as nn, nnabla.functions as F, nnabla.communicators as C\n"
            "x = nn.Variable.from_numpy_array(np.ones(2)); y = F.tanh(x); y.forward(); y.d\n"
            "C.MultiProcessCommunicator(None).init()\n")
    rc, out = _run([sys.executable, "-c", code], 60,
                   _env(NNJAX_NUM_PROCESSES="2", NNJAX_PROCESS_ID="0"))
    assert rc != 0 and "Create the communicator and call comm.init() first" in out, out


# ------------------------------------------------------------ two processes
def test_two_processes_collectives_sync_bn_and_training():
    rc, out = _run([sys.executable, "-m", "nnabla.distributed", "-n", "2", "--timeout", "150",
                    os.path.join(HERE, "comm_worker.py")], 180)
    assert rc == 0, out
    assert "[0] rank 0: all checks passed" in out and "[1] rank 1: all checks passed" in out


def test_launcher_ends_the_job_when_a_rank_fails():
    code = ("import os, sys, time\n"
            "if os.environ['NNJAX_PROCESS_ID'] == '1': print('bye'); sys.exit(3)\n"
            "time.sleep(60)\n")
    start = time.monotonic()
    script = ("import sys; from nnjax.distributed import launch; "
              f"sys.exit(launch([sys.executable, '-c', {code!r}], 2))")
    rc, out = _run([sys.executable, "-c", script], 60)
    assert rc == 3, out
    assert "[1] bye" in out and "rank 1 failed with status 3" in out, out
    assert time.monotonic() - start < 30


def test_dead_peer_ends_the_survivor_with_an_error():
    code = ("import os, numpy as np, nnabla as nn, nnabla.communicators as C\n"
            "comm = C.MultiProcessCommunicator(None); comm.init()\n"
            "x = nn.NdArray.from_numpy_array(np.ones(3, np.float32)); comm.all_reduce(x)\n"
            "if comm.rank == 1: os._exit(0)\n"
            "import time; time.sleep(0.5); comm.all_reduce(x)\n"
            "print('survivor was not stopped')\n")
    from nnjax.distributed._launch import free_port
    env = dict(NNJAX_COORDINATOR=f"127.0.0.1:{free_port()}", NNJAX_NUM_PROCESSES="2",
               NNJAX_HEARTBEAT_TIMEOUT="2", NNJAX_COLLECTIVE_TIMEOUT="10")
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT,
                              env=_env(NNJAX_PROCESS_ID=str(r), **env),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True) for r in range(2)]
    start = time.monotonic()
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=60)[0].decode(errors="replace"))
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, 9)
                p.wait()
    assert procs[1].returncode == 0, outs[1]
    assert procs[0].returncode != 0, outs[0]
    # gloo reports the closed connection at once; were it to wait instead, the
    # collective's watchdog ends the process (NNJAX_COLLECTIVE_TIMEOUT)
    assert "rank 0: all_reduce on group 'world' failed" in outs[0] or \
        "Timeout (0:00:10)!" in outs[0], outs[0]
    assert "survivor was not stopped" not in outs[0]
    assert time.monotonic() - start < 45


def test_a_peer_that_never_joins_ends_the_job_in_bounded_time():
    code = ("import time, numpy as np, nnabla as nn, nnabla.communicators as C\n"
            "comm = C.MultiProcessCommunicator(None); comm.init()\n"
            "x = nn.NdArray.from_numpy_array(np.ones(3, np.float32))\n"
            "if comm.rank == 1: time.sleep(60)\n"
            "comm.all_reduce(x); print('all_reduce returned without its peer')\n")
    script = ("import sys; from nnjax.distributed import launch; "
              f"sys.exit(launch([sys.executable, '-c', {code!r}], 2))")
    start = time.monotonic()
    rc, out = _run([sys.executable, "-c", script], 90, _env(NNJAX_COLLECTIVE_TIMEOUT="3"))
    assert rc != 0, out
    assert "[0] Timeout (0:00:03)!" in out and "in all_reduce" in out, out
    assert "rank 0 failed" in out and "returned without its peer" not in out, out
    assert time.monotonic() - start < 45
