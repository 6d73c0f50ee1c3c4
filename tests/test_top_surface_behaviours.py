"""NdArray dtype rules, integer leaves' gradients and the experimental framework."""
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.solvers as S


def test_integer_leaf_receives_float_gradient():
    # y = 3 * x^2 read as float: dy/dx = 6x (hand-written derivative)
    x0 = np.array([[1, -2, 3], [4, 0, -5]], dtype=np.int64)
    x = nn.Variable.from_numpy_array(x0, need_grad=True)
    h = F.mul_scalar(x, 1.0)
    y = F.mul_scalar(h * h, 3.0)
    y.forward()
    x.grad.zero()
    seed = np.array([[1., 2., 3.], [0.5, 1., -1.]], np.float32)
    y.backward(seed)
    np.testing.assert_allclose(y.d, 3.0 * x0 ** 2)
    np.testing.assert_allclose(x.g, 6.0 * x0 * seed)
    assert x.g.dtype == np.float32


def test_integer_leaf_gradient_through_setitem():
    x0 = np.arange(12).reshape(3, 4)
    x = nn.Variable.from_numpy_array(x0, need_grad=True)
    u = nn.Variable.from_numpy_array(np.array([[-1, -2]]), need_grad=True)
    y = F.mul_scalar(x, 2.0)
    y[1:2, 1:3] = u
    y.forward()
    expect = 2.0 * x0
    expect[1, 1:3] = [-1, -2]
    np.testing.assert_allclose(y.d, expect)
    x.grad.zero()
    u.grad.zero()
    seed = np.arange(1, 13, dtype=np.float32).reshape(3, 4)
    y.backward(seed)
    gx = 2.0 * seed
    gx[1, 1:3] = 0
    np.testing.assert_allclose(x.g, gx)
    np.testing.assert_allclose(u.g, seed[1:2, 1:3])


def test_ndarray_dtype_follows_what_is_written():
    a = nn.NdArray((2, 3))
    with pytest.raises(RuntimeError, match=r"NdArray.dtype.*\(2, 3\)"):
        a.dtype
    assert a.data.dtype == np.float32 and a.dtype == np.float32
    for value in (np.arange(6).reshape(2, 3), np.zeros((2, 3)),
                  np.ones((2, 3), np.float16), [[1, 2, 3], [4, 5, 6]]):
        a = nn.NdArray((2, 3))
        a.data = value
        assert a.dtype == np.asarray(value).dtype
        np.testing.assert_array_equal(a.data, np.asarray(value))
    # scalars fill (kept as float32) unless an integer is beyond float64's exact range
    a = nn.NdArray((2, 3))
    a.data = 7
    assert a.data.dtype == np.float32 and (a.data == 7).all()
    big = (1 << 53) + 1
    a = nn.NdArray((2, 3))
    a.data = big
    assert a.dtype == np.int64 and (a.data == big).all()


def test_fresh_ndarray_read_by_a_function_becomes_float32():
    a = nn.NdArray((3,))
    y = F.add_scalar(a, 2.0)
    assert a.dtype == np.float32
    np.testing.assert_allclose(y.data, [2.0, 2.0, 2.0])


def test_float64_values_still_compute_as_float32_inputs():
    x = nn.Variable((2, 2))
    x.d = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert x.d.dtype == np.float64
    y = F.mul_scalar(x, 2.0)
    y.forward()
    assert y.d.dtype == np.float32
    np.testing.assert_allclose(y.d, [[2, 4], [6, 8]])


def test_number_of_references_counts_variables_sharing_memory():
    import gc
    x = nn.Variable((2, 3))
    assert x.get_number_of_references == 1
    y = F.identity(x)  # its own memory
    assert x.get_number_of_references == 1 and y.get_number_of_references == 1
    r = F.reshape(x, (3, 2))  # in place: shares x's memory
    assert x.get_number_of_references == 2 and r.get_number_of_references == 2
    other = nn.Variable((2, 3))
    other.data = x.data  # the same NdArray
    assert x.get_number_of_references == 3
    u = other.get_unlinked_variable()
    assert u.get_number_of_references == 4
    del u, other
    gc.collect()
    assert x.get_number_of_references == 2
    nn.Variable._check_exception_at_dealloc()  # nothing recorded: no error


