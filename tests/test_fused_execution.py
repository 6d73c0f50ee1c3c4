"""The fused training step (forward, backward, update in one XLA program) keeps
NNabla's step-by-step semantics: same parameters, readable intermediates,
accumulation when zero_grad is skipped, hooks, and one compile per loop."""
from collections import OrderedDict

import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.solvers as S

SOLVERS = ["Sgd", "SgdW", "Momentum", "Lars", "Nesterov", "Adadelta", "Adagrad", "AdaBelief",
           "RMSprop", "RMSpropGraves", "Adam", "AdamW", "AdaBound", "Adamax", "AMSGRAD",
           "AMSBound", "Lamb", "Lion"]


def _mlp(batch=8):
    x = nn.Variable((batch, 6))
    t = nn.Variable((batch, 1))
    with nn.parameter_scope("l1"):
        h = F.tanh(PF.affine(x, 5))
    with nn.parameter_scope("l2"):
        y = PF.affine(h, 3)
    loss = F.mean(F.softmax_cross_entropy(y, t))
    return x, t, h, y, loss


def _data(step, batch=8):
    rs = np.random.RandomState(100 + step)
    return rs.randn(batch, 6).astype(np.float32), rs.randint(0, 3, (batch, 1)).astype(np.float32)


def _step(x, t, loss, solver, i):
    """One training step on batch ``i``: the five calls of an NNabla loop."""
    x.d, t.d = _data(i)
    loss.forward()
    solver.zero_grad()
    loss.backward()
    solver.update()


def _train(solver_name, n_steps, fused, wd=1e-3, hooks=False):
    nn.clear_parameters()
    nn.seed(7)
    x, t, h, y, loss = _mlp()
    solver = getattr(S, solver_name)()
    solver.set_parameters(nn.get_parameters())
    losses = []
    for i in range(n_steps):
        x.d, t.d = _data(i)
        if fused:
            loss.forward()
            solver.zero_grad()
            loss.backward()
            solver.weight_decay(wd)
            solver.update()
        else:
            # one program per call; with hooks, one function / parameter at a time
            hook = (lambda f: None) if hooks else None
            loss.forward(function_pre_hook=hook)
            nn.synchronize()
            solver.zero_grad()
            loss.backward(function_pre_hook=hook)
            nn.synchronize()
            solver.weight_decay(wd)
            nn.synchronize()
            solver.update(update_pre_hook=(lambda: None) if hooks else None)
            nn.synchronize()
        losses.append(float(loss.d))
    return {k: v.d.copy() for k, v in nn.get_parameters().items()}, losses


@pytest.mark.parametrize("name", SOLVERS)
def test_fused_equals_step_by_step(name):
    fused, lf = _train(name, 4, fused=True)
    ref, lr = _train(name, 4, fused=False)
    assert fused.keys() == ref.keys()
    for k in fused:
        np.testing.assert_allclose(fused[k], ref[k], rtol=2e-5, atol=2e-6, err_msg=k)
    np.testing.assert_allclose(lf, lr, rtol=1e-5)


@pytest.mark.parametrize("name", ["Sgd", "Adam"])
def test_fused_equals_function_by_function(name):
    fused, lf = _train(name, 3, fused=True)
    ref, lr = _train(name, 3, fused=False, hooks=True)
    for k in fused:
        np.testing.assert_allclose(fused[k], ref[k], rtol=2e-5, atol=2e-6, err_msg=k)
    np.testing.assert_allclose(lf, lr, rtol=1e-5)


def _reference_forward(params, xd):
    w1, b1 = params["l1/affine/W"], params["l1/affine/b"]
    w2, b2 = params["l2/affine/W"], params["l2/affine/b"]
    hd = np.tanh(xd @ w1 + b1)
    return hd, hd @ w2 + b2


