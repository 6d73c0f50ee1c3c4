"""NNabla's small public modules on nnjax: callback hooks, recompute, random
seeds, array-class preference, extension helpers, and the module-surface script."""
import numpy as np
import pytest

import nnabla as nn
import nnabla.functions as F
import nnabla.random as R
import nnabla.solvers as S
from nnabla import callback


def test_global_function_hooks_run_around_each_function():
    x = nn.Variable.from_numpy_array(np.array([0.5, 1.0], np.float32), need_grad=True)
    y = F.sum(F.sin(x) * 2)
    seen = []
    callback.set_function_pre_hook("pre", lambda f: seen.append(("pre", f.info.type_name)))
    callback.set_function_post_hook("post", lambda f: seen.append(("post", f.info.type_name)))
    try:
        y.forward()
        y.backward()
    finally:
        callback.unset_function_pre_hook("pre")
        callback.unset_function_post_hook("post")
    names = [n for k, n in seen if k == "pre"]
    assert names[:3] == ["Sin", "MulScalar", "Sum"]        # forward order
    assert names[3:] == ["Sum", "MulScalar", "Sin"]        # backward order
    assert len(seen) == 12
    np.testing.assert_allclose(x.g, 2 * np.cos([0.5, 1.0]), rtol=1e-6)
    seen.clear()
    y.forward()
    assert seen == []


def test_global_solver_hooks_run_per_parameter():
    with nn.parameter_scope("hooks"):
        w = nn.parameter.get_parameter_or_create("w", (3,), need_grad=True)
        b = nn.parameter.get_parameter_or_create("b", (2,), need_grad=True)
    solver = S.Sgd(lr=0.5)
    solver.set_parameters({"w": w, "b": b})
    w.d, b.d = 1.0, 2.0
    w.g, b.g = 1.0, 1.0
    calls = []
    callback.set_solver_pre_hook("count", lambda: calls.append("pre"))
    callback.set_solver_post_hook("count", lambda: calls.append("post"))
    try:
        solver.update()
    finally:
        callback.unset_solver_pre_hook("count")
        callback.unset_solver_post_hook("count")
    assert calls == ["pre", "post", "pre", "post"]
    np.testing.assert_allclose(w.d, 0.5)
    np.testing.assert_allclose(b.d, 1.5)
    with pytest.raises(TypeError, match="callable"):
        callback.set_solver_pre_hook("bad", 3)


def test_recompute_scopes_set_the_flag():
    x = nn.Variable((2,))
    with nn.recompute():
        a = F.sin(x)
        with nn.recompute(False):
            b = F.sin(a)

    @nn.recompute_fn()
    def net(v):
        return F.cos(v)
    c = net(x)
    d = F.exp(x)
    assert (a.recompute, b.recompute, c.recompute, d.recompute) == (True, False, True, False)


def test_random_seed_parts():
    nn.seed(42)
    assert R.pseed == 42
    assert R.prng.rand() == np.random.RandomState(42).rand()
    R.set_parameter_seed(7)
    assert R.pseed == 7
    R.set_function_seed(9)
    assert R.pseed == 7
    with pytest.raises(TypeError, match="int"):
        nn.seed(1.5)


def test_array_class_preference_orders_cached_first():
    nn.reset_array_preference()
    assert nn.array_classes() == ["CpuCachedArray", "CpuArray"]
    nn.prefer_cached_array(False)
    assert nn.array_classes() == ["CpuArray", "CpuCachedArray"]
    import nnabla_ext.cuda as cuda
    assert cuda.array_classes()[0] == "CudaArray"
    nn.prefer_cached_array(True)
    assert nn.array_classes()[0] == "CpuCachedArray"
    assert cuda.array_classes()[-1] == "CudaArray"


def test_cpu_extension_helpers():
    import nnabla_ext.cpu as cpu
    x = nn.NdArray.from_numpy_array(np.ones(3, np.float32))
    y = x + 1
    cpu.device_synchronize("0")
    np.testing.assert_array_equal(y.data, [2, 2, 2])
    assert cpu.get_devices() == ["0"]
    assert cpu.context().backend == ["cpu:float"]