def test_progress_callback_and_state_file(tmp_path):
    from datetime import datetime
    import nnabla.utils.progress as P
    state, seen = tmp_path / "state.txt", []
    try:
        P.configure_progress(str(state), cb=lambda s, p: seen.append((s, p)))
        P.last_state_datetime = datetime.min
        P.progress("Training", 0.25)
        assert state.read_text() == "Training (25.00%)"
        P.progress("Training", 0.5)  # throttled file write, callback still called
        assert state.read_text() == "Training (25.00%)"
        assert seen == [(None, 0.0), ("Training", 0.25), ("Training", 0.5)]
    finally:
        P.state_callback = None
        P.configure_progress("")


def test_module_state_globals_follow_the_live_state():
    import nnabla.context as C
    import nnabla.parameter as Pm
    from nnabla.ext_utils import get_extension_context
    level = C.context_level
    ctx = get_extension_context("cpu", type_config="half")
    with nn.context_scope(ctx):
        assert C.context_level == level + 1
        assert C.current_ctx.backend == ["cpu:half"]
    assert C.context_level == level
    with nn.no_grad():
        assert Pm.current_no_grad is True
    assert Pm.current_no_grad is False


def test_backward_function_utils_and_signature_utils():
    import inspect
    import nnabla.backward_function.utils as U
    from nnabla.utils.signature_utils import SignatureEx
    assert U.create_slice((4, 7), -1, front=True) == ([0, 0], [4, 3], [1, 1])
    assert U.create_slice((4, 7), 0, front=False) == ([2, 0], [4, 7], [1, 1])
    assert U.force_list((1, 2)) == [1, 2] and U.force_tuple(3) == (3,)
    dx = nn.Variable.from_numpy_array(np.arange(6.0).reshape(2, 3))
    s = U.sum_for_arithmetics(dx, nn.Variable((1, 3)))
    s.forward()
    np.testing.assert_allclose(s.d, np.arange(6.0).reshape(2, 3).sum(0, keepdims=True))

    def f(a, b=1, *args, c, **kw) -> int:
        pass
    sig = SignatureEx.from_callable(f)
    assert sig.format_argument_signature() == "a, b=1, *args, c, **kw"
    assert sig.format_return_annotation() == " -> int"
    assert sig.format_caller_argument_signature() == "a, b, *args, c=c, **kw"
    added = sig.drop_arg("b").add_arg("z", inspect.Parameter.KEYWORD_ONLY, default=3)
    assert str(added) == "(a, *args, c, z=3, **kw) -> int"


def test_image_backend_manager_is_the_registry_image_utils_uses(tmp_path):
    import nnabla.utils.image_utils as iu
    from nnabla.utils.image_utils.backend_manager import ImageUtilsBackendManager
    manager = ImageUtilsBackendManager()
    assert manager is iu.backend_manager
    assert manager.get_available_backends() == iu.get_available_backends()
    img = (np.arange(4 * 5 * 3) % 256).astype(np.uint8).reshape(4, 5, 3)
    path = str(tmp_path / "a.png")
    manager.imsave(path, img)
    np.testing.assert_array_equal(iu.imread(path), img)
    np.testing.assert_array_equal(manager.imread(path), img)
    before = iu.get_backend()
    try:
        iu.set_backend("PilBackend")
        assert manager.get_backend() == "PilBackend"
        assert type(manager.get_best_backend(path, "load")).__name__ == "PilBackend"
        with pytest.raises(ValueError, match="NoSuchBackend"):
            manager.set_backend("NoSuchBackend")
    finally:
        iu.set_backend(before)


def test_batch_normalization_in_out_adapter_round_trip():
    from nnabla.normalization_functions import BatchNormalizationInOutAdapter
    x0 = np.random.RandomState(1).randn(2, 3, 4, 5)
    ad = BatchNormalizationInOutAdapter(4, [1, 3])
    y = ad(nn.Variable.from_numpy_array(x0))
    y.forward()
    # other axes (0, 2) first, then the normalized axes (1, 3) flattened into the last one
    np.testing.assert_allclose(y.d, x0.transpose(0, 2, 1, 3).reshape(2, 4, 15), rtol=1e-6)
    z = ad.inv(y)
    z.forward()
    np.testing.assert_allclose(z.d, x0, rtol=1e-6)
    with pytest.raises(ValueError, match="single"):
        BatchNormalizationInOutAdapter(4, [1])


