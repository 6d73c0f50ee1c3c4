"""First-tier executables kept on disk (nnjax/_compile_cache.py): a second
process loads them instead of compiling, damaged files are compiled again, the
directory stays under its size limit."""
import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from nnjax import _compile_cache as compile_cache

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A new graph run once, in a process of its own: prints its output, the XLA
# compiles it caused, nnjax's compiles and how many programs came from disk.
SCRIPT = textwrap.dedent("""
    import json, sys
    import jax.monitoring
    import numpy as np
    import nnabla as nn
    import nnabla.functions as F
    from nnjax import _program

    seen = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, duration, **kw: seen.append(event)
        if event == "/jax/core/compile/backend_compile_duration" else None)
    loaded = []
    first_run = _program.Program._first_run

    def counting(self, *args):
        out = first_run(self, *args)
        if not self.on_host:  # (numpy runs it: nothing compiled, nothing kept)
            loaded.append(self.from_disk)
        return out

    _program.Program._first_run = counting
    x = nn.Variable.from_numpy_array(np.linspace(-1, 2.5, 12, dtype=np.float32).reshape(3, 4),
                                     need_grad=True)
    y = F.sum(F.tanh(x) * 3.0 + F.sin(x))
    y.forward()
    y.backward()
    print(json.dumps({"y": float(y.d), "g": x.g.tolist(), "xla_compiles": len(seen),
                      "compiles": nn.compile_stats().compiles, "loaded": sum(loaded),
                      "programs": len(loaded)}))
""")


# Three SGD steps of an affine layer (a training step: compiled fully at once).
TRAINING_SCRIPT = textwrap.dedent("""
    import json
    import jax.monitoring
    import numpy as np
    import nnabla as nn
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    import nnabla.solvers as S

    seen = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, duration, **kw: seen.append(event)
        if event == "/jax/core/compile/backend_compile_duration" else None)
    rng = np.random.RandomState(0)
    x = nn.Variable.from_numpy_array(rng.randn(8, 5).astype(np.float32))
    t = nn.Variable.from_numpy_array(rng.randn(8, 3).astype(np.float32))
    loss = F.mean(F.squared_error(PF.affine(x, 3, name="fc"), t))
    params = nn.get_parameters()
    w0, b0 = params["fc/affine/W"].d.copy(), params["fc/affine/b"].d.copy()
    solver = S.Sgd(lr=0.5)
    solver.set_parameters(params)
    for _ in range(3):
        loss.forward()
        solver.zero_grad()
        loss.backward()
        solver.update()
    print(json.dumps({"w0": w0.tolist(), "b0": b0.tolist(), "x": x.d.tolist(), "t": t.d.tolist(),
                      "w": params["fc/affine/W"].d.tolist(), "b": params["fc/affine/b"].d.tolist(),
                      "xla_compiles": len(seen)}))
""")