def test_module_paths_resolve_to_the_same_objects():
    import importlib
    # as in NNabla, the package attribute stays the function of the module's name
    af = importlib.import_module("nnabla.auto_forward")
    grad_module = importlib.import_module("nnabla.grad")
    variable = importlib.import_module("nnabla.variable")
    nd = importlib.import_module("nnabla._nd_array")
    assert af.auto_forward is nn.auto_forward
    assert variable.Variable is nn.Variable and nd.NdArray is nn.NdArray
    assert callable(nn.grad) and nn.grad is grad_module.grad


def test_surface_script_reads_names_and_reports_missing(tmp_path):
    from nnjax import _surface
    pkg = tmp_path / "python" / "src" / "nnabla"
    (pkg / "utils").mkdir(parents=True)
    (tmp_path / "python" / "src" / "nnabla_ext").mkdir()
    (pkg / "__init__.py").write_text("from .variable import Variable, Context\nfrom ._x import _hidden\n")
    (pkg / "callback.pyx").write_text("def set_function_pre_hook(string key, object f):\n"
                                      "    pass\ncdef class Hidden:\n    pass\n")
    (pkg / "utils" / "rnn.py").write_text("__all__ = ['pack_sequence', 'not_in_nnjax_xyz']\n")
    (pkg / "utils" / "fancy.py").write_text("def shown():\n    pass\ndef _private():\n"
                                            "    pass\nCONST = 1\n")
    rows = {r["module"]: r for r in _surface.check(_surface.nnabla_modules(tmp_path))}
    assert rows["nnabla"]["expected"] == 2 and rows["nnabla"]["missing"] == []
    assert rows["nnabla.callback"]["expected"] == 2      # the def and the cdef class
    assert rows["nnabla.callback"]["missing"] == ["Hidden"]
    assert rows["nnabla.utils.rnn"]["missing"] == ["not_in_nnjax_xyz"]
    assert rows["nnabla.utils.fancy"]["import_error"].startswith("ModuleNotFoundError")
    assert rows["nnabla.utils.fancy"]["missing"] == ["CONST", "shown"]
    status = tmp_path / "STATUS.md"
    status.write_text("# Status\n\nfunction table\n")
    _surface.replace_section(str(status), _surface.format_markdown(list(rows.values())))
    _surface.replace_section(str(status), _surface.format_markdown(list(rows.values())))
    text = status.read_text()
    assert text.startswith("# Status\n\nfunction table\n") and text.count(_surface.SECTION) == 1
    assert "`not_in_nnjax_xyz`" in text
    assert _surface.main([str(tmp_path / "nowhere")]) == 2


def test_status_regeneration_keeps_the_surface_section(tmp_path):
    from nnjax import _status, _surface
    path = tmp_path / "STATUS.md"
    path.write_text("old table\n\n" + _surface.SECTION + "\n\n| `nnabla.x` | 1 | 1 |  |\n")
    _status.main(["--markdown", str(path)])
    text = path.read_text()
    assert "old table" not in text and text.count(_surface.SECTION) == 1
    assert text.rstrip().endswith("| `nnabla.x` | 1 | 1 |  |")
    assert "| function |" in text or "Affine" in text


def test_small_compat_modules():
    import nnabla.dtypes as dtypes
    from nnabla.contrib.context import extension_context
    from nnabla.utils.py23_compatible import getargspec
    from nnabla.utils.nnp_format import nnp_version
    assert dtypes.int_to_np_dtype[dtypes.np_dtpye_to_int[np.float32]] is np.float32
    assert dtypes.np_dtpye_to_int[np.int64] == 9 and dtypes.int_to_np_dtype[12] is np.double
    assert extension_context("cpu").backend == ["cpu:float"]
    spec = getargspec(lambda a, b=2, *rest, **kw: None)
    assert (spec.args, spec.varargs, spec.keywords, spec.defaults) == (["a", "b"], "rest", "kw", (2,))
    assert nnp_version() == "0.1"