def test_nvml_globals():
    import threading
    import nnabla.utils.nvml as nvml
    assert isinstance(nvml.lib_load_lock, type(threading.Lock()))
    assert nvml.nvml_lib is nvml._state["lib"]


def test_graph_def_builder_globals():
    import nnabla.core.graph_def as gd
    outer = gd.proto_graph_builder
    assert outer is gd.current_graph_builder()
    with nn.graph_def.graph(name="inner"):
        assert gd.proto_graph_builder is not outer
        assert gd.previous_graph_builder is outer
    assert gd.proto_graph_builder is outer


def test_set_parameter_from_proto():
    from nnabla.utils import nnabla_pb2
    proto = nnabla_pb2.NNablaProtoBuf()
    p = proto.parameter.add()
    p.variable_name = "proto_fc/W"
    p.shape.dim.extend([2, 3])
    p.data.extend([0.5, 1, 2, 3, 4, 5])
    p.need_grad = False
    nn.clear_parameters()
    nn.parameter.set_parameter_from_proto(proto)
    got = nn.get_parameters(grad_only=False)["proto_fc/W"]
    np.testing.assert_array_equal(got.d, np.array([[0.5, 1, 2], [3, 4, 5]], np.float32))
    assert got.need_grad is False
    p.data.append(6)
    with pytest.raises(ValueError, match="proto_fc/W.*7 values.*\\(2, 3\\)"):
        nn.parameter.set_parameter_from_proto(proto)
    nn.clear_parameters()


def test_cli_load_monitoring_and_schedule_scope(monkeypatch):
    import nnabla.utils.cli.utility as U
    assert U.collect_and_shape_result(58.54, []) == [[0.0, 58.5]]
    assert U.collect_and_shape_result(12.0, [[1, 33.33]]) == [[0.0, 12.0, 1.0, 33.3]]
    reported = []
    monkeypatch.setattr(U.callback, "update_status", lambda state: reported.append(state))
    rows = U.measure_cpu_gpu_instant_load()
    if U.cpu_load_backend_ok:
        assert reported[0][0] == "cpu_gpu_load" and reported[0][1] == rows
        assert rows[0][0] == 0.0 and 0.0 <= rows[0][1]
    calls = []

    class Sched:
        def update_pre_hook(self):
            calls.append("pre")

        def update_post_hook(self):
            calls.append("post")
    with U.sechdule_scope(Sched()):
        calls.append("body")
    assert calls == ["pre", "body", "post"]


def test_cache_reader_with_prefetch(tmp_path):
    from nnabla.utils.data_source_implements import CacheReaderWithPrefetch, CachePrefetcher
    names = []
    for i in range(3):
        name = str(tmp_path / f"cache_{i}.npy")
        with open(name, "wb") as f:
            np.save(f, np.full((2, 3), i, np.float32))
            np.save(f, np.array([[i], [i + 10]]))
        names.append(name)
    reader = CacheReaderWithPrefetch(str(tmp_path), 2, ("x", "y"))
    try:
        first = reader.open_and_prefetch_cache(names[0], names[1:])
        np.testing.assert_array_equal(first["x"], np.zeros((2, 3)))
        pending = sorted(cp.file_name for cp in reader._cache_prefetchers)
        assert pending == sorted(names[1:])  # both prefetched on the two threads
        second = reader.open_and_prefetch_cache(names[1], [])
        np.testing.assert_array_equal(second["y"], [[1], [11]])
        assert all(cp.file_name is None for cp in reader._cache_prefetchers)
    finally:
        reader.close()
    cp = CachePrefetcher(str(tmp_path), ("x", "y"))
    try:
        CachePrefetcher.READ_TIMEOUT_S = 30
        import nnabla.utils.data_source_implements as dsi
        old = dsi._RETRY_WAIT_S
        dsi._RETRY_WAIT_S = 0.01
        cp.request(str(tmp_path / "missing.npy"))
        with pytest.raises(OSError, match="missing.npy"):
            cp.read()
        dsi._RETRY_WAIT_S = old
    finally:
        cp.close()
        CachePrefetcher.READ_TIMEOUT_S = 300