def run_script(cache_dir, script=SCRIPT):
    env = dict(os.environ, NNJAX_COMPILE_CACHE=str(cache_dir), JAX_PLATFORMS="cpu",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def reference():
    x = np.linspace(-1, 2.5, 12, dtype=np.float32).reshape(3, 4).astype(np.float64)
    return np.sum(np.tanh(x) * 3 + np.sin(x)), 3 * (1 - np.tanh(x) ** 2) + np.cos(x)


def entries(cache_dir):
    return sorted(p for p in os.listdir(cache_dir) if p.endswith(".xla"))


def test_a_second_process_loads_the_programs_instead_of_compiling(tmp_path):
    first = run_script(tmp_path)
    assert first["xla_compiles"] > 0 and first["loaded"] == 0
    assert len(entries(tmp_path)) == first["programs"]
    second = run_script(tmp_path)
    assert second["loaded"] == second["programs"] == first["programs"]
    assert second["xla_compiles"] == 0
    assert second["compiles"] == first["compiles"]
    y, g = reference()
    for run in (first, second):
        np.testing.assert_allclose(run["y"], y, rtol=1e-5)
        np.testing.assert_allclose(run["g"], g, rtol=1e-5, atol=1e-6)
    assert second["y"] == first["y"] and second["g"] == first["g"]


def test_a_training_step_is_loaded_fully_optimized(tmp_path):
    first = run_script(tmp_path, TRAINING_SCRIPT)
    second = run_script(tmp_path, TRAINING_SCRIPT)
    assert first["xla_compiles"] > 0 and second["xla_compiles"] == 0
    assert second["w"] == first["w"] and second["b"] == first["b"]  # bit for bit
    w, b = np.array(first["w0"], np.float64), np.array(first["b0"], np.float64)
    x, t = np.array(first["x"], np.float64), np.array(first["t"], np.float64)
    for _ in range(3):  # SGD on the mean squared error, by hand
        gy = 2 * (x @ w + b - t) / t.size
        w, b = w - 0.5 * x.T @ gy, b - 0.5 * gy.sum(0)
    np.testing.assert_allclose(second["w"], w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(second["b"], b, rtol=1e-5, atol=1e-6)


def test_damaged_entries_are_compiled_again_and_replaced(tmp_path):
    first = run_script(tmp_path)
    names = entries(tmp_path)
    for name in names:  # flip one byte of each payload
        path = tmp_path / name
        data = bytearray(path.read_bytes())
        data[-10] ^= 0xFF
        path.write_bytes(bytes(data))
    again = run_script(tmp_path)
    assert again["loaded"] == 0 and again["xla_compiles"] == first["xla_compiles"]
    y, g = reference()
    np.testing.assert_allclose(again["y"], y, rtol=1e-5)
    np.testing.assert_allclose(again["g"], g, rtol=1e-5, atol=1e-6)
    assert entries(tmp_path) == names  # rewritten whole: the next process loads them
    for name in names:
        assert compile_cache._unpack((tmp_path / name).read_bytes()) is not None


def test_entries_hold_their_checksum_and_compile_seconds():
    packed = compile_cache._pack(b"payload bytes", 0.25)
    assert compile_cache._unpack(packed) == (0.25, b"payload bytes")
    assert compile_cache._unpack(packed[:-1]) is None  # truncated
    assert compile_cache._unpack(b"something else") is None
    damaged = bytearray(packed)
    damaged[len(compile_cache.MAGIC) + 40] ^= 1
    assert compile_cache._unpack(bytes(damaged)) is None


def test_prune_removes_the_least_recently_used_first(tmp_path):
    now = time.time()
    for k in range(10):
        path = tmp_path / f"{k:02d}.xla"
        path.write_bytes(b"x" * 1000)
        os.utime(path, (now - 100 + k, now - 100 + k))  # 00 is the oldest
    (tmp_path / "notes.txt").write_bytes(b"y" * 5000)  # not an entry: kept
    compile_cache.prune(str(tmp_path), 10_000)
    assert len(entries(tmp_path)) == 10  # at the limit: nothing to do
    compile_cache.prune(str(tmp_path), 5_000)
    assert entries(tmp_path) == [f"{k:02d}.xla" for k in range(6, 10)]  # to 90% of 5000
    assert (tmp_path / "notes.txt").exists()


def test_stores_keep_the_directory_under_its_limit(tmp_path, monkeypatch):
    import jax
    import jax.numpy as jnp
    monkeypatch.setenv("NNJAX_COMPILE_CACHE", str(tmp_path))
    monkeypatch.setenv("NNJAX_COMPILE_CACHE_MB", "0.02")  # about 21 KB
    monkeypatch.setattr(compile_cache, "_written_since_check", None)
    sizes = []
    for k in range(12):
        executable = jax.jit(lambda a, k=k: jnp.tanh(a) * k).lower(
            np.ones(3, np.float32)).compile()
        compile_cache.store(f"{k:02d}.xla", executable, 0.01)
        sizes.append(sum(os.path.getsize(tmp_path / n) for n in entries(tmp_path)))
    entry = os.path.getsize(tmp_path / entries(tmp_path)[-1])
    limit = compile_cache.limit_bytes()
    # checked at the first store and after each 5% of the limit written since
    assert max(sizes) <= limit + 2 * entry
    assert "11.xla" in entries(tmp_path) and len(entries(tmp_path)) < 12


def test_unwritable_directory_warns_once_and_turns_the_cache_off(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("NNJAX_COMPILE_CACHE", str(blocker / "xla"))
    monkeypatch.setattr(compile_cache, "_unusable", set())
    import jax
    import jax.numpy as jnp
    executable = jax.jit(lambda a: jnp.tanh(a)).lower(np.ones(3, np.float32)).compile()
    with pytest.warns(RuntimeWarning, match="not writable"):
        compile_cache.store("a.xla", executable, 0.01)
    assert compile_cache.directory() is None


def test_directory_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("NNJAX_COMPILE_CACHE", "0")
    assert compile_cache.directory() is None
    monkeypatch.setenv("NNJAX_COMPILE_CACHE", str(tmp_path))
    assert compile_cache.directory() == str(tmp_path)
    monkeypatch.delenv("NNJAX_COMPILE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache.directory() == str(tmp_path / "xdg" / "nnjax" / "xla")
    monkeypatch.setenv("NNJAX_COMPILE_CACHE_MB", "many")
    with pytest.raises(ValueError, match="NNJAX_COMPILE_CACHE_MB"):
        compile_cache.limit_bytes()


def test_entry_names_change_with_the_options():
    key = ("program text", 1)
    options = {"xla_backend_optimization_level": 0}
    assert compile_cache.entry_name(key, options) == compile_cache.entry_name(key, dict(options))
    assert compile_cache.entry_name(key, options) != compile_cache.entry_name(
        key, {"xla_backend_optimization_level": 1})
    assert compile_cache.entry_name(key, options) != compile_cache.entry_name(("other", 1), options)