def test_function_references_forget_deleted_functions():
    import nnabla.parametric_functions as PF
    v = nn.Variable.from_numpy_array(np.ones((2, 3), np.float32))
    with nn.parameter_scope("refs"):
        h1 = PF.affine(v, 2, name="a1")
        h2 = PF.affine(v, 2, name="a2")
    assert len(v.function_references) == 2
    kept = h2.parent
    del h1
    assert v.function_references == [kept]
    nn.clear_parameters()


def test_a_name_given_a_reason_is_shown_with_it_and_not_counted_present(tmp_path, monkeypatch):
    from nnjax import _surface
    pkg = tmp_path / "python" / "src" / "nnabla"
    (pkg / "utils").mkdir(parents=True)
    (tmp_path / "python" / "src" / "nnabla_ext").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "utils" / "rnn.py").write_text("__all__ = ['pack_sequence', 'helper_xyz', 'gone_xyz']\n")
    monkeypatch.setitem(_surface.REASONS, "nnabla.utils.rnn", {"helper_xyz": "an internal helper"})
    rows = {r["module"]: r for r in _surface.check(_surface.nnabla_modules(tmp_path))}
    row = rows["nnabla.utils.rnn"]
    assert row["present"] == 1 and row["missing"] == ["gone_xyz"]
    assert row["excused"] == [("helper_xyz", "an internal helper")]
    text = _surface.format_markdown(list(rows.values()))
    assert "`gone_xyz`; `helper_xyz` (not needed: an internal helper)" in text
    assert "1 missing without a reason" in text


def test_grad_class_is_nn_grad():
    from nnabla.grad import Grad
    x0 = np.array([[0.5, -1.0, 2.0]], np.float32)
    x = nn.Variable.from_numpy_array(x0, need_grad=True)
    y = F.sum(F.tanh(x) * x)
    gx, = Grad()(y, [x])
    gx.forward()
    np.testing.assert_allclose(gx.d, np.tanh(x0) + x0 * (1 - np.tanh(x0) ** 2), rtol=1e-5)


def test_cli_main_runs_a_parsed_command_and_keeps_its_result(capsys):
    from nnabla.utils.cli import cli
    parser = cli.build_parser()
    cli.cli_main(parser, parser.parse_args(["version"]))
    assert cli.return_value is True
    assert "Version:" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        cli.cli_main(parser, parser.parse_args([]))
    assert stop.value.code == -1 and cli.return_value is False
    assert "usage" in capsys.readouterr().err


def test_batch_norm_base_connects_the_function_type_again():
    import nnabla.parametric_functions as PF
    from nnabla.experimental.graph_converters.batch_normalization_folding import (
        BatchNormalizationFoldingModifierInner, BatchNormBase)
    rng = np.random.RandomState(0)
    x = nn.Variable.from_numpy_array(rng.randn(2, 3, 6, 6).astype(np.float32))
    with nn.parameter_scope("bnbase"):
        y = PF.convolution(x, 4, (3, 3), pad=(1, 1), stride=(2, 2))
    conv = y.parent
    w, b = conv.inputs[1], conv.inputs[2]
    w2 = nn.Variable.from_numpy_array(w.d * 2)
    z = BatchNormBase().connect(conv, x, w2, b)
    z.forward()
    y.forward()
    assert z.parent.info.type_name == "Convolution" and z.parent.info.args == conv.info.args
    # doubling W doubles the output without its bias
    np.testing.assert_allclose(z.d - b.d.reshape(1, -1, 1, 1),
                               2 * (y.d - b.d.reshape(1, -1, 1, 1)), rtol=1e-5, atol=1e-5)
    assert isinstance(BatchNormalizationFoldingModifierInner(), BatchNormBase)