def test_intermediates_readable_mid_loop():
    x, t, h, y, loss = _mlp()
    solver = S.Sgd(0.1)
    solver.set_parameters(nn.get_parameters())
    for i in range(5):
        x.d, t.d = _data(i)
        params = {k: v.d.copy() for k, v in nn.get_parameters().items()}
        loss.forward()
        solver.zero_grad()
        loss.backward()
        solver.update()
        # values of this step (before the update), read after it
        hd, yd = _reference_forward(params, x.d)
        np.testing.assert_allclose(h.d, hd, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(y.d, yd, rtol=1e-5, atol=1e-6)
        # dL/dy of softmax cross entropy, averaged over the batch
        p = np.exp(yd - yd.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        onehot = np.eye(3)[t.d[:, 0].astype(int)]
        np.testing.assert_allclose(y.g, (p - onehot) / len(yd), rtol=1e-4, atol=1e-6)
        w2 = params["l2/affine/W"]
        np.testing.assert_allclose(h.g, ((p - onehot) / len(yd)) @ w2.T, rtol=1e-4, atol=1e-6)


def test_skipping_zero_grad_accumulates():
    x, t, h, y, loss = _mlp()
    x.d, t.d = _data(0)
    w = nn.get_parameters()["l1/affine/W"]
    loss.forward()
    loss.backward()
    once = w.g.copy()
    loss.forward()
    loss.backward()
    np.testing.assert_allclose(w.g, 2 * once, rtol=1e-6)
    # a zeroed, untouched grad is skipped by update: the parameter stays
    solver = S.Sgd(1.0)
    solver.set_parameters(nn.get_parameters())
    before = w.d.copy()
    solver.zero_grad()
    solver.update()
    np.testing.assert_array_equal(w.d, before)


def test_hooks_see_every_function_in_order():
    x, t, h, y, loss = _mlp()
    x.d, t.d = _data(0)
    expected = []
    loss.visit(lambda f: expected.append(f.info.type_name))
    seen_pre, seen_post = [], []
    loss.forward(function_pre_hook=lambda f: seen_pre.append(f.info.type_name),
                 function_post_hook=lambda f: seen_post.append(f.info.type_name))
    assert seen_pre == expected == seen_post
    assert expected == ["Affine", "Tanh", "Affine", "SoftmaxCrossEntropy", "Mean"]
    back = []
    loss.backward(function_pre_hook=lambda f: back.append(f.info.type_name))
    assert back == expected[::-1]
    # the hooked forward gave the same loss as the fused one
    hooked = float(loss.d)
    loss.forward()
    np.testing.assert_allclose(float(loss.d), hooked, rtol=1e-6)


def test_static_loop_compiles_once():
    x, t, h, y, loss = _mlp()
    solver = S.Adam(1e-2)
    solver.set_parameters(nn.get_parameters())

    def step(i):
        x.d, t.d = _data(i)
        loss.forward()
        solver.zero_grad()
        loss.backward()
        solver.update()
        return float(loss.d)

    step(0)
    before = nn.compile_count()
    for i in range(1, 20):
        step(i)
        if i == 10:
            solver.set_learning_rate(1e-3)  # an argument, not a constant
    assert nn.compile_count() == before


def test_dynamic_graph_rebuilt_hits_cache():
    nn.set_auto_forward(True)
    try:
        x = nn.Variable((8, 6))
        t = nn.Variable((8, 1))
        with nn.parameter_scope("l1"):
            PF.affine(x, 5)
        solver = S.Sgd(0.1)
        solver.set_parameters(nn.get_parameters())
        counts = []
        for i in range(6):
            x.d, t.d = _data(i)
            with nn.parameter_scope("l1"):
                h = F.tanh(PF.affine(x, 5))
            with nn.parameter_scope("l2"):
                y = PF.affine(h, 3)
            loss = F.mean(F.softmax_cross_entropy(y, t))
            if i == 0:
                solver.set_parameters(nn.get_parameters(), reset=False, retain_state=True)
            solver.zero_grad()
            loss.backward()
            solver.update()
            float(loss.d)
            counts.append(nn.compile_count())
        assert counts[-1] == counts[1], counts
    finally:
        nn.set_auto_forward(False)


def test_forward_only_runs_only_the_forward():
    x, t, h, y, loss = _mlp()
    x.d, t.d = _data(0)
    solver = S.Sgd(0.1)
    solver.set_parameters(nn.get_parameters())
    loss.forward(clear_buffer=True)
    nn.synchronize()
    assert nn.compile_stats().last_ops == ("forward",)
    loss.forward()
    solver.zero_grad()
    loss.backward()
    solver.update()
    nn.synchronize()
    assert nn.compile_stats().last_ops == ("forward", "backward", "update")


def _reference_grads(params, xd, td):
    """dLoss/dparams of the _mlp network, by hand (softmax cross entropy, mean)."""
    hd, yd = _reference_forward(params, xd)
    p = np.exp(yd - yd.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    dy = (p - np.eye(3)[td[:, 0].astype(int)]) / len(yd)
    dh = dy @ params["l2/affine/W"].T * (1 - hd ** 2)
    return {"l1/affine/W": xd.T @ dh, "l1/affine/b": dh.sum(0),
            "l2/affine/W": hd.T @ dy, "l2/affine/b": dy.sum(0)}


def test_training_step_leaves_grads_out_until_read():
    x, t, h, y, loss = _mlp()
    solver = S.Sgd(0.1)
    params = nn.get_parameters()
    solver.set_parameters(params)

    def step(i):
        x.d, t.d = _data(i)
        before = {k: v.d.copy() for k, v in params.items()}
        loss.forward()
        solver.zero_grad()
        loss.backward()
        solver.update()
        nn.synchronize()
        return before

    for i in range(3):
        step(i)
    assert all(v.grad._lazy is not None for v in params.values())  # not returned
    before = step(3)
    recomputes = nn.compile_stats().recomputes
    ref = _reference_grads(before, x.d, t.d)
    for k, v in params.items():  # read after the update: this step's gradient
        np.testing.assert_allclose(v.g, ref[k], rtol=1e-4, atol=1e-6, err_msg=k)
        np.testing.assert_allclose(v.d, before[k] - 0.1 * ref[k], rtol=1e-4, atol=1e-6)
    assert nn.compile_stats().recomputes == recomputes + 1  # all four in one recompute
    # read once: later steps hand them back
    for i in range(4, 6):
        before = step(i)
        assert all(v.grad._lazy is None for v in params.values())
    ref = _reference_grads(before, x.d, t.d)
    for k, v in params.items():
        np.testing.assert_allclose(v.g, ref[k], rtol=1e-4, atol=1e-6, err_msg=k)
    assert nn.compile_stats().recomputes == recomputes + 1


def test_left_out_grad_accumulates_when_zero_grad_is_skipped():
    x, t, h, y, loss = _mlp()
    solver = S.Sgd(0.0)  # the parameters stay: each backward adds the same gradient
    params = nn.get_parameters()
    solver.set_parameters(params)
    x.d, t.d = _data(0)
    before = {k: v.d.copy() for k, v in params.items()}
    loss.forward()
    solver.zero_grad()
    loss.backward()
    solver.update()
    loss.forward()
    loss.backward()  # no zero_grad: the left-out grad is computed, then added to
    solver.update()
    ref = _reference_grads(before, x.d, t.d)
    for k, v in params.items():
        np.testing.assert_allclose(v.g, 2 * ref[k], rtol=1e-4, atol=1e-6, err_msg=k)


def test_step_count_advances_on_the_host():
    x, t, h, y, loss = _mlp()
    solver = S.Adam(1e-2)
    params = nn.get_parameters()
    solver.set_parameters(params)
    w = params["l1/affine/W"]
    for i in range(3):
        _step(x, t, loss, solver, i)
    assert {s.t for s in solver.get_states().values()} == {3}
    # a state written back with a large t: Adam's bias correction reads it
    states = solver.get_states()
    big = 10 ** 6
    for s in states.values():
        s.t = big
    solver.set_states(states)
    m0 = states["l1/affine/W"].pstate["mean"].d.copy()
    v0 = states["l1/affine/W"].pstate["var"].d.copy()
    w0 = w.d.copy()
    x.d, t.d = _data(5)
    loss.forward()
    solver.zero_grad()
    loss.backward()
    solver.update()
    g = w.g.copy()
    m = 0.9 * m0 + 0.1 * g
    v = 0.999 * v0 + 0.001 * g * g
    tt = big + 1
    lr_t = 1e-2 * np.sqrt(1 - 0.999 ** tt) / (1 - 0.9 ** tt)
    np.testing.assert_allclose(w.d, w0 - lr_t * m / (np.sqrt(v) + 1e-8), rtol=1e-5, atol=1e-7)
    assert solver.get_states()["l1/affine/W"].t == tt
    # the count stops at the largest int32 step
    from nnjax._solver_step import T_MAX
    for s in states.values():
        s.t = T_MAX
    solver.set_states(states)
    loss.forward()
    solver.zero_grad()
    loss.backward()
    solver.update()
    assert solver.get_states()["l1/affine/W"].t == T_MAX


def _adam_run(n_steps, hold_view=False):
    nn.clear_parameters()
    nn.seed(3)
    x, t, h, y, loss = _mlp()
    solver = S.Adam(1e-2)
    solver.set_parameters(nn.get_parameters())
    views = []
    for i in range(n_steps):
        _step(x, t, loss, solver, i)
        if hold_view:  # a read-only view of a state, held across later steps
            m = solver.get_states()["l1/affine/W"].pstate["mean"]
            views.append((m.data.get_data("r"), m.data.get_data("r").copy()))
    params = {k: v.d.copy() for k, v in nn.get_parameters().items()}
    return params, float(loss.d), views, solver


def test_solver_states_are_donated_and_results_unchanged(monkeypatch):
    from nnjax import _queue
    counts = []
    real = _queue.donated_inputs

    def spy(*args):
        slots, values = real(*args)
        counts.append(len(slots))
        return slots, values
    monkeypatch.setattr(_queue, "donated_inputs", spy)
    donated, loss_d, _, _ = _adam_run(5)
    assert counts[-1] == 8  # Adam's two states of each of the four parameters
    monkeypatch.setenv("NNJAX_DONATE", "0")
    counts.clear()
    kept, loss_k, _, _ = _adam_run(5)
    assert set(counts) == {0}
    for k in donated:
        np.testing.assert_array_equal(donated[k], kept[k], err_msg=k)
    assert loss_d == loss_k


def test_each_donated_state_is_updated_in_its_own_buffer():
    # jax hands each result the first unused donated buffer of its shape: the step
    # returns the states' new values before the parameters', so every state stays in
    # its buffer (a parameter written first took its mean's buffer, and XLA copied
    # every state of the step)
    nn.clear_parameters()
    nn.seed(3)
    x, t, h, y, loss = _mlp()
    solver = S.Adam(1e-2)
    solver.set_parameters(nn.get_parameters())
    buffers = None
    for i in range(5):
        _step(x, t, loss, solver, i)
        nn.synchronize()
        now = {(name, k): a._head.unsafe_buffer_pointer()
               for name, slot in solver._slots.items() for k, a in slot.states.items()}
        if i >= 2:  # (the first steps start from fills and run unfused)
            assert now == buffers
        buffers = now
    assert len(buffers) == 8


def test_a_held_state_is_donated_as_a_copy(monkeypatch):
    # a view of a state held across steps: a copy of the state is donated, so the
    # view keeps the values it was taken with and the step keeps its one program
    # (a step without donation is another program: another XLA compile)
    from nnjax import _queue
    donations = []  # (donors, donated) of each flush that has donors
    real = _queue.donated_inputs

    def spy(donors, *args):
        slots, values = real(donors, *args)
        if donors:
            donations.append((len(donors), len(slots)))
        return slots, values
    monkeypatch.setattr(_queue, "donated_inputs", spy)
    held, loss_held, views, _ = _adam_run(6, hold_view=True)
    for view, copy in views:  # every view still shows the values it was taken with
        np.testing.assert_array_equal(view, copy)
    assert len(donations) >= 4 and all(n == d == 8 for n, d in donations), donations
    free, loss_free, _, _ = _adam_run(6)
    for k in free:
        np.testing.assert_array_equal(held[k], free[k], err_msg=k)
    assert loss_held == loss_free


def test_parameters_given_in_another_order_share_the_training_step(monkeypatch):
    # NNabla's file loaders may register a network's parameters in another order;
    # the updates run by name, so both orders train with one program
    from nnjax import _queue
    step_compiles = []
    real = _queue.compile_layout

    def spy(templates, layout, *args):
        if "update" in layout.kinds:
            step_compiles.append(layout.structure_id)
        return real(templates, layout, *args)
    monkeypatch.setattr(_queue, "compile_layout", spy)
    rs = np.random.RandomState(0)
    batches = [(rs.randn(7, 9), rs.randint(0, 4, (7, 1))) for _ in range(5)]
    trained, compiled = [], []
    for order in (1, -1):
        nn.clear_parameters()
        nn.seed(5)
        x, t = nn.Variable((7, 9)), nn.Variable((7, 1))
        with nn.parameter_scope("a"):
            h = F.tanh(PF.affine(x, 4))
        with nn.parameter_scope("b"):
            loss = F.mean(F.softmax_cross_entropy(PF.affine(h, 4), t))
        solver = S.Momentum(0.1, 0.9)
        solver.set_parameters(OrderedDict(list(nn.get_parameters().items())[::order]))
        assert list(solver.get_parameters())[0] == ("a/affine/W" if order == 1 else "b/affine/b")
        for xb, tb in batches:
            x.d, t.d = xb, tb
            loss.forward()
            solver.zero_grad()
            loss.backward()
            solver.update()
        trained.append({k: v.d.copy() for k, v in nn.get_parameters().items()})
        compiled.append(len(step_compiles))
    assert compiled[0] >= 1 and compiled[1] == compiled[0]
    for k in trained[0]:
        np.testing.assert_array_equal(trained[0][k], trained[1][k], err_msg=k)


def _conv_bn_train(n_steps, hooked, read_after=False):
    nn.clear_parameters()
    nn.seed(11)
    rng = np.random.RandomState(5)
    x = nn.Variable((8, 2, 6, 6))
    t = nn.Variable((8, 1))
    with nn.parameter_scope("c1"):
        h = PF.convolution(x, 4, (3, 3))
        h = PF.batch_normalization(h)
    h = F.dropout(F.relu(h), 0.25)
    with nn.parameter_scope("f2"):
        y = PF.affine(h, 3)
    loss = F.mean(F.softmax_cross_entropy(y, t))
    solver = S.Momentum(0.1, 0.9)
    solver.set_parameters(nn.get_parameters())
    hook = (lambda f: None) if hooked else None
    seen = []
    for i in range(n_steps):
        x.d = rng.randn(8, 2, 6, 6)
        t.d = rng.randint(0, 3, (8, 1))
        loss.forward(function_pre_hook=hook)
        solver.zero_grad()
        loss.backward(function_pre_hook=hook)
        solver.update()
        if read_after:  # this step's values, read after the update
            seen.append((h.d.copy(), nn.get_parameters()["c1/conv/W"].g.copy()))
    state = {k: v.d.copy() for k, v in nn.get_parameters(grad_only=False).items()}
    return state, float(loss.d), seen


def test_forward_and_backward_join_in_one_op(monkeypatch):
    from nnjax import _backward
    merged = []
    real = _backward.merged_op

    def spy(*args):
        op = real(*args)
        merged.append(op is not None)
        return op
    monkeypatch.setattr(_backward, "merged_op", spy)
    fused, loss_f, seen_f = _conv_bn_train(4, hooked=False, read_after=True)
    assert merged and all(merged[1:])  # every fused step after the first
    assert nn.compile_stats().last_ops == ("forward", "backward", "update")
    ref, loss_r, seen_r = _conv_bn_train(4, hooked=True, read_after=True)
    assert fused.keys() == ref.keys()
    for k in fused:  # parameters and the running statistics the forward updated
        np.testing.assert_allclose(fused[k], ref[k], rtol=1e-5, atol=1e-6, err_msg=k)
    np.testing.assert_allclose(loss_f, loss_r, rtol=1e-5)
    for (hf, gf), (hr, gr) in zip(seen_f, seen_r):  # dropout masks and grads agree
        np.testing.assert_allclose(hf, hr, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(gf, gr, rtol=1e-4, atol=1e-6)


def test_a_settled_loop_follows_steps_that_change_what_its_inputs_hold():
    """Once a loop's flushes repeat, the queue takes its inputs as the last flush
    found them: a step that skips zero_grad (the grads hold values, not zero fills),
    a parameter written from numpy and a float64 batch must still be seen."""
    x, t, h, y, loss = _mlp()
    lr, mom = 0.1, 0.9
    solver = S.Momentum(lr, mom)
    params = nn.get_parameters()
    solver.set_parameters(params)
    ref = {k: v.d.copy() for k, v in params.items()}
    velocity = {k: np.zeros_like(v) for k, v in ref.items()}
    rs = np.random.RandomState(3)
    last = None
    compiles = None
    for i in range(12):
        xd, td = _data(i)
        if i == 9:
            xd = xd.astype(np.float64)
        x.d, t.d = xd, td
        if i == 6:
            new = rs.randn(*ref["l2/affine/W"].shape).astype(np.float32)
            params["l2/affine/W"].d = new
            ref["l2/affine/W"] = new.copy()
        loss.forward()
        if i != 4:
            solver.zero_grad()
        loss.backward()
        solver.update()
        grads = _reference_grads(ref, xd.astype(np.float32), td)
        if i == 4:  # added to the grads step 3 left
            grads = {k: g + last[k] for k, g in grads.items()}
        last = grads
        for k in ref:
            velocity[k] = mom * velocity[k] + lr * grads[k]
            ref[k] = ref[k] - velocity[k]
        if i == 7:
            compiles = nn.compile_count()
    for k, v in params.items():
        np.testing.assert_allclose(v.d, ref[k], rtol=1e-4, atol=1e-6, err_msg=k)
    # (the accumulating step, the recompute of the grads it read and the steps that
    # then return those grads are programs of their own;) the float64 batch and the
    # parameter written from numpy run the loop's program
    assert nn.compile_count() == compiles


def test_a_settled_loop_takes_its_inputs_in_one_look(monkeypatch):
    """Steps after the first few neither work out the inputs' kinds again nor look
    the program up by key (nnjax/_flush_inputs.py, values_of_same_kinds), and update
    the parameters as Sgd does by hand."""
    from nnjax import _queue
    x, t, h, y, loss = _mlp()
    lr = 0.1
    solver = S.Sgd(lr)
    params = nn.get_parameters()
    solver.set_parameters(params)
    for i in range(4):
        _step(x, t, loss, solver, i)
    nn.synchronize()
    ref = {k: v.d.copy() for k, v in params.items()}
    slow = []
    original = _queue.input_values
    monkeypatch.setattr(_queue, "input_values", lambda inputs: slow.append(1) or original(inputs))
    monkeypatch.setattr(_queue, "program_signature", None)  # (a call would raise)
    for i in range(4, 8):
        _step(x, t, loss, solver, i)
        xd, td = _data(i)
        for k, g in _reference_grads(ref, xd, td).items():
            ref[k] = ref[k] - lr * g
    nn.synchronize()
    assert not slow
    for k, v in params.items():
        np.testing.assert_allclose(v.d, ref[k], rtol=1e-4, atol=1e-6, err_msg=k)
